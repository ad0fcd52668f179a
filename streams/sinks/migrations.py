"""The DDL migrator behind ``linewatch schema apply``.

DDL lives in ``schemas/clickhouse/NNN_name.sql``. Files are applied once each, in name order;
``linewatch.schema_migrations`` records (name, sha256, applied_at) of every applied file.
An applied file whose content changed is an error (:class:`SchemaChanged`): add a new file
instead of editing an old one. Every statement is idempotent (``IF NOT EXISTS``), so a run
interrupted between a file's statements and its ledger row is simply repeated.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

__all__ = ["MIGRATIONS_TABLE", "Migration", "default_schema_dir", "load_migrations", "split_sql"]

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
