"""Precision and FPR from a window's counts stay rates: in [0, 1], the point inside its interval.

Small windows at a high prevalence bound used to give an FPR upper bound of 3.0 (the good
frames' lower bound fell to 1 while three flags were not defects).
"""

from __future__ import annotations

import itertools

import pytest

from streams.estimation.counts import from_counts
from streams.estimation.estimator import Estimate


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
