"""``linewatch metrics``, ``linewatch assess`` and ``linewatch report``: is the model ready?"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.console import Console

from streams.cli.groups import CliGroups
from streams.cli.interrupt import interruptibly
from streams.cli.options import (
    ModelOpt,
    ReconcileOpt,
    StoreOpt,
    open_store,
    reconcile_labels,
    settings_with,
)
from streams.cli.tables import DataTable, data_console, plain
from streams.errors import ConfigError

if TYPE_CHECKING:
    from streams.assess.sample import SuiteSample
    from streams.assess.suite import SuiteResult
    from streams.config import Settings
    from streams.readiness.metrics import NovelResult, ReadinessMetrics
    from streams.sinks import ClickHouseStore

__all__ = ["print_metrics", "register"]


def _json_default(value: object) -> str:
    return str(value)


def print_metrics(metrics: Any, out: Console) -> None:
    """The metrics as rich tables."""
    from streams.cli.audit import design_table

    m: ReadinessMetrics = metrics
    out.print(_production_table(m))
    if m.slices:
        out.print(_slices_table(m))
    designed = design_table(m)
    if designed is not None:
        out.print(designed)
    out.print(_classes_table(m))
    out.print(_latency_table(m))
    source = "no `linewatch assess` yet" if m.lab.label is None else m.lab.label
    out.print(_lab_table(m, source))
    if m.lab.novel:
        out.print(_novel_table(m.lab.novel, source))
    cov = m.coverage
    out.print(
        f"{cov.frames} frames, {cov.reconciled_frames} labelled+reconciled, "
        f"{cov.labels_without_frames} labels without frames, "
        f"{m.review_queue_size} unlabelled frames in the review band {list(m.review_band)}"
    )
    for note in m.notes:
        out.print(f"[yellow]note:[/] {plain(note)}")


def _production_table(m: ReadinessMetrics) -> DataTable:
    o = m.overall
    t = DataTable(title=f"production at operating threshold {m.threshold:.2f} (frame level)")
    for col in ("frames", "TP", "FP", "FN", "TN", "FPR", "recall", "precision", "prevalence"):
        t.add_column(col)
    t.add_row(
        *(str(v) for v in (o.frames, o.tp, o.fp, o.fn, o.tn)),
        o.fpr.fmt(),
        o.recall.fmt(),
        o.precision.fmt(),
        o.prevalence.fmt(),
    )
    return t


def _slices_table(m: ReadinessMetrics) -> DataTable:
    t = DataTable(title="per " + " x ".join(m.by) + " (est.: label-free, docs/estimation.md)")
    for col in (*m.by, "frames", "precision", "recall", "FPR", "est. recall"):
        t.add_column(col)
    for s in m.slices:
        est = "–" if s.estimated is None else s.estimated.recall.fmt()
        t.add_row(
            *s.key.values(),
            str(s.frames),
            s.precision.fmt(),
            s.recall.fmt(),
            s.fpr.fmt(),
            est,
        )
    return t


def _classes_table(m: ReadinessMetrics) -> DataTable:
    t = DataTable(title="misses per defect class")
    for col in ("class", "trained", "box-level FNR", "units passed"):
        t.add_column(col)
    for c in m.classes:
        t.add_row(c.class_name, "yes" if c.trained else "NO", c.fnr.fmt(), c.unit_fnr.fmt())
    return t


def _latency_table(m: ReadinessMetrics) -> DataTable:
    def f(v: float | None) -> str:
        return "no data" if v is None else f"{v:.1f}"

    t = DataTable(title="latency per line vs takt")
    for col in ("line", "frames", "p50 ms", "p95 ms", "p99 ms", "takt ms", "p99/takt"):
        t.add_column(col)
    for lat in m.latency:
        ratio = lat.p99_takt_ratio
        t.add_row(
            lat.line_id,
            str(lat.frames),
            f(lat.p50_ms),
            f(lat.p95_ms),
            f(lat.p99_ms),
            f(lat.takt_ms),
            "no data" if ratio is None else f"{ratio:.0%}",
        )
    return t


def _lab_table(m: ReadinessMetrics, source: str) -> DataTable:
    """The lab's clean split, and what its rates mean at the production base rate."""
    from streams.readiness.baserate import per_million, predicted_precision
    from streams.readiness.proportion import Proportion

    lab = m.lab
    t = DataTable(
        title=f"lab: clean split of the latest `linewatch assess` ({source})", show_header=False
    )
    t.add_row("lab set", source)
    t.add_row("mAP@0.5 (COCO)", "no data" if lab.map.map50 is None else f"{lab.map.map50:.3f}")
    for name, ap in lab.map.per_class.items():
        t.add_row(f"  AP@0.5 {name}", "no data" if ap is None else f"{ap:.3f}")
    t.add_row("lab TPR", lab.tpr.fmt())
    t.add_row("lab FPR", lab.fpr.fmt())
    br = m.base_rate
    if br is not None:
        t.add_row("prevalence (production)", f"{br.prevalence:.2%}")
        t.add_row(
            "precision at that base rate (Bayes)",
            predicted_precision(lab.tpr, lab.fpr, br.prevalence),
        )
        good, missed = 1 - br.prevalence, Proportion(lab.tpr.n - lab.tpr.k, lab.tpr.n)
        t.add_row("expected false alarms / 1M units", per_million(lab.fpr, good, "good flagged"))
        t.add_row(
            "expected missed defects / 1M units", per_million(missed, br.prevalence, "missed")
        )
    return t


def _novel_table(novel: Sequence[NovelResult], source: str) -> DataTable:
    t = DataTable(title=f"novel inputs ({source}): did the model flag them, as what?")
    for col in ("input", "frames", "flagged", "flagged as", "fail-safe", "fail-silent"):
        t.add_column(col)
    for n in novel:
        called = ", ".join(f"{k} {v}" for k, v in sorted(n.flagged_as.items())) or "–"
        t.add_row(
            n.name,
            str(n.frames),
            f"{n.flagged}/{n.frames}",
            called,
            f"{n.fail_safe}/{n.frames}",
            f"{n.fail_silent}/{n.frames}",
        )
    return t


def _review_queue_table(rows: list[dict[str, Any]], band: tuple[float, float]) -> DataTable:
    t = DataTable(title=f"review queue: top confidence in {list(band)}")
    for col in ("event_id", "line", "captured_at", "top conf.", "labelled"):
        t.add_column(col)
    for r in rows:
        t.add_row(
            r["event_id"],
            r["line_id"],
            str(r["captured_at"]),
            f"{r['max_confidence']:.3f}",
            "yes" if r["labelled"] else "no",
        )
    return t


def _parse_severities(text: str) -> tuple[int, ...]:
    """``--severities 1,3,5`` → ``(1, 3, 5)``, each within 1..5."""
    try:
        levels = tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError as exc:
        raise ConfigError(f"--severities must be integers like 1,3,5 ({exc})") from exc
    if not levels or any(not 1 <= s <= 5 for s in levels):
        raise ConfigError(f"--severities must be within 1..5, got {text!r}")
    return levels


def _suite_table(result: SuiteResult, seed: int) -> DataTable:
    from streams.lab.naming import lab_set_label

    run = result.run
    t = DataTable(
        title=f"corruption suite {run.run_id[:12]} on {lab_set_label(run.lab_set)} (seed {seed})"
    )
    names = [f"{r.corruption} {r.severity or ''}".strip() for r in result.results]
    t.add_column("condition (sev)", min_width=min(20, max(map(len, names))), overflow="fold")
    for col in ("recall", "conf", "fail-safe", "fail-silent"):
        t.add_column(col)
    t.add_column("flagged as", overflow="fold")
    t.caption = "conf: mean top confidence; flagged as: novel frames per class flagged"
    for name, r in zip(names, result.results, strict=True):
        called = ", ".join(f"{k} {v}" for k, v in sorted(r.flagged_as.items()))
        t.add_row(
            name,
            "no data" if r.recall is None else f"{r.recall:.1%}",
            f"{r.mean_top_confidence:.2f}",
            f"{r.fail_safe}/{r.frames}",
            f"{r.fail_silent}/{r.frames}",
            (called or "–") if r.kind == "novel" else "",
        )
    return t


def _lab_sample_of(  # noqa: PLR0917
    st: ClickHouseStore,
    settings: Settings,
    classes: Sequence[str],
    lab: str | None,
    frames: int,
    seed: int,
) -> SuiteSample | None:
    """The suite's frames from lab set ``lab`` (default: the latest imported one); ``None``
    (the simulated lab) where the store holds no lab set and none was named."""
    from streams.assess.sample import lab_sample
    from streams.ingest import IngestLimits
    from streams.sinks.lab_sets import lab_sets, load_lab_set

    if lab is None and not lab_sets(st):
        return None
    info, images = load_lab_set(st, lab)
    return lab_sample(
        images,
        info,
        model_classes=classes,
        frames=frames,
        seed=seed,
        limits=IngestLimits.from_settings(settings),
    )


def metrics_command(  # noqa: PLR0917
    by: Annotated[
        str, typer.Option(help="Group by any of line,shift,lighting ('' for overall only).")
    ] = "line,shift,lighting",
    fmt: Annotated[
        Literal["table", "json"], typer.Option("--format", help="table or json.")
    ] = "table",
    review_queue: Annotated[
        bool, typer.Option("--review-queue", help="List the frames in the review band.")
    ] = False,
    limit: Annotated[int, typer.Option(help="Rows of --review-queue.")] = 100,
    store: StoreOpt = None,
    model: ModelOpt = None,
    reconcile: ReconcileOpt = True,
) -> None:
    """Readiness metrics: FPR, per-class FNR, per-slice precision/recall, latency, base rate.

    Reads with ClickHouse ``readonly=1``; only the reconcile step before it writes.
    """
    from streams.readiness.metrics import compute_metrics, parse_by
    from streams.readiness.metrics import review_queue as queue_of

    settings = settings_with(store={"dsn": store}, inference={"model": model})
    columns = parse_by(by)
    if reconcile:
        reconcile_labels(settings)
    with open_store(settings, readonly=True, require_schema=True) as st:
        if review_queue:
            rows = interruptibly(lambda: queue_of(st, settings, limit=limit))
            if fmt == "json":
                typer.echo(json.dumps(rows, default=_json_default, indent=2))
                return
            data_console().print(_review_queue_table(rows, settings.inference.review_band))
            return
        m = interruptibly(lambda: compute_metrics(st, settings, by=columns, reconcile_first=False))
    if fmt == "json":
        typer.echo(json.dumps(m.as_dict(), default=_json_default, indent=2))
    else:
        print_metrics(m, data_console())


_LabSetOpt = Annotated[
    str | None,
    typer.Option(
        "--lab",
        help="Imported lab set to judge the model on (default: the latest `linewatch lab "
        "import`; none imported: the simulated lab).",
    ),
]
_SimulatedLabOpt = Annotated[
    bool,
    typer.Option("--simulated-lab", help="Judge on the simulated lab even where a lab set exists."),
]
_SuiteFramesOpt = Annotated[
    int,
    typer.Option(
        min=1,
        help="Simulated lab: frames to render. Lab set: images each corruption is applied "
        "to (drawn by --seed; the clean split is every image).",
    ),
]


def assess_command(  # noqa: PLR0917
    suite: Annotated[str, typer.Option(help="The suite to run: corruptions.")] = "corruptions",
    lab: _LabSetOpt = None,
    simulated: _SimulatedLabOpt = False,
    frames: _SuiteFramesOpt = 300,  # streams.assess.suite.DEFAULT_FRAMES (says why)
    seed: Annotated[int, typer.Option(min=0, help="Seed: same seed, same results.")] = 0,
    severities: Annotated[
        str, typer.Option(help="Comma-separated severities out of 1..5.")
    ] = "1,3,5",
    store: StoreOpt = None,
    model: ModelOpt = None,
) -> None:
    """Lab mAP, TPR/FPR, corruptions and novel inputs on the lab set: recall, confidence,
    fail-safe vs fail-silent, and what each novel class was flagged as."""
    from streams.assess import run_corruption_suite
    from streams.cli.progress import make_progress, stderr_console
    from streams.inference import Detector

    if suite != "corruptions":
        raise ConfigError(f"unknown suite {suite!r}; the available suite is 'corruptions'")
    if lab is not None and simulated:
        raise ConfigError("--lab and --simulated-lab exclude each other; pass one")
    levels = _parse_severities(severities)
    settings = settings_with(store={"dsn": store}, inference={"model": model})
    detector = Detector.load(settings.inference.model, settings=settings)
    classes = detector.spec.class_names or ()
    with open_store(settings) as st:
        st.apply_schema()
        sample = None if simulated else _lab_sample_of(st, settings, classes, lab, frames, seed)
        for warning in () if sample is None else sample.warnings:
            stderr_console.print(f"[yellow]warning:[/] {warning}")
        with make_progress() as progress:
            task = progress.add_task("conditions", total=None)
            result = run_corruption_suite(
                st,
                settings,
                detector=detector,
                sample=sample,
                frames=frames,
                seed=seed,
                severities=levels,
                on_progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
    data_console().print(_suite_table(result, seed))
    data_console().print(f"{result.run.elapsed_s:.1f} s; stored in {plain(st.dsn)}")


def report_command(
    out: Annotated[Path, typer.Option("--out", help="HTML file to write.")] = Path("report.html"),
    store: StoreOpt = None,
    model: ModelOpt = None,
    reconcile: ReconcileOpt = True,
) -> None:
    """Write the readiness report: one self-contained HTML file; prints the verdict.

    Reads with ClickHouse ``readonly=1``; only the reconcile step before it writes.
    """
    from streams.cli.tables import verdict_table
    from streams.readiness.metrics import compute_metrics
    from streams.report import compute_verdict, render_report

    settings = settings_with(store={"dsn": store}, inference={"model": model})
    if reconcile:
        reconcile_labels(settings)
    with open_store(settings, readonly=True, require_schema=True) as st:

        def read() -> tuple[Any, str]:
            m = compute_metrics(st, settings, reconcile_first=False)
            verdict = compute_verdict(st, settings, metrics=m)
            return verdict, render_report(st, settings, metrics=m, verdict=verdict)

        verdict, html = interruptibly(read, what="the report's queries")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    data_console().print(verdict_table(verdict))
    data_console().print(f"report: {plain(out.resolve())}")


def register(app: typer.Typer, groups: CliGroups) -> None:
    """Add ``metrics``, ``assess`` and ``report``."""
    app.command("metrics")(metrics_command)
    app.command("assess")(assess_command)
    app.command("report")(report_command)
