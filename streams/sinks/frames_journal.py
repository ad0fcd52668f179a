"""The frames insert in flight of an embedded store, so a crash cannot leave keyless frames unseen.

``event_keys`` (what the writer's duplicate check reads) is filled by a materialized view on
``frames``, as a second part after the frames part: a process killed between the two, or an
insert that fails between them, leaves frames whose key rows never landed. A ClickHouse server
store finds them at every write: :func:`~streams.sinks.lookups.stored_frames` reads ``frames``
by sort key too (several processes may write to a server). An embedded (chDB) store has one
writer at a time (``linewatch.lock``), which records each frames insert before it starts, in
``<store>/linewatch.frames-journal``: the keys ``(line_id, captured_at, event_id)`` of the
frames it sends, cleared once the insert returned. A journal found holding keys (left by a
killed process, or by a failed insert of this one) is settled before the next lookup: the key
rows of those frames that are stored but keyless are inserted into ``event_keys``. Past that,
``event_keys`` holds every stored frame, and the lookup reads it alone: a write of 72 frames
took 26.6 CPU ms instead of 30.7, its lookup 4.4 instead of 8.8 (medians of 4 rounds,
``bench/bench_flush_statements.py --model bench/.cache/yolo-class-320.onnx``, shared 2-core
machine at load ~13, 2026-12-07).

A store is journaled from birth: the file is created by the first write to a store whose
``frames`` table is empty. A store that holds frames written before journals existed (no file)
keeps the lookup in both places; so does a store whose journal was deleted. Recording costs a
file write and a truncation per write (no fsync: chDB does not sync its parts either, so a
killed process leaves both on disk, and a power loss can lose both).

>>> import tempfile
>>> from streams.sinks import ClickHouseStore
>>> tmp = tempfile.mkdtemp()
>>> with ClickHouseStore.open(f"chdb://{tmp}/store") as store:
...     _ = store.apply_schema()
...     journal = journal_of(store)
...     (journal is not None, journal.pending)
(True, False)
"""

from __future__ import annotations

import json
import os
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from schemas.records import FrameRecord
from streams.errors import StoreError, StoreWriteError
from streams.sinks.connection import Connection
from streams.sinks.dsn import DATABASE

__all__ = ["JOURNAL_FILE", "FramesJournal", "journal_of"]

JOURNAL_FILE = "linewatch.frames-journal"

_KEYS = "{keys:Array(Tuple(String, DateTime64(3, 'UTC'), String))}"

_SETTLE = f"""
INSERT INTO {DATABASE}.event_keys (event_id, content_hash, line_id, captured_at, source)
SELECT event_id, content_hash, line_id, captured_at, source FROM {DATABASE}.frames
WHERE (line_id, captured_at, event_id) IN {_KEYS}
  AND event_id NOT IN (
    SELECT event_id FROM {DATABASE}.event_keys WHERE event_id IN {{ids:Array(String)}})
LIMIT 1 BY event_id
"""
"""The key rows of the journal's frames that are stored but have none (bound parameters)."""


class FramesJournal:
    """The journal file of one embedded store (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.pending = path.stat().st_size > 0
        """Whether the file holds the keys of an insert that did not return."""

    def settle(self, conn: Connection) -> int:
        """Give the journal's stored frames their missing key rows, then clear it; return how
        many keys it held (0: nothing was pending)."""
        if not self.pending:
            return 0
        keys = _read_keys(self.path)
        if keys:
            conn.command(_SETTLE, {"keys": keys, "ids": [k[2] for k in keys]})
        self._clear()
        return len(keys)

    @contextmanager
    def recording(self, frames: Sequence[FrameRecord]) -> Iterator[None]:
        """Hold the keys of ``frames`` in the journal while their insert runs; cleared when it
        returns, kept (pending) when it raises."""
        if not frames:
            yield
            return
        keys = [[f.line_id, f.captured_at.isoformat(), f.event_id] for f in frames]
        _write(self.path, json.dumps(keys).encode())
        self.pending = True
        yield
        self._clear()

    def _clear(self) -> None:
        _write(self.path, b"")
        self.pending = False


def _write(path: Path, data: bytes) -> None:
    """Replace the journal's bytes; a file that cannot be written fails the write, which the
    runners retry after a back-off like any failed insert (the rows stay pending)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
    except OSError as exc:
        raise StoreWriteError(
            f"cannot write the frames journal {path}: {exc}; "
            "free disk space or make the store directory writable"
        ) from exc


def _read_keys(path: Path) -> list[tuple[str, datetime, str]]:
    """The keys the journal holds. A file cut short was being written when the process died,
    before its insert started: nothing to settle."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise StoreWriteError(f"cannot read the frames journal {path}: {exc}") from exc
    try:
        rows = json.loads(data)
        return [(str(line), datetime.fromisoformat(at), str(event)) for line, at, event in rows]
    except (ValueError, TypeError):
        return []


_journals: weakref.WeakKeyDictionary[Connection, FramesJournal | None] = weakref.WeakKeyDictionary()


def journal_of(conn: Connection) -> FramesJournal | None:
    """The journal of ``conn``'s embedded store, or None (a server, or an embedded store that
    holds frames but no journal: written before journals existed). Call under the
    connection's lock (a write); the answer is kept for the connection's life."""
    if conn in _journals:
        return _journals[conn]
    journal: FramesJournal | None = None
    if conn.path is not None:
        path = conn.path / JOURNAL_FILE
        if not path.exists() and not _has_frames(conn):
            _write(path, b"")
        if path.exists():
            journal = FramesJournal(path)
    _journals[conn] = journal
    return journal


def _has_frames(conn: Connection) -> bool:
    """Whether the store's ``frames`` table holds any row (counted from part metadata)."""
    try:
        rows = conn.query(f"SELECT count() FROM {DATABASE}.frames", names=False).result_rows
    except StoreError:
        return True  # no frames table yet (a write before the schema): stay on both lookups
    return bool(rows and rows[0][0])
