"""The HTTP fixture's readonly reader cannot read or write files, like a real server's.

chDB runs the scalar ``file()`` and ``SELECT ... INTO OUTFILE`` even with ``readonly=1``; a
ClickHouse server refuses both to a readonly HTTP user (``file()`` reads only under the
server's ``user_files_path``; ``INTO OUTFILE`` is ``INTO_OUTFILE_NOT_ALLOWED``). Tests that rely
on the fixture for read-only behaviour need it to refuse them too (docs/testing.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from clickhouse_connect.driver.exceptions import DatabaseError

from tests.store_fixtures import READER, ChdbHttpServer

SECRET = "fixture-secret-8812"


@pytest.fixture
def server(shared_http_server: ChdbHttpServer) -> ChdbHttpServer:
    if not shared_http_server.running:
        shared_http_server.start()
    return shared_http_server


@pytest.mark.parametrize(
    "template",
    [
        "SELECT file('{path}') AS s",
        "SELECT FILE('{path}') AS s",
        "SELECT `file`('{path}') AS s",
        "SELECT length(file('{path}')) AS s",
        "SELECT 1 AS s WHERE file('{path}') != ''",
        "SELECT * FROM file('{path}', 'LineAsString')",
        "WITH file('{path}') AS f SELECT f",
        "SELECT (SELECT file('{path}')) AS s",
    ],
)
def test_reader_cannot_read_a_file(server: ChdbHttpServer, tmp_path: Path, template: str) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    reader: Any = server.client(READER)
    try:
        with pytest.raises(DatabaseError) as info:
            reader.query(template.format(path=secret))
        assert SECRET not in str(info.value)
    finally:
        reader.close()


@pytest.mark.parametrize(
    "template",
    [
        "SELECT 1 INTO OUTFILE '{path}'",
        "SELECT 1 INTO OUTFILE '{path}' FORMAT CSV",
        "SELECT 1 INTO OUTFILE '{path}' APPEND",
        "select 1 into outfile '{path}' truncate",
        "SELECT 1 UNION ALL SELECT 2 INTO OUTFILE '{path}'",
    ],
)
def test_reader_cannot_write_a_file(server: ChdbHttpServer, tmp_path: Path, template: str) -> None:
    target = tmp_path / "written.pth"
    reader: Any = server.client(READER)
    try:
        with pytest.raises(DatabaseError) as info:
            reader.command(template.format(path=target))
        assert "INTO_OUTFILE_NOT_ALLOWED" in str(info.value) or "358" in str(info.value)
    finally:
        reader.close()
    assert not target.exists()


def test_strings_that_spell_file_are_data(server: ChdbHttpServer) -> None:
    reader: Any = server.client(READER)
    try:
        rows = reader.query(
            "SELECT 'file(x)' AS a, 'INTO OUTFILE' AS b, {p:String} AS c", parameters={"p": "f"}
        ).result_rows
        assert rows == [("file(x)", "INTO OUTFILE", "f")]
        assert reader.command("SELECT count() FROM system.one FORMAT TabSeparated") == 1
    finally:
        reader.close()
