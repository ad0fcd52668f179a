"""BatchAssembler as a plain function, and the StreamWorker batching across takes with it:
frames of 4 cameras on 4 partitions, arriving interleaved in small takes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from schemas.records import FrameRecord
from streams.config import Settings
from streams.runners.batch_assembler import BatchAssembler, frames_per_run
from streams.runners.stream_worker import KafkaRecord, StreamWorker
from tests.belt_world import CAMERAS, belt_records

TIMINGS = {"decode_ms", "inference_ms", "monitor_ms", "latency_ms", "ingested_at"}
"""Frame columns that measure the run itself (they differ between any two runs)."""


def test_interleaved_small_takes_end_up_in_full_batches_in_arrival_order() -> None:
    now = [0.0]
    a = BatchAssembler[tuple[int, int]](8, 0.1, clock=lambda: now[0])
    # 4 cameras, 12 frames each, in takes of 3 (round robin): no take fills a batch
    stream = [(camera, k) for k in range(12) for camera in range(4)]
    batches: list[list[tuple[int, int]]] = []
    for start in range(0, len(stream), 3):
        batches += a.add(stream[start : start + 3])
        now[0] += 0.01
    assert [len(b) for b in batches] == [8] * 6
    assert [item for b in batches for item in b] == stream  # in order: offsets per camera too
    assert {camera for camera, _ in batches[0]} == {0, 1, 2, 3}
    assert a.held == []


def test_a_lone_frame_waits_at_most_max_batch_wait() -> None:
    now = [10.0]
    a = BatchAssembler[str](8, 0.05, clock=lambda: now[0])
    assert a.add(["lone"]) == []
    now[0] = 10.049
    assert not a.due() and a.take_due() == []
    now[0] = 10.05
    assert a.due() and a.waited_s() == pytest.approx(0.05)
    assert a.take_due() == ["lone"] and a.held == [] and a.since is None
    # a tail already due when the next take comes runs with it, short
    assert a.add(["a"]) == []
    now[0] = 11.0
    assert a.add(["b", "c"]) == [["a", "b", "c"]]


def test_the_wait_counts_from_the_oldest_held_frame() -> None:
    now = [0.0]
    a = BatchAssembler[int](4, 0.1, clock=lambda: now[0])
    assert a.add([1, 2]) == []
    now[0] = 0.08
    assert a.add([3]) == [] and a.since == 0.0  # no batch cut: 1 still waits since 0.0
    now[0] = 0.09
    assert a.add([4, 5]) == [[1, 2, 3, 4]] and a.since == 0.09  # 5 came now
    now[0] = 0.18
    assert a.take_due() == []
    now[0] = 0.19
    assert a.take_due() == [5]


def test_no_wait_runs_every_tail_at_once() -> None:
    a = BatchAssembler[int](4, 0.0, clock=lambda: 0.0)
    assert a.add([1, 2, 3, 4, 5]) == [[1, 2, 3, 4], [5]]
    assert a.held == []


def test_frames_per_run_follows_a_static_batch() -> None:
    assert frames_per_run(8, None) == 8
    assert frames_per_run(8, 16) == 16
    assert frames_per_run(20, 8) == 16


def _settings(tmp_path: Path, app_id: str, wait_ms: float) -> Settings:
    """One store (chDB opens one per process); each worker its own consumer group."""
    return Settings(
        store={"dsn": f"chdb://{tmp_path / 'store'}"},
        worker={"app_id": app_id},
        inference={"batch_frames": 8, "max_batch_wait_ms": wait_ms},
    )


@pytest.fixture(scope="module")
def four_cameras() -> list[KafkaRecord]:
    """48 events of 4 cameras, one camera per partition, in capture (interleaved) order."""
    records = belt_records(48, fault_at=10_000)
    assert len({c for _, c in CAMERAS}) == 4
    return [KafkaRecord(raw, partition=i % 4, offset=i // 4) for i, raw in enumerate(records)]


def _frames(out: list[FrameRecord]) -> list[dict[str, object]]:
    return [f.model_dump(exclude=TIMINGS) for f in out]


@pytest.fixture
def batching(tmp_path: Path) -> Iterator[StreamWorker]:
    now = [0.0]
    settings = _settings(tmp_path, "batched", 100.0)
    base = StreamWorker.create(settings)
    w = StreamWorker(settings, base.pipeline, base.store, base.partitions, clock=lambda: now[0])
    w.now = now  # type: ignore[attr-defined]
    w.sizer.budget_s = 0.0  # batch sizes from the settings alone, not from this machine's speed
    yield w
    w.close()


def test_a_slow_model_runs_smaller_batches_within_the_wait(
    tmp_path: Path, four_cameras: list[KafkaRecord]
) -> None:
    settings = _settings(tmp_path, "slow", 100.0)
    base = StreamWorker.create(settings)
    w = StreamWorker(settings, base.pipeline, base.store, base.partitions, clock=lambda: 0.0)
    try:
        w.sizer.observe(8, 1.0)  # a session's first run: not counted
        w.sizer.observe(8, 0.4)  # 50 ms a frame: two frames fit in the 100 ms wait
        out = w.process(four_cameras[:7])
        assert list(w.runs) == [2, 2, 2] and w.held_events() == {(2, 1)}
        assert len(out.frames) == 6
    finally:
        w.close()


def test_worker_runs_full_batches_across_takes_with_outputs_identical_to_unbatched(
    batching: StreamWorker, four_cameras: list[KafkaRecord], tmp_path: Path
) -> None:
    frames: list[FrameRecord] = []
    for start in range(0, len(four_cameras), 3):  # takes of 3 events (one per camera or so)
        take = four_cameras[start : start + 3]
        frames += batching.process(take).frames
        # held events are named, so the Faust app does not acknowledge them
        held = batching.held_events()
        assert held == {(r.partition, r.offset) for r in four_cameras[: start + 3][len(frames) :]}
    assert list(batching.runs) == [8] * 6  # 16 takes of 3 → 6 full batches, no short one
    assert len(frames) == 48 and batching.held_events() == set()
    assert batching.flush().frames == 48
    snapshots = batching.partitions.snapshots(dict.fromkeys(range(4), 11))

    unbatched = StreamWorker.create(_settings(tmp_path, "unbatched", 0.0))
    try:
        alone: list[FrameRecord] = []
        for start in range(0, len(four_cameras), 3):
            alone += unbatched.process(four_cameras[start : start + 3]).frames
        assert list(unbatched.runs) == [3] * 16  # today's behaviour: a model run per take
        assert _frames(frames) == _frames(alone)
        same = unbatched.partitions.snapshots(dict.fromkeys(range(4), 11))
        assert [s.model_dump(exclude={"saved_at", "group_id"}) for s in snapshots] == [
            s.model_dump(exclude={"saved_at", "group_id"}) for s in same
        ]
    finally:
        unbatched.close()


def test_worker_runs_a_lone_event_once_it_waited_max_batch_wait(
    batching: StreamWorker, four_cameras: list[KafkaRecord]
) -> None:
    now = batching.now  # type: ignore[attr-defined]
    assert batching.process(four_cameras[:1]).frames == []
    assert batching.held_events() == {(0, 0)} and batching.holding == 1
    assert batching.pending_events == 0
    now[0] = 0.099
    assert batching.run_due().frames == []
    now[0] = 0.1
    assert len(batching.run_due().frames) == 1
    assert list(batching.runs) == [1] and batching.held_events() == set()
    # a cut leaves held events held (not stored, not acknowledged); flush() runs them first
    batching.process(four_cameras[1:3])
    assert batching.cut().offsets == {0: 0}
    assert batching.held_events() == {(1, 0), (2, 0)}
    assert batching.flush().frames == 2 and batching.held_events() == set()
