"""``BatchWriter``: buffers store rows and writes them in batches, by size or by age.

>>> import tempfile
>>> from streams.sinks.clickhouse import ClickHouseStore
>>> from schemas.records import DeadLetterRecord
>>> import datetime as dt
>>> now = [0.0]
>>> with ClickHouseStore.open(f"chdb://{tempfile.mkdtemp()}/s") as store:
...     _ = store.apply_schema()
...     writer = BatchWriter(store, batch_size=100, flush_interval_s=2.0, clock=lambda: now[0])
...     writer.add(DeadLetterRecord.build(reason="bad_json", detail="", payload=b"{",
...         source="t", received_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC)))
...     (writer.maybe_flush(), writer.pending)
...     now[0] = 2.5
...     (writer.maybe_flush(), writer.pending)
(0, 1)
(1, 0)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol, runtime_checkable

from schemas.records import StoreRecord
from streams.errors import StoreError, StoreUnavailable, StoreWriteError
from streams.sinks.writer import WriteResult

__all__ = ["BatchWriter", "RecordSink", "ReportingSink"]

log = logging.getLogger(__name__)


class RecordSink(Protocol):
    """What the writer needs of a store (``ClickHouseStore`` is one)."""

    def insert(self, records: Sequence[StoreRecord]) -> int:
        """Write records idempotently; return the rows written."""
        ...


@runtime_checkable
class ReportingSink(Protocol):
    """A sink that also says what it skipped and which events conflicted."""

    def write(self, records: Sequence[StoreRecord]) -> WriteResult:
        """Write records idempotently; say what happened per table."""
        ...


class BatchWriter:
    """Collects records and writes them with ``store.insert`` when a trigger fires.

    Triggers (checked by :meth:`maybe_flush`, which the caller runs after adding rows and on
    idle ticks): ``batch_size`` rows pending, or ``flush_interval_s`` elapsed since the oldest
    pending row was added — so a quiet stream still gets written. ``add`` never writes.

    A failed flush keeps every pending row (dead letters and frames are never dropped) and
    raises a :class:`StoreError` (:class:`StoreUnavailable` when the store cannot be reached):
    back off (see :func:`streams.sinks.retry.retry`) and flush again; writes are idempotent,
    so rows that did reach the store before the failure are not duplicated.
    """

    def __init__(
        self,
        store: RecordSink,
        batch_size: int,
        flush_interval_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if batch_size < 1 or flush_interval_s <= 0:
            raise ValueError("batch_size must be >= 1 and flush_interval_s > 0")
        self.store = store
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self._clock = clock
        self._pending: list[StoreRecord] = []
        self._oldest_at: float | None = None
        self.rows_written = 0
        self._in_doubt: set[tuple[str, tuple[object, ...]]] = set()
        self.stats = WriteResult()
        """Rows really written and skipped per table, and conflicts, over all flushes (filled
        in full when the store is a :class:`ReportingSink`, as ``ClickHouseStore`` is)."""

    @property
    def pending(self) -> int:
        """Rows not yet written."""
        return len(self._pending)

    def add(self, record: StoreRecord) -> None:
        """Queue one record."""
        if self._oldest_at is None:
            self._oldest_at = self._clock()
        self._pending.append(record)

    def add_many(self, records: Iterable[StoreRecord]) -> None:
        """Queue several records."""
        for record in records:
            self.add(record)

    def due(self) -> bool:
        """Whether a trigger has fired (size reached, or oldest pending row old enough)."""
        if not self._pending:
            return False
        if len(self._pending) >= self.batch_size:
            return True
        assert self._oldest_at is not None
        return self._clock() - self._oldest_at >= self.flush_interval_s

    def maybe_flush(self) -> int:
        """Flush if due; return the rows written (0 if not due)."""
        return self.flush() if self.due() else 0

    def flush(self) -> int:
        """Write every pending row now; return the rows written (after idempotent skips)."""
        if not self._pending:
            return 0
        batch = list(self._pending)
        then = f"{len(batch)} rows stay pending; back off, then flush() again"
        written = self._write(batch, then)
        del self._pending[: len(batch)]
        self._oldest_at = self._clock() if self._pending else None
        return written

    def write_now(self, records: Sequence[StoreRecord]) -> int:
        """Write ``records`` at once, apart from the pending rows; return the rows written.

        Counted in :attr:`stats` like a flush. On failure nothing is kept: the caller retries
        the same records, or splits them to find the ones the store refuses
        (:func:`streams.runners.write_behind.bisect_write`).
        """
        if not records:
            return 0
        return self._write(list(records), "nothing was kept; write them again, or split them")

    def _write(self, batch: list[StoreRecord], then: str) -> int:
        try:
            if isinstance(self.store, ReportingSink):
                result = self.store.write(batch)
            else:
                result = WriteResult()
                result.written["*"] = self.store.insert(batch)
        except StoreError as exc:
            # part of the batch may have landed (a server that stored an insert and died before
            # answering): rows the retry then finds stored were written by this writer
            self._in_doubt |= {(r.__table__, r.key()) for r in batch}
            log.warning("write of %d rows failed: %s", len(batch), exc)
            if not isinstance(exc, StoreUnavailable):
                raise StoreWriteError(f"{exc} ({then})") from exc
            raise StoreUnavailable(f"{exc} ({then})") from exc
        if self._in_doubt:
            for table, _key in result.found_stored & self._in_doubt:
                result.written[table] += 1
                result.skipped[table] -= 1
            self._in_doubt -= {(r.__table__, r.key()) for r in batch}
        self.stats.add(result)
        self.rows_written += result.rows
        return result.rows
