"""StreamWorker without Kafka: write-behind, skip-on-replay, warm partitions, retries that never
duplicate, poison events bisected out."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from streams.config import Settings
from streams.ingest import RawRecord
from streams.runners.stream_worker import KafkaRecord, StreamWorker
from streams.sinks import ClickHouseStore
from tests.test_store_samples import detection, frame


@pytest.fixture
def worker(store_dsn: str) -> Iterator[StreamWorker]:
    w = StreamWorker.create(Settings(store={"dsn": store_dsn}))
    yield w
    w.close()


def _count(store: ClickHouseStore, table: str) -> int:
    return int(store.query(f"SELECT count() FROM linewatch.{table}").result_rows[0][0])


def _batch(lines: list[bytes], partition: int, first_offset: int) -> list[KafkaRecord]:
    now = datetime.now(UTC)
    return [
        KafkaRecord(RawRecord(p, f"kafka:t:{partition}:{o}", now), partition, o)
        for o, p in enumerate(lines, start=first_offset)
    ]


def test_partition_turns_warm_after_its_first_flush_and_replays_are_skipped(
    worker: StreamWorker, production_events: tuple[Path, Path]
) -> None:
    lines = production_events[0].read_bytes().splitlines()[:16]
    first = _batch(lines[:8], partition=0, first_offset=0)
    assert not worker.partitions.is_warm(0)
    out = worker.process(first)
    assert len(out.frames) == 8 and worker.pending_rows >= 8
    assert _count(worker.store, "frames") == 0  # write-behind: nothing written yet
    result = worker.flush()
    assert (result.events, result.frames) == (8, 8)
    assert worker.pending_rows == worker.pending_events == 0
    assert worker.partitions.is_warm(0)
    assert worker.partitions.committed[0] == 7
    # a redelivery of the stored events (offsets not committed yet) is skipped entirely
    again = worker.process(first)
    assert again.frames == [] and worker.pending_rows == 0 and worker.pending_events == 8
    assert worker.flush().frames == 0
    worker.process(_batch(lines[8:12], partition=0, first_offset=8))
    worker.process(_batch(lines[12:], partition=0, first_offset=12))
    assert worker.flush().frames == 8
    assert _count(worker.store, "frames") == 16
    assert _count(worker.store, "monitor_snapshots") == 2  # one per flush, not per micro-batch
    # the table keeps the latest snapshot per partition: merges replace the older one
    worker.store.command("OPTIMIZE TABLE linewatch.monitor_snapshots FINAL")
    assert _count(worker.store, "monitor_snapshots") == 1
    assert worker.partitions.committed[0] == 15
    worker.revoke({0})
    assert not worker.partitions.is_warm(0)


def test_flush_is_due_by_rows_or_by_age(
    tmp_path: Path, production_events: tuple[Path, Path]
) -> None:
    now = [0.0]
    settings = Settings(
        store={"dsn": f"chdb://{tmp_path / 'due'}"},
        worker={"flush_rows": 10, "flush_interval_s": 1.0},
    )
    base = StreamWorker.create(settings)
    w = StreamWorker(settings, base.pipeline, base.store, base.partitions, clock=lambda: now[0])
    try:
        lines = production_events[0].read_bytes().splitlines()[:12]
        assert not w.flush_due()
        w.process(_batch(lines[:4], partition=1, first_offset=0))
        assert not w.flush_due()
        now[0] = 1.0
        assert w.flush_due()  # age
        w.flush()
        w.process(_batch(lines[4:], partition=1, first_offset=4))
        assert w.pending_rows >= 8
        w.process(_batch(lines[:0], partition=1, first_offset=12))
        assert w.flush_due() == (w.pending_rows >= 10)
    finally:
        w.close()


def test_poison_event_is_bisected_out_and_dead_lettered_with_the_store_message(
    worker: StreamWorker, production_events: tuple[Path, Path]
) -> None:
    lines = production_events[0].read_bytes().splitlines()[:20]
    poison = 13
    import json

    poison_id = json.loads(lines[poison])["event_id"]
    worker.store.command(
        f"ALTER TABLE linewatch.frames ADD CONSTRAINT no_poison CHECK event_id != '{poison_id}'"
    )
    slept: list[float] = []
    worker._sleep = slept.append
    worker.process(_batch(lines[:10], partition=2, first_offset=0))
    worker.process(_batch(lines[10:], partition=2, first_offset=10))
    result = worker.flush()
    assert result.frames == 19
    assert [d.reason for d in result.dead_letters] == ["store_rejected"]
    letter = result.dead_letters[0]
    assert letter.source == "kafka:t:2:13" and "no_poison" in letter.detail
    assert letter.payload.encode() == lines[poison]
    assert _count(worker.store, "frames") == 19
    rows = worker.store.query("SELECT reason, source FROM linewatch.dead_letters").result_rows
    assert rows == [("store_rejected", "kafka:t:2:13")]
    assert worker.partitions.committed[2] == 19  # the partition moves on
    assert len(slept) == worker.settings.worker.write_attempts - 1  # retried, then bisected


def test_retry_after_a_partial_write_looks_keys_up_again(worker: StreamWorker) -> None:
    store = worker.store
    store.command("RENAME TABLE linewatch.detections TO linewatch.detections_away")
    sleeps: list[float] = []

    def heal(seconds: float) -> None:  # the store comes back during the first back-off
        sleeps.append(seconds)
        store.command("RENAME TABLE linewatch.detections_away TO linewatch.detections")

    worker = StreamWorker(worker.settings, worker.pipeline, store, worker.partitions, sleep=heal)
    # frames land, detections fail; the retry must not insert the frames a second time even
    # though the first attempt trusted the batch to be new
    worker.write([frame(1), frame(2), detection(1, 0)], known_new=True)
    assert sleeps == [0.5]
    assert (_count(store, "frames"), _count(store, "detections")) == (2, 1)
