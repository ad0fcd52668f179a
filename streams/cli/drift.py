"""``linewatch drift calibrate``: false alarms and detection delays of the drift detectors."""

from __future__ import annotations

import enum
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from streams.cli.groups import CliGroups
from streams.cli.options import ReferenceOpt, settings_with
from streams.drift.calibration.montecarlo import CalibrationRow
from streams.errors import ConfigError

if TYPE_CHECKING:
    from streams.drift.calibration.calibrate import BudgetResult

# streams.drift.calibration.calibrate imports river.drift, which pulls in scipy.stats (~0.7 s):
# it is imported inside the functions that use it, so that every other command starts without it

__all__ = ["format_budget", "format_table", "register"]


class TableFormat(enum.StrEnum):
    """Output of ``drift calibrate``."""

    text = "text"
    json = "json"


def _num(value: float | None, digits: int = 0) -> str:
    if value is None or math.isnan(value):
        return "-"
    if math.isinf(value):
        return "never"
    return f"{value:.{digits}f}"


def _short(label: str) -> str:
    return label.removeprefix("streams.drift.").removeprefix("river.drift.")


def format_table(rows: list[CalibrationRow]) -> str:
    """The calibration table as Markdown (what ``docs/drift.md`` shows).

    >>> row = CalibrationRow("streams.drift.GaussianCusum(h=14.85)", "brightness", 10**7, 1,
    ...                      0.1, 0.11, {"0.5": (106.0, 440.0, 0.49), "1": (27.0, 50.0, 0.0),
    ...                                  "2": (10.0, 14.0, 0.0)})
    >>> print(format_table([row]).splitlines()[2][:61])
    | GaussianCusum(h=14.85) | brightness | 10,000,000 | 1 | 0.10
    >>> print(format_table([row]).splitlines()[2][62:])
    | 0.11 | 106 / 440 (49%) | 27 / 50 | 10 / 14 |
    """
    from streams.drift.calibration.calibrate import SHIFTS

    head = ["detector", "signal", "updates", "false alarms", "per 1M", "target per 1M"]
    head += [f"{s:g} sd: median / p95 delay" for s in SHIFTS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [
            _short(r.detector),
            r.signal,
            f"{r.updates:,}",
            str(r.false_alarms),
            f"{r.per_million:.2f}",
            _num(r.expected_per_million, 2),
        ]
        for shift in SHIFTS:
            median, p95, missed = r.delays.get(f"{shift:g}", (math.nan, math.nan, math.nan))
            cell = f"{_num(median)} / {_num(p95)}"
            if missed and not math.isnan(missed):
                cell += f" ({missed:.0%})"
            cells.append(cell)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def format_budget(result: BudgetResult) -> str:
    """The ``--budget`` result in a few lines."""
    low, high = result.per_line_week_ci95
    verdict = "within" if result.within_budget else "OVER"
    return "\n".join(
        [
            f"line {result.line}: {result.frames_per_second:g} frames/s x "
            f"{result.detectors_per_frame} detectors per frame; budget "
            f"{result.budget_per_line_week:g} false alarm(s) per line-week -> "
            f"{result.rate_per_update:.3g} per update (h = {result.gaussian_threshold:.2f} "
            f"Gaussian, {result.bernoulli_threshold:.2f} Bernoulli)",
            f"simulated {result.line_weeks:.2f} line-weeks ({result.updates:,} updates): "
            f"{result.false_alarms} false alarms = {result.per_line_week:.2f} per line-week "
            f"(95% CI {low:.2f}-{high:.2f}): {verdict} the budget",
            f"1-sd shift detected after {_num(result.delay_1sd_median)} events median, "
            f"{_num(result.delay_1sd_p95)} p95",
        ]
    )


_LineOpt = Annotated[
    str | None,
    typer.Option("--line", help="Line whose thresholds to use (default: first)."),
]
_UpdatesOpt = Annotated[
    int, typer.Option("--updates", min=1, help="Stationary updates per signal.")
]
_CompareOpt = Annotated[
    bool, typer.Option("--compare", help="Also River's ADWIN, PageHinkley, KSWIN defaults.")
]
_CompareUpdatesOpt = Annotated[
    int, typer.Option("--compare-updates", min=1, help="Updates per River detector.")
]
_SlowUpdatesOpt = Annotated[
    int,
    typer.Option("--slow-updates", min=1, help="Updates of KSWIN (~1 ms per update)."),
]
_BudgetOpt = Annotated[
    bool, typer.Option("--budget", help="Simulate line-weeks against the budget.")
]
_LineWeeksOpt = Annotated[
    float, typer.Option("--line-weeks", min=0.0001, help="Line-weeks for --budget.")
]
_SignalOpt = Annotated[
    list[str] | None,
    typer.Option("--signal", help="Only these signals (repeatable; default: all)."),
]
_FormatOpt = Annotated[TableFormat, typer.Option("--format", help="text (Markdown table) or json.")]
_OutOpt = Annotated[Path | None, typer.Option("--out", help="Also write the JSON result here.")]


def calibrate_cmd(  # noqa: PLR0917 (one parameter per CLI option)
    reference: ReferenceOpt = None,
    line: _LineOpt = None,
    updates: _UpdatesOpt = 10_000_000,
    compare: _CompareOpt = False,
    compare_updates: _CompareUpdatesOpt = 10_000_000,
    slow_updates: _SlowUpdatesOpt = 20_000,
    budget: _BudgetOpt = False,
    line_weeks: _LineWeeksOpt = 10.0,
    signal: _SignalOpt = None,
    jobs: Annotated[int, typer.Option("--jobs", min=1, help="Processes.")] = 2,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    fmt: _FormatOpt = TableFormat.text,
    out: _OutOpt = None,
) -> None:
    """False alarms per 1M stationary updates (bootstrapped from the lab reference) and
    detection delays of 0.5 / 1 / 2 sd shifts, for the configured detectors."""
    from streams.drift.calibration.calibrate import budget_check, calibrate
    from streams.runners.reference import load_reference

    settings = settings_with(drift={"reference": reference})
    ref = load_reference(settings)
    line_id = line or next(iter(settings.plant.lines), "line-1")
    if line is not None and line not in settings.plant.lines:
        raise ConfigError(f"unknown line {line!r}; configured: {', '.join(settings.plant.lines)}")
    rows = calibrate(
        ref,
        settings,
        line=line_id,
        updates=updates,
        compare=compare,
        compare_updates=compare_updates,
        slow_updates=slow_updates,
        signals=signal or None,
        jobs=jobs,
        seed=seed,
    )
    payload: dict[str, object] = {"line": line_id, "rows": [r.as_dict() for r in rows]}
    result = None
    if budget:
        result = budget_check(ref, settings, line=line_id, line_weeks=line_weeks, seed=seed)
        payload["budget"] = result.as_dict()
    _emit(payload, rows, result, fmt, out)


def _emit(
    payload: dict[str, object],
    rows: list[CalibrationRow],
    result: BudgetResult | None,
    fmt: TableFormat,
    out: Path | None,
) -> None:
    """Write the JSON result to ``out`` (if given) and print it as ``fmt``."""
    if out is not None:
        out.write_text(json.dumps(payload, indent=2) + "\n")
    if fmt is TableFormat.json:
        typer.echo(json.dumps(payload, indent=2))
        return
    typer.echo(format_table(rows))
    if result is not None:
        typer.echo("")
        typer.echo(format_budget(result))


def register(app: typer.Typer, groups: CliGroups) -> None:
    """Add ``drift calibrate``."""

    groups.drift.command("calibrate")(calibrate_cmd)
