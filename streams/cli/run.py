"""``linewatch run``, ``linewatch reference build`` and ``linewatch demo``."""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from streams.cli.groups import CliGroups
from streams.cli.options import ModelOpt, ReferenceOpt, StoreOpt, settings_with
from streams.cli.progress import make_progress, stderr_console
from streams.cli.run_source import run_source
from streams.cli.tables import DataTable, data_console, plain
from streams.errors import ConfigError
from streams.sinks.reads.alarms import DEAD_LETTERS_QUERY

if TYPE_CHECKING:
    from streams.config import Settings
    from streams.drift.reference import ReferenceProfile
    from streams.inference import Detector
    from streams.runners.embedded import RunSummary

__all__ = ["dead_letter_hint", "register"]


def _print_summary(summary: RunSummary) -> None:
    table = DataTable(title="run summary", show_header=False)
    table.add_row("records read", str(summary.records_read))
    table.add_row("frames stored", str(summary.frames))
    if summary.replays:
        table.add_row("  replays (already stored)", str(summary.replays))
    table.add_row("dead letters", str(summary.dead_letters))
    for reason, n in sorted(summary.dead_letter_reasons.items()):
        table.add_row(f"  {reason}", str(n))
    table.add_row("drift events", str(summary.drift_events))
    table.add_row("reference-gap windows", str(summary.reference_gaps))
    table.add_row("labels", f"{summary.labels} (+{summary.label_dead_letters} rejected)")
    table.add_row("throughput", f"{summary.frames_per_s:.1f} frames/s")
    data_console().print(table)


def dead_letter_hint(store: str | None) -> str:
    """The command that lists a run's dead letters, with the run's ``--store`` when it was given
    one (without it the command reads ``LINEWATCH_STORE__DSN``, as the run did).

    >>> print(dead_letter_hint("chdb://out/store"))  # doctest: +ELLIPSIS
    linewatch query --store chdb://out/store "... FROM linewatch.dead_letters"

    (the query is :data:`streams.sinks.reads.alarms.DEAD_LETTERS_QUERY`)
    """
    where = "" if store is None else f"--store {shlex.quote(store)} "
    return f'linewatch query {where}"{DEAD_LETTERS_QUERY}"'


def run(
    source: Annotated[
        str, typer.Option(help="events.jsonl, '-' (stdin) or simulate:production?events=N")
    ],
    labels: Annotated[str | None, typer.Option(help="Ground-truth JSON lines (optional).")] = None,
    store: StoreOpt = None,
    model: ModelOpt = None,
    reference: ReferenceOpt = None,
) -> None:
    """Run decode → inference → statistics → slice → drift → store over a source.

    Exit status: 0 every record stored, 1 some records (events or labels) were
    dead-lettered (all others are stored), 2 fatal error.
    """
    settings = settings_with(
        store={"dsn": store}, inference={"model": model}, drift={"reference": reference}
    )
    summary = run_source(source, settings, labels)
    _print_summary(summary)
    rejected = summary.dead_letters + summary.label_dead_letters
    if rejected:
        stderr_console.print(
            f"[yellow]{rejected} records were dead-lettered: {dead_letter_hint(store)}[/]",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(1)


def _lab_set_reference(
    settings: Settings, detector: Detector, lab: str
) -> tuple[ReferenceProfile, str]:
    """The reference of the imported lab set ``lab``, and where it came from."""
    from streams.cli.options import open_store
    from streams.runners.reference import MIN_REFERENCE_FRAMES, build_lab_reference
    from streams.sinks.lab_sets import load_lab_set

    with open_store(settings, readonly=True) as st:
        info, images = load_lab_set(st, lab)
    with make_progress() as progress:
        task = progress.add_task(f"reference of lab set {info.name}", total=len(images))
        profile = build_lab_reference(
            images,
            info,
            detector,
            settings,
            on_progress=lambda n: progress.advance(task, n),
        )
    if len(images) < MIN_REFERENCE_FRAMES:
        stderr_console.print(
            f"[yellow]warning:[/] lab set {info.name} has {len(images)} images: a "
            f"reference from fewer than {MIN_REFERENCE_FRAMES} is coarse (its lab range is "
            "close to the set's extremes); import a larger lab set when you can"
        )
    return profile, f"lab set {info.name} ({len(images)} images)"


def _events_reference(
    settings: Settings, detector: Detector, source: str | None
) -> tuple[ReferenceProfile, str]:
    """The reference of lab events (``source``; default: the simulated lab), and where they
    came from."""
    from streams.ingest.sources import open_source
    from streams.runners.reference import build_reference

    opened = open_source(source or "simulate:lab?events=600&seed=11")
    with make_progress() as progress:
        task = progress.add_task("reference", total=opened.total)
        profile = build_reference(
            opened.events,
            detector,
            settings,
            on_progress=lambda n: progress.advance(task, n),
        )
    return profile, source or "the simulated lab"


def reference_build(
    lab: Annotated[
        str | None,
        typer.Option(
            "--lab", help="An imported lab set (`linewatch lab import`) in --store: its images."
        ),
    ] = None,
    source: Annotated[
        str | None,
        typer.Option(
            help="Lab events instead: a file or simulate:lab?events=N&seed=S "
            "(default without --lab: simulate:lab?events=600&seed=11)."
        ),
    ] = None,
    out: Annotated[Path, typer.Option(help="Where to write the profile.")] = Path("reference.json"),
    store: StoreOpt = None,
    model: ModelOpt = None,
) -> None:
    """Fit the lab reference profile (signals under evaluation conditions) from a lab set's
    images (--lab) or from lab events (--source)."""
    from streams.inference import Detector

    if lab is not None and source is not None:
        raise ConfigError("--lab and --source exclude each other; pass one")
    settings = settings_with(store={"dsn": store}, inference={"model": model})
    detector = Detector.load(settings.inference.model, settings=settings)
    if lab is not None:
        profile, origin = _lab_set_reference(settings, detector, lab)
    else:
        profile, origin = _events_reference(settings, detector, source)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(profile.to_json())
    data_console().print(f"wrote {plain(out)} (from {plain(origin)})")


def demo(
    out: Annotated[Path, typer.Option(help="Folder for the demo's store and report.")] = Path(
        "demo-out"
    ),
    events: Annotated[int, typer.Option(help="Production events (all lines).")] = 3600,
    seed: Annotated[int, typer.Option(help="Simulation seed.")] = 2026,
) -> None:
    """Simulate a lab reference and a production day on 3 lines, monitor it, report."""
    from streams.cli.demo import run_demo

    if events < 600:
        raise ConfigError("the demo needs at least 600 production events")
    store_dir = out / "store"
    if store_dir.exists():
        shutil.rmtree(store_dir)
    run_demo(out, events=events, seed=seed, console=data_console())


def register(app: typer.Typer, groups: CliGroups) -> None:
    """Add ``run``, ``demo`` and ``reference build``."""
    reference_group = typer.Typer(help="The lab reference profile.", no_args_is_help=True)
    app.add_typer(reference_group, name="reference")
    app.command("run")(run)
    reference_group.command("build")(reference_build)
    app.command("demo")(demo)
