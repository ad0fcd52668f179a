"""Event fields reach the terminal as text, and tables stay readable at 80 and 120 columns.

A ``camera_id`` (or line, shift, class …) of ``[/x]`` crashed ``linewatch query`` and
``metrics`` with rich's ``MarkupError``; ``[link=https://…]x[/link]`` became a clickable link;
raw ESC / OSC sequences from event fields reached the terminal. Tables squeezed ``line-1`` to
``line…`` at 120 columns and cut confidence intervals when piped.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from streams.cli import app
from streams.cli.tables import DataTable, clean, render
from streams.sinks.clickhouse import ClickHouseStore
from tests.console import clean_env, run_linewatch
from tests.test_readiness_store import add_frame, build_hand_case

runner = CliRunner()

HOSTILE = [
    "[/x]",
    "[/]",
    "[bold]",
    "[link=https://evil.example]click[/link]",
    "\x1b]8;;https://evil.example\x07click\x1b]8;;\x07",
    "\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\",
    "\x1b[2J\x1b[H",
    "\x1b]0;title\x07",
    "\x9b31mred",
    "\x9d8;;https://evil.example\x9c",
    "a\x00b\x07c\x08d\x7fe",
    "\u202eevil\u202c",
    "tab\tand\nnew line",
]
FORBIDDEN = ("\x1b]", "\x1b[2J", "\x1b[H", "\x07", "\x9b", "\x9d", "\x00", "\x08", "\u202e")
TERMINALS = [
    {},  # captured: not a terminal
    {"FORCE_COLOR": "1", "COLUMNS": "80", "TTY_COMPATIBLE": "1"},
    {"FORCE_COLOR": "1", "COLUMNS": "120", "TTY_COMPATIBLE": "1"},
]


def _no_control(output: str) -> None:
    data = re.sub(r"\x1b\[[0-9;]*m", "", output)  # rich's own colours
    for bad in FORBIDDEN:
        assert bad not in data, (bad, output)
    assert "\x1b" not in data


@pytest.fixture
def dsn(tmp_path: Path) -> str:
    dsn = f"chdb://{tmp_path / 'store'}"
    with ClickHouseStore.open(dsn) as store:
        store.apply_schema()
        build_hand_case(store)
        for n, name in enumerate(HOSTILE):
            add_frame(
                store, 100 + n, [("dent", 0.4, (0.1, 0.1, 0.2, 0.2))], line_id=name, shift=name
            )
    return dsn


@pytest.mark.parametrize("env", TERMINALS)
def test_query_prints_any_text_as_text(dsn: str, env: dict[str, str]) -> None:
    result = runner.invoke(
        app,
        [
            "query",
            "SELECT camera_id, line_id, shift FROM frames ORDER BY captured_at",
            "--store",
            dsn,
        ],
        env=env,
    )
    assert result.exit_code == 0, result.output
    _no_control(result.output)
    assert "[/x]" in result.output and "[link=" in result.output
    assert "cam-[/x]" in result.output or "cam-[/" in result.output


@pytest.mark.parametrize("env", TERMINALS)
def test_metrics_print_any_text_as_text(
    dsn: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LINEWATCH_INFERENCE__OPERATING_THRESHOLD", "0.5")
    for args in (["metrics", "--by", "line,shift"], ["metrics", "--review-queue"]):
        result = runner.invoke(app, [*args, "--store", dsn], env=env)
        if "--review-queue" in args and result.exit_code == 2 and "No such option" in result.output:
            continue
        assert result.exit_code == 0, result.output
        _no_control(result.output)


@pytest.mark.parametrize("env", TERMINALS)
def test_metrics_tables_are_readable(
    dsn: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``line-1`` is never squeezed, no interval is cut, at 80 and 120 columns and piped."""
    monkeypatch.setenv("LINEWATCH_INFERENCE__OPERATING_THRESHOLD", "0.5")
    result = runner.invoke(app, ["metrics", "--by", "line,shift,lighting", "--store", dsn], env=env)
    assert result.exit_code == 0, result.output
    text = re.sub(r"\x1b\[[0-9;]*m", "", result.output)
    assert "…" not in text
    assert "line-1" in text and "line-2" in text
    intervals = re.findall(r"\[\d+\.\d–\d+\.\d\]", text)
    assert len(intervals) >= 6  # each interval whole, on one line
    width = int(env.get("COLUMNS", "0"))
    if width:
        assert max(len(line) for line in text.splitlines()) <= width


def test_clean_removes_every_control() -> None:
    for value in HOSTILE:
        cleaned = clean(value)
        assert not re.search("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", cleaned), value
    assert clean("[/x]") == "[/x]"
    assert clean("line-1") == "line-1"


@pytest.mark.parametrize("width", [60, 80, 120])
def test_a_wide_table_never_cuts_a_cell(width: int) -> None:
    table = DataTable("event_id", "line", "shift", "lighting", "recall", "precision", "FPR", "n")
    rows = [
        (
            f"{n:08x}-aaaa-4bbb-8ccc-{n:012x}",
            f"line-{n}",
            "night",
            "very-dim",
            "100.0% [99.1–100.0] n=12345",
            "12.5% [3.5–36.0] n=8",
            "0.3% [0.1–0.9] n=1234",
            1234.56789,
        )
        for n in range(1, 4)
    ]
    for row in rows:
        table.add_row(*row)
    text = render(table, width=width)
    assert max(len(line) for line in text.splitlines()) <= width
    for n in range(1, 4):
        assert re.search(rf"\bline-{n}\b", text)
    for interval in ("[99.1–100.0]", "[3.5–36.0]", "[0.1–0.9]"):
        assert interval in text
    assert "1235" in text and "1234.56789" not in text  # floats rounded
    wide = render(table, width=400)
    assert "00000001-aaaa-4bbb-8ccc-000000000001" in wide  # ids whole where they fit


def test_an_error_line_quoting_input_carries_no_terminal_control(dsn: str, tmp_path: Path) -> None:
    sql = "SELECT \x1b]0;pwned\x07 \x1b[2J FROM frames WHERE"
    done = run_linewatch(["query", sql, "--store", dsn], env=clean_env(), cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, done.stderr
    _no_control(done.stderr)
