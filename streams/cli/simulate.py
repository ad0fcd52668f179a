"""``linewatch simulate``: write a synthetic camera-event stream (and its labels) as JSON lines."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from streams.cli.groups import CliGroups
from streams.cli.tables import DataTable, data_console, plain
from streams.errors import SimulationError
from streams.simulate import (
    ALL_CLASSES,
    TRAINED_CLASSES,
    SimulationRequest,
    generate,
    parse_duration,
)
from streams.simulate.request import DEFAULT_START

__all__ = ["Scenario", "Split", "register", "run_simulation"]


class Split(StrEnum):
    """Which data: the balanced lab set or the production line."""

    lab = "lab"
    production = "production"


class Scenario(StrEnum):
    """Production scenario."""

    stationary = "stationary"
    demo = "demo"
    camera_faults = "camera-faults"


def _parse_lines(text: str) -> int | tuple[str, ...]:
    text = text.strip()
    if text.isdigit():
        return int(text)
    return tuple(part.strip() for part in text.split(","))


def _parse_start(text: str | None) -> datetime:
    if text is None:
        return DEFAULT_START
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise SimulationError(
            f"--start {text!r} is not ISO-8601; write e.g. 2026-11-29T00:00:00Z"
        ) from exc
    if moment.tzinfo is None:
        raise SimulationError(f"--start {text!r} has no timezone; add 'Z' or an offset like +01:00")
    return moment


def run_simulation(
    request: SimulationRequest, out: Path, labels_out: Path | None, console: Console
) -> dict[str, Counter[str]]:
    """Write the events (and labels) and return counts per line (``units``, ``defective``,
    one key per class)."""
    per_line: dict[str, Counter[str]] = defaultdict(Counter)
    out.parent.mkdir(parents=True, exist_ok=True)
    if labels_out is not None:
        labels_out.parent.mkdir(parents=True, exist_ok=True)
    progress = Progress(
        TextColumn("[bold]simulate[/] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
    with progress, out.open("w", encoding="utf-8") as ev_file:
        lab_file = labels_out.open("w", encoding="utf-8") if labels_out is not None else None
        try:
            task = progress.add_task(f"{request.split}/{request.scenario}", total=request.events)
            for sim in generate(request):
                ev_file.write(json.dumps(sim.event, separators=(",", ":")) + "\n")
                if lab_file is not None:
                    lab_file.write(json.dumps(sim.label, separators=(",", ":")) + "\n")
                counts = per_line[sim.event["line_id"]]
                counts["units"] += 1
                if sim.objects:
                    counts["defective"] += 1
                for name in {o.class_name for o in sim.objects}:
                    counts[name] += 1
                progress.advance(task)
        finally:
            if lab_file is not None:
                lab_file.close()
    return dict(per_line)


def _summary(request: SimulationRequest, per_line: dict[str, Counter[str]]) -> DataTable:
    seen = {k for c in per_line.values() for k in c} - {"units", "defective"}
    classes = [c for c in ALL_CLASSES if c in seen or c in TRAINED_CLASSES]
    table = DataTable(title=f"simulate {request.split}/{request.scenario} seed={request.seed}")
    table.add_column("line")
    table.add_column("units", justify="right")
    table.add_column("defective", justify="right")
    for name in classes:
        table.add_column(f"with {name}", justify="right")
    total: Counter[str] = Counter()
    for line in sorted(per_line):
        counts = per_line[line]
        total.update(counts)
        rate = counts["defective"] / max(counts["units"], 1)
        table.add_row(
            line,
            str(counts["units"]),
            f"{counts['defective']} ({rate:.1%})",
            *(str(counts[n]) for n in classes),
        )
    rate = total["defective"] / max(total["units"], 1)
    table.add_row(  # data cells are text (no markup): the total row is bold by its style
        "all",
        str(total["units"]),
        f"{total['defective']} ({rate:.1%})",
        *(str(total[n]) for n in classes),
        style="bold",
    )
    return table


def register(app: typer.Typer, groups: CliGroups) -> None:
    """Add ``linewatch simulate``."""

    @app.command("simulate")
    def simulate(  # noqa: PLR0917 (one parameter per CLI option)
        split: Annotated[Split, typer.Option(help="lab (balanced, light box) or production.")] = (
            Split.production
        ),
        events: Annotated[int, typer.Option(min=1, help="Number of events.")] = 1000,
        seed: Annotated[int, typer.Option(min=0, help="Random seed (same seed, same bytes).")] = 0,
        out: Annotated[Path, typer.Option(help="Camera events, JSON lines.")] = Path(
            "events.jsonl"
        ),
        labels_out: Annotated[
            Path | None, typer.Option(help="Ground-truth labels, JSON lines (optional).")
        ] = None,
        lines: Annotated[str, typer.Option(help="Number of lines, or comma-separated ids.")] = "3",
        start: Annotated[
            str | None, typer.Option(help="Aware ISO start, default 2026-11-29T00:00:00Z.")
        ] = None,
        duration: Annotated[str, typer.Option(help="Span of the run: 24h, 90m, 2d.")] = "24h",
        scenario: Annotated[
            Scenario,
            typer.Option(
                help="stationary, demo (line-2 lamp, line-3 cracks) or camera-faults (line-1 "
                "frozen, line-2 out of focus, line-3 smudged), faults from the midpoint."
            ),
        ] = Scenario.stationary,
        timezone: Annotated[str, typer.Option(help="Plant IANA timezone for shifts.")] = "UTC",
        jpeg_quality: Annotated[int, typer.Option(help="JPEG quality 30..100.")] = 85,
    ) -> None:
        """Simulate camera events of a factory line (and their ground-truth labels)."""
        try:
            request = SimulationRequest.build(
                split=split.value,
                events=events,
                seed=seed,
                lines=_parse_lines(lines),
                start=_parse_start(start),
                duration=parse_duration(duration),
                scenario=scenario.value,
                timezone=timezone,
                jpeg_quality=jpeg_quality,
            )
        except SimulationError as exc:
            raise typer.BadParameter(str(exc)) from exc
        console = data_console(stderr=True)
        per_line = run_simulation(request, out, labels_out, console)
        console.print(_summary(request, per_line))
        console.print(f"wrote {request.events} events to {plain(out)}")
        if labels_out is not None:
            console.print(f"wrote {request.events} labels to {plain(labels_out)}")
