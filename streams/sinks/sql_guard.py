"""The guard in front of ``linewatch query``: one read-only statement that reads only the store.

The connection already runs with ClickHouse's ``readonly=1`` (no writes, no DDL, no settings
changes, no ``url()``/``s3()``/``remote()``...). On chDB that is not enough: the *scalar*
``file('/etc/passwd')``, ``DESCRIBE file(...)`` and ``SELECT ... INTO OUTFILE`` still read or
write local files, and chDB runs several ``;``-separated statements. So before it runs, a
query is parsed by ClickHouse itself (``EXPLAIN AST``, which executes nothing) and refused
unless:

- it is one statement (no ``;`` but an optional trailing one: put values in ``--param``);
- it is a ``SELECT`` (``WITH``, ``UNION``, ``INTERSECT`` ...), ``SHOW``, ``DESCRIBE`` or
  ``EXISTS`` statement, without ``INTO OUTFILE``;
- every function it calls is either not a table function of this ClickHouse or one of the
  table functions that only generate or re-read the database's own data
  (:data:`SAFE_TABLE_FUNCTIONS`), and is not in :data:`FILE_FUNCTIONS`.

Table functions are taken from the engine's own ``system.table_functions``, so one added by a
newer ClickHouse is refused until it is listed as safe. Names are compared case-insensitively.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from streams.errors import QueryRefused

if TYPE_CHECKING:
    from streams.sinks.clickhouse import ClickHouseStore

__all__ = ["FILE_FUNCTIONS", "SAFE_TABLE_FUNCTIONS", "check_read_only"]

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

_ROOTS = ("Select", "Show", "Describe", "Exists")
_NODE = re.compile(r"^( *)(\S+)(?: (.*))?$")
_FUNCTION = re.compile(r"^Function (\S+)")


def _single_statement(sql: str) -> str:
    body = sql.strip()
    body = body.removesuffix(";").rstrip()
    if ";" in body:
        raise QueryRefused(
            "refused: one statement per `linewatch query` (found ';'); if a value holds ';', "
            "pass it with --param name=value and write {name:String} in the SQL"
        )
    return body


def check_read_only(
    store: ClickHouseStore, sql: str, parameters: Mapping[str, Any] | None = None
) -> str:
    """Return ``sql`` (one statement, trailing ``;`` removed) or raise :class:`QueryRefused`."""
    body = _single_statement(sql)
    tree = [str(row[0]) for row in store.query(f"EXPLAIN AST {body}", parameters).result_rows]
    table_functions = {
        str(row[0]).lower()
        for row in store.query("SELECT name FROM system.table_functions").result_rows
    }
    forbidden = (table_functions - SAFE_TABLE_FUNCTIONS) | FILE_FUNCTIONS
    root = _NODE.match(tree[0]) if tree else None
    if root is None or not root.group(2).startswith(_ROOTS):
        kind = root.group(2) if root else "nothing"
        raise QueryRefused(
            f"refused: `linewatch query` runs SELECT, SHOW, DESCRIBE or EXISTS only (this is "
            f"{kind}); schema changes go through `linewatch schema apply`, data through "
            "`linewatch run` or the worker"
        )
    for line in tree[1:]:
        node = _NODE.match(line)
        if node is None:
            continue
        depth, text = len(node.group(1)), line.strip()
        if depth == 1 and text.startswith("Literal"):
            raise QueryRefused("refused: `linewatch query` does not write files (INTO OUTFILE)")
        function = _FUNCTION.match(text)
        if function and function.group(1).lower() in forbidden:
            raise QueryRefused(
                f"refused: `linewatch query` reads the store only; {function.group(1)}() reads "
                "or reaches outside it (allowed table functions: "
                f"{', '.join(sorted(SAFE_TABLE_FUNCTIONS))})"
            )
    return body
