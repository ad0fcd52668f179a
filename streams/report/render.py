# ruff: noqa: E501  (HTML fragments read better unbroken)
"""``render_report(store, settings) -> str``: the readiness report as one self-contained HTML file.

No external resources: the stylesheet is inlined and every figure is a base64 PNG. Every
section that has nothing to show says "no data" and which command fills it.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from streams.config import Settings
from streams.readiness.metrics import ReadinessMetrics, compute_metrics, review_queue
from streams.readiness.proportion import Proportion
from streams.readiness.verdict import (
    GAP_PARAMETERS,
    GAP_SQL,
    ReadinessVerdict,
    verdict_from_metrics,
)
from streams.report import plots
from streams.sinks import ClickHouseStore

__all__ = ["SECTIONS", "render_report"]

SECTIONS = {
    "verdict": "Readiness verdict",
    "production": "Production performance at the operating threshold",
    "slices": "Performance per slice (line × shift × lighting)",
    "drift": "Drift timeline per slice",
    "gap": "Distance to the lab reference",
    "confidence": "Confidence: lab versus production",
    "robustness": "Corruption robustness and novel inputs",
    "latency": "Latency against takt time",
    "review": "Review queue",
}
"""Section id → heading, in report order."""

FILL = {
    "production": "`linewatch run --source … --labels labels.jsonl` or `linewatch demo`",
    "drift": "`linewatch run --source …` with a lab reference (`linewatch reference build`)",
    "lab": "`linewatch assess --suite corruptions`",
    "frames": "`linewatch run --source …`",
}
"""What to run to fill each kind of empty section."""


def _e(value: object) -> str:
    return html.escape(str(value))


def _nodata(what: str, fill: str) -> str:
    return f'<p class="nodata"><strong>No data</strong> for {_e(what)}. Run {_code(fill)} to fill it.</p>'


def _code(text: str) -> str:
    parts = text.split("`")
    return "".join(f"<code>{_e(p)}</code>" if i % 2 else _e(p) for i, p in enumerate(parts))


def _table(head: list[str], rows: list[list[str]], numeric: set[int] | None = None) -> str:
    numeric = numeric or set()
    th = "".join(f"<th>{_e(h)}</th>" for h in head)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>"
            for i, c in enumerate(r)
        )
        + "</tr>"
        for r in rows
    )
    return f'<div class="table-wrap"><table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table></div>'


def _badge(status: str) -> str:
    cls = {"pass": "pass", "fail": "fail"}.get(status, "nodata-badge")
    return f'<span class="badge {cls}">{_e(status.upper())}</span>'


def _p(p: Proportion) -> str:
    return _e(p.fmt())


def _ms(v: float | None) -> str:
    return "no data" if v is None else f"{v:.1f}"


def _section(key: str, body: str) -> str:
    return f'<section id="{key}"><h2>{_e(SECTIONS[key])}</h2>{body}</section>'


def _verdict_section(v: ReadinessVerdict) -> str:
    rows = [
        [
            _e(c.name),
            _badge(c.status)
            + (
                ""
                if c.certain or c.status == "no data"
                else ' <span class="mute">(uncertain)</span>'
            ),
            _e(c.measured),
            _e(c.limit),
            _e(c.detail) if c.detail else _code(c.how_to_fill),
        ]
        for c in v.criteria
    ]
    lead = f'<p class="verdict">Overall: {_badge(v.status)}</p>'
    note = (
        '<p class="mute">A criterion passes on its point estimate; "uncertain" means the 95 % '
        "Wilson interval crosses the limit (more labelled frames needed).</p>"
    )
    return lead + _table(["criterion", "status", "measured", "limit", "detail"], rows) + note


def _production_section(m: ReadinessMetrics) -> str:
    o = m.overall
    if o.frames == 0:
        body = _nodata("labelled production frames", FILL["production"])
    else:
        cards = [
            ("FPR (good units flagged)", o.fpr),
            ("recall (defective units flagged)", o.recall),
            ("precision (flags that were defects)", o.precision),
            ("defect prevalence", o.prevalence),
        ]
        body = (
            '<div class="grid">'
            + "".join(
                f'<div class="card"><div class="mute">{_e(t)}</div><div class="big">'
                f'{"no data" if p.value is None else f"{p.value:.1%}"}</div><div class="mute">{_p(p)}</div></div>'
                for t, p in cards
            )
            + "</div>"
        )
        body += "<h3>Misses per defect class</h3>"
        body += _table(
            ["class", "trained", "box-level FNR (class-aware)", "units passed (unit FNR)"],
            [
                [
                    _e(c.class_name),
                    "yes" if c.trained else "<strong>no (novel)</strong>",
                    _p(c.fnr),
                    _p(c.unit_fnr),
                ]
                for c in m.classes
            ],
        )
    body += "<h3>Lab metrics at the production base rate</h3>"
    lab = m.lab
    if lab.frames == 0:
        body += _nodata("the lab split", FILL["lab"])
    else:
        ap = ", ".join(
            f"{k} {'no data' if v is None else f'{v:.3f}'}" for k, v in lab.map.per_class.items()
        )
        body += _table(
            ["lab metric", "value"],
            [
                [
                    "mAP@0.5 (clean lab split)",
                    "no data" if lab.map.map50 is None else f"{lab.map.map50:.3f}",
                ],
                ["AP@0.5 per class", _e(ap)],
                ["lab TPR (defective units flagged)", _p(lab.tpr)],
                ["lab FPR (good units flagged)", _p(lab.fpr)],
            ],
        )
    br = m.base_rate
    if br is None:
        body += _nodata(
            "the base-rate arithmetic (needs lab TPR/FPR and measured prevalence)",
            FILL["lab"] + " and " + FILL["production"],
        )
    else:
        measured = o.fpr.value
        body += _table(
            ["at the measured production prevalence", "value"],
            [
                ["prevalence (labelled production frames)", f"{br.prevalence:.2%}"],
                [
                    "precision predicted from lab TPR/FPR (Bayes)",
                    "no data" if br.precision is None else f"{br.precision:.1%}",
                ],
                ["precision measured in production", _p(o.precision)],
                [
                    "expected false alarms per 1,000,000 units (lab FPR)",
                    f"{br.false_alarms_per_million:,.0f}",
                ],
                [
                    "false alarms per 1,000,000 units (production FPR)",
                    "no data"
                    if measured is None
                    else f"{measured * (1 - br.prevalence) * 1e6:,.0f}",
                ],
                [
                    "expected missed defects per 1,000,000 units (lab TPR)",
                    f"{br.missed_per_million:,.0f}",
                ],
            ],
        )
    cov = m.coverage
    body += (
        f'<p class="mute">{cov.frames:,} production frames, {cov.reconciled_frames:,} labelled and '
        f"reconciled; {cov.labels_without_frames:,} label(s) without a frame yet. Operating threshold "
        f"{m.threshold:.2f}; matching class-aware, IoU ≥ 0.5, greedy by confidence.</p>"
    )
    return body


def _slices_section(m: ReadinessMetrics) -> str:
    if not m.slices:
        return _nodata("per-slice performance", FILL["production"])
    slices = [{**s.key, "recall": s.recall, "fpr": s.fpr} for s in m.slices]
    body = plots.slice_heatmaps(slices)
    rows = [
        [
            _e(s.key.get("line_id", "")),
            _e(s.key.get("shift", "")),
            _e(s.key.get("lighting", "")),
            str(s.frames),
            _p(s.precision),
            _p(s.recall),
            _p(s.fpr),
        ]
        for s in m.slices
    ]
    return body + _table(
        ["line", "shift", "lighting", "frames", "precision", "recall", "FPR"], rows, {3}
    )


def _drift_section(store: ClickHouseStore) -> str:
    rows = store.query(
        "SELECT line_id, shift, lighting, signal, hour, alarms FROM linewatch.v_drift_timeline ORDER BY hour"
    ).result_rows
    if not rows:
        return _nodata("drift events", FILL["drift"])
    by_slice: dict[str, int] = {}
    for r in rows:
        key = f"{r[0]} / {r[1]} / {r[2]} — {r[3]}"
        by_slice[key] = by_slice.get(key, 0) + int(r[5])
    top = sorted(by_slice.items(), key=lambda kv: -kv[1])[:15]
    return plots.drift_timeline(rows) + _table(
        ["slice — signal", "alarms"], [[_e(k), str(v)] for k, v in top], {1}
    )


def _gap_section(gaps: list[tuple[Any, ...]], limit: float) -> str:
    if not gaps:
        return _nodata("the reference gap", FILL["drift"])
    rows = [
        [
            _e(g[0]),
            _e(g[1]),
            _e(g[2]),
            _e(g[3]),
            f"{g[4]:.0%}",
            _badge("fail") if g[4] > limit else _badge("pass"),
        ]
        for g in gaps[:25]
    ]
    return (
        '<p class="mute">Share of a slice\'s frames whose image statistic falls outside the lab '
        f"set's 1st-99th percentile range, worst window (limit {limit:.0%}); worst 25 shown. "
        "PSI per window is in <code>linewatch.reference_gap</code>.</p>"
        + _table(["line", "shift", "lighting", "signal", "outside lab range", ""], rows, {4})
    )


def _hist(rows: list[tuple[Any, ...]]) -> dict[float, int]:
    out: dict[float, int] = {}
    for b, n in rows:
        out[round(float(b), 2)] = out.get(round(float(b), 2), 0) + int(n)
    return out


def _confidence_section(store: ClickHouseStore, m: ReadinessMetrics) -> str:
    prod = _hist(
        store.query("SELECT bin, frames FROM linewatch.v_confidence_hist_production").result_rows
    )
    lab = _hist(store.query("SELECT bin, frames FROM linewatch.v_confidence_hist_lab").result_rows)
    if not prod and not lab:
        return _nodata("confidence histograms", FILL["lab"] + " and " + FILL["frames"])
    body = plots.confidence_histograms(lab, prod, m.threshold, m.review_band)
    if not lab:
        body += _nodata("the lab histogram", FILL["lab"])
    if not prod:
        body += _nodata("the production histogram", FILL["frames"])
    return body


def _robustness_section(store: ClickHouseStore) -> str:
    res = store.query(
        "SELECT * FROM linewatch.v_corruption_robustness ORDER BY kind = 'novel', kind != 'clean', corruption, severity"
    )
    rows = [dict(zip(res.column_names, r, strict=True)) for r in res.result_rows]
    if not rows:
        return _nodata("corruption robustness", FILL["lab"])
    clean = next((r for r in rows if r["kind"] == "clean"), None)
    corr = [r for r in rows if r["kind"] == "corruption"]
    body = plots.robustness_curves(corr, None if clean is None else clean["recall"]) if corr else ""
    body += plots.failure_mode_bars(rows)

    def pct(k: int, n: int) -> str:
        return "no data" if n == 0 else f"{k / n:.0%} ({k}/{n})"

    table = [
        [
            _e(r["corruption"]),
            str(r["severity"]) if r["kind"] == "corruption" else "—",
            "no data" if r["recall"] is None else f"{r['recall']:.1%}",
            f"{r['mean_top_confidence']:.2f}",
            pct(r["fail_safe"], r["frames"]),
            pct(r["fail_silent"], r["frames"]),
            pct(r["flagged_good_frames"], r["good_frames"]),
            str(r["frames"]),
        ]
        for r in rows
    ]
    return (
        body
        + _table(
            [
                "condition",
                "severity",
                "recall",
                "mean top conf.",
                "fail-safe",
                "fail-silent",
                "good flagged",
                "frames",
            ],
            table,
            {2, 3, 7},
        )
        + (
            '<p class="mute">Fail-safe: the model is unsure (a defect stays below the threshold, or a novel '
            "input gets low confidence). Fail-silent: confident and wrong (a box ≥ threshold of the wrong "
            "class or place, an alarm on a good unit, empty belt or foreign object, or a novel defect "
            "called a trained class).</p>"
        )
    )


def _latency_section(store: ClickHouseStore, m: ReadinessMetrics, settings: Settings) -> str:
    measured = [lat for lat in m.latency if lat.frames]
    if not measured:
        return _nodata("latency", FILL["frames"])
    qs = ", ".join(f"{q / 100:.2f}" for q in range(101))
    res = store.query(
        f"SELECT line_id, quantiles({qs})(latency_ms) FROM linewatch.frames FINAL GROUP BY line_id"
    )
    curves = {str(line): [float(v) for v in values] for line, values in res.result_rows}
    takt = {lat.line_id: lat.takt_ms for lat in m.latency}
    body = plots.latency_curves(curves, takt)
    rows = [
        [
            _e(lat.line_id),
            str(lat.frames),
            _ms(lat.p50_ms),
            _ms(lat.p95_ms),
            _ms(lat.p99_ms),
            _ms(lat.inference_p99_ms),
            _ms(lat.takt_ms),
            "no data" if lat.p99_takt_ratio is None else f"{lat.p99_takt_ratio:.0%}",
        ]
        for lat in m.latency
    ]
    return body + _table(
        [
            "line",
            "frames",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "inference p99 ms",
            "takt ms",
            "p99 / takt",
        ],
        rows,
        set(range(1, 8)),
    )


def _review_section(store: ClickHouseStore, m: ReadinessMetrics, settings: Settings) -> str:
    lo, hi = m.review_band
    queue = [r for r in review_queue(store, settings, limit=20) if not r["labelled"]]
    if not queue:
        return _nodata(
            f"unlabelled frames with top confidence in [{lo:.2f}, {hi:.2f})", FILL["frames"]
        )
    rows = [
        [_e(r["event_id"]), _e(r["line_id"]), _e(r["captured_at"]), f"{r['max_confidence']:.3f}"]
        for r in queue
    ]
    return (
        f"<p>{m.review_queue_size:,} unlabelled frame(s) have a top confidence in the review band "
        f"[{lo:.2f}, {hi:.2f}); the 20 most confident are listed "
        "(all: <code>linewatch metrics --review-queue</code>).</p>"
        + _table(["event", "line", "captured", "top confidence"], rows, {3})
    )


def render_report(
    store: ClickHouseStore,
    settings: Settings,
    *,
    metrics: ReadinessMetrics | None = None,
    verdict: ReadinessVerdict | None = None,
) -> str:
    """The whole report (reconciles pending labels first unless ``metrics`` is given)."""
    m = metrics or compute_metrics(store, settings)
    gaps = [tuple(r) for r in store.query(GAP_SQL, GAP_PARAMETERS).result_rows]
    v = verdict or verdict_from_metrics(m, settings, gaps)
    css = resources.files("streams.report").joinpath("report.css").read_text(encoding="utf-8")
    body = [
        _section("verdict", _verdict_section(v)),
        _section("production", _production_section(m)),
        _section("slices", _slices_section(m)),
        _section("drift", _drift_section(store)),
        _section("gap", _gap_section(gaps, settings.readiness.max_reference_gap)),
        _section("confidence", _confidence_section(store, m)),
        _section("robustness", _robustness_section(store)),
        _section("latency", _latency_section(store, m, settings)),
        _section("review", _review_section(store, m, settings)),
    ]
    nav = "".join(f'<a href="#{k}">{_e(t)}</a>' for k, t in SECTIONS.items())
    now = datetime.now(UTC).isoformat(timespec="seconds")
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>linewatch readiness report — {_e(v.status)}</title><style>{css}</style></head><body>"
        f"<header><h1>Is the detector ready for the line?</h1>"
        f'<p class="meta">linewatch readiness report · store {_e(store.dsn)} · generated {_e(now)}</p>'
        f"<nav>{nav}</nav></header><main>{''.join(body)}</main>"
        "<footer>linewatch — measures the production gap of computer-vision detectors.</footer>"
        "</body></html>"
    )
