"""Writing to and reading from the ClickHouse store (embedded chDB or a server).

- :class:`ClickHouseStore` — one object over the store's modules: :mod:`~streams.sinks.connection`
  (open/close, ``query`` with server-side parameters, ``command``),
  :mod:`~streams.sinks.migrations` (``apply_schema``), :mod:`~streams.sinks.writer` (idempotent
  ``insert`` / ``write``, a :class:`WriteResult`; key lookups in :mod:`~streams.sinks.lookups`),
  :mod:`~streams.sinks.admin` (retention).
- :mod:`streams.sinks.reads` — the typed query functions, one module per reader (demo, drift
  listing, reference gaps, metrics, reconcile, label drift, report): the SQL of every reader
  lives there.
- :func:`retry`, :func:`backoff_delays` — exponential back-off with a cap, for a caller that
  retries a store call (the runners' write-behind,
  :class:`~streams.runners.checkpoint.Checkpoint`).
"""

from __future__ import annotations

from streams.sinks.clickhouse import ClickHouseStore
from streams.sinks.connection import QueryResult
from streams.sinks.retry import backoff_delays, retry
from streams.sinks.writer import WriteResult

__all__ = [
    "ClickHouseStore",
    "QueryResult",
    "WriteResult",
    "backoff_delays",
    "retry",
]
