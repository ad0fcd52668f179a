"""The retry helper: exponential back-off, give-up, and what is not retried."""

from __future__ import annotations

import logging
from collections.abc import Callable
from itertools import islice

import pytest

from streams.errors import ConfigError, StoreUnavailable, StoreWriteError
from streams.sinks.retry import backoff_delays, retry


def failing(times: int, exc: Exception) -> tuple[list[int], Callable[[], str]]:
    calls: list[int] = []

    def fn() -> str:
        calls.append(1)
        if len(calls) <= times:
            raise exc
        return "done"

    return calls, fn


def test_backoff_doubles_up_to_the_cap() -> None:
    assert list(islice(backoff_delays(0.25, 3.0), 6)) == [0.25, 0.5, 1.0, 2.0, 3.0, 3.0]
    assert list(islice(backoff_delays(1.0, 100.0, factor=3.0), 3)) == [1.0, 3.0, 9.0]


def test_retries_store_errors_then_succeeds(caplog: pytest.LogCaptureFixture) -> None:
    slept: list[float] = []
    calls, fn = failing(3, StoreWriteError("table busy"))
    with caplog.at_level(logging.WARNING, logger="streams.sinks.retry"):
        result = retry(fn, attempts=4, base_delay_s=1.0, sleep=slept.append)
    assert result == "done"
    assert slept == [1.0, 2.0, 4.0]
    assert len(calls) == 4
    assert sum("retrying in" in r.message for r in caplog.records) == 3


def test_gives_up_after_attempts_with_the_last_error(caplog: pytest.LogCaptureFixture) -> None:
    slept: list[float] = []
    calls, fn = failing(10, StoreUnavailable("server down"))
    with pytest.raises(StoreUnavailable, match="server down"):
        retry(fn, attempts=3, base_delay_s=0.1, max_delay_s=0.15, sleep=slept.append)
    assert slept == [0.1, 0.15]
    assert len(calls) == 3
    assert any("giving up" in r.message for r in caplog.records)


def test_other_errors_are_not_retried() -> None:
    slept: list[float] = []
    calls, fn = failing(1, ConfigError("bad DSN"))
    with pytest.raises(ConfigError):
        retry(fn, sleep=slept.append)
    assert (len(calls), slept) == (1, [])
    with pytest.raises(ValueError, match="attempts"):
        retry(fn, attempts=0)
