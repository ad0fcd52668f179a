"""A take cut into pieces: the StreamWorker stops a take between model batches once its
oldest rows are due (``until``), their rows are cut and written while the rest waits, and
nothing of the rest is acknowledged until it is processed and written. Real chDB stores in
tmp dirs; the worker's calls as plain functions."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from schemas.records import FrameRecord
from streams.config import Settings
from streams.runners.stream_worker import KafkaRecord, StreamWorker
from tests.belt_world import belt_records

TIMINGS = {"decode_ms", "inference_ms", "monitor_ms", "latency_ms", "ingested_at"}
"""Frame columns that measure the run itself (they differ between any two runs)."""


def _worker(tmp_path: Path, app_id: str) -> StreamWorker:
    settings = Settings(
        store={"dsn": f"chdb://{tmp_path / 'store'}"},
        worker={"app_id": app_id},
        inference={"batch_frames": 4, "max_batch_wait_ms": 100.0},
    )
    w = StreamWorker.create(settings)
    w.sizer.budget_s = 0.0  # batch sizes from the settings alone, not from this machine's speed
    return w


@pytest.fixture(scope="module")
def take() -> list[KafkaRecord]:
    """One take of 12 events of 4 cameras, one camera per partition, interleaved."""
    records = belt_records(12, fault_at=10_000)
    return [KafkaRecord(raw, partition=i % 4, offset=i // 4) for i, raw in enumerate(records)]


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[StreamWorker]:
    w = _worker(tmp_path, "pieces")
    yield w
    w.close()


def _stored(w: StreamWorker) -> int:
    return int(w.store.query("SELECT count() FROM frames FINAL").result_rows[0][0])


def _frames(out: list[FrameRecord]) -> list[dict[str, object]]:
    return [f.model_dump(exclude=TIMINGS) for f in out]


def test_a_take_stops_after_the_batch_whose_rows_came_due(
    worker: StreamWorker, take: list[KafkaRecord]
) -> None:
    asked: list[int] = []

    def due() -> bool:
        asked.append(len(worker.runs))
        return True

    out = worker.process(take, due)
    assert len(out.frames) == 4 and list(worker.runs) == [4]
    assert asked == [1]  # asked after the first batch, not after the last one
    assert worker.pieces_left == 2
    rest = {(r.partition, r.offset) for r in take[4:]}
    assert worker.held_events() == rest  # not processed: not to be acknowledged yet


def test_the_oldest_rows_are_written_and_acknowledged_alone_then_the_rest(
    worker: StreamWorker, take: list[KafkaRecord]
) -> None:
    worker.process(take, lambda: True)
    worker.track(((r.partition, r.offset), r.offset * 10 + r.partition) for r in take)
    cut = worker.cut(snapshot=True)
    # each partition's snapshot is at its highest offset processed: offset 0 of the first
    # piece, so a commit never passes an unwritten row
    assert {s.partition: s.offset for s in cut.snapshots} == dict.fromkeys(range(4), 0)
    first = worker.write_flush(cut)
    # the first piece's rows are stored and only its events acknowledged
    assert first.events == 4 and _stored(worker) == 4
    assert sorted(first.acks) == sorted(r.offset * 10 + r.partition for r in take[:4])
    # the rest goes on one batch at a time while each says it is due, then to the end
    assert len(worker.resume(lambda: True).frames) == 4 and worker.pieces_left == 1
    assert len(worker.resume().frames) == 4 and worker.pieces_left == 0
    rest = worker.write_flush(worker.cut(snapshot=True))
    assert rest.events == 8 and _stored(worker) == 12
    assert sorted(rest.acks) == sorted(r.offset * 10 + r.partition for r in take[4:])


def test_pieces_give_the_rows_and_states_of_a_whole_take(
    worker: StreamWorker, take: list[KafkaRecord], tmp_path: Path
) -> None:
    frames = worker.process(take, lambda: True).frames
    worker.write_flush(worker.cut())
    frames += worker.resume(lambda: True).frames
    assert worker.pieces_left == 1
    worker.flush()  # runs the rest first: a flush covers every event taken
    assert worker.pieces_left == 0 and _stored(worker) == 12
    whole = _worker(tmp_path, "whole")
    try:
        alone = whole.process(take).frames
        assert list(whole.runs) == [4, 4, 4] and list(worker.runs) == [4, 4, 4]
        assert _frames(frames) == _frames(alone[:8])
        mine = worker.partitions.snapshots(dict.fromkeys(range(4), 2))
        same = whole.partitions.snapshots(dict.fromkeys(range(4), 2))
        assert [s.model_dump(exclude={"saved_at", "group_id"}) for s in mine] == [
            s.model_dump(exclude={"saved_at", "group_id"}) for s in same
        ]
    finally:
        whole.close()


def test_a_restored_state_is_read_while_a_write_holds_the_store(
    worker: StreamWorker, take: list[KafkaRecord]
) -> None:
    worker.process(take[:4])  # partitions 0-3 restored (none stored): their states loaded
    seen: list[object] = []

    def process_during_a_write() -> None:
        seen.extend([worker.checkpoint.state(0), worker.checkpoint.already_stored(1, 5)])

    with worker.checkpoint.store_lock:  # a write in flight holds it
        reader = threading.Thread(target=process_during_a_write, daemon=True)
        reader.start()
        reader.join(timeout=30)
        waited = reader.is_alive()
    reader.join()
    assert not waited, "processing waited for the write's store lock"
    assert seen == [worker.partitions.states[0], False]
