"""Create or update linewatch's two ClickHouse users, idempotently (Job linewatch-clickhouse-users).

- ``linewatch``: the writer, for the workers and ``linewatch schema apply``;
- ``linewatch_reader``: read-only, for Grafana and ``linewatch query``: settings profile
  ``linewatch_reader`` (``readonly = 2``, which clients may tighten to 1 but never loosen to 0: no
  INSERT, no DDL, yet clients such as Grafana's plugin may still send query settings) and SELECT on
  ``linewatch.*`` only (no ``file()``/``url()`` table functions: those need grants it lacks).

Runs in the linewatch image (clickhouse-connect over HTTPS, CA from SSL_CERT_FILE) as a ClickHouse
user allowed to manage users (CLICKHOUSE_ADMIN_USER / CLICKHOUSE_ADMIN_PASSWORD). Passwords reach
the server only as SHA-256 hashes, so no character of theirs needs quoting. docker-compose.yml
creates the same users from deploy/clickhouse/users.d/linewatch.xml instead.
"""

from __future__ import annotations

import hashlib
import os
import sys

WRITER = "linewatch"
READER = "linewatch_reader"
DATABASE = "linewatch"
# Keep in step with deploy/clickhouse/users.d/linewatch.xml (tests/test_deploy_manifests.py).
WRITER_GRANTS = (
    "SELECT, INSERT, ALTER, CREATE DATABASE, CREATE TABLE, CREATE VIEW, DROP TABLE, DROP VIEW, "
    "TRUNCATE, OPTIMIZE, SHOW"
)
READER_GRANTS = "SELECT"
READER_PROFILE = "linewatch_reader"
READER_PROFILE_SETTINGS = "readonly = 2 MIN 1 MAX 2"


def statements(writer_password: str, reader_password: str) -> list[str]:
    """The SQL that creates (or re-keys) both users and grants their rights."""
    if not writer_password or not reader_password:
        raise ValueError("both passwords must be non-empty")
    if writer_password == reader_password:
        raise ValueError("the writer and the reader must not share a password")
    w = hashlib.sha256(writer_password.encode()).hexdigest()
    r = hashlib.sha256(reader_password.encode()).hexdigest()
    return [
        f"CREATE USER IF NOT EXISTS {WRITER} IDENTIFIED WITH sha256_hash BY '{w}'",
        f"ALTER USER {WRITER} IDENTIFIED WITH sha256_hash BY '{w}'",
        f"GRANT {WRITER_GRANTS} ON {DATABASE}.* TO {WRITER}",
        f"CREATE SETTINGS PROFILE IF NOT EXISTS {READER_PROFILE} "
        f"SETTINGS {READER_PROFILE_SETTINGS}",
        f"ALTER SETTINGS PROFILE {READER_PROFILE} SETTINGS {READER_PROFILE_SETTINGS}",
        f"CREATE USER IF NOT EXISTS {READER} IDENTIFIED WITH sha256_hash BY '{r}' "
        f"SETTINGS PROFILE '{READER_PROFILE}'",
        f"ALTER USER {READER} IDENTIFIED WITH sha256_hash BY '{r}' "
        f"SETTINGS PROFILE '{READER_PROFILE}'",
        f"GRANT {READER_GRANTS} ON {DATABASE}.* TO {READER}",
    ]


def main() -> int:
    import clickhouse_connect  # the linewatch image has it

    env = os.environ
    missing = [
        k
        for k in (
            "CLICKHOUSE_HOST",
            "CLICKHOUSE_ADMIN_USER",
            "CLICKHOUSE_ADMIN_PASSWORD",
            "WRITER_PASSWORD",
            "READER_PASSWORD",
        )
        if not env.get(k)
    ]
    if missing:
        print(f"error: set {', '.join(missing)} (see deploy/README.md)", file=sys.stderr)
        return 2
    try:
        sql = statements(env["WRITER_PASSWORD"], env["READER_PASSWORD"])
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    client = clickhouse_connect.get_client(
        interface=env.get("CLICKHOUSE_INTERFACE", "https"),
        host=env["CLICKHOUSE_HOST"],
        port=int(env.get("CLICKHOUSE_PORT", "8443")),
        username=env["CLICKHOUSE_ADMIN_USER"],
        password=env["CLICKHOUSE_ADMIN_PASSWORD"],
        connect_timeout=10,
    )
    for stmt in sql:
        client.command(stmt)
    print(f"users {WRITER} (writer) and {READER} (read-only) are in place")
    return 0


if __name__ == "__main__":
    sys.exit(main())
