"""The alarm and dead-letter listings of the shell commands (``linewatch drift``, the hint
``linewatch run`` prints). Filters are bound as server-side parameters, never pasted."""

from __future__ import annotations

import datetime as dt
from typing import Any

from streams.sinks.clickhouse import ClickHouseStore
from streams.sinks.connection import QueryResult

__all__ = ["DEAD_LETTERS_QUERY", "drift_alarms", "drift_sql"]

DEAD_LETTERS_QUERY = "SELECT reason, source, detail FROM linewatch.dead_letters"
"""The query ``linewatch run`` prints for listing its dead letters with ``linewatch query``."""


def drift_sql(*, line: bool, since: bool, cause: bool = False) -> str:
    """The drift listing query; filters are placeholders, never values.

    >>> "{line:String}" in drift_sql(line=True, since=False)
    True
    """
    where = ["1"]
    if line:
        where.append("line_id = {line:String}")
    if since:
        where.append("detected_at >= {since:DateTime64(3, 'UTC')}")
    if cause:
        where.append("cause = {cause:String}")
    return (
        "SELECT detected_at, line_id, shift, lighting, signal, cause, detector, statistic, "
        "threshold, events_in_slice, before_mean, after_mean, evidence, trigger_event_id, "
        "drift_id "
        "FROM linewatch.drift_events FINAL "
        f"WHERE {' AND '.join(where)} "
        "ORDER BY detected_at DESC, drift_id LIMIT {limit:UInt32}"
    )


def drift_alarms(
    store: ClickHouseStore,
    *,
    limit: int,
    line: str | None = None,
    since: dt.datetime | None = None,
    cause: str | None = None,
) -> QueryResult:
    """Drift alarms, newest first, at most ``limit``; only ``line``/``cause`` and those at or
    after ``since`` when given. Every column of ``drift_events`` a reader needs, by name."""
    params: dict[str, Any] = {"limit": limit}
    if line is not None:
        params["line"] = line
    if since is not None:
        params["since"] = since
    if cause is not None:
        params["cause"] = cause
    sql = drift_sql(line=line is not None, since=since is not None, cause=cause is not None)
    return store.query(sql, params)
