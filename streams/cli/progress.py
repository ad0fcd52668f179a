"""One progress-bar style for every long-running command."""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

__all__ = ["make_progress", "progress_starter", "stderr_console"]

stderr_console = Console(stderr=True)


def make_progress() -> Progress:
    """A progress bar on stderr (stdout stays clean for data)."""
    return Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=stderr_console,
        transient=False,
    )


def progress_starter(progress: Progress) -> Callable[[str, int | None], Callable[[], None]]:
    """Adapt ``progress`` to a stage's ``start(description, total) -> advance()`` callback."""

    def start(description: str, total: int | None) -> Callable[[], None]:
        task = progress.add_task(description, total=total)
        return lambda: progress.advance(task)

    return start
