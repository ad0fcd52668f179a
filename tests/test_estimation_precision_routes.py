"""Issue 21: label-free precision of a window whose flags the lab explains, from two readings.

The flag count (``TP = π·N·recall`` of the ``F`` flagged frames) carries EM's prevalence error
in full; the weighted lab's false-positive rate gives a second reading that does not depend on
the prevalence (:func:`streams.estimation.counts.from_false_positives`). The two are combined
by their variances (:func:`streams.estimation.counts.by_variance`). Plain numbers, no store.
"""

from __future__ import annotations

import numpy as np
import pytest

from streams.estimation import Estimate
from streams.estimation.counts import (
    by_variance,
    counted_figures,
    from_false_positives,
    poisson_quantile,
)


def _day_window(
    rng: np.random.Generator, frames: int = 2500, defects: int = 50, fpr: float = 0.03
) -> tuple[np.ndarray, float]:
    """Top scores of a window whose false positives (a day shift's reflections) score like
    defects: 49 of 50 defects and ~3 % of the good frames flagged at 0.5."""
    good = frames - defects
    fp = rng.binomial(good, fpr)
    scores = np.r_[
        rng.uniform(0.6, 1.0, defects - 1),
        [0.3],
        rng.uniform(0.5, 0.9, fp),
        rng.uniform(0.0, 0.4, good - fp),
    ]
    return scores, (defects - 1) / (defects - 1 + fp)


def test_false_positives_of_the_lab_steady_precision_where_em_runs_high() -> None:
    rng = np.random.default_rng(3)
    errors_count, errors_both, covered = [], [], 0
    for _ in range(20):
        scores, truth = _day_window(rng)
        # EM read the reflections as defects: 2.8 % for a true 2.0 %, the band not far below
        em, band, recall = 0.028, (0.022, 0.035), Estimate(0.98, 0.9, 1.0)
        count, _ = counted_figures(scores, 0.5, recall, known=None, em=em, band=band)
        # the weighted lab's good frames flag 3 % (its own estimate, from ~160 frames)
        lab = (rng.binomial(160, 0.03) / 160, 160.0)
        both, _ = counted_figures(scores, 0.5, recall, known=None, em=em, band=band, lab_fpr=lab)
        assert count.value is not None and both.value is not None
        assert both.lo is not None and both.hi is not None
        errors_count.append(abs(count.value - truth))
        errors_both.append(abs(both.value - truth))
        covered += both.lo <= truth <= both.hi
        # the interval is the count's, stretched to hold the point
        assert count.lo is not None and count.hi is not None
        assert both.lo <= count.lo and both.hi >= count.hi
    assert np.median(errors_both) < 0.9 * np.median(errors_count), (
        np.median(errors_both),
        np.median(errors_count),
    )
    assert covered >= 18


def test_a_window_the_lab_flags_nothing_on_keeps_precision_near_one() -> None:
    # a night window: 60 flags, all but one defects; the lab's good frames flag none
    p = from_false_positives(2500, 60, 0.024, 0.0, 100.0)
    assert p.value == 1.0 and p.lo == 0.0 and p.hi == 1.0  # 0 of ~100 frames bounds little
    count = Estimate(1.0, 0.5, 1.0)
    assert by_variance(count, p) == Estimate(1.0, 0.5, 1.0)


def test_by_variance_leans_on_the_narrower_reading_and_keeps_the_first_interval() -> None:
    wide, narrow = Estimate(0.9, 0.1, 1.0), Estimate(0.4, 0.3, 0.5)
    both = by_variance(wide, narrow)
    assert both.value == pytest.approx(0.4 + 0.5 * 0.2**2 / (0.2**2 + 0.9**2), abs=1e-9)
    assert (both.lo, both.hi) == (0.1, 1.0)
    assert by_variance(narrow, Estimate(None, None, None)) == narrow
    assert by_variance(Estimate(None, None, None), narrow).value is None


def test_poisson_quantile_of_a_large_mean() -> None:
    # exp(-mean) underflows beyond ~745: the sum is taken in log space
    assert poisson_quantile(2000.0, 0.025) == pytest.approx(2000 - 1.96 * 2000**0.5, abs=3)
    assert poisson_quantile(2000.0, 0.975) == pytest.approx(2000 + 1.96 * 2000**0.5, abs=3)
