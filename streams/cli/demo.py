"""``linewatch demo``: the production-gap story end to end on the embedded store.

1. simulate a lab split and fit the reference profile (the evaluation conditions);
2. simulate 24 production hours on three lines (noon to noon) — at midnight line-2's night
   lamp starts failing and line-3 starts seeing a defect type the model never saw — and run it
   through the monitor with labels;
3. run the corruption / out-of-distribution suite;
4. print per slice: frames, drift events by signal (with those filed for the slice's whole line
   or shift), the largest gaps to the reference; the
   label-free estimates beside the realized recall (``linewatch estimate``), and the drift
   alarms by cause with whom to call;
5. write the readiness report and print its verdict;
6. print the commands that explore the demo's store, each with ``--store`` (they run as printed
   from the same directory; ``tests/test_first_day.py`` runs them).

Every figure and sentence it prints is read from the store: nothing concludes ahead of the data.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.rule import Rule

from streams.cli.options import open_store
from streams.cli.tables import DataTable, plain
from streams.config import Settings
from streams.drift.signals import INPUT_SIGNALS
from streams.sinks import ClickHouseStore
from streams.sinks.reads.demo import (
    FOLLOW_UP_QUERY,
    alarms_by_cause,
    alarms_by_scope,
    class_counts_by_line,
    frames_per_slice,
    realized_recall,
)
from streams.sinks.reads.gaps import worst_gap_per_slice

__all__ = [
    "SliceDrift",
    "covers",
    "follow_up_commands",
    "masked_class_notes",
    "print_causes",
    "print_estimates",
    "print_slice_summary",
    "run_demo",
    "slice_drift",
]

ALL_SCOPE = "*"
"""The shift or lighting of a drift event filed for a whole line or shift (``line-2/night/*``)."""


@dataclass(frozen=True)
class SliceDrift:
    """The drift alarms that concern one slice: its own and those filed for its line or shift."""

    own: dict[str, int]
    shared: dict[str, dict[str, int]]
    """scope (``line-2/night/*``) → signal → alarms."""

    @property
    def total(self) -> int:
        return sum(self.own.values()) + sum(sum(s.values()) for s in self.shared.values())

    def describe(self) -> str:
        """``sharpness×1 lighting_mix×2 (line-2/night/*)``."""
        parts = [f"{signal}×{n}" for signal, n in self.own.items()]
        for scope, signals in sorted(self.shared.items()):
            listed = " ".join(f"{signal}×{n}" for signal, n in signals.items())
            parts.append(f"{listed} ({scope})")
        return " ".join(parts)


def covers(scope: str, value: str) -> bool:
    """Whether a drift event's ``shift``/``lighting`` (``*`` = all) covers a slice's value.

    >>> covers("*", "dark"), covers("dark", "dark"), covers("dark", "normal")
    (True, True, False)
    """
    return scope in (ALL_SCOPE, value)


def slice_drift(
    slices: Sequence[tuple[str, str, str]], events: Sequence[tuple[str, str, str, str, int]]
) -> dict[tuple[str, str, str], SliceDrift]:
    """Each slice's drift alarms by signal: those filed for the slice itself, and those filed
    for its whole line or shift (``lighting`` or ``shift`` ``*``), which count for every slice
    they cover.

    >>> d = slice_drift(
    ...     [("l2", "night", "dark"), ("l2", "day", "normal")],
    ...     [("l2", "night", "*", "lighting_mix", 2), ("l2", "night", "dark", "brightness", 1)],
    ... )
    >>> d[("l2", "night", "dark")].total, d[("l2", "night", "dark")].describe()
    (3, 'brightness×1 lighting_mix×2 (l2/night/*)')
    >>> d[("l2", "day", "normal")].total
    0
    """
    out: dict[tuple[str, str, str], SliceDrift] = {}
    for line, shift, lighting in slices:
        own: dict[str, int] = {}
        shared: dict[str, dict[str, int]] = {}
        for e_line, e_shift, e_lighting, signal, n in events:
            if e_line != line or not covers(e_shift, shift) or not covers(e_lighting, lighting):
                continue
            if (e_shift, e_lighting) == (shift, lighting):
                own[signal] = own.get(signal, 0) + n
            else:
                scope = shared.setdefault(f"{e_line}/{e_shift}/{e_lighting}", {})
                scope[signal] = scope.get(signal, 0) + n
        out[(line, shift, lighting)] = SliceDrift(own, shared)
    return out


def print_slice_summary(store: ClickHouseStore, console: Console, threshold: float) -> None:
    """Per slice: frames, drift alarms by signal (with those filed for the slice's whole line or
    shift), the largest share outside lab conditions; then the labelled defects per line."""
    frames = frames_per_slice(store)
    gaps = worst_gap_per_slice(store, INPUT_SIGNALS)
    drift = slice_drift(list(frames), alarms_by_scope(store))
    table = DataTable(title="per slice (line × shift × lighting)")
    for col in ("line", "shift", "lighting", "frames", "drift", "drift by signal (scope)"):
        table.add_column(col)
    table.add_column("outside lab", justify="right")
    table.add_column("worst statistic")
    for key, n in frames.items():
        gap, gap_signal = gaps.get(key, (-1.0, ""))
        d = drift[key]
        hot = d.total > 0 or gap > threshold
        table.add_row(
            *key,
            str(n),
            str(d.total),
            d.describe(),
            f"{gap:.0%}" if gap >= 0 else "–",
            gap_signal,
            style="bold red" if hot else None,
        )
    console.print(table)
    console.print(
        "drift: the slice's own alarms plus those filed for its whole line or shift (scope "
        "line/shift/*, e.g. a change in the lighting-bucket mix). outside lab: share of the "
        "slice's frames whose image statistics fall outside the lab set's range (worst 200-frame "
        "window; – = no full window yet)"
    )
    classes = DataTable(title="labelled defects per line (after human review)")
    for col in ("line", "class", "defects", "found as that class", "units passed"):
        classes.add_column(col)
    for line, cls, objects, missed, passed in class_counts_by_line(store):
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


def print_estimates(store: ClickHouseStore, console: Console, settings: Settings) -> None:
    """Write the label-free estimates (``linewatch estimate``) and print them per slice."""
    from streams.errors import EstimationError
    from streams.estimation.job import policy_of, rule_of, run_estimates
    from streams.estimation.windows import estimate_groups
    from streams.inference.threshold import operating_threshold

    threshold = operating_threshold(settings)
    try:
        run = run_estimates(store, threshold, settings.estimation)
        (groups,) = estimate_groups(
            store,
            threshold,
            [("line_id", "shift", "lighting")],
            window_frames=settings.estimation.window_frames,
            policy=policy_of(settings.estimation),
            draws=settings.estimation.draws,
            rule=rule_of(settings.estimation),
        )
    except EstimationError as exc:
        console.print(f"[yellow]label-free estimates:[/] {plain(exc)}")
        return
    realized = realized_recall(store)
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
        "drift event(s)"
    )
    for note in masked_class_notes(class_counts_by_line(store)):
        console.print(note)


def masked_class_notes(rows: Sequence[tuple[str, str, int, int, int]]) -> list[str]:
    """What the recall figures say about each class never found as itself on a line, from
    ``(line, class, defects, missed, units passed)`` rows: a unit flagged as another class
    counts as caught in both recall figures, one that passed counts as missed.

    >>> for note in masked_class_notes([("l3", "crack", 4, 4, 0), ("l1", "dent", 2, 0, 0)]):
    ...     print(note)  # doctest: +NORMALIZE_WHITESPACE
    crack on l3: 0 of 4 found as crack, all 4 units flagged as another class: both recall
    figures count them as caught, only the per-class table shows the miss (docs/estimation.md)
    >>> masked_class_notes([("l3", "crack", 4, 4, 4)])[0].split(": ")[1]
    '0 of 4 found as crack, all 4 units passed unflagged'
    """
    notes = []
    for line, cls, objects, missed, passed in rows:
        if objects == 0 or missed < objects:
            continue
        flagged = objects - passed
        head = f"{cls} on {line}: 0 of {objects} found as {cls}, "
        if passed == 0:
            notes.append(
                f"{head}all {objects} units flagged as another class: both recall figures "
                "count them as caught, only the per-class table shows the miss "
                "(docs/estimation.md)"
            )
        elif flagged == 0:
            notes.append(
                f"{head}all {objects} units passed unflagged: the realized recall of "
                f"{line}'s slices counts them as missed"
            )
        else:
            notes.append(
                f"{head}{flagged} unit(s) flagged as another class (counted as caught by both "
                f"recall figures), {passed} passed unflagged (counted as missed)"
            )
    return notes


def print_causes(store: ClickHouseStore, console: Console) -> None:
    """Drift alarms grouped by cause, with whom to call."""
    from streams.drift.cause import WHOM_TO_CALL

    table = DataTable(title="drift alarms by cause")
    for col in ("cause", "alarms", "signals", "whom to call"):
        table.add_column(col)
    for cause, n, signals in alarms_by_cause(store):
        who = WHOM_TO_CALL.get(cause, WHOM_TO_CALL["unknown"])
        table.add_row(cause, str(n), ", ".join(sorted(signals)), who)
    console.print(table)


def follow_up_commands(out: Path) -> list[str]:
    """The commands the demo prints at its end, each reading the demo's store (``--store``), so
    they run as printed from the directory the demo ran in.

    >>> follow_up_commands(Path("demo-out"))[1]
    'linewatch drift --store chdb://demo-out/store'
    """
    store = shlex.quote(f"chdb://{out / 'store'}")
    return [
        f"linewatch query --store {store} {shlex.quote(FOLLOW_UP_QUERY)}",
        f"linewatch drift --store {store}",
        f"linewatch metrics --store {store}",
        f"linewatch metrics --review-queue --store {store}",
        f"linewatch estimate --dry-run --store {store}",
        f"linewatch report --store {store} --out {shlex.quote(str(out / 'report.html'))}",
    ]


_RULE_MAX_WIDTH = 100
"""A section rule spans the terminal, at most this many columns (a piped console is as wide as
its widest table, see :func:`streams.cli.tables.data_console`)."""


def _rule(console: Console, title: str) -> None:
    console.print(Rule(title), width=min(console.width, _RULE_MAX_WIDTH))


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

    _rule(console, "1/5 lab reference (evaluation conditions)")
    lab = open_source(f"simulate:lab?events=600&seed={seed + 1}")
    with make_progress() as progress:
        task = progress.add_task("lab reference", total=lab.total)
        profile = build_reference(
            lab.events, detector, settings, on_progress=lambda n: progress.advance(task, n)
        )
    reference_path.write_text(profile.to_json())

    _rule(console, "2/5 one production day, 3 lines")
    source = (
        f"simulate:production?events={events}&seed={seed}&scenario=demo&lines=3"
        "&start=2026-11-28T12:00:00Z&duration=24h"
    )
    summary = run_source(source, settings, description="production day", detector=detector)
    console.print(
        f"{summary.frames} frames, {summary.dead_letters} dead letters, "
        f"{summary.drift_events} drift events, {summary.labels} labels, "
        f"{summary.frames_per_s:.0f} frames/s"
    )

    with open_store(settings) as store:
        _rule(console, "3/5 corruptions and novel inputs")
        run_corruption_suite(store, settings, detector=detector, seed=seed)

        _rule(console, "4/5 where production drifted from the lab")
        print_slice_summary(store, console, settings.readiness.max_reference_gap)
        print_estimates(store, console, settings)
        print_causes(store, console)

        _rule(console, "5/5 readiness report")
        report_path = out / "report.html"
        report_path.write_text(render_report(store, settings))
        verdict = compute_verdict(store, settings)
        console.print(verdict_table(verdict))
        console.print(f"report: {plain(report_path.resolve())}")

    _rule(console, "next: explore the demo's store")
    for command in follow_up_commands(out):
        console.print(command, markup=False, highlight=False, soft_wrap=True)
