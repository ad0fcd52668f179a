"""Writing to and reading from the ClickHouse store (embedded chDB or a server).

- :class:`ClickHouseStore` — open/close, migrations (``apply_schema``), idempotent ``insert`` /
  ``write`` (a :class:`WriteResult`), retention,
  ``query`` with server-side parameters.
- :mod:`streams.sinks.reads` — the typed query functions, one module per reader (demo, drift
  listing, reference gaps, metrics, reconcile, label drift, report): the SQL of every reader
  lives there.
- :func:`retry`, :func:`backoff_delays` — exponential back-off with a cap, for a caller that
  retries a store call (the runners' write-behind,
  :class:`~streams.runners.checkpoint.Checkpoint`).
"""

from __future__ import annotations

from streams.sinks.clickhouse import ClickHouseStore, QueryResult, WriteResult
from streams.sinks.retry import backoff_delays, retry

__all__ = [
    "ClickHouseStore",
    "QueryResult",
    "WriteResult",
    "backoff_delays",
    "retry",
]
