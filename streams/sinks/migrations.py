"""The DDL migrator behind ``linewatch schema apply``: load the files, apply the pending ones.

DDL lives in ``schemas/clickhouse/NNN_name.sql``. Files are applied once each, in name order;
``linewatch.schema_migrations`` records (name, sha256, applied_at) of every applied file.
An applied file whose content changed is an error (:class:`SchemaChanged`): add a new file
instead of editing an old one. Every statement is idempotent (``IF NOT EXISTS``), so a run
interrupted between a file's statements and its ledger row is simply repeated.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from streams.errors import SchemaChanged, StoreError
from streams.sinks.connection import Connection
from streams.sinks.dsn import DATABASE

__all__ = [
    "MIGRATIONS_TABLE",
    "Migration",
    "applied_migrations",
    "apply_schema",
    "default_schema_dir",
    "load_migrations",
    "split_sql",
]

log = logging.getLogger(__name__)

MIGRATIONS_TABLE = "linewatch.schema_migrations"
_NAME = re.compile(r"^\d{3}_[A-Za-z0-9_]+\.sql$")


@dataclass(frozen=True)
class Migration:
    """One DDL file: its name, sha256 checksum and statements."""

    name: str
    checksum: str
    statements: tuple[str, ...]


def default_schema_dir() -> Path:
    """``schemas/clickhouse`` of the installed package."""
    return Path(str(resources.files("schemas") / "clickhouse"))


def split_sql(text: str) -> list[str]:
    """Statements of a SQL file: split at ``;`` outside quotes, ``--`` and ``/* */`` comments.

    >>> split_sql("-- a; b\\nCREATE X; /* ; */ SELECT ';' ;\\n")
    ['CREATE X', "/* ; */ SELECT ';'"]
    """
    statements: list[str] = []
    buf: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in ("'", '"', "`"):
            j = i + 1
            while j < n and text[j] != ch:
                j += 2 if text[j] == "\\" else 1
            buf.append(text[i : j + 1])
            i = j + 1
        elif text.startswith("--", i):
            j = text.find("\n", i)
            i = n if j < 0 else j + 1
            buf.append("\n")
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            buf.append(text[i:j])
            i = j
        elif ch == ";":
            statements.append("".join(buf).strip())
            buf = []
            i += 1
        else:
            buf.append(ch)
            i += 1
    statements.append("".join(buf).strip())
    return [s for s in statements if s]


def load_migrations(directory: Path | None = None) -> list[Migration]:
    """Every ``NNN_name.sql`` file of ``directory`` (default: the shipped DDL), in name order."""
    directory = directory or default_schema_dir()
    found: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        if not _NAME.match(path.name):
            continue
        data = path.read_bytes()
        found.append(
            Migration(
                name=path.name,
                checksum=hashlib.sha256(data).hexdigest(),
                statements=tuple(split_sql(data.decode("utf-8"))),
            )
        )
    return found


def applied_migrations(conn: Connection) -> dict[str, str]:
    """Applied DDL files and their checksums (empty before the first :func:`apply_schema`)."""
    exists = conn.query(
        "SELECT count() FROM system.tables WHERE database = {db:String} AND name = {t:String}",
        {"db": DATABASE, "t": MIGRATIONS_TABLE.split(".", 1)[1]},
    ).result_rows[0][0]
    if not exists:
        return {}
    rows = conn.query(f"SELECT name, checksum FROM {MIGRATIONS_TABLE} FINAL").result_rows
    return {str(name): str(checksum) for name, checksum in rows}


def apply_schema(conn: Connection, directory: Path | None = None) -> list[str]:
    """Apply pending DDL files in name order; return the names newly applied.

    Raises :class:`SchemaChanged` (before applying anything) if an applied file was edited.
    """
    with conn.locked("apply the schema"):
        migrations = load_migrations(directory)
        applied = applied_migrations(conn)
        for m in migrations:
            if m.name in applied and applied[m.name] != m.checksum:
                raise SchemaChanged(
                    f"DDL file {m.name} was applied to {conn.dsn} with checksum "
                    f"{applied[m.name][:12]}… but now has {m.checksum[:12]}…; applied files "
                    "must not change: restore it and put the change in a new NNN_name.sql file"
                )
        newly = [m.name for m in migrations if m.name not in applied]
        for m in migrations:
            if m.name in newly:
                _apply(conn, m)
        conn.use_database()
        return newly


def _apply(conn: Connection, migration: Migration) -> None:
    """Run one file's statements, then record it in the ledger."""
    for statement in migration.statements:
        try:
            conn.command(statement)
        except StoreError as exc:
            raise StoreError(f"DDL file {migration.name} failed: {exc}") from exc
    conn.command(
        f"INSERT INTO {MIGRATIONS_TABLE} (name, checksum, applied_at) "
        "VALUES ({name:String}, {checksum:String}, now64(3, 'UTC'))",
        {"name": migration.name, "checksum": migration.checksum},
    )
    log.info("applied %s to %s", migration.name, conn.dsn)
