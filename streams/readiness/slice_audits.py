"""Per slice, what an operator decides with (issue 21): the label-free estimate, the realized
design-weighted figure, their 95 % intervals, the labels behind them, and which audits would
narrow the widest intervals most. ``linewatch estimate``, the report and Grafana (through the
``audit_figures`` rows ``estimate`` writes) show these records; ``metrics --format json``'s
``audit_next`` ranks with :func:`audit_next`. Estimate and realized figure describe the same
frames: all of the group's, the estimate being its windows combined
(:mod:`streams.estimation.combine`; ``estimate`` also says their bounds and count).

The realized figure is the difference estimator (:mod:`.design_difference`, the label-free
estimate as a control variate) where the slice is sampled and a lab calibration exists, else
the design-weighted cell estimator (:mod:`.design`); both come from :func:`design_figures`, the
one computation ``metrics`` uses too. Recall is ``1 - FNR`` (its interval mirrored), so the
realized figure stands beside the estimate's recall. Labels without a design are counted apart
(``undesigned_labels``) and never enter a rate.

>>> rate = DesignRate(0.1, 0.05, 0.3)
>>> recall_of(rate).as_dict()
{'value': 0.9, 'lo': 0.7, 'hi': 0.95}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from schemas.records import EstimatedPerformanceRecord
from streams.config import Settings
from streams.estimation import Estimate, PerformanceEstimate
from streams.readiness.design import DesignRate, SliceDesign
from streams.readiness.design_difference import DifferenceFigures
from streams.readiness.design_suggest import AuditSuggestion
from streams.sinks import ClickHouseStore
from streams.sinks.audit_figures import AuditFigureRecord

__all__ = [
    "DesignFigures",
    "LabelFree",
    "SliceAudit",
    "audit_next",
    "design_figures",
    "recall_of",
    "slice_audits",
    "whole_slices",
    "window_audits",
]

_Key = tuple[str, ...]

DesignFigures = tuple[SliceDesign | None, DifferenceFigures | None]
"""A group's design-weighted figures: the cell estimator's and the difference estimator's."""


def recall_of(fnr: DesignRate) -> Estimate:
    """Recall ``1 - FNR`` with the interval mirrored (``None`` stays ``None``)."""

    def flip(x: float | None) -> float | None:
        return None if x is None else round(1.0 - x, 12)

    return Estimate(flip(fnr.value), flip(fnr.hi), flip(fnr.lo))


def _estimate(rate: DesignRate) -> Estimate:
    return Estimate(rate.value, rate.lo, rate.hi)


def design_figures(
    store: ClickHouseStore,
    settings: Settings,
    threshold: float,
    groupings: Sequence[Sequence[str]],
) -> list[dict[_Key, DesignFigures]]:
    """Per grouping (columns of :data:`.audits.SLICE_COLUMNS`; ``()``: overall), each group's
    design-weighted figures: the cell estimator's (:func:`.audits.design_estimates`), and the
    difference estimator's where some labels are sampled (no census) and a lab calibration
    exists (:func:`.design_difference.difference_estimates`)."""
    from streams.readiness.audits import SLICE_COLUMNS, design_estimates
    from streams.readiness.design_difference import difference_estimates

    designs = design_estimates(store, settings, threshold, groupings)
    sampled = any(d.labels and not d.census for found in designs for d in found.values())
    idx = [[SLICE_COLUMNS.index(c) for c in by] for by in groupings]
    review_low = settings.inference.review_band[0]
    diffs = difference_estimates(store, threshold, review_low, idx) if sampled else None
    out = []
    for k, found in enumerate(designs):
        diff = {} if diffs is None else diffs[k]
        keys = set(found) | set(diff)
        out.append({key: (found.get(key), diff.get(key)) for key in keys})
    return out


@dataclass(frozen=True)
class LabelFree:
    """A group's label-free estimate over the same frames as its realized figure: the
    combination of its windows (:mod:`streams.estimation.combine`), from ``linewatch
    estimate``'s windows or ``metrics``'s."""

    frames: int
    recall: Estimate
    fpr: Estimate
    status: str
    reason: str = ""
    window_start: datetime | None = None
    """The first frame's capture time (``None``: not said, ``metrics``'s whole group)."""
    window_end: datetime | None = None
    windows: int = 0
    """The windows combined (``0``: not said)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "frames": self.frames,
            "window_start": None if self.window_start is None else self.window_start.isoformat(),
            "window_end": None if self.window_end is None else self.window_end.isoformat(),
            "windows": self.windows,
            "recall": self.recall.as_dict(),
            "fpr": self.fpr.as_dict(),
            "status": self.status,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class SliceAudit:
    """One group's label-free estimate beside its design-weighted figure, and the next audit."""

    key: dict[str, str]
    estimated: LabelFree | None
    realized_source: str | None
    """``difference`` (difference estimator), ``design`` (cell estimator), ``None`` (no
    designed label)."""
    realized_recall: Estimate
    realized_fpr: Estimate
    labels: int
    """Designed labels behind the realized figure (census labels included)."""
    undesigned_labels: int
    """Labels without a design: shown apart, never in a rate."""
    census: bool
    next_audit: AuditSuggestion | None

    @property
    def width(self) -> float:
        """The wider realized interval (recall or FPR; 1 where neither has one)."""
        widths = [
            r.hi - r.lo
            for r in (self.realized_recall, self.realized_fpr)
            if r.lo is not None and r.hi is not None
        ]
        return max(widths) if widths else 1.0

    def recommendation(self) -> str:
        """ "label 10 more passed units" (or why nothing is suggested)."""
        if self.census:
            return "census: every frame labelled"
        nxt = self.next_audit
        if nxt is None:
            return "–"
        metric = "recall" if nxt.metric == "fnr" else "FPR"
        return f"label {nxt.units} more {nxt.band} units ({metric})"

    def as_dict(self) -> dict[str, Any]:
        nxt = self.next_audit
        return {
            **self.key,
            "estimated": None if self.estimated is None else self.estimated.as_dict(),
            "realized": {
                "source": self.realized_source,
                "recall": self.realized_recall.as_dict(),
                "fpr": self.realized_fpr.as_dict(),
            },
            "labels": self.labels,
            "undesigned_labels": self.undesigned_labels,
            "census": self.census,
            "next_audit": None if nxt is None else nxt.as_dict(),
            "recommendation": self.recommendation(),
        }

    def record(self, computed_at: datetime, threshold: float) -> AuditFigureRecord:
        """The ``audit_figures`` row Grafana reads (the slice's columns, ``""`` where the
        grouping leaves one out)."""
        est, nxt = self.estimated, self.next_audit
        empty = Estimate(None, None, None)
        e_recall = empty if est is None else est.recall
        e_fpr = empty if est is None else est.fpr
        return AuditFigureRecord(
            computed_at=computed_at,
            line_id=self.key.get("line_id", ""),
            shift=self.key.get("shift", ""),
            lighting=self.key.get("lighting", ""),
            threshold=threshold,
            estimate_status="" if est is None else est.status,
            est_recall=e_recall.value,
            est_recall_lo=e_recall.lo,
            est_recall_hi=e_recall.hi,
            est_fpr=e_fpr.value,
            est_fpr_lo=e_fpr.lo,
            est_fpr_hi=e_fpr.hi,
            realized_source=self.realized_source or "",
            recall=self.realized_recall.value,
            recall_lo=self.realized_recall.lo,
            recall_hi=self.realized_recall.hi,
            fpr=self.realized_fpr.value,
            fpr_lo=self.realized_fpr.lo,
            fpr_hi=self.realized_fpr.hi,
            labels=self.labels,
            undesigned_labels=self.undesigned_labels,
            census=self.census,
            next_metric="" if nxt is None else nxt.metric,
            next_band="" if nxt is None else nxt.band,
            next_units=0 if nxt is None else nxt.units,
            interval_width=self.width,
            recommendation=self.recommendation(),
            window_start=None if est is None else est.window_start,
            window_end=None if est is None else est.window_end,
            est_frames=0 if est is None else est.frames,
            est_windows=0 if est is None else est.windows,
        )


def _audit(key: dict[str, str], estimated: LabelFree | None, found: DesignFigures) -> SliceAudit:
    design, diff = found
    if diff is not None:
        source: str | None = "difference"
        recall, fpr = recall_of(diff.fnr), _estimate(diff.fpr)
    elif design is not None and design.labels:
        source = "design"
        recall, fpr = recall_of(design.fnr), _estimate(design.fpr)
    else:
        source, recall, fpr = None, Estimate(None, None, None), Estimate(None, None, None)
    return SliceAudit(
        key=key,
        estimated=estimated,
        realized_source=source,
        realized_recall=recall,
        realized_fpr=fpr,
        labels=0 if design is None else design.labels,
        undesigned_labels=0 if design is None else design.undesigned,
        census=design is not None and design.census,
        next_audit=None if design is None else design.next_audit,
    )


def slice_audits(
    by: Sequence[str],
    designs: Mapping[_Key, DesignFigures],
    estimates: Mapping[_Key, LabelFree],
) -> list[SliceAudit]:
    """Every group with an estimate or a design-weighted figure, in key order."""
    keys = sorted(set(designs) | set(estimates))
    return [
        _audit(dict(zip(by, key, strict=True)), estimates.get(key), designs.get(key, (None, None)))
        for key in keys
    ]


def whole_slices(
    slices: Mapping[tuple[str, str, str], PerformanceEstimate],
    windows: Iterable[EstimatedPerformanceRecord],
) -> dict[_Key, LabelFree]:
    """Each slice's estimate over all its windows (``linewatch estimate``'s run: its windows
    combined), with the bounds and count of the windows."""
    bounds: dict[_Key, list[EstimatedPerformanceRecord]] = {}
    for w in windows:
        bounds.setdefault((w.line_id, w.shift, w.lighting), []).append(w)
    out: dict[_Key, LabelFree] = {}
    for key, est in slices.items():
        mine = bounds.get(key, [])
        out[key] = LabelFree(
            est.frames,
            est.recall,
            est.fpr,
            est.status,
            est.reason,
            window_start=min((w.window_start for w in mine), default=None),
            window_end=max((w.window_end for w in mine), default=None),
            windows=len(mine),
        )
    return out


def window_audits(
    store: ClickHouseStore,
    settings: Settings,
    threshold: float,
    slices: Mapping[tuple[str, str, str], PerformanceEstimate],
    windows: Iterable[EstimatedPerformanceRecord],
) -> list[SliceAudit]:
    """Per slice (line x shift x lighting): the estimate of its windows combined beside the
    realized design-weighted figures of :func:`design_figures`, both over the slice's frames
    (``linewatch estimate``)."""
    from streams.readiness.audits import SLICE_COLUMNS

    (designs,) = design_figures(store, settings, threshold, [SLICE_COLUMNS])
    return slice_audits(SLICE_COLUMNS, designs, whole_slices(slices, windows))


def audit_next(audits: Iterable[SliceAudit], top: int = 5) -> list[dict[str, Any]]:
    """The audits that would narrow the widest realized intervals most, widest first: per
    group, its key, the interval's width and where ``units`` more labels go."""
    found = [a for a in audits if a.next_audit is not None and not a.census]
    found.sort(key=lambda a: -a.width)
    return [
        {**a.key, "width": a.width, **a.next_audit.as_dict(), "recommendation": a.recommendation()}
        for a in found[:top]
        if a.next_audit is not None
    ]
