"""``render_report(store, settings) -> str``: the readiness report as one self-contained HTML file.

:func:`render_report` reads a :class:`~streams.report.data.ReportData` first
(:func:`~streams.report.data.read_report_data`), then :func:`render_data` renders it without
touching the store.

No external resources: the stylesheet is inlined and every figure is a base64 PNG. Every
section that has nothing to show says "no data" and which command fills it.

The HTML comes from the Jinja2 templates in ``streams/report/templates/`` (one per section,
building blocks in ``_macros.html.j2``) with autoescaping on: line, class and camera names come
from producers and are always written as text. This module only formats the values each
section shows.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import Any, ParamSpec

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from streams.config import Settings
from streams.drift.budget import line_budgets
from streams.drift.cause import WHOM_TO_CALL
from streams.drift.signals import ALL_SIGNALS
from streams.readiness.baserate import per_million, predicted_precision
from streams.readiness.design import DesignRate
from streams.readiness.metrics import ReadinessMetrics
from streams.readiness.proportion import Proportion
from streams.readiness.verdict import ReadinessVerdict
from streams.report import plots
from streams.report.data import ReportData, read_report_data
from streams.report.plots import Plot
from streams.sinks import ClickHouseStore
from streams.sinks.reads.gaps import SliceGap
from streams.sinks.reads.report import CauseSummary, LineAlarms

__all__ = ["SECTIONS", "render_data", "render_report"]

SECTIONS = {
    "verdict": "Readiness verdict",
    "production": "Production performance at the operating threshold",
    "slices": "Performance per slice (line × shift × lighting)",
    "estimates": "Label-free estimates per slice (no labels needed)",
    "audits": "Audits: rates weighted by how each label was chosen",
    "drift": "Drift timeline per slice, and whom to call",
    "gap": "Distance to the lab reference",
    "confidence": "Confidence: lab versus production",
    "robustness": "Corruption robustness and novel inputs",
    "latency": "Latency against takt time",
    "review": "Review queue",
}
"""Section id → heading, in report order (each has ``templates/section_<id>.html.j2``)."""

FILL = {
    "production": "`linewatch run --source … --labels labels.jsonl` or `linewatch demo`",
    "drift": "`linewatch run --source …` with a lab reference (`linewatch reference build`)",
    "lab": "`linewatch assess --suite corruptions`",
    "estimates": "`linewatch assess` (the lab calibration) after `linewatch run --source …`",
    "audits": "labels (`linewatch run --labels …`), chosen by `linewatch audit plan` or carrying "
    "`audit`",
    "frames": "`linewatch run --source …`",
}
"""What to run to fill each kind of empty section."""

_ENV = Environment(
    loader=PackageLoader("streams.report", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    keep_trailing_newline=False,
)

Rows = list[list[str]]
_P = ParamSpec("_P")
_Draw = Callable[..., "Future[Plot]"]
"""Queues one plot function with its arguments on the report's drawing thread."""


def _p(p: Proportion) -> str:
    return p.fmt()


def _pct(value: float | None, spec: str = ".1%") -> str:
    return "no data" if value is None else format(value, spec)


def _ms(v: float | None) -> str:
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
    return [(title, _pct(p.value), _p(p)) for title, p in cards]


def _lab_rows(m: ReadinessMetrics) -> Rows | None:
    lab = m.lab
    if lab.frames == 0:
        return None
    ap = ", ".join(
        f"{k} {'no data' if v is None else f'{v:.3f}'}" for k, v in lab.map.per_class.items()
    )
    return [
        ["lab set", lab.label or "–"],
        ["mAP@0.5 (COCO, clean lab split)", _pct(lab.map.map50, ".3f")],
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


def _production_section(m: ReadinessMetrics) -> _Production:
    labelled = m.overall.frames > 0
    return _Production(
        cards=_production_cards(m) if labelled else None,
        classes=[(c.class_name, c.trained, _p(c.fnr), _p(c.unit_fnr)) for c in m.classes],
        lab=_lab_rows(m),
        base_rate=_base_rate_rows(m),
        coverage=_coverage_note(m),
    )


# ---------------------------------------------------------------- other sections
def _slices_section(m: ReadinessMetrics, draw: _Draw) -> dict[str, Any] | None:
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


def _audits_section(m: ReadinessMetrics) -> dict[str, Any] | None:
    """Per slice: design-weighted FNR / FPR, labels used, the naive figures, the next audit."""
    rows = []
    for s in m.slices or [m.overall]:
        d = s.design
        if d is None:
            continue
        nxt = d.next_audit
        rows.append(
            [
                *(str(s.key.get(c, "")) for c in m.by),
                f"{d.labels:,}",
                f"{d.undesigned:,}",
                _design_cell(d.fnr),
                _pct(d.naive_fnr),
                _design_cell(d.fpr),
                _pct(d.naive_fpr),
                "census" if d.census else ("–" if nxt is None else f"{nxt.units} {nxt.band}"),
            ]
        )
    if not rows:
        return None
    head = [*m.by, "labels", "without design", "FNR", "naive FNR", "FPR", "naive FPR"]
    return {"head": [*head, "next audit"], "rows": rows}


def _estimates_section(m: ReadinessMetrics) -> dict[str, Any] | None:
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


def _cause_rows(causes: list[CauseSummary]) -> list[list[str]]:
    return [
        [c, str(n), str(k), WHOM_TO_CALL.get(c, WHOM_TO_CALL["unknown"]), e]
        for c, n, k, e in causes
    ]


def _budget_rows(rows: list[LineAlarms], settings: Settings) -> Rows | None:
    """Per line: the false-alarm budget, the alarms raised, the false alarms expected."""
    if not rows:
        return None
    labels = {r.line_id: r.label_alarms for r in rows}
    budgets = line_budgets(
        settings,
        signals=len(ALL_SIGNALS),
        rows=[(r.line_id, r.frames, r.seconds, r.alarms) for r in rows],
    )
    measured = [b.measured_frames_per_second for b in budgets]
    return [
        [
            b.line_id,
            f"{b.frames:,}",
            f"{b.configured_frames_per_second:g} / " + ("–" if fps is None else f"{fps:.2g}"),
            f"{b.budget_per_week:g} ({b.budget_for_period:.2f})",
            str(b.alarms),
            f"{b.expected_false_alarms:.2f}",
            str(labels.get(b.line_id, 0)),
        ]
        for b, fps in zip(budgets, measured, strict=True)
    ]


def _drift_section(d: ReportData, settings: Settings, draw: _Draw) -> dict[str, Any]:
    rows = d.timeline
    budget = _budget_rows(d.line_alarms, settings)
    if d.watched is not None:
        frames, slices = d.watched
        return {
            "budget": budget,
            "timeline": None,
            "frames": f"{frames:,}" if frames else "",
            "slices": f"{slices:,}",
            "signals": len(ALL_SIGNALS),
            "slice_signals": f"{slices * len(ALL_SIGNALS):,}",
        }
    by_slice: dict[str, int] = {}
    for r in rows:
        key = f"{r.line_id} / {r.shift} / {r.lighting} — {r.signal}"
        by_slice[key] = by_slice.get(key, 0) + r.alarms
    top = sorted(by_slice.items(), key=lambda kv: -kv[1])[:15]
    return {
        "budget": budget,
        "timeline": draw(plots.drift_timeline, rows),
        "rows": [[k, str(v)] for k, v in top],
        "causes": _cause_rows(d.causes),
    }


def _gap_section(gaps: list[SliceGap], limit: float) -> dict[str, Any]:
    rows = [
        [str(g[0]), str(g[1]), str(g[2]), str(g[3]), f"{g[4]:.0%}", _gap_status(g[4], limit)]
        for g in gaps[:25]
    ]
    return {"rows": rows or None, "limit": f"{limit:.0%}"}


def _gap_status(share: float, limit: float) -> str:
    return "fail" if share > limit else "pass"


def _hist(rows: list[tuple[float, int]]) -> dict[float, int]:
    out: dict[float, int] = {}
    for b, n in rows:
        out[round(float(b), 2)] = out.get(round(float(b), 2), 0) + int(n)
    return out


def _confidence_section(d: ReportData, draw: _Draw) -> dict[str, Any]:
    m = d.metrics
    prod = _hist(d.confidence_production)
    lab = _hist(d.confidence_lab)
    histograms: Future[Plot] | None = None
    if prod or lab:
        histograms = draw(plots.confidence_histograms, lab, prod, m.threshold, m.review_band)
    return {
        "histograms": histograms,
        "lab": bool(lab),
        "production": bool(prod),
        "lab_set": m.lab.label or "–",
    }


def _share(k: int, n: int) -> str:
    return "no data" if n == 0 else f"{k / n:.0%} ({k}/{n})"


def _novel_lines(m: ReadinessMetrics) -> list[str]:
    """One sentence per novel input: how many of its frames the model flagged, as what."""
    out = []
    for n in m.lab.novel:
        called = ", ".join(f"{k} ({v})" for k, v in sorted(n.flagged_as.items()))
        out.append(
            f"{n.name}: flagged {_share(n.flagged, n.frames)}"
            + (f", as {called}" if called else "")
        )
    return out


def _robustness_section(d: ReportData, draw: _Draw) -> dict[str, Any]:
    m = d.metrics
    rows = d.robustness
    if not rows:
        return {"rows": None}
    clean = next((r for r in rows if r["kind"] == "clean"), None)
    corr = [r for r in rows if r["kind"] == "corruption"]
    table = [
        [
            str(r["corruption"]),
            str(r["severity"]) if r["kind"] == "corruption" else "—",
            _pct(r["recall"]),
            f"{r['mean_top_confidence']:.2f}",
            _share(r["fail_safe"], r["frames"]),
            _share(r["fail_silent"], r["frames"]),
            _share(r["flagged_good_frames"], r["good_frames"]),
            str(r["frames"]),
        ]
        for r in rows
    ]
    return {
        "curves": (
            draw(plots.robustness_curves, corr, None if clean is None else clean["recall"])
            if corr
            else None
        ),
        "failure_modes": draw(plots.failure_mode_bars, rows),
        "rows": table,
        "lab_set": m.lab.label or "–",
        "novel": _novel_lines(m),
    }


def _latency_section(d: ReportData, draw: _Draw) -> dict[str, Any] | None:
    m = d.metrics
    curves = d.latency_curves
    if curves is None:
        return None
    takt = {lat.line_id: lat.takt_ms for lat in m.latency}
    rows = [
        [
            lat.line_id,
            str(lat.frames),
            _ms(lat.p50_ms),
            _ms(lat.p95_ms),
            _ms(lat.p99_ms),
            _ms(lat.inference_p99_ms),
            _ms(lat.takt_ms),
            _pct(lat.p99_takt_ratio, ".0%"),
        ]
        for lat in m.latency
    ]
    return {"curves": draw(plots.latency_curves, curves, takt), "rows": rows}


def _review_section(d: ReportData) -> dict[str, Any]:
    """The unlabelled frames in the review band; when there are none, why (no frames, none in
    the band, or every one in the band already labelled)."""
    m = d.metrics
    lo, hi = m.review_band
    queue = [r for r in d.review_queue if not r["labelled"]]
    rows = [
        [str(r["event_id"]), str(r["line_id"]), str(r["captured_at"]), f"{r['max_confidence']:.3f}"]
        for r in queue
    ]
    frames, in_band, labelled = d.review_band
    return {
        "rows": rows or None,
        "size": f"{m.review_queue_size:,}",
        "low": f"{lo:.2f}",
        "high": f"{hi:.2f}",
        "frames": int(frames),
        "in_band": f"{int(in_band):,}",
        "labelled": f"{int(labelled):,}",
        "all_frames": f"{int(frames):,}",
    }


def _drawn(section: dict[str, Any] | None) -> dict[str, Any] | None:
    """``section`` with each plot's future replaced by the plot (re-raising a drawing error)."""
    if section is None:
        return None
    return {k: v.result() if isinstance(v, Future) else v for k, v in section.items()}


def render_report(
    store: ClickHouseStore,
    settings: Settings,
    *,
    metrics: ReadinessMetrics | None = None,
    verdict: ReadinessVerdict | None = None,
) -> str:
    """The whole report: :func:`read_report_data` (which reconciles pending labels first
    unless ``metrics`` is given), then :func:`render_data`."""
    return render_data(
        read_report_data(store, settings, metrics=metrics, verdict=verdict), settings
    )


def render_data(d: ReportData, settings: Settings) -> str:
    """The report of data already read; reads nothing from the store.

    The plots are drawn on one worker thread, in the order the sections ask for them, while
    this thread formats the next sections; only that thread uses pyplot. The HTML is the same
    as drawing them in turn.
    """
    m, v = d.metrics, d.verdict
    # the stylesheet ships with the package: the one value written unescaped
    css = Markup(resources.files("streams.report").joinpath("report.css").read_text("utf-8"))
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="report-plots") as pool:

        def draw(fn: Callable[_P, Plot], /, *args: _P.args, **kwargs: _P.kwargs) -> Future[Plot]:
            return pool.submit(fn, *args, **kwargs)

        built = {
            "slices": _slices_section(m, draw),
            "drift": _drift_section(d, settings, draw),
            "confidence": _confidence_section(d, draw),
            "robustness": _robustness_section(d, draw),
            "latency": _latency_section(d, draw),
            "review": _review_section(d),
        }
        drawn = {name: _drawn(section) for name, section in built.items()}
    return _ENV.get_template("report.html.j2").render(
        sections=SECTIONS,
        fill=FILL,
        status=v.status,
        css=css,
        dsn=d.dsn,
        generated=datetime.now(UTC).isoformat(timespec="seconds"),
        verdict=v,
        production=_production_section(m),
        slices=drawn["slices"],
        estimates=_estimates_section(m),
        audits=_audits_section(m),
        drift=drawn["drift"],
        gap=_gap_section(d.gaps, settings.readiness.max_reference_gap),
        confidence=drawn["confidence"],
        robustness=drawn["robustness"],
        latency=drawn["latency"],
        review=drawn["review"],
    )
