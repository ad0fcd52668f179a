"""The worker's flush cadence by backlog and its start-up clock: plain functions, no broker.

``streams/kafka/backlog.py`` decides when a worker that is behind flushes; its log-end offsets
come from a plain callable here (the worker passes its consumer's).
"""

from __future__ import annotations

import logging

import pytest

from streams.kafka.backlog import BACKLOG_INTERVAL_FACTOR, Backlog
from streams.kafka.startup import StartupClock, process_started_at

ENDS = {("events", 0): 1000, ("events", 1): 500}


def _due(backlog: Backlog, rows: int, since_cut_s: float, otherwise: bool) -> bool:
    return backlog.flush_due(
        rows, since_cut_s, flush_rows=2000, flush_interval_s=1.0, otherwise=otherwise
    )


def test_waiting_counts_past_the_last_taken_offset_of_each_owned_partition() -> None:
    backlog = Backlog(64, lambda: ENDS)
    assert backlog.waiting() == 0  # nothing taken yet: it cannot tell
    backlog.taken([("events", 0, 99), ("events", 1, 9), ("events", 0, 49)])
    assert backlog.waiting() == (1000 - 100) + (500 - 10)
    backlog.taken([("events", 0, 999), ("events", 1, 499), ("other", 0, 5)])
    assert backlog.waiting() == 0
    assert not backlog.behind()


def test_behind_flushes_at_the_size_trigger_or_the_longer_interval_only() -> None:
    backlog = Backlog(64, lambda: ENDS)
    backlog.taken([("events", 0, 0)])
    assert backlog.behind()
    # the worker's own triggers (1 s, caught up) are not enough while behind
    assert not _due(backlog, 500, 1.5, otherwise=True)
    assert _due(backlog, 2000, 0.1, otherwise=False)
    assert _due(backlog, 10, BACKLOG_INTERVAL_FACTOR * 1.0, otherwise=False)


def test_caught_up_or_without_rows_the_worker_triggers_decide() -> None:
    backlog = Backlog(64, lambda: ENDS)
    backlog.taken([("events", 0, 960), ("events", 1, 490)])  # 39 + 9 wait: not behind
    assert not backlog.behind()
    assert _due(backlog, 10, 0.0, otherwise=True)
    assert not _due(backlog, 5000, 100.0, otherwise=False)
    far = Backlog(64, lambda: ENDS)
    far.taken([("events", 0, 0)])
    assert _due(far, 0, 0.0, otherwise=True)  # nothing pending: e.g. replays to acknowledge


def test_offsets_that_cannot_be_read_count_as_caught_up() -> None:
    def rebalancing() -> dict[tuple[str, int], int]:
        raise RuntimeError("no assignment")

    backlog = Backlog(0, rebalancing)
    backlog.taken([("events", 0, 0)])
    assert backlog.waiting() == 0
    assert _due(backlog, 10, 0.0, otherwise=True)


def test_the_start_up_line_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    ticks = iter([10.0, 12.5, 13.0])
    clock = StartupClock(started_at=9.0, clock=lambda: next(ticks), cpu_clock=lambda: 0.75)
    line = "first event consumed 1.00 s after the process started (CPU 0.75 s)"
    with caplog.at_level(logging.INFO, logger="streams.kafka.startup"):
        assert clock.consumed() == line
        clock.broker_answered()
        assert clock.consumed() is None
    assert [r.getMessage() for r in caplog.records] == [line]


def test_the_process_start_is_read_before_now() -> None:
    now = 1000.0
    started = process_started_at(lambda: now)
    assert 0.0 < now - started < 3600.0  # this test process started before the test
