"""``ClickHouseStore``: linewatch's one door to ClickHouse (embedded chDB or a server).

A :class:`~streams.sinks.connection.Connection` (open, close, ``query``, ``command``) that also
applies the schema (:mod:`streams.sinks.migrations`), writes records idempotently
(:mod:`streams.sinks.writer`, which looks keys up with :mod:`streams.sinks.lookups`) and sets
retention (:mod:`streams.sinks.admin`); each method is a one-line call into those modules,
whose notes say how they work.

>>> import tempfile, datetime as dt
>>> from schemas.records import DriftEventRecord
>>> tmp = tempfile.mkdtemp()
>>> with ClickHouseStore.open(f"chdb://{tmp}/store") as store:
...     applied = store.apply_schema()
...     rec = DriftEventRecord(drift_id="d1", line_id="line-1", shift="day", lighting="dim",
...         signal="brightness", detector="page_hinkley",
...         detected_at=dt.datetime(2024, 5, 1, 6, 30, tzinfo=dt.UTC), trigger_event_id="e1",
...         statistic=9.0, threshold=5.0, events_in_slice=120, before_mean=0.5, before_std=0.1,
...         after_mean=0.3, after_std=0.1)
...     (store.insert([rec]), store.insert([rec]))
...     store.query("SELECT count() FROM drift_events").result_rows
(1, 0)
[(1,)]
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from schemas.records import StoreRecord
from streams.sinks import admin, migrations, writer
from streams.sinks.connection import Connection
from streams.sinks.writer import WriteResult

__all__ = ["ClickHouseStore"]


class ClickHouseStore(Connection):
    """The linewatch database: a connection with its schema, writes and retention."""

    # --- schema (streams.sinks.migrations) -------------------------------------------------

    def applied_migrations(self) -> dict[str, str]:
        """Applied DDL files and their checksums (empty before the first ``apply_schema``)."""
        return migrations.applied_migrations(self)

    def apply_schema(self, directory: Path | None = None) -> list[str]:
        """Apply pending DDL files in name order; return the names newly applied."""
        return migrations.apply_schema(self, directory)

    # --- writes (streams.sinks.writer) ------------------------------------------------------

    def write(self, records: Sequence[StoreRecord], *, known_new: bool = False) -> WriteResult:
        """Write records idempotently; say per table what was written and skipped
        (:func:`streams.sinks.writer.write`)."""
        return writer.write(self, records, known_new=known_new)

    def insert(self, records: Sequence[StoreRecord], *, known_new: bool = False) -> int:
        """:meth:`write`, returning the rows actually written."""
        return writer.write(self, records, known_new=known_new).rows

    def insert_new_rows(self, model: type[StoreRecord], rows: Sequence[Sequence[object]]) -> int:
        """Write plain rows whose keys are not stored yet
        (:func:`streams.sinks.writer.insert_new_rows`); return the rows written."""
        return writer.insert_new_rows(self, model, rows)

    # --- retention (streams.sinks.admin) ----------------------------------------------------

    def set_retention(self, table: str, seconds: int | None) -> None:
        """Keep ``table``'s rows ``seconds`` after their time column (``None``/0: forever)."""
        admin.set_retention(self, table, seconds)

    def retention(self) -> dict[str, str]:
        """The TTL expression of each table that has one."""
        return admin.retention(self)
