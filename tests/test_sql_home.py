"""SQL lives in the store package (``streams/sinks/``): the packages already moved onto its
typed query functions hold no SQL in their string literals and import no ClickHouse client.

Docstrings are prose (a doctest may show a printed command) and are not checked. The list
grows as more packages move to the read side (``streams/sinks/reads/``).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CLEAN = (
    "streams/cli",
    "streams/estimation",
    "streams/readiness",
    "streams/report",
    "streams/runners",
)
"""Packages whose queries all live in ``streams/sinks/``."""

SQL = re.compile(
    r"\bSELECT\b[\s\S]*\bFROM\b|\bFROM\s+linewatch\.|\bINSERT\s+INTO\b|\bALTER\s+TABLE\b"
    r"|\bOPTIMIZE\s+TABLE\b|\b(CREATE|DROP|TRUNCATE)\s+(TABLE|VIEW|DATABASE|MATERIALIZED)\b"
)


def _docstrings(tree: ast.AST) -> set[int]:
    """The ids of the docstring nodes (module, class, function)."""
    out: set[int] = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and node.body
        ):
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                out.add(id(first.value))
    return out


def sql_literals(source: str) -> list[tuple[int, str]]:
    """``(line, text)`` of each string literal that reads as SQL (f-strings with ``{}`` for
    their values), docstrings left out.

    >>> sql_literals('Q = f"SELECT a FROM {t}"\\nX = "select the camera"')
    [(1, 'SELECT a FROM {}')]
    """
    tree = ast.parse(source)
    skip = _docstrings(tree)
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            parts = []
            for value in node.values:
                skip.add(id(value))
                # the text between values is a Constant, each {value} a FormattedValue
                parts.append(str(value.value) if isinstance(value, ast.Constant) else "{}")
            text = "".join(parts)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if id(node) in skip:
                continue
            text = node.value
        else:
            continue
        if SQL.search(text):
            found.append((node.lineno, text))
    return found


def client_imports(source: str) -> list[int]:
    """Lines importing ``clickhouse_connect`` (the store package owns the client)."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            continue
        if any(n.split(".")[0] in {"clickhouse_connect", "chdb"} for n in names):
            lines.append(node.lineno)
    return lines


DRIVER = re.compile(
    r"clickhouse_connect|\bchdb\.|\(READONLY\)|\([A-Z]+_[A-Z_]+\)|\b[A-Z]+_EXCEEDED\b"
)
"""What only code that knows the driver writes: its module paths (logger names), ClickHouse's
error codes as its messages quote them (``(READONLY)``, ``TIMEOUT_EXCEEDED``)."""

NO_DRIVER = ("streams/cli", "streams/report")
"""Packages that get what they need of the driver (its error types, its loggers) from the store
package: :class:`~streams.errors.StoreReadOnly`, ``quiet_driver_logs`` ..."""


def driver_knowledge(source: str) -> list[tuple[int, str]]:
    """``(line, text)`` of each string literal, docstrings left out, that names the driver or
    matches one of its error codes.

    >>> driver_knowledge('L = "clickhouse_connect.x"\\nif "(READONLY)" in m: pass\\nX = "(COCO)"')
    [(1, 'clickhouse_connect.x'), (2, '(READONLY)')]
    """
    tree = ast.parse(source)
    skip = _docstrings(tree)
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in skip
        and DRIVER.search(node.value)
    ]


def _modules() -> list[Path]:
    return sorted(p for pkg in CLEAN for p in (ROOT / pkg).rglob("*.py"))


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_sql_nor_client_outside_the_store_package(path: Path) -> None:
    source = path.read_text("utf-8")
    found = [f"line {n}: {text.strip()[:70]!r}" for n, text in sql_literals(source)]
    found += [f"line {n}: imports the ClickHouse client" for n in client_imports(source)]
    assert not found, (
        f"{path.relative_to(ROOT)} holds SQL: move each query into a typed function of "
        f"streams/sinks/reads/ and call it ({'; '.join(found)})"
    )


def test_the_check_sees_sql_in_each_form_it_is_written() -> None:
    source = '''
A = """
SELECT line_id, count() FROM linewatch.frames FINAL GROUP BY line_id
"""
B = f"SELECT line_id, quantiles({qs})(latency_ms) FROM linewatch.frames FINAL"
C = "SELECT * " "FROM t"
D = "ALTER TABLE linewatch.frames DELETE WHERE 1"
E = "no INSERT, ALTER, DROP or other DDL, select a camera"
import clickhouse_connect
from chdb import session
'''
    assert [n for n, _ in sql_literals(source)] == [2, 5, 6, 7]
    assert client_imports(source) == [9, 10]


def test_the_cleaned_packages_are_found() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in _modules()}
    assert {
        "streams/cli/demo.py",
        "streams/cli/store.py",
        "streams/estimation/job.py",
        "streams/estimation/windows.py",
        "streams/report/render.py",
        "streams/readiness/reconcile.py",
        "streams/runners/partitions.py",
    } <= names


@pytest.mark.parametrize(
    "path",
    sorted(p for pkg in NO_DRIVER for p in (ROOT / pkg).rglob("*.py")),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_cli_and_report_know_nothing_of_the_driver(path: Path) -> None:
    source = path.read_text("utf-8")
    found = [f"line {n}: imports the ClickHouse client" for n in client_imports(source)]
    found += [f"line {n}: {text.strip()[:70]!r}" for n, text in driver_knowledge(source)]
    assert not found, (
        f"{path.relative_to(ROOT)} knows the ClickHouse driver: take what it needs from the store "
        f"package (an error type of streams/errors.py, a function of streams/sinks/) "
        f"({'; '.join(found)})"
    )
