"""What ``metrics`` reports, as records: per slice, per class, latency, lab and coverage, and
:class:`ReadinessMetrics` holding them all (computed by
:func:`streams.readiness.metrics.compute_metrics`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from streams.estimation import PerformanceEstimate
from streams.lab.naming import lab_set_label
from streams.readiness.baserate import BaseRateOutcome
from streams.readiness.design import SliceDesign
from streams.readiness.design_difference import DifferenceFigures
from streams.readiness.lab import MapResult
from streams.readiness.proportion import Proportion
from streams.readiness.slice_audits import LabelFree, SliceAudit, audit_next, slice_audits

__all__ = [
    "ClassMetrics",
    "Coverage",
    "LabMetrics",
    "LatencyMetrics",
    "NovelResult",
    "ReadinessMetrics",
    "SliceMetrics",
]


@dataclass(frozen=True)
class SliceMetrics:
    """Frame-level confusion of one group of production frames at the operating threshold."""

    key: dict[str, str]
    frames: int
    tp: int
    fp: int
    fn: int
    tn: int
    estimated: PerformanceEstimate | None = None
    design: SliceDesign | None = None
    """Design-weighted FNR / FPR: each label weighted by how its unit was chosen (audits)."""
    difference: DifferenceFigures | None = None
    """The same with the label-free estimate as a control variate (sampled slices only)."""

    @property
    def precision(self) -> Proportion:
        return Proportion(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> Proportion:
        return Proportion(self.tp, self.tp + self.fn)

    @property
    def fpr(self) -> Proportion:
        return Proportion(self.fp, self.fp + self.tn)

    @property
    def prevalence(self) -> Proportion:
        return Proportion(self.tp + self.fn, self.frames)

    def estimate_error(self) -> dict[str, float | None]:
        """Estimated minus realized, per figure (``None`` where either is missing)."""
        est = self.estimated
        out: dict[str, float | None] = {}
        for name in ("precision", "recall", "fpr"):
            realized = getattr(self, name).value
            guess = None if est is None else getattr(est, name).value
            out[name] = None if realized is None or guess is None else guess - realized
        return out

    def audit(self) -> SliceAudit:
        """Its label-free estimate beside its realized design-weighted figure
        (:mod:`streams.readiness.slice_audits`)."""
        est = self.estimated
        label_free = (
            None
            if est is None
            else LabelFree(est.frames, est.recall, est.fpr, est.status, est.reason)
        )
        key = tuple(self.key.values())
        (audit,) = slice_audits(
            tuple(self.key),
            {key: (self.design, self.difference)},
            {} if label_free is None else {key: label_free},
        )
        return audit

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.key,
            "frames": self.frames,
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "tn": self.tn,
            "precision": self.precision.as_dict(),
            "recall": self.recall.as_dict(),
            "fpr": self.fpr.as_dict(),
            "estimated": None if self.estimated is None else self.estimated.as_dict(),
            "estimate_error": self.estimate_error(),
            "design": None if self.design is None else self.design.as_dict(),
            **({} if self.difference is None else {"design_difference": self.difference.as_dict()}),
        }


@dataclass(frozen=True)
class ClassMetrics:
    """Misses of one defect class: boxes (class-aware) and units passed unflagged."""

    class_name: str
    trained: bool
    fnr: Proportion
    unit_fnr: Proportion

    def as_dict(self) -> dict[str, Any]:
        return {
            "class_name": self.class_name,
            "trained": self.trained,
            "fnr": self.fnr.as_dict(),
            "unit_fnr": self.unit_fnr.as_dict(),
        }


@dataclass(frozen=True)
class LatencyMetrics:
    """Latency percentiles of one line against its takt time."""

    line_id: str
    frames: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    inference_p50_ms: float | None
    inference_p99_ms: float | None
    takt_ms: float | None

    @property
    def p99_takt_ratio(self) -> float | None:
        if self.p99_ms is None or not self.takt_ms:
            return None
        return self.p99_ms / self.takt_ms

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "p99_takt_ratio": self.p99_takt_ratio}


@dataclass(frozen=True)
class NovelResult:
    """How the model met the lab images of one novel class (or novel input) at the threshold:
    how many it flagged, and as which classes."""

    name: str
    frames: int
    flagged: int
    flagged_as: dict[str, int]
    fail_safe: int
    fail_silent: int

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class LabMetrics:
    """The clean lab split of the latest corruption-suite run, and the lab set it came from.

    ``lab_set`` is the imported lab set's name, empty for the simulated lab; :attr:`label`
    prints it (``simulated lab``). Without any assessment ``run_id`` is ``None``.
    """

    run_id: str | None
    frames: int
    tpr: Proportion
    fpr: Proportion
    map: MapResult
    lab_set: str = ""
    novel: list[NovelResult] = field(default_factory=list)

    @property
    def label(self) -> str | None:
        """The lab set's name, ``simulated lab``, or ``None`` before any assessment."""
        return None if self.run_id is None else lab_set_label(self.lab_set)

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "lab_set": self.label,
            "frames": self.frames,
            "tpr": self.tpr.as_dict(),
            "fpr": self.fpr.as_dict(),
            "map50": self.map.map50,
            "ap50_per_class": self.map.per_class,
            "novel": [n.as_dict() for n in self.novel],
        }


@dataclass(frozen=True)
class Coverage:
    """How much of production is labelled and reconciled."""

    frames: int
    labelled_events: int
    labels_without_frames: int
    reconciled_frames: int

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class ReadinessMetrics:
    """All readiness metrics of a store."""

    threshold: float
    review_band: tuple[float, float]
    by: tuple[str, ...]
    overall: SliceMetrics
    slices: list[SliceMetrics]
    classes: list[ClassMetrics]
    latency: list[LatencyMetrics]
    lab: LabMetrics
    base_rate: BaseRateOutcome | None
    coverage: Coverage
    review_queue_size: int
    notes: list[str] = field(default_factory=list)
    estimated: list[tuple[dict[str, str], PerformanceEstimate]] = field(default_factory=list)

    def slice_audits(self) -> list[SliceAudit]:
        """Per group (the overall figures where no grouping was asked): the label-free estimate
        beside the realized design-weighted figure and the next audit."""
        rows = self.slices or [self.overall]
        return [s.audit() for s in rows]

    def audit_next(self, top: int = 5) -> list[dict[str, Any]]:
        """The audits that would narrow the widest realized intervals most, widest first
        (:func:`streams.readiness.slice_audits.audit_next`)."""
        return audit_next(self.slice_audits(), top)

    def as_dict(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "review_band": list(self.review_band),
            "by": list(self.by),
            "overall": self.overall.as_dict(),
            "prevalence": self.overall.prevalence.as_dict(),
            "slices": [s.as_dict() for s in self.slices],
            "classes": [c.as_dict() for c in self.classes],
            "latency": [lat.as_dict() for lat in self.latency],
            "lab": self.lab.as_dict(),
            "base_rate": None if self.base_rate is None else self.base_rate.as_dict(),
            "coverage": self.coverage.as_dict(),
            "review_queue_size": self.review_queue_size,
            "notes": self.notes,
            "estimated": [{**key, **est.as_dict()} for key, est in self.estimated],
            "audit_next": self.audit_next(),
        }
