"""``linewatch estimate``: label-free precision / recall / FPR per slice window, into the store."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from schemas.records import EstimatedPerformanceRecord
from streams.cli.groups import CliGroups
from streams.cli.options import ModelOpt, StoreOpt, open_store, settings_with
from streams.cli.tables import DataTable, data_console, plain
from streams.estimation import Estimate
from streams.lab.naming import lab_set_label

if TYPE_CHECKING:
    from streams.estimation.job import EstimateRun
    from streams.readiness.slice_audits import SliceAudit
    from streams.readiness.window_figures import WindowRealized

__all__ = ["audits_table", "register"]


def register(app: typer.Typer, groups: CliGroups) -> None:
    """Add ``estimate``."""

    @app.command("estimate")
    def estimate(
        window_frames: Annotated[
            int | None,
            typer.Option(min=20, help="Frames per slice window (default: LINEWATCH_ESTIMATION)."),
        ] = None,
        dry_run: Annotated[
            bool, typer.Option("--dry-run", help="Compute and print, write nothing.")
        ] = False,
        fmt: Annotated[
            Literal["table", "json"], typer.Option("--format", help="table or json.")
        ] = "table",
        store: StoreOpt = None,
        model: ModelOpt = None,
    ) -> None:
        """Estimate each slice's precision, recall and FPR from the model's scores alone.

        Calibrated on the lab split of the latest `linewatch assess` (the plant's lab set when
        it ran on one, else the simulated lab; the output names it); writes one row per slice
        window to `estimated_performance` and a drift event (signal estimated_recall) where a
        slice's estimated recall stays below the lab's. A slice's windows are cut where its
        image statistics step, so none straddles a change. Beside each window's estimate
        (--format json) and each slice's (its windows combined) it shows the realized
        design-weighted recall / FPR of the labels of the same frames (labels without a design
        apart) and which audits would narrow the widest intervals most; writes the slices'
        to `audit_figures` (Grafana), after pairing new labels with their frames (not with
        --dry-run). See docs/estimation.md.
        """
        from streams.estimation.job import run_estimates
        from streams.inference.threshold import operating_threshold
        from streams.readiness.reconcile import reconcile
        from streams.readiness.slice_audits import window_audits
        from streams.readiness.window_figures import window_realized

        settings = settings_with(store={"dsn": store}, inference={"model": model})
        params = settings.estimation
        if window_frames is not None:
            params = params.model_validate({**params.model_dump(), "window_frames": window_frames})
        threshold = operating_threshold(settings)
        with open_store(settings, existing=True) as st:
            st.apply_schema()
            run = run_estimates(st, threshold, params, write=not dry_run)
            if not dry_run:  # pair new labels with their frames first, as metrics does
                reconcile(st, settings, threshold=threshold)
            audits = window_audits(st, settings, threshold, run.slices, run.windows)
            realized = window_realized(st, settings, threshold, run.estimates)
            if not dry_run and audits:
                now = datetime.now(UTC)
                st.insert([a.record(now, threshold) for a in audits])
        if fmt == "json":
            typer.echo(_as_json(run, threshold, audits, realized))
            return
        _print_run(run, threshold, params.window_frames, realized, dry_run=dry_run)
        _print_audits(audits)


def _as_json(
    run: EstimateRun,
    threshold: float,
    audits: list[SliceAudit],
    realized: list[WindowRealized],
) -> str:
    """The run as the JSON document of ``--format json``; ``windows``: each window's estimate
    with ``realized``, the labels' figures over the same frames; ``slices``: each slice's
    windows combined beside its realized design-weighted figure; ``audit_next``: where labels
    narrow the widest intervals most."""
    from streams.readiness.slice_audits import audit_next

    return json.dumps(
        {
            "threshold": threshold,
            "lab_set": lab_set_label(run.lab_set),
            "reference_recall": run.reference_recall,
            "windows": [
                {**w.model_dump(mode="json"), "realized": r.as_dict()}
                for w, r in zip(run.windows, realized, strict=True)
            ],
            "drift_events": [e.model_dump(mode="json") for e in run.drift_events],
            "rows_written": run.rows_written,
            "slices": [a.as_dict() for a in audits],
            "audit_next": audit_next(audits),
        },
        indent=2,
    )


def _figures(w: EstimatedPerformanceRecord) -> tuple[str, str, str]:
    """Precision, recall and FPR cells of a window (``unknown`` where it says so)."""
    if w.status == "unknown":
        return ("unknown",) * 3
    return (
        Estimate(w.precision, w.precision_lo, w.precision_hi).fmt(),
        Estimate(w.recall, w.recall_lo, w.recall_hi).fmt(),
        Estimate(w.fpr, w.fpr_lo, w.fpr_hi).fmt(),
    )


def _latest_table(
    run: EstimateRun, threshold: float, realized: list[WindowRealized]
) -> tuple[DataTable, dict[tuple[str, str, str], EstimatedPerformanceRecord]]:
    """The table of each slice's latest window beside the labels' recall over the same frames,
    and those windows by slice."""
    t = DataTable(
        title=f"estimated at threshold {threshold:.2f}, latest window per slice "
        f"(calibrated on {lab_set_label(run.lab_set)}); realized: its labels"
    )
    for col in ("line", "shift", "lighting", "windows", "window", "frames", "prevalence"):
        t.add_column(col)
    for col in ("precision", "recall", "FPR", "realized recall", "labels"):
        t.add_column(col)
    latest: dict[tuple[str, str, str], tuple[EstimatedPerformanceRecord, WindowRealized]] = {}
    counts: Counter[tuple[str, str, str]] = Counter()
    for w, r in zip(run.windows, realized, strict=True):
        key = (w.line_id, w.shift, w.lighting)
        latest[key] = (w, r)
        counts[key] += 1
    for key, (w, r) in sorted(latest.items()):
        t.add_row(
            *key,
            str(counts[key]),
            f"{w.window_start:%m-%d %H:%M}–{w.window_end:%H:%M}",
            str(w.frames),
            f"{w.prevalence:.2%} ({w.prevalence_source})",
            *_figures(w),
            r.recall.fmt(),
            f"{r.labels} ({r.defective_labels} defective)",
            style="bold red" if w.recall_hi is not None and w.recall_hi < 0.5 else None,
        )
    return t, {key: w for key, (w, _) in latest.items()}


def _print_run(
    run: EstimateRun,
    threshold: float,
    window_frames: int,
    realized: list[WindowRealized],
    *,
    dry_run: bool,
) -> None:
    """The table, the unknown windows' reasons, the drift events and what was written."""
    t, latest = _latest_table(run, threshold, realized)
    console = data_console()
    console.print(t)
    for key, w in sorted(latest.items()):
        if w.status == "unknown":
            console.print(f"[yellow]{plain('/'.join(key))}: unknown[/]: {plain(w.reason)}")
    ref = "unknown" if run.reference_recall is None else f"{run.reference_recall:.1%}"
    for e in run.drift_events:
        console.print(
            f"[bold red]estimated recall drop[/] "
            f"{plain(e.line_id)}/{plain(e.shift)}/{plain(e.lighting)}: "
            f"{e.after_mean:.1%} (interval top {e.statistic:.1%}) vs lab {ref}, "
            f"at {e.detected_at:%Y-%m-%d %H:%M}"
        )
    if not run.windows:
        console.print(
            f"no slice (line x shift x lighting) has {window_frames // 2} frames "
            f"yet: a window is {window_frames} frames of one slice (a slice with half "
            "of that gets one); for a short trial pass --window-frames (at least 20)"
        )
    written = "nothing written (--dry-run)" if dry_run else f"{run.rows_written} rows written"
    console.print(f"{len(run.windows)} windows, {len(run.drift_events)} drift events; {written}")


def audits_table(audits: list[SliceAudit]) -> DataTable:
    """Per slice: label-free recall / FPR beside the realized design-weighted ones, the labels
    behind them (by design; without a design, apart) and the next audit."""
    t = DataTable(
        title="label-free estimate vs realized, per slice over all its frames (estimate: its "
        "windows combined; realized: design-weighted, each label by how it was chosen; "
        "difference = the estimate as a control variate)"
    )
    for col in ("line", "shift", "lighting", "est. recall", "recall", "est. FPR", "FPR"):
        t.add_column(col)
    for col in ("from", "labels", "no design", "next audit"):
        t.add_column(col)
    for a in audits:
        est = a.estimated
        unknown = est is not None and est.status == "unknown"
        e_recall = "–" if est is None else ("unknown" if unknown else est.recall.fmt())
        e_fpr = "–" if est is None else ("unknown" if unknown else est.fpr.fmt())
        t.add_row(
            *(a.key.get(c, "") for c in ("line_id", "shift", "lighting")),
            e_recall,
            a.realized_recall.fmt(),
            e_fpr,
            a.realized_fpr.fmt(),
            a.realized_source or "no labels",
            str(a.labels),
            str(a.undesigned_labels),
            a.recommendation(),
        )
    return t


def _print_audits(audits: list[SliceAudit]) -> None:
    """The table of :func:`audits_table` and the audits that narrow the widest intervals."""
    from streams.readiness.slice_audits import audit_next

    if not audits:
        return
    console = data_console()
    console.print(audits_table(audits))
    for item in audit_next(audits):
        where = "/".join(str(item.get(c, "")) for c in ("line_id", "shift", "lighting"))
        console.print(
            f"audit next: {plain(where)}: {plain(item['recommendation'])} "
            f"(widest interval {item['width']:.1%})"
        )
