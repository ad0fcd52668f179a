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

Parameters are data: a ``--param`` value is sent to the server apart from the text and bound
there to its ``{name:Type}`` placeholder, never pasted into the SQL. clickhouse-connect would
fill ``%(name)s`` (or ``%s``) placeholders on the client when the SQL has no ``{name:Type}``,
*after* the guard saw the text, so :func:`bound_text` refuses that (and any change the client
would make to the text), and :func:`check_read_only` checks exactly the text that runs.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

from clickhouse_connect.driver.binding import bind_query

from streams.errors import QueryRefused, StoreError

if TYPE_CHECKING:
    from streams.sinks.clickhouse import ClickHouseStore

__all__ = [
    "FILE_FUNCTIONS",
    "SAFE_TABLE_FUNCTIONS",
    "bound_text",
    "check_read_only",
    "parameter_refusal",
    "refusal",
]

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
_SERVER_PLACEHOLDER = re.compile(r"\{\s*([A-Za-z_]\w*)\s*:[^{}]+\}")
_CLIENT_PLACEHOLDER = re.compile(r"%\([^)]*\)[-#0 +]*\d*(?:\.\d+)?[A-Za-z]?|%[-#0 +]*\d*[srd]\b")
_HOW = "write {name:Type} where the value goes (e.g. WHERE line_id = {line:String})"


def parameter_refusal(sql: str, names: Collection[str]) -> str | None:
    """Why ``sql`` cannot run with parameters ``names`` bound on the server, or None.

    Every parameter must be used as a server-side ``{name:Type}`` placeholder, and the text
    must hold no client-side placeholder (``%(name)s``, ``%s``): the client would paste the
    value into the SQL.

    >>> parameter_refusal("SELECT {n:UInt8}", ["n"]) is None
    True
    >>> parameter_refusal("SELECT 1 /* %(n)s */", ["n"])
    "'%(n)s' is a client-side placeholder: the value would become SQL text; write {name:Type} \
where the value goes (e.g. WHERE line_id = {line:String})"
    >>> parameter_refusal("SELECT 1", ["n"])
    '--param n is not used in the SQL: write {n:Type} where its value goes, e.g. {n:String}'
    """
    if not names:
        return None
    client = _CLIENT_PLACEHOLDER.search(sql)
    if client is not None:
        return (
            f"{client.group(0)!r} is a client-side placeholder: the value would become SQL "
            f"text; {_HOW}"
        )
    used = {m.group(1) for m in _SERVER_PLACEHOLDER.finditer(sql)}
    for name in names:
        if name not in used:
            return (
                f"--param {name} is not used in the SQL: write {{{name}:Type}} where its value "
                f"goes, e.g. {{{name}:String}}"
            )
    return None


def bound_text(sql: str, parameters: Mapping[str, Any] | None = None) -> str:
    """The statement text the client sends for ``sql``; refused if binding would change it.

    With parameters, clickhouse-connect sends them apart (``param_<name>``) when the SQL has
    a ``{name:Type}`` placeholder; otherwise it pastes them into the text with ``%``. Only the
    first is allowed: the text that runs is then the text given (less a final ``;``).

    >>> bound_text("SELECT {n:UInt8};", {"n": 1})
    'SELECT {n:UInt8}'
    >>> bound_text("SELECT 1 -- %(n)s", {"n": 1})
    Traceback (most recent call last):
    ...
    streams.errors.QueryRefused: refused: the client would paste a parameter value into the \
SQL text; parameters are bound by the server only: write {name:Type} where the value goes \
(e.g. WHERE line_id = {line:String})
    """
    text = sql.rstrip(";")
    if not parameters:
        return text
    # whether the client pastes a value depends on the text and the value's type, not on how
    # many items a list holds: bind the first item only (the writer's key lookups bind lists
    # of thousands of ids, and the client formats them again when the query is sent)
    sample = {k: v[:1] if isinstance(v, list | tuple) else v for k, v in parameters.items()}
    sent, _ = bind_query(sql, sample)
    if sent != text:
        raise QueryRefused(
            "refused: the client would paste a parameter value into the SQL text; parameters "
            f"are bound by the server only: {_HOW}"
        )
    return text


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
    """Raise :class:`QueryRefused` unless ``sql`` is one statement that only reads the store
    and takes its ``parameters`` as server-side ``{name:Type}`` placeholders.

    The text checked is the text that runs (:func:`bound_text`); it is parsed, not run, so its
    placeholders need no values.
    """
    reason = parameter_refusal(sql, list(parameters or {}))
    if reason is not None:
        raise QueryRefused(
            f"refused: `linewatch query` binds --param values on the server; {reason}"
        )
    text = bound_text(sql, parameters)
    try:
        rows = store.query("SELECT formatQuerySingleLine({sql:String})", {"sql": text}).result_rows
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
