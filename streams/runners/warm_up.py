"""Load a worker store's insert path before the first event, not in its first write.

The driver's lazy import alone took 0.5-2 s under load, and every event of the first seconds
queued behind that write (docs/streaming.md, "The first write").
"""

from __future__ import annotations

import logging

from schemas.records import DeadLetterRecord, DetectionRecord, FrameRecord, MonitorSnapshotRecord
from streams.errors import StoreError
from streams.sinks import ClickHouseStore

__all__ = ["WRITTEN", "warm_inserts"]

log = logging.getLogger(__name__)

WRITTEN = (FrameRecord, DetectionRecord, MonitorSnapshotRecord, DeadLetterRecord)
"""The records of a worker's writes: the tables whose insert path is read ahead."""


def warm_inserts(store: ClickHouseStore) -> None:
    """:meth:`ClickHouseStore.warm_inserts` for :data:`WRITTEN`; a store that cannot answer is
    left for the first write, which meets the error again and says what to do."""
    try:
        store.warm_inserts([t.__table__ for t in WRITTEN])
    except StoreError as exc:
        log.debug("store insert path not loaded ahead: %s", exc)
