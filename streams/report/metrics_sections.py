"""The report's sections made of the readiness metrics: production performance, the slices,
the label-free estimates and the audits (:func:`~streams.report.render.render_data` puts them
in the page), and the cell formats every section uses."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from streams.readiness.baserate import per_million, predicted_precision
from streams.readiness.design import DesignRate
from streams.readiness.metrics import ReadinessMetrics
from streams.readiness.proportion import Proportion
from streams.report import plots
from streams.report.plots import Plot

__all__ = [
    "Draw",
    "Rows",
    "audits_section",
    "estimates_section",
    "ms",
    "pct",
    "production_section",
    "slices_section",
]

Rows = list[list[str]]
Draw = Callable[..., "Future[Plot]"]
"""Queues one plot function with its arguments on the report's drawing thread."""


def _p(p: Proportion) -> str:
    return p.fmt()


def pct(value: float | None, spec: str = ".1%") -> str:
    """A share as a percentage (``spec``), or "no data"."""
    return "no data" if value is None else format(value, spec)


def ms(v: float | None) -> str:
    """Milliseconds with one decimal, or "no data"."""
    return "no data" if v is None else f"{v:.1f}"


# ---------------------------------------------------------------- production
@dataclass(frozen=True)
class _Production:
    cards: list[tuple[str, str, str]] | None
    classes: list[tuple[str, bool, str, str]]
    lab: Rows | None
    base_rate: Rows | None
    coverage: str


def _production_cards(m: ReadinessMetrics) -> list[tuple[str, str, str]]:
    o = m.overall
    cards = [
        ("FPR (good units flagged)", o.fpr),
        ("recall (defective units flagged)", o.recall),
        ("precision (flags that were defects)", o.precision),
        ("defect prevalence", o.prevalence),
    ]
    return [(title, pct(p.value), _p(p)) for title, p in cards]


def _lab_rows(m: ReadinessMetrics) -> Rows | None:
    lab = m.lab
    if lab.frames == 0:
        return None
    ap = ", ".join(
        f"{k} {'no data' if v is None else f'{v:.3f}'}" for k, v in lab.map.per_class.items()
    )
    return [
        ["lab set", lab.label or "–"],
        ["mAP@0.5 (COCO, clean lab split)", pct(lab.map.map50, ".3f")],
        ["AP@0.5 per class", ap],
        ["lab TPR (defective units flagged)", _p(lab.tpr)],
        ["lab FPR (good units flagged)", _p(lab.fpr)],
    ]


def _base_rate_rows(m: ReadinessMetrics) -> Rows | None:
    """What the lab's TPR/FPR mean at the production prevalence, each figure with the 95 %
    interval its lab counts allow (a lab split is small: 0 of 62 is not 0)."""
    br = m.base_rate
    if br is None:
        return None
    good = 1 - br.prevalence
    return [
        ["prevalence (labelled production frames)", f"{br.prevalence:.2%}"],
        [
            "precision predicted from lab TPR/FPR (Bayes)",
            predicted_precision(m.lab.tpr, m.lab.fpr, br.prevalence),
        ],
        ["precision measured in production", _p(m.overall.precision)],
        [
            "expected false alarms per 1,000,000 units (lab FPR)",
            per_million(m.lab.fpr, good, "good lab units flagged"),
        ],
        [
            "false alarms per 1,000,000 units (production FPR)",
            per_million(m.overall.fpr, good, "good production units flagged"),
        ],
        [
            "expected missed defects per 1,000,000 units (lab TPR)",
            per_million(
                Proportion(m.lab.tpr.n - m.lab.tpr.k, m.lab.tpr.n),
                br.prevalence,
                "defective lab units missed",
            ),
        ],
    ]


def _coverage_note(m: ReadinessMetrics) -> str:
    cov = m.coverage
    return (
        f"{cov.frames:,} production frames, {cov.reconciled_frames:,} labelled and reconciled; "
        f"{cov.labels_without_frames:,} label(s) without a frame yet. Operating threshold "
        f"{m.threshold:.2f}; matching class-aware, IoU ≥ 0.5, greedy by confidence."
    )


def production_section(m: ReadinessMetrics) -> _Production:
    labelled = m.overall.frames > 0
    return _Production(
        cards=_production_cards(m) if labelled else None,
        classes=[(c.class_name, c.trained, _p(c.fnr), _p(c.unit_fnr)) for c in m.classes],
        lab=_lab_rows(m),
        base_rate=_base_rate_rows(m),
        coverage=_coverage_note(m),
    )


# ---------------------------------------------------------------- other sections
def slices_section(m: ReadinessMetrics, draw: Draw) -> dict[str, Any] | None:
    if not m.slices:
        return None
    slices = [{**s.key, "recall": s.recall, "fpr": s.fpr} for s in m.slices]
    rows = [
        [
            str(s.key.get("line_id", "")),
            str(s.key.get("shift", "")),
            str(s.key.get("lighting", "")),
            str(s.frames),
            _p(s.precision),
            _p(s.recall),
            _p(s.fpr),
        ]
        for s in m.slices
    ]
    return {"heatmap": draw(plots.slice_heatmaps, slices), "rows": rows}


def _design_cell(rate: DesignRate) -> str:
    if rate.value is None or rate.lo is None or rate.hi is None:
        return "no data"
    return f"{rate.value:.1%} [{rate.lo:.1%}–{rate.hi:.1%}]"


def audits_section(m: ReadinessMetrics) -> dict[str, Any] | None:
    """Per slice: the label-free recall / FPR beside the realized design-weighted ones (the
    difference estimator where it applies, else the cell estimator), the labels used (by
    design; without a design, apart), the naive figures, the next audit; and the audits that
    would narrow the widest intervals most (:mod:`streams.readiness.slice_audits`)."""
    rows = []
    for s in m.slices or [m.overall]:
        d = s.design
        if d is None:
            continue
        a = s.audit()
        est = a.estimated
        unknown = est is not None and est.status == "unknown"
        nxt = d.next_audit
        rows.append(
            [
                *(str(s.key.get(c, "")) for c in m.by),
                f"{d.labels:,}",
                f"{d.undesigned:,}",
                _design_cell(d.fnr),
                pct(d.naive_fnr),
                _design_cell(d.fpr),
                pct(d.naive_fpr),
                "–" if est is None else ("unknown" if unknown else est.recall.fmt()),
                a.realized_recall.fmt(),
                "–" if est is None else ("unknown" if unknown else est.fpr.fmt()),
                a.realized_fpr.fmt(),
                a.realized_source or "–",
                "census" if d.census else ("–" if nxt is None else f"{nxt.units} {nxt.band}"),
            ]
        )
    if not rows:
        return None
    head = [*m.by, "labels", "without design", "FNR", "naive FNR", "FPR", "naive FPR"]
    head += ["est. recall", "recall", "est. FPR", "realized FPR", "from"]
    nxt_lines = [
        f"{'/'.join(str(item.get(c, '')) for c in m.by) or 'overall'}: "
        f"{item['recommendation']} (widest interval {item['width']:.1%})"
        for item in m.audit_next()
    ]
    return {"head": [*head, "next audit"], "rows": rows, "next": nxt_lines}


def estimates_section(m: ReadinessMetrics) -> dict[str, Any] | None:
    """Every slice's label-free estimate, beside its realized figures where labels exist."""
    if not m.estimated:
        return None
    realized = {tuple(s.key.get(c, "") for c in m.by): s for s in m.slices}
    rows = []
    for key, est in m.estimated:
        labelled = realized.get(tuple(key.get(c, "") for c in m.by))
        recall = labelled.recall if labelled is not None else None
        error = labelled.estimate_error()["recall"] if labelled is not None else None
        rows.append(
            [
                *(str(key.get(c, "")) for c in m.by),
                f"{est.frames:,}",
                f"{est.prevalence:.2%} ({est.prevalence_source})",
                est.precision.fmt(),
                est.recall.fmt(),
                est.fpr.fmt(),
                "no labels" if recall is None else _p(recall),
                "–" if error is None else f"{error:+.1%}",
            ]
        )
    blind = [
        f"{c.class_name}: {c.fnr.fmt()} of its boxes missed, {c.unit_fnr.fmt()} of its units "
        "passed unflagged"
        for c in m.classes
        if not c.trained and c.fnr.value is not None and c.fnr.value >= 0.5
    ]
    head = [*m.by, "frames", "prevalence", "est. precision", "est. recall", "est. FPR"]
    return {
        "head": [*head, "realized recall", "est. − realized"],
        "rows": rows,
        "blind": blind,
        "lab_set": m.lab.label or "–",
    }
