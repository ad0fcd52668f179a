"""Issue 21: the counts behind label-free precision and FPR (:mod:`streams.estimation.counts`).

:func:`~streams.estimation.counts.poisson_quantile` sizes the intervals of a window's defect
count (``from_counts``, ``partial_estimate``). Its terms were once multiplied up from
``exp(-mean)``, which underflows to 0 beyond a mean of ~745: every term stayed 0 and the
"quantile" ran to ``10·mean + 100``. Precision and FPR from a window's counts stay rates: a
small window at a high prevalence bound once gave an FPR upper bound of 3.0 (the good frames'
lower bound fell to 1 while three flags were not defects). Plain numbers, no store.
"""

from __future__ import annotations

import itertools

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


def _inside(figure: Estimate) -> bool:
    assert figure.value is not None and figure.lo is not None and figure.hi is not None
    return 0.0 <= figure.lo <= figure.value <= figure.hi <= 1.0


@pytest.mark.parametrize(
    ("frames", "prevalence"),
    list(itertools.product([1, 5, 20, 60, 500], [0.0, 0.02, 0.3, 0.9, 1.0])),
)
def test_counted_precision_and_fpr_are_rates(frames: int, prevalence: float) -> None:
    for flagged in sorted({1, frames // 4 or 1, frames // 2 or 1, frames}):
        for recall in (Estimate(0.9, 0.8, 1.0), Estimate(0.3, 0.0, 0.7), Estimate(1.0, 1.0, 1.0)):
            precision, fpr = from_counts(frames, flagged, prevalence, recall)
            assert _inside(precision), (frames, flagged, prevalence, recall, precision)
            assert _inside(fpr), (frames, flagged, prevalence, recall, fpr)


def test_a_twenty_frame_window_keeps_its_fpr_bound_at_most_one() -> None:
    _, fpr = from_counts(20, 5, 0.5, Estimate(0.9, 0.8, 1.0))
    assert fpr.hi is not None and fpr.hi <= 1.0
    assert fpr.value is not None and fpr.value <= fpr.hi
