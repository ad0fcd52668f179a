"""Per estimation window, the realized design-weighted figures of the same frames (issue 21).

``linewatch estimate`` writes one label-free estimate per slice window; beside each it shows
what the labels of that window's frames say: the design-weighted recall and FPR with their
95 % intervals (each label weighted by how it was chosen, the cell estimator of
:mod:`.design`, the one ``metrics`` uses per slice), the labels used, those without a design
(apart, never in a rate) and the labelled defective frames. A window's frames are the ones its
estimate was computed on (by event id), so estimate and realized figure describe the same
frames; its bounds are the window's first and last capture times.

Labels without a design count as a census where every frame of the window is labelled (as
:func:`.design.resolve_designs` does per slice).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from streams.config import Settings
from streams.estimation import Estimate
from streams.estimation.windows import WindowEstimate
from streams.readiness.design import Cell, DesignLabel, estimate_slices, score_band
from streams.readiness.slice_audits import recall_of
from streams.sinks import ClickHouseStore
from streams.sinks.audits import design_outcomes

__all__ = ["WindowRealized", "window_realized"]


@dataclass(frozen=True)
class WindowRealized:
    """The labels' figures over one window's frames."""

    labels: int
    """Designed labels behind the figures (census labels included)."""
    undesigned_labels: int
    defective_labels: int
    """Labelled frames that hold a defect (the recall's labels)."""
    census: bool
    recall: Estimate
    fpr: Estimate

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": "design" if self.labels else None,
            "recall": self.recall.as_dict(),
            "fpr": self.fpr.as_dict(),
            "labels": self.labels,
            "undesigned_labels": self.undesigned_labels,
            "defective_labels": self.defective_labels,
            "census": self.census,
        }


def window_realized(
    store: ClickHouseStore,
    settings: Settings,
    threshold: float,
    windows: Sequence[WindowEstimate],
    *,
    draws: int = 2000,
) -> list[WindowRealized]:
    """The realized figures of each window's frames, in the order of ``windows``."""
    review_low = settings.inference.review_band[0]
    where: dict[str, int] = {}
    population: dict[Cell, int] = defaultdict(int)
    for i, w in enumerate(windows):
        ids = w.group.event_ids[w.start : w.end]
        scores = w.group.scores[w.start : w.end]
        for event_id, score in zip(ids, scores, strict=True):
            where[event_id] = i
            population[((str(i),), score_band(score, threshold, review_low))] += 1
    labels: list[DesignLabel] = []
    defective: Counter[int] = Counter()
    for o in design_outcomes(store, threshold, review_low):
        at = where.get(o.event_id)
        if at is None:
            continue
        labels.append(DesignLabel((str(at),), o.band, o.outcome, o.inclusion_probability))
        defective[at] += o.outcome in {"TP", "FN"}
    found = estimate_slices(population, labels, draws=draws)
    none = Estimate(None, None, None)
    out = []
    for i in range(len(windows)):
        d = found.get((str(i),))
        if d is None or not d.labels:
            undesigned = 0 if d is None else d.undesigned
            out.append(WindowRealized(0, undesigned, defective[i], False, none, none))
            continue
        fpr = Estimate(d.fpr.value, d.fpr.lo, d.fpr.hi)
        out.append(
            WindowRealized(d.labels, d.undesigned, defective[i], d.census, recall_of(d.fnr), fpr)
        )
    return out
