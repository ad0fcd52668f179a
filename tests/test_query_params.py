"""``linewatch query --param``: values are bound by the server, never pasted into the SQL.

clickhouse-connect fills ``%(name)s`` placeholders on the client when the SQL has no
``{name:Type}``; a value placed in a comment or a string literal then becomes SQL, after the
guard saw the text. Each attack below read or wrote a file through ``file()`` or
``INTO OUTFILE`` on a ``chdb://`` store before the guard refused client-side placeholders.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from streams.cli import app
from streams.errors import QueryRefused
from streams.sinks.clickhouse import ClickHouseStore
from streams.sinks.sql_guard import bound_text, parameter_refusal

runner = CliRunner()

SECRET = "TOPSECRET-4711"


@pytest.fixture
def chdb_dsn(tmp_path: Path) -> str:
    dsn = f"chdb://{tmp_path / 'store'}"
    with ClickHouseStore.open(dsn) as store:
        store.apply_schema()
    return dsn


def _query(dsn: str, sql: str, *params: str) -> tuple[int, str, BaseException | None]:
    args = ["query", sql, "--store", dsn, "--format", "csv"]
    for p in params:
        args += ["--param", p]
    result = runner.invoke(app, args)
    return result.exit_code, result.output, result.exception


# (sql, value): the value, pasted client-side, closes the comment / string it sits in
READS = [
    ("SELECT 1 AS a /* %(p)s */", "*/, file($$SECRET$$) AS b /*"),
    ("SELECT 1 AS a -- %(p)s", "\n, file($$SECRET$$) AS b --"),
    ("SELECT 1 AS a # %(p)s", "\n, file($$SECRET$$) AS b #"),
    ("SELECT 1 AS a /* %(p)s */ WHERE 1 = {n:UInt8}", "*/, file($$SECRET$$) AS b /*"),
    ("SELECT 1 AS a /* %s */", "*/, file($$SECRET$$) AS b /*"),
    ("SELECT 1 AS a /* %(p)r */", "*/, file($$SECRET$$) AS b /*"),
    ("SELECT 1 AS a /* %(p)-3s */", "*/, file($$SECRET$$) AS b /*"),
    ("SELECT 1 AS a /* %r */", "*/, file($$SECRET$$) AS b /*"),
    ("SELECT 1 AS a /* %5s */ WHERE 1 = {n:UInt8}", "*/, file($$SECRET$$) AS b /*"),
]


@pytest.mark.parametrize(("sql", "value"), READS)
def test_a_param_cannot_read_a_file(chdb_dsn: str, tmp_path: Path, sql: str, value: str) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    params = [f"p={value.replace('SECRET', str(secret))}"]
    if "{n:UInt8}" in sql:
        params.append("n=1")
    _code, output, exc = _query(chdb_dsn, sql, *params)
    assert SECRET not in output
    assert isinstance(exc, QueryRefused), output
    assert "{name:Type}" in str(exc) and "\n" not in str(exc)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 1 AS a -- %(p)s",
        "SELECT 1 AS a /* %(p)s */",
        "SELECT 1 AS a /* %(p)s */ LIMIT {n:UInt8}",
    ],
)
def test_a_param_cannot_write_a_file(chdb_dsn: str, tmp_path: Path, sql: str) -> None:
    target = tmp_path / "evil.pth"
    value = (
        f"\nINTO OUTFILE $${target}$$ APPEND --"
        if "--" in sql
        else f"*/ INTO OUTFILE $${target}$$ APPEND /*"
    )
    params = [f"p={value}"] + (["n=1"] if "{n:" in sql else [])
    _code, output, exc = _query(chdb_dsn, sql, *params)
    assert not target.exists()
    assert isinstance(exc, QueryRefused), output


def test_server_side_params_are_data(chdb_dsn: str, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    value = f"*/, file($${secret}$$) AS b /*"
    code, output, _exc = _query(chdb_dsn, "SELECT {p:String} AS a /* x */", f"p={value}")
    assert code == 0, output
    assert SECRET not in output
    assert value in output
    code, output, _ = _query(chdb_dsn, "SELECT {p:String} LIKE '%' AS a", "p=x")
    assert code == 0 and output.splitlines()[1] == "1", output


def test_an_unused_param_is_refused(chdb_dsn: str) -> None:
    _code, output, exc = _query(chdb_dsn, "SELECT 1 AS a", "p=1")
    assert isinstance(exc, QueryRefused), output
    assert "{p:Type}" in str(exc)


def test_the_store_never_lets_the_client_paste_values(chdb_dsn: str, tmp_path: Path) -> None:
    """Every caller, not only ``linewatch query``: the store refuses client-side binding."""
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    with ClickHouseStore.open(chdb_dsn, readonly=True) as store:
        for sql in ("SELECT 1 /* %(p)s */", "SELECT '100%%' /* %(p)s */"):
            with pytest.raises(QueryRefused):
                store.query(sql, {"p": f"*/, file($${secret}$$) /*"})
        assert store.query("SELECT {p:String}", {"p": "%(p)s"}).result_rows == [("%(p)s",)]


def test_parameter_rules() -> None:
    assert parameter_refusal("SELECT {a:String}, {b : UInt8}", ["a", "b"]) is None
    assert parameter_refusal("SELECT * FROM t WHERE x LIKE '%shift%'", []) is None
    assert parameter_refusal("SELECT {a:String} WHERE x LIKE '%shift%'", ["a"]) is None
    assert parameter_refusal("SELECT {a:String} /* %(a)s */", ["a"]) is not None
    assert parameter_refusal("SELECT {a:String} /* %s */", ["a"]) is not None
    assert parameter_refusal("SELECT {a:String} /* %r */", ["a"]) is not None
    assert parameter_refusal("SELECT {a:String} -- %(a)d", ["a"]) is not None
    assert bound_text("SELECT {a:String};", {"a": "%(a)s"}) == "SELECT {a:String}"
    with pytest.raises(QueryRefused):
        bound_text("SELECT '%%'", {"a": 1})
