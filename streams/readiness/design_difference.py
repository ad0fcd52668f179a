"""Design-weighted FNR / FPR per slice with the label-free estimate as a control variate: the
difference estimator of :mod:`.score_design` against the store (issue 21).

Every frame's predicted defect probability comes from the lab calibration (``linewatch
assess``) moved to its slice's prevalence; each designed label (its own ``audit``, or the plan
that chose it) corrects the prediction of its unit, weighted by ``1 / inclusion_probability``.
Where the calibration is good the corrections are small and the interval narrows; where it is
not, the labels still make the figure unbiased. Slices where every frame is labelled (a census)
have no sampling error and are left to the plain counts; labels without a design never count.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from streams.errors import EstimationError
from streams.readiness.design import DesignRate
from streams.readiness.score_design import (
    ScoredSample,
    difference_rate,
    predicted_defect,
    slice_prevalences,
)
from streams.sinks import ClickHouseStore
from streams.sinks.audits import DesignOutcome, design_outcomes, frame_scores

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


def _sample(
    frames: Sequence[tuple[_Key, str, float]],
    labels: Sequence[tuple[_Key, str, float, DesignOutcome]],
) -> ScoredSample:
    """One group's frames ``(finest slice, band, p)`` and labels (the same and the outcome)."""
    return ScoredSample(
        cells=[f"{k}/{b}" for k, b, _p in frames],
        p=np.array([p for _k, _b, p in frames]),
        flagged=np.array([b == "flagged" for _k, b, _p in frames], dtype=bool),
        label_cells=[f"{k}/{b}" for k, b, _p, _o in labels],
        label_p=np.array([p for _k, _b, p, _o in labels]),
        label_flagged=np.array([b == "flagged" for _k, b, _p, _o in labels], dtype=bool),
        pi=np.array([o.inclusion_probability for *_r, o in labels]),
        defective=np.array([o.outcome in ("TP", "FN") for *_r, o in labels], dtype=bool),
    )


def difference_estimates(
    store: ClickHouseStore,
    threshold: float,
    review_low: float,
    groupings: Sequence[Sequence[int]],
) -> list[dict[_Key, DifferenceFigures]] | None:
    """Per grouping (indices into ``(line_id, shift, lighting)``; ``()``: overall), the
    difference-estimator figures of every group that is sampled but not a census; ``None``
    without a lab calibration."""
    from streams.estimation.windows import load_lab_set

    try:
        calibration = load_lab_set(store).calibration()
    except EstimationError:
        return None
    rows = frame_scores(store, threshold, review_low)
    keys = [(r[0], r[1], r[2]) for r in rows]
    scores = np.array([r[4] for r in rows])
    prevalence = slice_prevalences(calibration, keys, scores)
    p = predicted_defect(calibration, keys, scores, prevalence)
    frames = [(k, r[3], float(q)) for k, r, q in zip(keys, rows, p, strict=True)]
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
    return [_grouped(frames, labels, by) for by in groupings]


def _grouped(
    frames: Sequence[tuple[_Key, str, float]],
    labels: Sequence[tuple[_Key, str, float, DesignOutcome]],
    by: Sequence[int],
) -> dict[_Key, DifferenceFigures]:
    group_frames: dict[_Key, list[tuple[_Key, str, float]]] = defaultdict(list)
    for f in frames:
        group_frames[tuple(f[0][i] for i in by)].append(f)
    group_labels: dict[_Key, list[tuple[_Key, str, float, DesignOutcome]]] = defaultdict(list)
    for x in labels:
        group_labels[tuple(x[0][i] for i in by)].append(x)
    out = {}
    for key, mine in group_frames.items():
        got = group_labels.get(key, [])
        if not got or len(got) >= len(mine):
            continue
        sample = _sample(mine, got)
        out[key] = DifferenceFigures(_rate(sample, "fnr"), _rate(sample, "fpr"), len(got))
    return out
