"""``audit plan`` by score: each unit's inclusion probability from its predicted defect
probability (:mod:`.score_design`), the lab calibration of its top confidence moved to its
slice's prevalence. Used when the store holds a lab calibration (``linewatch assess``)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from streams.errors import EstimationError
from streams.readiness.audit_plan import Selected, Stratum
from streams.readiness.design import BANDS
from streams.readiness.score_design import (
    FloatArray,
    plan_probabilities,
    predicted_defect,
    systematic_sample,
)
from streams.sinks import ClickHouseStore
from streams.sinks.audits import PlanFrame

__all__ = ["score_choice", "score_probabilities"]


def score_probabilities(
    store: ClickHouseStore, frames: Sequence[PlanFrame], n: int
) -> tuple[FloatArray, FloatArray] | None:
    """Every frame's predicted defect probability and inclusion probability for ``n`` units;
    ``None`` without a lab calibration."""
    from streams.estimation.windows import load_lab_set

    try:
        calibration = load_lab_set(store).calibration()
    except EstimationError:
        return None
    slices = [(f.line_id, f.shift, f.lighting) for f in frames]
    p = predicted_defect(calibration, slices, np.array([f.max_confidence for f in frames]))
    flagged = np.array([f.band == "flagged" for f in frames])
    cells = [(key, f.band) for key, f in zip(slices, frames, strict=True)]
    return p, plan_probabilities(slices, flagged, p, n, cells=cells)


def score_choice(
    store: ClickHouseStore, frames: Sequence[PlanFrame], n: int, *, seed: int | None = None
) -> tuple[list[Selected], list[tuple[Stratum, int]]] | None:
    """``n`` units drawn by systematic PPS (sorted by slice, band, predicted defect probability
    and top confidence: an implicit stratification by score where the calibration ties) with the
    probabilities of :func:`score_probabilities`, and per slice x band stratum its frames, mean
    predicted defect rate and units chosen; ``None`` without a lab calibration."""
    found = score_probabilities(store, frames, n)
    if found is None:
        return None
    p, pi = found
    key = [((f.line_id, f.shift, f.lighting), f.band) for f in frames]
    order = sorted(
        range(len(frames)),
        key=lambda i: (key[i][0], BANDS.index(key[i][1]), p[i], frames[i].max_confidence),
    )
    picked = systematic_sample(pi, order, np.random.default_rng(seed))
    members: dict[tuple[tuple[str, ...], str], list[int]] = defaultdict(list)
    for i, k in enumerate(key):
        members[k].append(i)
    counts: dict[tuple[tuple[str, ...], str], int] = defaultdict(int)
    for i in picked:
        counts[key[i]] += 1
    strata = {k: Stratum(k[0], k[1], len(idx), float(p[idx].mean())) for k, idx in members.items()}
    chosen = [
        Selected(frames[i].event_id, strata[key[i]], counts[key[i]], float(pi[i])) for i in picked
    ]
    ordered = sorted(strata, key=lambda k: (k[0], BANDS.index(k[1])))
    return chosen, [(strata[k], counts[k]) for k in ordered]
