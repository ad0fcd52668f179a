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
from datetime import UTC, datetime
from importlib import resources
from typing import Any, ParamSpec

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from streams.config import Settings
from streams.drift.budget import line_budgets
from streams.drift.cause import WHOM_TO_CALL
from streams.drift.signals import ALL_SIGNALS
from streams.readiness.metrics import ReadinessMetrics
from streams.readiness.verdict import ReadinessVerdict
from streams.report import plots
from streams.report.data import ReportData, read_report_data
from streams.report.metrics_sections import (
    Draw,
    Rows,
    audits_section,
    estimates_section,
    ms,
    pct,
    production_section,
    slices_section,
)
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

_P = ParamSpec("_P")


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


def _drift_section(d: ReportData, settings: Settings, draw: Draw) -> dict[str, Any]:
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


def _confidence_section(d: ReportData, draw: Draw) -> dict[str, Any]:
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


def _robustness_section(d: ReportData, draw: Draw) -> dict[str, Any]:
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
            pct(r["recall"]),
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


def _latency_section(d: ReportData, draw: Draw) -> dict[str, Any] | None:
    m = d.metrics
    curves = d.latency_curves
    if curves is None:
        return None
    takt = {lat.line_id: lat.takt_ms for lat in m.latency}
    rows = [
        [
            lat.line_id,
            str(lat.frames),
            ms(lat.p50_ms),
            ms(lat.p95_ms),
            ms(lat.p99_ms),
            ms(lat.inference_p99_ms),
            ms(lat.takt_ms),
            pct(lat.p99_takt_ratio, ".0%"),
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
            "slices": slices_section(m, draw),
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
        production=production_section(m),
        slices=drawn["slices"],
        estimates=estimates_section(m),
        audits=audits_section(m),
        drift=drawn["drift"],
        gap=_gap_section(d.gaps, settings.readiness.max_reference_gap),
        confidence=drawn["confidence"],
        robustness=drawn["robustness"],
        latency=drawn["latency"],
        review=drawn["review"],
    )
