"""The ClickHouse HTTP fixture server, spoken to by clickhouse-connect's unmodified HTTP client.

These pin the protocol behaviour the store suites rely on (compression both ways, sessions,
users, errors), so a fixture regression shows up here rather than as a puzzling store failure.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
from collections.abc import Iterator
from typing import Any

import clickhouse_connect
import lz4.frame  # type: ignore[import-untyped]
import pytest
import urllib3
from backports import zstd
from clickhouse_connect.driver.exceptions import DatabaseError

from streams.errors import StoreUnavailable
from streams.sinks.clickhouse import ClickHouseStore
from tests.store_fixtures import READER, WRITER, ChdbHttpServer

TABLE = "proto.t"


@pytest.fixture
def server(shared_http_server: ChdbHttpServer) -> Iterator[ChdbHttpServer]:
    if not shared_http_server.running:
        shared_http_server.start()
    client: Any = shared_http_server.client()
    client.command("DROP DATABASE IF EXISTS proto SYNC")
    client.command("CREATE DATABASE proto")
    client.command(
        f"CREATE TABLE {TABLE} (k String, n Int64, at DateTime64(3, 'UTC'), "
        "x Nullable(Float64), tags Array(String)) ENGINE = MergeTree ORDER BY k"
    )
    client.close()
    yield shared_http_server


def _raw(server: ChdbHttpServer, method: str, url: str, **kwargs: Any) -> Any:
    auth = base64.b64encode(":".join(WRITER).encode()).decode()
    headers = {"Authorization": f"Basic {auth}", **kwargs.pop("headers", {})}
    return urllib3.request(
        method, f"http://127.0.0.1:{server.port}{url}", headers=headers, **kwargs
    )


def _rows(n: int, prefix: str) -> list[list[object]]:
    at = dt.datetime(2026, 11, 29, 6, 0, tzinfo=dt.UTC)
    return [[f"{prefix}-{i:05d}", i, at, None if i % 3 else i / 2, ["a", str(i)]] for i in range(n)]


@pytest.mark.parametrize("compress", [True, "lz4", "zstd", "gzip", False])
def test_client_round_trips_with_each_compression(server: ChdbHttpServer, compress: object) -> None:
    client: Any = server.client(compress=compress, tz_mode="aware")
    rows = _rows(3000, str(compress))
    summary = client.insert(TABLE, rows, column_names=["k", "n", "at", "x", "tags"])
    assert summary.written_rows == 3000
    back = client.query(
        f"SELECT k, n, at, x, tags FROM {TABLE} WHERE startsWith(k, {{p:String}}) ORDER BY k",
        parameters={"p": f"{compress}-"},
    )
    assert back.column_names == ("k", "n", "at", "x", "tags")
    assert [list(r) for r in back.result_rows] == rows
    client.close()


@pytest.mark.parametrize(
    ("accept", "decode"),
    [
        ("lz4", lz4.frame.decompress),
        ("zstd", zstd.decompress),
        ("gzip", gzip.decompress),
        ("gzip, deflate, lz4, zstd", zstd.decompress),
    ],
)
def test_response_encoding_follows_accept_encoding(
    server: ChdbHttpServer, accept: str, decode: Any
) -> None:
    resp = _raw(
        server,
        "POST",
        "/?enable_http_compression=1",
        body=b"SELECT number FROM numbers(3) FORMAT TSV",
        headers={"Accept-Encoding": accept},
        decode_content=False,
    )
    assert resp.status == 200
    assert resp.headers["Content-Encoding"] == (accept if "," not in accept else "zstd")
    assert decode(resp.data) == b"0\n1\n2\n"
    assert resp.headers["X-ClickHouse-Format"] == "TSV"
    assert resp.headers["X-ClickHouse-Server-Display-Name"]


@pytest.mark.parametrize("encoding", ["lz4", "zstd", "gzip"])
def test_compressed_insert_body_with_query_in_url(server: ChdbHttpServer, encoding: str) -> None:
    data = b"".join(f"{encoding}-{i}\t{i}\n".encode() for i in range(100))
    packed = {"lz4": lz4.frame.compress, "zstd": zstd.compress, "gzip": gzip.compress}[encoding]
    resp = _raw(
        server,
        "POST",
        f"/?query=INSERT+INTO+{TABLE}+(k,+n)+FORMAT+TSV",
        body=packed(data[:700]) + packed(data[700:]) if encoding != "gzip" else packed(data),
        headers={"Content-Encoding": encoding},
    )
    assert resp.status == 200, resp.data
    client: Any = server.client()
    assert client.command(f"SELECT count() FROM {TABLE} WHERE startsWith(k, '{encoding}-')") == 100
    client.close()


def test_ping_and_unknown_paths(server: ChdbHttpServer) -> None:
    assert _raw(server, "GET", "/ping").data == b"Ok.\n"
    missing = _raw(server, "GET", "/nope")
    assert missing.status == 404


def test_errors_carry_code_header_status_and_clickhouse_body(server: ChdbHttpServer) -> None:
    resp = _raw(server, "POST", "/", body=b"SELEC 1")
    assert resp.status == 400
    assert resp.headers["X-ClickHouse-Exception-Code"] == "62"
    assert resp.data.startswith(b"Code: 62. DB::Exception: Syntax error")
    missing = _raw(server, "POST", "/", body=b"SELECT * FROM proto.missing")
    assert (missing.status, missing.headers["X-ClickHouse-Exception-Code"]) == (404, "60")
    client: Any = server.client()
    with pytest.raises(DatabaseError) as info:
        client.command("SELECT 1; SELECT 2")
    assert info.value.code == 62  # the server refuses multi-statements; chDB alone would not
    client.close()


def test_sessions_keep_settings_apart(server: ChdbHttpServer) -> None:
    one: Any = server.client()
    two: Any = server.client()
    one.command("SET max_threads = 1")
    assert one.command("SELECT value FROM system.settings WHERE name = 'max_threads'") == 1
    assert two.command("SELECT value FROM system.settings WHERE name = 'max_threads'") != 1
    # settings in the URL apply to one query only, even inside a session
    assert one.command("SELECT getSetting('max_threads')", settings={"max_threads": 3}) == 3
    assert one.command("SELECT getSetting('max_threads')") == 1
    missing = _raw(server, "POST", "/?session_id=nope&session_check=1", body=b"SELECT 1")
    assert missing.headers["X-ClickHouse-Exception-Code"] == "372"
    one.close()
    two.close()


def test_readonly_user_reads_but_cannot_write_or_change_settings(server: ChdbHttpServer) -> None:
    reader: Any = server.client(READER)
    assert reader.command(f"SELECT count() FROM {TABLE}") == 0
    for statement in (
        f"INSERT INTO {TABLE} (k, n) VALUES ('r', 1)",
        f"ALTER TABLE {TABLE} DELETE WHERE 1",
        "CREATE TABLE proto.u (a Int8) ENGINE = Memory",
        "DROP TABLE proto.t",
        "SET max_threads = 1",
    ):
        with pytest.raises(DatabaseError) as info:
            reader.command(statement)
        assert info.value.code == 164, statement
    with pytest.raises(DatabaseError) as info:
        reader.insert(TABLE, _rows(1, "r"), column_names=["k", "n", "at", "x", "tags"])
    assert info.value.code == 164
    bumped = _raw(server, "POST", "/?max_threads=1", body=b"SELECT 1")
    assert bumped.status == 200  # the writer may change settings per query
    auth = base64.b64encode(":".join(READER).encode()).decode()
    refused = urllib3.request(
        "POST",
        f"http://127.0.0.1:{server.port}/?max_threads=1",
        body=b"SELECT 1",
        headers={"Authorization": f"Basic {auth}"},
    )
    assert refused.headers["X-ClickHouse-Exception-Code"] == "164"
    reader.close()


def test_credentials_by_header_and_bad_passwords(server: ChdbHttpServer) -> None:
    by_header = urllib3.request(
        "POST",
        f"http://127.0.0.1:{server.port}/",
        body=b"SELECT currentDatabase()",
        headers={"X-ClickHouse-User": WRITER[0], "X-ClickHouse-Key": WRITER[1]},
    )
    assert by_header.status == 200
    mixed = _raw(server, "POST", "/?user=x", body=b"SELECT 1")
    assert mixed.headers["X-ClickHouse-Exception-Code"] == "516"
    with pytest.raises(DatabaseError) as info:
        clickhouse_connect.get_client(
            host="127.0.0.1", port=server.port, username=WRITER[0], password="wrong"
        )
    assert info.value.code == 516
    with pytest.raises(StoreUnavailable, match="check the user and password"):
        ClickHouseStore.open(server.dsn((WRITER[0], "wrong")))


def test_formats_the_client_reads_and_writes(server: ChdbHttpServer) -> None:
    client: Any = server.client()
    client.raw_insert(
        TABLE, ["k", "n"], '{"k": "j-1", "n": 1}\n{"k": "j-2", "n": 2}\n', fmt="JSONEachRow"
    )
    client.raw_insert(TABLE, ["k", "n"], "k,n\nc-1,3\n", fmt="CSVWithNames")
    assert client.command(f"SELECT sum(n) FROM {TABLE}") == 6
    typed = client.raw_query(
        f"SELECT k, n FROM {TABLE} ORDER BY k LIMIT 1", fmt="RowBinaryWithNamesAndTypes"
    )
    assert typed.startswith(b"\x02\x01k\x01n\x06String\x05Int64\x03c-1")
    assert client.raw_query(f"SELECT count() AS c FROM {TABLE}", fmt="JSONEachRow") == b'{"c":3}\n'
    client.close()
