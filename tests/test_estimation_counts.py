"""Issue 21: the counts behind label-free precision and FPR (:mod:`streams.estimation.counts`).

:func:`~streams.estimation.counts.poisson_quantile` sizes the intervals of a window's defect
count (``from_counts``, ``partial_estimate``). Its terms were once multiplied up from
``exp(-mean)``, which underflows to 0 beyond a mean of ~745: every term stayed 0 and the
"quantile" ran to ``10·mean + 100``. Plain numbers, no store.
"""

from __future__ import annotations

import pytest

from streams.estimation import Estimate
from streams.estimation.counts import from_counts, poisson_quantile


def test_poisson_quantile_of_a_large_mean() -> None:
    assert poisson_quantile(2000.0, 0.025) == pytest.approx(2000 - 1.96 * 2000**0.5, abs=3)
    assert poisson_quantile(2000.0, 0.975) == pytest.approx(2000 + 1.96 * 2000**0.5, abs=3)
    assert poisson_quantile(10.0, 0.025) == 4 and poisson_quantile(0.0, 0.5) == 0


def test_precision_from_counts_of_a_window_with_many_defects() -> None:
    # 40,000 frames at 5 %: 2,000 defects expected, 1,900 of 2,000 flagged caught
    precision, fpr = from_counts(40_000, 2_000, 0.05, Estimate(0.95, 0.93, 0.97))
    assert precision.value == pytest.approx(0.95)
    assert precision.lo is not None and precision.hi is not None
    assert 0.85 < precision.lo < 0.95 < precision.hi <= 1.0
    assert fpr.hi is not None and fpr.hi < 0.01
