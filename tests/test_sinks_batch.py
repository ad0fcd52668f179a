"""BatchWriter over a real chDB store: size and time triggers, no row lost on failure."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.errors import StoreError, StoreUnavailable, StoreWriteError
from streams.sinks.batch import BatchWriter
from streams.sinks.clickhouse import ClickHouseStore
from tests.test_store_samples import dead_letter, detection, frame


class FakeClock:
    """A settable monotonic clock."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ClickHouseStore]:
    with ClickHouseStore.open(f"chdb://{tmp_path / 'store'}") as s:
        s.apply_schema()
        yield s


def count(store: ClickHouseStore, table: str) -> int:
    return int(store.query(f"SELECT count() FROM linewatch.{table}").result_rows[0][0])


def test_size_trigger(store: ClickHouseStore) -> None:
    clock = FakeClock()
    writer = BatchWriter(store, batch_size=4, flush_interval_s=60.0, clock=clock)
    writer.add_many([frame(1), detection(1, 0), detection(1, 1)])
    assert (writer.due(), writer.maybe_flush(), writer.pending) == (False, 0, 3)
    assert count(store, "frames") == 0
    writer.add(frame(2))
    assert writer.maybe_flush() == 4
    assert writer.pending == 0
    assert (count(store, "frames"), count(store, "detections")) == (2, 2)
    assert writer.maybe_flush() == 0


def test_time_trigger_counts_from_the_oldest_pending_row(store: ClickHouseStore) -> None:
    clock = FakeClock()
    writer = BatchWriter(store, batch_size=1000, flush_interval_s=2.0, clock=clock)
    assert writer.maybe_flush() == 0  # nothing pending: never due
    clock.now += 10
    assert not writer.due()
    writer.add(frame(1))
    clock.now += 1.5
    writer.add(frame(2))  # a newer row does not restart the timer
    assert writer.maybe_flush() == 0
    clock.now += 0.5
    assert writer.maybe_flush() == 2  # quiet stream: written 2 s after the first row
    writer.add(frame(3))
    clock.now += 1.9
    assert writer.maybe_flush() == 0
    clock.now += 0.1
    assert writer.maybe_flush() == 1
    assert count(store, "frames") == 3
    assert writer.rows_written == 3


def test_failed_flush_keeps_rows_and_retry_writes_them_once(store: ClickHouseStore) -> None:
    writer = BatchWriter(store, batch_size=10, flush_interval_s=1.0, clock=FakeClock())
    writer.add_many([dead_letter(1), frame(1), detection(1, 0)])
    store.command("RENAME TABLE linewatch.detections TO linewatch.detections_away")
    with pytest.raises(StoreError, match="3 rows stay pending") as err:
        writer.flush()
    assert isinstance(err.value, StoreWriteError)
    assert writer.pending == 3
    # frames are written first, then detections, then the other tables: the frame made it
    assert (count(store, "dead_letters"), count(store, "frames")) == (0, 1)
    store.command("RENAME TABLE linewatch.detections_away TO linewatch.detections")
    writer.add(frame(2))
    # frame 2, the detection and the dead letter; and frame 1, which the failed attempt wrote:
    # found stored now, it is counted as written by this writer, once
    assert writer.flush() == 4
    assert (writer.stats.written["frames"], writer.stats.skipped["frames"]) == (2, 0)
    assert writer.pending == 0
    assert (count(store, "dead_letters"), count(store, "frames"), count(store, "detections")) == (
        1,
        2,
        1,
    )


def test_unavailable_store_keeps_rows_pending(tmp_path: Path) -> None:
    store = ClickHouseStore.open(f"chdb://{tmp_path / 'store'}")
    store.apply_schema()
    writer = BatchWriter(store, batch_size=1, flush_interval_s=1.0, clock=FakeClock())
    writer.add(dead_letter(7))
    store.close()
    with pytest.raises(StoreUnavailable, match="1 rows stay pending"):
        writer.maybe_flush()
    assert writer.pending == 1
    with ClickHouseStore.open(f"chdb://{tmp_path / 'store'}") as reopened:
        writer.store = reopened
        assert writer.flush() == 1
        assert count(reopened, "dead_letters") == 1


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        BatchWriter(store=None, batch_size=0, flush_interval_s=1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="flush_interval_s"):
        BatchWriter(store=None, batch_size=1, flush_interval_s=0.0)  # type: ignore[arg-type]
