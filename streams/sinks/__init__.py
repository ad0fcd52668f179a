"""Writing to and reading from the ClickHouse store (embedded chDB or a server).

- :class:`ClickHouseStore` — open/close, migrations (``apply_schema``), idempotent ``insert``,
  ``query`` with server-side parameters.
- :class:`BatchWriter` — size/time-triggered batching that never drops rows on failure.
- :func:`retry`, :func:`backoff_delays` — exponential back-off with a cap, for a caller that
  retries a store call (:class:`BatchWriter` itself does not retry: it keeps the rows).
"""

from __future__ import annotations

from streams.sinks.batch import BatchWriter, RecordSink
from streams.sinks.clickhouse import ClickHouseStore, QueryResult
from streams.sinks.retry import backoff_delays, retry

__all__ = ["BatchWriter", "ClickHouseStore", "QueryResult", "RecordSink", "backoff_delays", "retry"]
