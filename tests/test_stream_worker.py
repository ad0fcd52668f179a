"""StreamWorker without Kafka: write-behind, skip-on-replay, warm partitions, retries that never
duplicate, poison events bisected out, a partition's state handed over through its snapshot."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from schemas.records import DriftEventRecord, MonitorSnapshotRecord
from streams.config import Settings
from streams.drift.cause import CAMERA_SIGNALS
from streams.drift.product_mix import PRODUCT_MIX_SIGNAL
from streams.ingest import RawRecord
from streams.runners.stream_worker import KafkaRecord, StreamWorker
from streams.runners.write_behind import EventRows, PendingFlush
from streams.sinks import ClickHouseStore
from tests.belt_world import belt_records
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
        checkpoint={"flush_rows": 10, "flush_interval_s": 1.0},
    )
    base = StreamWorker.create(settings)
    w = StreamWorker(settings, base.pipeline, base.store, base.partitions, clock=lambda: now[0])
    try:
        lines = production_events[0].read_bytes().splitlines()[:12]
        assert not w.flush_due()
        w.process(_batch(lines[:4], partition=1, first_offset=0))
        assert not w.flush_due()
        now[0] = 1.0
        w.run_due()  # the 4 events waited for a full model batch; the Faust app's timer runs them
        assert w.flush_due()  # age, from their arrival
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
    worker.checkpoint.sleep = slept.append
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
    assert len(slept) == worker.settings.checkpoint.write_attempts - 1  # retried, then bisected


def test_retry_after_a_partial_write_looks_keys_up_again(worker: StreamWorker) -> None:
    store = worker.store
    store.command("RENAME TABLE linewatch.detections TO linewatch.detections_away")
    sleeps: list[float] = []

    def heal(seconds: float) -> None:  # the store comes back during the first back-off
        sleeps.append(seconds)
        store.command("RENAME TABLE linewatch.detections_away TO linewatch.detections")

    worker = StreamWorker(worker.settings, worker.pipeline, store, worker.partitions, sleep=heal)
    worker.partitions.mark_saved({0: -1})  # a warm partition: its flushes skip the key lookup
    # frames land, detections fail; the retry must not insert the frames a second time even
    # though the first attempt trusted the batch to be new
    rows = EventRows(None, [frame(1), frame(2), detection(1, 0)])
    result = worker.write_flush(PendingFlush([rows], {0: 0}))
    assert sleeps == [0.5]
    assert result.stats.written["frames"] == 2  # its own failed try's rows count as written
    assert (_count(store, "frames"), _count(store, "detections")) == (2, 1)


def _stored(store: ClickHouseStore, table: str, key: str) -> list[tuple[object, ...]]:
    rows = store.query(f"SELECT * FROM linewatch.{table} FINAL ORDER BY {key}").result_rows
    return [tuple(r) for r in rows]


def _run(worker: StreamWorker, records: list[KafkaRecord]) -> list[DriftEventRecord]:
    """Micro-batches of 16 events, a flush after every second one."""
    drift: list[DriftEventRecord] = []
    for k in range(0, len(records), 16):
        worker.process(records[k : k + 16])
        if k % 32 == 16 or k + 16 >= len(records):
            drift += worker.flush().drift_events
    return drift


SPLIT = 320
"""Inside the belt's fault episode (from event 240 on): after its first alarms."""

Rows = list[tuple[object, ...]]


@pytest.fixture(scope="module")
def belt_events() -> list[KafkaRecord]:
    records = belt_records(480, fault_at=240)
    return [KafkaRecord(raw, partition=3, offset=i) for i, raw in enumerate(records)]


@pytest.fixture(scope="module")
def uninterrupted(
    belt_events: list[KafkaRecord], tmp_path_factory: pytest.TempPathFactory
) -> tuple[list[DriftEventRecord], Rows, Rows]:
    """One worker on every event: its published drift events, stored drift events and gaps."""
    folder = tmp_path_factory.mktemp("uninterrupted")
    one = StreamWorker.create(Settings(store={"dsn": f"chdb://{folder / 'store'}"}))
    try:
        drift = _run(one, belt_events)
        assert _count(one.store, "frames") == len(belt_events)
        stored = _stored(one.store, "drift_events", "drift_id")
        return drift, stored, _stored(one.store, "reference_gap", "gap_id")
    finally:
        one.close()


@pytest.mark.parametrize("stop", ["revoked", "killed"])
def test_a_partition_continues_in_a_fresh_worker_as_if_it_never_stopped(
    stop: str,
    belt_events: list[KafkaRecord],
    uninterrupted: tuple[list[DriftEventRecord], Rows, Rows],
    tmp_path: Path,
) -> None:
    """``revoked``: the partition moves after a flush. ``killed``: the worker also processed
    events it never flushed (lost as in a SIGKILL); the next worker re-reads them."""
    straight, drift_rows, gaps = uninterrupted
    assert {d.signal for d in straight[-10:]} & CAMERA_SIGNALS
    assert any(d.signal == PRODUCT_MIX_SIGNAL for d in straight)
    settings = Settings(store={"dsn": f"chdb://{tmp_path / 'store'}"})
    first = StreamWorker.create(settings)
    try:
        handed = _run(first, belt_events[:SPLIT])
        if stop == "revoked":
            first.revoke({3})
        else:
            lost = first.process(belt_events[SPLIT : SPLIT + 32])  # pending, never written
            assert lost.frames and first.pending_rows
    finally:
        first.close()
    second = StreamWorker.create(settings)
    try:
        state = second.partitions.state(3)
        assert second.partitions.committed[3] == SPLIT - 1  # resumed from the snapshot
        assert state.camera_health.cameras == 4
        # redelivered from before the snapshot: what the first worker stored is skipped
        handed += _run(second, belt_events[SPLIT - 40 :])
        assert handed == straight
        assert _stored(second.store, "drift_events", "drift_id") == drift_rows
        assert _stored(second.store, "reference_gap", "gap_id") == gaps
        assert _count(second.store, "frames") == len(belt_events)
    finally:
        second.close()


def test_a_snapshot_of_another_format_starts_the_partition_cold_after_its_offset(
    worker: StreamWorker,
) -> None:
    old = MonitorSnapshotRecord(
        group_id=worker.partitions.group_id,
        topic=worker.partitions.topic,
        partition=5,
        offset=41,
        snapshot="eyJ2ZXJzaW9uIjogMX0=",  # base64 of a version-1 snapshot, as rows before 2 were
        saved_at=datetime.now(UTC),
    )
    worker.store.insert([old])
    state = worker.partitions.state(5)
    assert state.monitor.slice_count == 0 and state.camera_health.cameras == 0
    assert worker.partitions.already_stored(5, 41) and not worker.partitions.already_stored(5, 42)
