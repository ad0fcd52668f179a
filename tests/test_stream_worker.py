"""StreamWorker without Kafka: skip-on-replay, warm partitions, retries that never duplicate."""

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
    w = StreamWorker.create(Settings(store=store_dsn))
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


def test_partition_turns_warm_after_its_first_snapshot_and_replays_are_skipped(
    worker: StreamWorker, production_events: tuple[Path, Path]
) -> None:
    lines = production_events[0].read_bytes().splitlines()[:16]
    first = _batch(lines[:8], partition=0, first_offset=0)
    assert not worker.partitions.is_warm(0)
    out, offsets = worker.handle_events(first)
    assert offsets == {0: 7} and len(out.frames) == 8
    worker.save_state(offsets)
    assert worker.partitions.is_warm(0)
    # a redelivery of the stored batch (offset not committed yet) is skipped entirely
    again, _ = worker.handle_events(first)
    assert again.frames == []
    _, offsets2 = worker.handle_events(_batch(lines[8:], partition=0, first_offset=8))
    worker.save_state(offsets2)
    assert _count(worker.store, "frames") == 16
    assert worker.partitions.committed[0] == 15
    worker.revoke({0})
    assert not worker.partitions.is_warm(0)


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
