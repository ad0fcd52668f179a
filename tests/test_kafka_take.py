"""The worker's take (``streams.kafka.take``): Faust's ``noack_take`` that hands over a partial
take at once when told to.

A stand-in for a Faust stream delivers events one by one to the take's processor, the way a
stream's passive drainer does (a real Faust stream needs a started app; the Kafka tests run
the take in real workers: tests/test_worker_kafka.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from streams.kafka.take import take


class _Stream:
    """What ``take`` uses of a Faust stream; :meth:`deliver` plays the fetcher."""

    def __init__(self) -> None:
        self.enable_acks = True
        self.current_event: Any = None
        self._processors: list[Callable[[Any], Awaitable[Any]]] = []
        self.channel: list[Any] = []
        self.should_stop = False
        self.log = logging.getLogger("test-take")

    def add_processor(self, processor: Callable[[Any], Awaitable[Any]]) -> None:
        self._processors.append(processor)

    def _enable_passive(self, channel: Any) -> None:
        pass

    async def deliver(self, values: Sequence[Any], gap_s: float = 0.0) -> None:
        for value in values:
            self.current_event = value
            for processor in list(self._processors):
                await processor(value)
            await asyncio.sleep(gap_s)

    async def wait_for_stopped(self, event: asyncio.Event, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)

    async def wait(self, event: asyncio.Event) -> None:
        await event.wait()

    async def crash(self, exc: BaseException) -> None:
        raise exc


def _takes(
    values: list[int], max_: int, within: float, now: Callable[[Sequence[Any]], bool] | None
) -> list[tuple[float, list[int]]]:
    """(seconds since the start, events) of each take over ``values``, delivered at once."""

    async def main() -> list[tuple[float, list[int]]]:
        stream = _Stream()
        started = time.monotonic()
        got: list[tuple[float, list[int]]] = []

        async def consume() -> None:
            async for events in take(stream, max_, within, now):
                got.append((time.monotonic() - started, list(events)))
                if sum(len(g) for _, g in got) >= len(values):
                    return

        consumer = asyncio.ensure_future(consume())
        await asyncio.sleep(0)  # the take's processor is installed
        await stream.deliver(values)
        await asyncio.wait_for(consumer, 10)
        assert stream._processors == [] and stream.enable_acks  # restored
        return got

    return asyncio.run(main())


def test_full_takes_go_at_once_and_a_partial_one_waits_out_the_window() -> None:
    got = _takes(list(range(6)), 4, 0.5, None)
    assert [events for _, events in got] == [[0, 1, 2, 3], [4, 5]]
    assert got[0][0] < 0.25 and got[1][0] >= 0.45  # Faust's noack_take: the window


def test_a_partial_take_goes_at_once_when_now_says_so() -> None:
    got = _takes(list(range(6)), 4, 0.5, lambda received: received[-1] == 5)
    assert [events for _, events in got] == [[0, 1, 2, 3], [4, 5]]
    assert got[1][0] < 0.25  # not the 0.5 s window


def test_now_is_asked_with_the_events_received_since_the_last_take() -> None:
    asked: list[list[int]] = []

    def now(received: Sequence[Any]) -> bool:
        asked.append(list(received))
        return False

    _takes(list(range(6)), 4, 0.2, now)
    assert asked == [[0], [0, 1], [0, 1, 2], [4], [4, 5]]  # not asked for a full take
