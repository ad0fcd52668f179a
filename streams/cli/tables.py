"""Rich tables for the terminal: how the CLI shows what the stages returned."""

from __future__ import annotations

from rich.table import Table

from streams.readiness.verdict import ReadinessVerdict

__all__ = ["verdict_table"]

_COLOURS = {"pass": "green", "fail": "bold red", "no data": "yellow"}


def verdict_table(verdict: ReadinessVerdict) -> Table:
    """The readiness verdict as a coloured table (``linewatch demo``, ``report``)."""
    table = Table(title=f"readiness verdict: {verdict.status.upper()}")
    for col in ("criterion", "status", "measured", "limit", "detail"):
        table.add_column(col)
    for c in verdict.criteria:
        status = c.status if c.certain or c.status == "no data" else f"{c.status} (uncertain)"
        table.add_row(
            c.name,
            f"[{_COLOURS[c.status]}]{status}[/]",
            c.measured,
            c.limit,
            c.detail or c.how_to_fill,
        )
    return table
