"""The latency budget as plain functions: when pending rows are cut (FlushPolicy, and the
Checkpoint's use of its events' Kafka timestamps), how large a model batch may be
(budget_frames, BatchSizer), and where an event's time went (latency_trace)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest

from schemas.records import DeadLetterRecord
from streams.config_groups import CheckpointSettings
from streams.ingest import RawRecord
from streams.runners.batch_assembler import BatchSizer, budget_frames
from streams.runners.checkpoint import Checkpoint
from streams.runners.flush_policy import FlushPolicy
from streams.runners.latency_trace import PARTS, STAGES, LatencyTrace, parts, summarize
from streams.runners.write_behind import EventRows


def _due(policy: FlushPolicy, produced: float | None, arrival: float, since_cut: float) -> bool:
    return policy.due(
        rows=1,
        oldest_produced_age_s=produced,
        oldest_arrival_age_s=arrival,
        since_cut_s=since_cut,
    )


def test_a_row_that_used_its_budget_before_it_arrived_is_cut_at_once() -> None:
    policy = FlushPolicy(flush_rows=2000, budget_s=1.0)
    # 1.4 s in Kafka, the take window and a slow model; it reached the checkpoint just now
    assert _due(policy, produced=1.4, arrival=0.0, since_cut=0.5)
    # the same row without a Kafka timestamp (linewatch run): its arrival age decides
    assert not _due(policy, produced=None, arrival=0.0, since_cut=0.5)
    assert _due(policy, produced=None, arrival=1.0, since_cut=0.5)


def test_a_fresh_row_waits_until_its_write_would_end_at_the_budget() -> None:
    policy = FlushPolicy(flush_rows=2000, budget_s=1.0)
    assert policy.tick_s == 0.25
    assert not _due(policy, produced=0.5, arrival=0.2, since_cut=5.0)
    assert _due(policy, produced=0.75, arrival=0.2, since_cut=5.0)  # + one tick: the budget
    for _ in range(50):  # writes of 0.4 s: the expected write comes off the age too
        policy.wrote(0.4)
    assert policy.write_s == pytest.approx(0.4, abs=1e-3)
    assert _due(policy, produced=0.4, arrival=0.2, since_cut=5.0)


def test_budget_cuts_are_half_a_budget_apart_and_size_cuts_are_not() -> None:
    policy = FlushPolicy(flush_rows=100, budget_s=2.0)
    assert not _due(policy, produced=10.0, arrival=0.1, since_cut=0.99)
    assert _due(policy, produced=10.0, arrival=0.1, since_cut=1.0)
    full = policy.due(
        rows=100, oldest_produced_age_s=None, oldest_arrival_age_s=0.0, since_cut_s=0.0
    )
    assert full


def _letter(i: int) -> EventRows:
    now = datetime.now(UTC)
    raw = RawRecord(b"{}", f"kafka:t:0:{i}", now)
    row = DeadLetterRecord.build(
        reason="x", detail="", payload=b"{}", source=raw.source, received_at=now
    )
    return EventRows(raw, [row])


def test_the_checkpoint_ages_pending_rows_by_their_kafka_timestamp() -> None:
    clock, wall = [100.0], [5000.0]
    checkpoint = Checkpoint(
        cast(Any, None),  # due() and cut() of rows without partitions never touch the store
        CheckpointSettings(flush_interval_s=1.0),
        clock=lambda: clock[0],
        wall=lambda: wall[0],
    )
    clock[0] += 1.0  # half a budget since the checkpoint started (its last cut)
    fresh = _letter(0)
    fresh.produced_at = wall[0] - 0.1
    checkpoint.add([fresh], 1)
    assert not checkpoint.due()
    late = _letter(1)
    late.produced_at = wall[0] - 1.5  # produced 1.5 s ago, processed only now
    checkpoint.add([late], 1)
    assert checkpoint.due()  # the old rule waited a whole interval after its arrival
    checkpoint.cut()
    assert not checkpoint.due()  # nothing pending
    again = _letter(2)
    again.produced_at = wall[0] - 1.5
    checkpoint.add([again], 1)
    assert not checkpoint.due()  # just cut: the next budget cut waits half a budget
    clock[0] += 0.25
    assert not checkpoint.due()
    clock[0] += 0.25
    assert checkpoint.due()


def test_a_model_batch_holds_what_the_model_runs_within_the_budget() -> None:
    assert budget_frames(8, None, 0.0014, 0.1) == 8  # the shipped model
    assert budget_frames(8, None, 0.02, 0.1) == 5  # a YOLOv8n-class model on a core
    assert budget_frames(8, None, 0.3, 0.1) == 1  # never empty
    assert budget_frames(16, 4, 0.02, 0.1) == 4  # whole static batches
    assert budget_frames(8, None, 0.02, 0.0) == 8  # no wait: no bound
    sizer = BatchSizer(8, None, 0.1)
    sizer.observe(8, 5.0)  # a session's first run is not counted
    assert sizer.size == 8
    sizer.observe(8, 0.16)
    assert sizer.size == 5
    for _ in range(40):  # the machine gets busy: the model slows to 50 ms a frame
        sizer.observe(4, 0.2)
    assert sizer.size == 2


def test_the_parts_of_an_event_add_up_to_its_latency(tmp_path: Path) -> None:
    trace = LatencyTrace(tmp_path / "t.jsonl")
    trace.produced([("a", 10.0), ("b", 10.5), ("c", None)])
    for k, stage in enumerate(STAGES[1:-1], start=1):
        trace.stamp(["a", "b", "c"], stage, at=10.5 + 0.1 * k)
    trace.written(["a", "b", "c"])  # c has no Kafka timestamp: no line
    lines = LatencyTrace.read(tmp_path / "t.jsonl")
    assert len(lines) == 2
    for line in lines:
        assert sum(parts(line).values()) == pytest.approx(line["written"] - line["produced"])
    s = summarize(lines)
    assert s["p99_ingested_s"] == pytest.approx(10.5 + 1.0 * 0.1 + 1.0 - 10.0)
    slowest = cast(dict[str, float], s["slowest"])
    assert set(slowest) == set(PARTS)
    assert slowest["kafka+take"] == pytest.approx(0.6)  # "a" only: produced at 10.0


def test_a_trace_that_cannot_be_written_never_fails_the_events(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    target = tmp_path / "trace"
    trace = LatencyTrace(target / "t.jsonl")
    (target / "t.jsonl").mkdir()  # appending to a directory raises IsADirectoryError
    trace.produced([("e1", 1.0)])
    trace.stamp(["e1"], "taken", 1.1)
    trace.written(["e1"])
    assert "latency trace" in caplog.text and "untraced" in caplog.text
