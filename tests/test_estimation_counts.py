"""Issue 21: the counts behind label-free precision and FPR (:mod:`streams.estimation.counts`).

:func:`~streams.estimation.counts.poisson_quantile` sizes the intervals of a window's defect
count (``from_counts``, ``partial_estimate``). Its terms were once multiplied up from
``exp(-mean)``, which underflows to 0 beyond a mean of ~745: every term stayed 0 and the
"quantile" ran to ``10·mean + 100``. Plain numbers, no store.
"""

from __future__ import annotations

import numpy as np
import pytest

from streams.estimation import Estimate
from streams.estimation.counts import counted_figures, from_counts, poisson_quantile


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


def test_the_band_caps_em_but_does_not_raise_it() -> None:
    # a day window: 2,500 frames, 49 of 50 defects and 75 false positives flagged (precision
    # 0.395); false positives that score like defects put the fitting band at 4.0-4.5 %
    rng = np.random.default_rng(0)
    scores = np.r_[rng.uniform(0.6, 1.0, 124), rng.uniform(0.0, 0.4, 2376)]
    truth, recall = 49 / 124, Estimate(0.98, 0.9, 1.0)
    below, _ = counted_figures(scores, 0.5, recall, known=None, em=0.025, band=(0.04, 0.045))
    assert below.value == pytest.approx(0.025 * 2500 * 0.98 / 124)  # EM's, not the band's
    assert below.value is not None and abs(below.value - truth) < 0.1
    assert below.lo is not None and below.hi is not None and below.lo <= truth <= below.hi
    # EM above the band (a defocused window counting excess flags as defects) is capped
    above, _ = counted_figures(scores, 0.5, recall, known=None, em=0.14, band=(0.01, 0.04))
    assert above.value == pytest.approx(0.04 * 2500 * 0.98 / 124)
