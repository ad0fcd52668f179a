"""Design-weighted FNR / FPR per slice with the label-free estimate as a control variate: the
difference estimator of :mod:`.score_design` against the store (issue 21).

Every frame's predicted defect probability comes from the lab calibration (``linewatch
assess``) moved to its slice's prevalence; each designed label (its own ``audit``, or the plan
that chose it) corrects the prediction of its unit, weighted by ``1 / inclusion_probability``.
Where the calibration is good the corrections are small and the interval narrows; where it is
not, the labels still make the figure unbiased, and the interval widens by how far the store's
designed labels contradict the calibration (:func:`.score_estimate.label_dispersion`). Slices
where every frame is labelled (a census) have no sampling error and are left to the plain
counts; labels without a design never count.

The frames are not read one by one: the store counts them per slice, score band and step of
the calibration (:mod:`streams.sinks.reads.design_difference`), and since every frame of a step
has the same prediction, the slice prevalences (EM) and the sums the estimator needs are
computed once per step (one row per slice x band x step, whatever the number of frames).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from streams.errors import EstimationError
from streams.estimation.calibration import IsotonicCalibration
from streams.readiness.design import DesignRate
from streams.readiness.score_design import (
    BoolArray,
    FloatArray,
    predicted_defect,
    slice_prevalences,
)
from streams.readiness.score_estimate import ScoredSample, difference_rate, label_dispersion
from streams.sinks import ClickHouseStore
from streams.sinks.audits import DesignOutcome, design_outcomes
from streams.sinks.reads.design_difference import score_step_counts

__all__ = ["DifferenceFigures", "difference_estimates"]

_Key = tuple[str, ...]


@dataclass(frozen=True)
class DifferenceFigures:
    """A slice's FNR / FPR by the difference estimator, and the designed labels behind them."""

    fnr: DesignRate
    fpr: DesignRate
    labels: int

    def as_dict(self) -> dict[str, Any]:
        return {"fnr": self.fnr.as_dict(), "fpr": self.fpr.as_dict(), "labels": self.labels}


def _rate(sample: ScoredSample, metric: str) -> DesignRate:
    value, lo, hi, _sd = difference_rate(sample, metric)
    return DesignRate(None, None, None) if value is None else DesignRate(value, lo, hi)


_Frames = tuple[_Key, str, float, int]
"""A slice x band x calibration step: the finest slice, the band, the predicted defect
probability of its frames and how many frames."""


_Label = tuple[_Key, str, float, DesignOutcome]
"""A designed label: its finest slice, band, predicted defect probability and outcome."""


def _label_arrays(
    labels: Sequence[_Label],
) -> tuple[FloatArray, BoolArray, BoolArray, FloatArray]:
    """The labels' predicted defect probability, flagged, defective and inclusion
    probability, in :func:`.score_estimate.label_dispersion`'s order."""
    return (
        np.array([p for _k, _b, p, _o in labels], dtype=np.float64),
        np.array([b == "flagged" for _k, b, _p, _o in labels], dtype=bool),
        np.array([o.outcome in ("TP", "FN") for *_r, o in labels], dtype=bool),
        np.array([o.inclusion_probability for *_r, o in labels], dtype=np.float64),
    )


def _sample(
    frames: Sequence[_Frames], labels: Sequence[_Label], dispersion: tuple[float, float]
) -> ScoredSample:
    """One group's frames (counted per slice, band and step) and labels (one each, with the
    outcome); the frames' arrays repeat each step's value ``frames`` times."""
    counts = np.array([n for *_r, n in frames], dtype=np.int64)
    # a cell is "<slice number>/<band>": short names keep the repeated array small
    number = {k: i for i, k in enumerate(sorted({k for k, *_r in frames}))}
    cells = np.repeat(np.array([f"{number[k]}/{b}" for k, b, _p, _n in frames]), counts)
    label_p, label_flagged, defective, pi = _label_arrays(labels)
    return ScoredSample(
        cells=cast(Sequence[str], cells),
        p=np.repeat(np.array([p for _k, _b, p, _n in frames], dtype=np.float64), counts),
        flagged=np.repeat(
            np.array([b == "flagged" for _k, b, _p, _n in frames], dtype=bool), counts
        ),
        label_cells=[f"{number.get(k, -1)}/{b}" for k, b, _p, _o in labels],
        label_p=label_p,
        label_flagged=label_flagged,
        pi=pi,
        defective=defective,
        dispersion=dispersion,
    )


def difference_estimates(
    store: ClickHouseStore,
    threshold: float,
    review_low: float,
    groupings: Sequence[Sequence[int]],
) -> list[dict[_Key, DifferenceFigures]] | None:
    """Per grouping (indices into ``(line_id, shift, lighting)``; ``()``: overall), the
    difference-estimator figures of every group that is sampled but not a census; ``None``
    without a lab calibration.

    The frames are read as counts per slice, band and calibration step
    (:func:`streams.sinks.reads.design_difference.score_step_counts`): a step's frames share
    one score as far as the calibration can tell (its knot), so EM's slice prevalences and
    every frame's prediction are computed once per step."""
    from streams.estimation.windows import load_lab_set

    try:
        calibration = load_lab_set(store).calibration()
    except EstimationError:
        return None
    knots = np.asarray(calibration.knots, dtype=np.float64)
    rows = score_step_counts(store, threshold, review_low, calibration.knots)
    keys = [(r.line_id, r.shift, r.lighting) for r in rows]
    counts = np.array([r.frames for r in rows], dtype=np.int64)
    step_scores = knots[[r.step for r in rows]] if rows else np.zeros(0)
    prevalence = _prevalences(calibration, keys, step_scores, counts)
    p = predicted_defect(calibration, keys, step_scores, prevalence)
    frames = [
        (k, r.band, float(q), int(n)) for k, r, q, n in zip(keys, rows, p, counts, strict=True)
    ]
    outcomes = [
        o
        for o in design_outcomes(store, threshold, review_low)
        if o.inclusion_probability > 0 and (o.line_id, o.shift, o.lighting) in prevalence
    ]
    o_keys = [(o.line_id, o.shift, o.lighting) for o in outcomes]
    o_p = predicted_defect(
        calibration, o_keys, np.array([o.max_confidence for o in outcomes]), prevalence
    )
    labels = [(k, o.band, float(q), o) for k, o, q in zip(o_keys, outcomes, o_p, strict=True)]
    # the calibration's misfit over every designed label of the store, for every group
    dispersion = label_dispersion(*_label_arrays(labels))
    return [_grouped(frames, labels, by, dispersion) for by in groupings]


def _prevalences(
    calibration: IsotonicCalibration,
    keys: Sequence[_Key],
    step_scores: FloatArray,
    counts: npt.NDArray[np.int64],
) -> dict[Hashable, float]:
    """Each slice's label-free prevalence (:func:`.score_design.slice_prevalences`, EM on its
    frames' scores), from its steps' counts: each step's knot repeated as often as it has
    frames (the calibration sees no other difference between a step's scores)."""
    found: dict[Hashable, float] = {}
    by_slice: dict[_Key, list[int]] = defaultdict(list)
    for i, key in enumerate(keys):
        by_slice[key].append(i)
    for key, idx in by_slice.items():
        scores = np.repeat(step_scores[idx], counts[idx])
        found.update(slice_prevalences(calibration, [key] * len(scores), scores))
    return found


def _grouped(
    frames: Sequence[_Frames],
    labels: Sequence[_Label],
    by: Sequence[int],
    dispersion: tuple[float, float],
) -> dict[_Key, DifferenceFigures]:
    group_frames: dict[_Key, list[_Frames]] = defaultdict(list)
    for f in frames:
        group_frames[tuple(f[0][i] for i in by)].append(f)
    group_labels: dict[_Key, list[_Label]] = defaultdict(list)
    for x in labels:
        group_labels[tuple(x[0][i] for i in by)].append(x)
    out = {}
    for key, mine in group_frames.items():
        got = group_labels.get(key, [])
        if not got or len(got) >= sum(n for *_r, n in mine):
            continue
        sample = _sample(mine, got, dispersion)
        out[key] = DifferenceFigures(_rate(sample, "fnr"), _rate(sample, "fpr"), len(got))
    return out
