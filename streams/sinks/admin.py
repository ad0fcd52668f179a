"""Store administration: how long each table keeps its rows (``linewatch store retention``).

A table's retention is a ClickHouse TTL on its time column (:data:`RETENTION_COLUMNS`); tables
drop whole expired parts (``ttl_only_drop_parts``, ``002_baseline.sql``), so with daily-or-finer
parts a day's data goes at once, without rewriting anything.
"""

from __future__ import annotations

import re

from streams.errors import StoreError
from streams.sinks.connection import Connection
from streams.sinks.dsn import DATABASE

__all__ = ["RETENTION_COLUMNS", "retention", "set_retention"]

RETENTION_COLUMNS: dict[str, str] = {
    "frames": "captured_at",
    "detections": "captured_at",
    "event_keys": "captured_at",
    "drift_events": "detected_at",
    "reference_gap": "window_end",
    "labels": "labelled_at",
    "dead_letters": "received_at",
    "frames_hourly": "hour",
}
"""Tables whose retention :func:`set_retention` manages, and the time column their TTL uses.
``frames_daily`` is a view over ``frames_hourly`` (``410_daily_rollup_from_hourly.sql``): it
keeps the days the hourly table keeps."""


def set_retention(conn: Connection, table: str, seconds: int | None) -> None:
    """Keep ``table``'s rows ``seconds`` after their time column (``None``/0: forever)."""
    if table not in RETENTION_COLUMNS:
        raise StoreError(
            f"no retention for table {table!r}: choose one of {', '.join(RETENTION_COLUMNS)}"
        )
    if seconds is not None and seconds < 0:
        raise StoreError(f"retention must be >= 0 seconds, not {seconds}")
    if seconds:
        column = RETENTION_COLUMNS[table]
        conn.command(
            f"ALTER TABLE {DATABASE}.{table} MODIFY TTL "
            f"toDateTime({column}) + toIntervalSecond({int(seconds)})"
        )
    elif retention(conn).get(table):
        conn.command(f"ALTER TABLE {DATABASE}.{table} REMOVE TTL")


def retention(conn: Connection) -> dict[str, str]:
    """The TTL expression of each table that has one."""
    found: dict[str, str] = {}
    for name, ddl in conn.query(
        "SELECT name, create_table_query FROM system.tables WHERE database = {db:String}",
        {"db": DATABASE},
    ).result_rows:
        match = re.search(r"\bTTL (.+?) SETTINGS", str(ddl))
        if name in RETENTION_COLUMNS and match:
            found[str(name)] = match.group(1).strip()
    return found
