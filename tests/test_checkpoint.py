"""The Checkpoint's snapshot cadence: a snapshot every K flushes (and when asked, or when
acknowledgements waited K flush intervals); events are acknowledged only with a snapshot at or
past them; a worker killed between snapshots replays from the newest one without duplicating a
row."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from streams.config import Settings
from streams.ingest import RawRecord
from streams.runners.stream_worker import KafkaRecord, StreamWorker
from streams.sinks import ClickHouseStore


def _count(store: ClickHouseStore, table: str) -> int:
    return int(store.query(f"SELECT count() FROM linewatch.{table}").result_rows[0][0])


def _batch(lines: list[bytes], first_offset: int) -> list[KafkaRecord]:
    now = datetime.now(UTC)
    return [
        KafkaRecord(RawRecord(p, f"kafka:t:0:{o}", now), 0, o)
        for o, p in enumerate(lines, start=first_offset)
    ]


def _settings(tmp_path: Path, **checkpoint: float) -> Settings:
    return Settings(store={"dsn": f"chdb://{tmp_path / 'store'}"}, checkpoint=checkpoint)


def _stopped_clock(settings: Settings) -> StreamWorker:
    """A worker whose clock stands still: no flush or snapshot comes due by age."""
    base = StreamWorker.create(settings)
    return StreamWorker(settings, base.pipeline, base.store, base.partitions, clock=lambda: 0.0)


def _take(w: StreamWorker, batch: list[KafkaRecord]) -> None:
    w.process(batch)
    w.drain()
    w.track(((r.partition, r.offset), r.offset) for r in batch)


def test_snapshots_every_k_flushes_and_acknowledges_with_them(
    tmp_path: Path, production_events: tuple[Path, Path]
) -> None:
    lines = production_events[0].read_bytes().splitlines()[:24]
    w = _stopped_clock(_settings(tmp_path, snapshot_every_flushes=3))
    try:
        results = []
        for k in range(4):
            _take(w, _batch(lines[6 * k : 6 * k + 6], 6 * k))
            results.append(w.write_flush(w.cut()))
        assert [r.frames for r in results] == [6, 6, 6, 6]  # every flush writes its rows
        assert [r.acks for r in results] == [[], [], list(range(18)), []]
        assert _count(w.store, "monitor_snapshots") == 1
        assert w.partitions.committed[0] == 17
        final = w.flush()  # asked for: revocation, SIGTERM, a normal stop
        assert final.acks == list(range(18, 24))
        assert _count(w.store, "monitor_snapshots") == 2
        assert w.partitions.committed[0] == 23
    finally:
        w.close()


def test_acknowledgements_get_a_snapshot_when_the_worker_is_quiet_or_after_k_intervals(
    tmp_path: Path, production_events: tuple[Path, Path]
) -> None:
    now = [0.0]
    settings = _settings(tmp_path, snapshot_every_flushes=4, flush_interval_s=1.0)
    base = StreamWorker.create(settings)
    w = StreamWorker(settings, base.pipeline, base.store, base.partitions, clock=lambda: now[0])
    lines = production_events[0].read_bytes().splitlines()[:10]
    try:
        _take(w, _batch(lines[:5], 0))
        assert w.write_flush(w.cut()).acks == []
        now[0] = 0.2
        assert not w.flush_due()
        now[0] = 0.25  # nothing arrived for a quarter interval: caught up, commit now
        assert w.flush_due()
        result = w.write_flush(w.cut())
        assert (result.events, result.acks) == (0, [0, 1, 2, 3, 4])
        assert w.partitions.committed[0] == 4
        assert not w.flush_due()
        now[0] = 1.0
        _take(w, _batch(lines[5:], 5))
        assert w.write_flush(w.cut()).acks == []
        for step in range(1, 20):  # events keep arriving (held): never quiet
            now[0] = 1.0 + 0.2 * step
            w.checkpoint.arrived()
            assert not w.flush_due(), now[0]
        now[0] = 5.0  # 4 flush intervals: a busy worker still commits its offsets
        w.checkpoint.arrived()
        assert w.flush_due()
        assert w.write_flush(w.cut()).acks == [5, 6, 7, 8, 9]
        assert w.partitions.committed[0] == 9
    finally:
        w.close()


def test_a_worker_killed_between_snapshots_is_replayed_from_the_newest_without_duplicates(
    tmp_path: Path, production_events: tuple[Path, Path]
) -> None:
    lines = production_events[0].read_bytes().splitlines()[:30]
    first = _stopped_clock(_settings(tmp_path, snapshot_every_flushes=3))
    try:
        _take(first, _batch(lines[:6], 0))
        first.flush()  # a snapshot at offset 5
        for k in (1, 2):  # written, never snapshotted nor acknowledged: then SIGKILL
            _take(first, _batch(lines[6 * k : 6 * k + 6], 6 * k))
            assert first.write_flush(first.cut()).acks == []
    finally:
        first.close()
    # a snapshot every flush: one lands while the replay is still under way
    second = StreamWorker.create(_settings(tmp_path, snapshot_every_flushes=1))
    try:
        assert second.partitions.state(0) is not None
        assert second.partitions.committed[0] == 5  # Kafka resumes after the snapshot
        for k in (1, 2, 3, 4):
            _take(second, _batch(lines[6 * k : 6 * k + 6], 6 * k))
            second.write_flush(second.cut())
            assert second.partitions.is_warm(0) == (k >= 3)  # replayed rows looked up first
        second.flush()
        assert _count(second.store, "frames") == 30  # no row twice
    finally:
        second.close()
