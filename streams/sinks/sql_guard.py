"""The guard in front of ``linewatch query``: one read-only statement that reads only the store.

The connection already runs with ClickHouse's ``readonly=1`` (no writes, no DDL, no settings
changes, no ``url()``/``s3()``/``remote()``...). On chDB that is not enough: the *scalar*
``file('/etc/passwd')``, ``DESCRIBE file(...)`` and ``SELECT ... INTO OUTFILE`` still read or
write local files, and chDB runs several ``;``-separated statements. So, before it runs, a
query is parsed by ClickHouse itself: ``formatQuerySingleLine`` with the SQL bound as a
parameter (nothing of it is executed; several statements or a syntax error are refused there),
which returns the statement's canonical text, without comments. The query is refused unless
that text

- starts with ``SELECT``, ``WITH``, ``SHOW``, ``DESCRIBE``/``DESC``, ``EXISTS`` or ``(``;
- has no ``INTO OUTFILE``;
- calls no function (``name(``, also quoted) whose name is a table function of this ClickHouse
  other than the few that only generate rows or re-read the database
  (:data:`SAFE_TABLE_FUNCTIONS`), nor one of :data:`FILE_FUNCTIONS`.

The checks run over the whole canonical text, string literals included, so they can only err
on the side of refusing (a value that spells ``file(`` goes in ``--param``). Table functions are
taken from the engine's own ``system.table_functions``: one added by a newer ClickHouse is
refused until it is listed as safe. Names are compared case-insensitively.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from streams.errors import QueryRefused, StoreError

if TYPE_CHECKING:
    from streams.sinks.clickhouse import ClickHouseStore

__all__ = ["FILE_FUNCTIONS", "SAFE_TABLE_FUNCTIONS", "check_read_only", "refusal"]

SAFE_TABLE_FUNCTIONS = frozenset(
    {
        "numbers",
        "numbers_mt",
        "zeros",
        "zeros_mt",
        "primes",
        "generaterandom",
        "generateseries",
        "generate_series",
        "values",
        "sqlstandardvalues",
        "format",
        "null",
        "view",
        "merge",
        "loop",
    }
)
"""Table functions (lower case) that generate rows or re-read tables of the database."""

FILE_FUNCTIONS = frozenset({"file", "catboostevaluate"})
"""Scalar functions (lower case) that read local files."""

_FIRST_WORDS = ("select", "with", "show", "describe", "desc", "exists")
_FIRST_WORD = re.compile(r"\(*\s*([A-Za-z]+)")
_INTO_OUTFILE = re.compile(r"(?i)\bINTO\s+OUTFILE\b")
_CALL = re.compile(r"""(?<![\w$])[`"]?([A-Za-z_][\w$]*)[`"]?\s*\(""")


def refusal(canonical: str, forbidden: frozenset[str] | set[str]) -> str | None:
    """Why a canonical single statement is refused, or None.

    >>> refusal("SELECT count() FROM numbers(3)", {"file", "url"}) is None
    True
    >>> refusal("SELECT `file`('/etc/passwd')", {"file"})
    'file() reads or reaches outside the store'
    >>> refusal("DROP TABLE t", set())
    'DROP is not a read (use SELECT, WITH, SHOW, DESCRIBE or EXISTS)'
    >>> refusal("SELECT 1 INTO OUTFILE '/tmp/x'", set())
    'INTO OUTFILE writes a file'
    """
    first = _FIRST_WORD.match(canonical)
    word = first.group(1).lower() if first else ""
    if word not in _FIRST_WORDS:
        kind = word.upper() or "this statement"
        return f"{kind} is not a read (use SELECT, WITH, SHOW, DESCRIBE or EXISTS)"
    if _INTO_OUTFILE.search(canonical):
        return "INTO OUTFILE writes a file"
    for call in _CALL.finditer(canonical):
        if call.group(1).lower() in forbidden:
            return f"{call.group(1)}() reads or reaches outside the store"
    return None


def check_read_only(
    store: ClickHouseStore, sql: str, parameters: Mapping[str, Any] | None = None
) -> None:
    """Raise :class:`QueryRefused` unless ``sql`` is one statement that only reads the store.

    ``parameters`` are not needed: placeholders (``{name:Type}``) stay placeholders.
    """
    del parameters  # the statement is parsed, not run: its placeholders need no values
    try:
        rows = store.query("SELECT formatQuerySingleLine({sql:String})", {"sql": sql}).result_rows
    except StoreError as exc:
        if "Syntax error" not in str(exc) and "SYNTAX_ERROR" not in str(exc):
            raise
        raise QueryRefused(
            f"refused: `linewatch query` runs one statement that ClickHouse can parse ({exc})"
        ) from exc
    canonical = str(rows[0][0])
    table_functions = {
        str(row[0]).lower()
        for row in store.query("SELECT name FROM system.table_functions").result_rows
    }
    reason = refusal(canonical, (table_functions - SAFE_TABLE_FUNCTIONS) | FILE_FUNCTIONS)
    if reason is not None:
        raise QueryRefused(
            f"refused: `linewatch query` runs one statement that reads the store only; {reason}. "
            "Schema changes go through `linewatch schema apply`, data through `linewatch run` or "
            "the worker"
        )
