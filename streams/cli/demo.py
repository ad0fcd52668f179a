"""``linewatch demo``: the production-gap story end to end on the embedded store.

1. simulate a lab split and fit the reference profile (the evaluation conditions);
2. simulate 24 production hours on three lines (noon to noon) — at midnight line-2's night
   lamp starts failing and line-3 starts seeing a defect type the model never saw — and run it
   through the monitor with labels;
3. run the corruption / out-of-distribution suite;
4. print per slice: frames, drift events by signal, the largest gaps to the reference; the
   label-free estimates beside the realized recall (``linewatch estimate``), and the drift
   alarms by cause with whom to call;
5. write the readiness report and print its verdict.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from streams.cli.tables import DataTable, plain
from streams.config import Settings
from streams.readiness.verdict import GAP_PARAMETERS
from streams.sinks import ClickHouseStore

__all__ = ["print_causes", "print_estimates", "print_slice_summary", "run_demo"]

SLICE_SUMMARY_SQL = """
SELECT f.line_id, f.shift, f.lighting, f.frames,
       ifNull(d.drift_events, 0) AS drift_events, ifNull(d.signals, '') AS signals,
       ifNull(g.max_gap, -1) AS max_gap, ifNull(g.gap_signal, '') AS gap_signal
FROM (
    SELECT line_id, shift, lighting, count() AS frames
    FROM linewatch.frames FINAL GROUP BY line_id, shift, lighting
) AS f
LEFT JOIN (
    SELECT line_id, shift, lighting, sum(n) AS drift_events,
           arrayStringConcat(groupArray(concat(signal, '×', toString(n))), ' ') AS signals
    FROM (
        SELECT line_id, shift, lighting, signal, count() AS n
        FROM linewatch.drift_events FINAL GROUP BY line_id, shift, lighting, signal ORDER BY n DESC
    ) GROUP BY line_id, shift, lighting
) AS d ON f.line_id = d.line_id AND f.shift = d.shift AND f.lighting = d.lighting
LEFT JOIN (
    SELECT line_id, shift, lighting, max(distance) AS max_gap,
           argMax(signal, distance) AS gap_signal
    FROM linewatch.reference_gap FINAL
    WHERE metric = 'outside_lab_range' AND signal IN {signals:Array(String)}
    GROUP BY line_id, shift, lighting
) AS g ON f.line_id = g.line_id AND f.shift = g.shift AND f.lighting = g.lighting
ORDER BY f.line_id, f.shift, f.lighting
SETTINGS join_use_nulls = 1
"""

CLASS_BY_LINE_SQL = """
SELECT line_id, class_name, sum(objects), sum(missed), sum(frames_passed)
FROM linewatch.v_class_slice_counts GROUP BY line_id, class_name ORDER BY line_id, class_name
"""

LINE_MIX_SQL = """
SELECT line_id, count() AS n, groupUniqArray(signal) AS signals
FROM linewatch.drift_events FINAL WHERE lighting = '*' AND signal = 'lighting_mix'
GROUP BY line_id ORDER BY line_id
"""


def print_slice_summary(store: ClickHouseStore, console: Console, threshold: float) -> None:
    """Per slice: frames, drift events by signal, the largest share outside lab conditions."""
    result = store.query(SLICE_SUMMARY_SQL, GAP_PARAMETERS)
    table = DataTable(title="per slice (line × shift × lighting)")
    for col in ("line", "shift", "lighting", "frames", "drift", "drift by signal"):
        table.add_column(col)
    table.add_column("outside lab", justify="right")
    table.add_column("worst statistic")
    for line, shift, lighting, frames, drifts, signals, gap, gap_signal in result.result_rows:
        hot = drifts > 0 or gap > threshold
        table.add_row(
            line,
            shift,
            lighting,
            str(frames),
            str(drifts),
            signals,
            f"{gap:.0%}" if gap >= 0 else "–",
            gap_signal,
            style="bold red" if hot else None,
        )
    console.print(table)
    console.print(
        "outside lab: share of the slice's frames whose image statistics fall outside the lab "
        "set's range (worst 200-frame window; – = no full window yet)"
    )
    for line, n, signals in store.query(LINE_MIX_SQL).result_rows:
        console.print(
            f"[bold red]{plain(line)}[/]: {n} change(s) in the lighting-bucket mix "
            f"({plain(signals)})"
        )
    classes = DataTable(title="labelled defects per line (after human review)")
    for col in ("line", "class", "defects", "found as that class", "units passed"):
        classes.add_column(col)
    for line, cls, objects, missed, passed in store.query(CLASS_BY_LINE_SQL).result_rows:
        found = objects - missed
        silent = found == 0 and passed < objects
        note = " (flagged as another class)" if silent else ""
        classes.add_row(
            line,
            cls,
            str(objects),
            f"{found}{note}",
            str(passed),
            style="bold red" if missed > objects / 2 else None,
        )
    console.print(classes)


REALIZED_RECALL_SQL = """
SELECT line_id, shift, lighting, sum(tp), sum(tp) + sum(fn)
FROM linewatch.v_slice_metrics GROUP BY line_id, shift, lighting
"""

CAUSES_SQL = """
SELECT cause, count(), groupUniqArray(signal)
FROM linewatch.drift_events FINAL GROUP BY cause ORDER BY count() DESC
"""


def print_estimates(store: ClickHouseStore, console: Console, settings: Settings) -> None:
    """Write the label-free estimates (``linewatch estimate``) and print them per slice."""
    from streams.errors import EstimationError
    from streams.estimation.job import policy_of, run_estimates
    from streams.estimation.windows import estimate_groups
    from streams.inference.threshold import operating_threshold

    threshold = operating_threshold(settings)
    try:
        run = run_estimates(store, threshold, settings.estimation)
        groups = estimate_groups(
            store,
            threshold,
            ("line_id", "shift", "lighting"),
            policy=policy_of(settings.estimation),
            draws=settings.estimation.draws,
        )
    except EstimationError as exc:
        console.print(f"[yellow]label-free estimates:[/] {plain(exc)}")
        return
    realized = {
        (str(r[0]), str(r[1]), str(r[2])): (int(r[3]), int(r[4]))
        for r in store.query(REALIZED_RECALL_SQL).result_rows
    }
    table = DataTable(title="recall per slice: estimated without labels vs realized with labels")
    for col in ("line", "shift", "lighting", "frames", "estimated recall", "realized recall"):
        table.add_column(col)
    for key, est in groups.items():
        tp, defects = realized.get((key[0], key[1], key[2]), (0, 0))
        real = f"{tp / defects:.0%} of {defects}" if defects else "no labels"
        low = est.recall.value is not None and est.recall.value < 0.5
        table.add_row(
            *key, str(est.frames), est.recall.fmt(), real, style="bold red" if low else None
        )
    console.print(table)
    console.print(
        f"{len(run.windows)} estimate windows stored, {len(run.drift_events)} estimated-recall "
        "drift event(s); a class the model flags as another class (the crack) leaves both "
        "figures unchanged: only the per-class table above shows it (docs/estimation.md)"
    )


def print_causes(store: ClickHouseStore, console: Console) -> None:
    """Drift alarms grouped by cause, with whom to call."""
    from streams.drift.cause import WHOM_TO_CALL

    table = DataTable(title="drift alarms by cause")
    for col in ("cause", "alarms", "signals", "whom to call"):
        table.add_column(col)
    for cause, n, signals in store.query(CAUSES_SQL).result_rows:
        who = WHOM_TO_CALL.get(str(cause), WHOM_TO_CALL["unknown"])
        table.add_row(str(cause), str(n), ", ".join(sorted(signals)), who)
    console.print(table)


def run_demo(out: Path, *, events: int, seed: int, console: Console) -> None:
    """Run the whole demo into ``out`` (store, reference, report)."""
    from streams.assess import run_corruption_suite
    from streams.cli.progress import make_progress
    from streams.cli.run_source import run_source
    from streams.cli.tables import verdict_table
    from streams.inference import Detector
    from streams.ingest.sources import open_source
    from streams.report import compute_verdict, render_report
    from streams.runners.reference import build_reference

    out.mkdir(parents=True, exist_ok=True)
    reference_path = out / "reference.json"
    settings = Settings(
        store={"dsn": f"chdb://{(out / 'store').resolve()}"},
        drift={"reference": str(reference_path)},
    )
    detector = Detector.load(settings.inference.model, settings=settings)

    console.rule("1/5 lab reference (evaluation conditions)")
    lab = open_source(f"simulate:lab?events=600&seed={seed + 1}")
    with make_progress() as progress:
        task = progress.add_task("lab reference", total=lab.total)
        profile = build_reference(
            lab.events, detector, settings, on_progress=lambda n: progress.advance(task, n)
        )
    reference_path.write_text(profile.to_json())

    console.rule("2/5 one production day, 3 lines")
    source = (
        f"simulate:production?events={events}&seed={seed}&scenario=demo&lines=3"
        "&start=2026-11-28T12:00:00Z&duration=24h"
    )
    summary = run_source(source, settings, description="production day")
    console.print(
        f"{summary.frames} frames, {summary.dead_letters} dead letters, "
        f"{summary.drift_events} drift events, {summary.labels} labels, "
        f"{summary.frames_per_s:.0f} frames/s"
    )

    with ClickHouseStore.open(settings.store.dsn, password=settings.store.password) as store:
        console.rule("3/5 corruptions and novel inputs")
        run_corruption_suite(store, settings, detector=detector, seed=seed)

        console.rule("4/5 where production drifted from the lab")
        print_slice_summary(store, console, settings.readiness.max_reference_gap)
        print_estimates(store, console, settings)
        print_causes(store, console)

        console.rule("5/5 readiness report")
        report_path = out / "report.html"
        report_path.write_text(render_report(store, settings))
        verdict = compute_verdict(store, settings)
        console.print(verdict_table(verdict))
        console.print(f"report: {plain(report_path.resolve())}")
