"""Faust's ``Stream.noack_take`` that also hands over a partial take at once when told to.

``noack_take(max_, within)`` collects up to ``max_`` events without acknowledging them and
yields them when it has ``max_``, or when ``within`` seconds have passed since it last
yielded. A worker that drains a backlog ends on a partial take, and that take waited out the
rest of the window (up to ``worker.take_window_s``, 0.5 s) although Kafka held nothing more for
it: the whole-process time of a worker started on a backlog carried that wait. :func:`take`
is the same generator (faust-streaming 0.15's, with the same buffer, processor and manual
acknowledgement) plus ``now``: asked with the buffered events whenever one arrives, a true
answer yields them at once (the worker answers true only when it was behind and nothing is
left in its partitions past the buffer: ``take_now`` in
:func:`streams.runners.faust_app.create_app`, over :meth:`WorkerLoop.drained_with
<streams.runners.worker_loop.WorkerLoop.drained_with>`).
Without ``now``, or while it answers false, a take is exactly Faust's.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from mode.utils.aiter import aiter
from mode.utils.futures import notify

__all__ = ["take"]


class _Buffer:
    """The events received since the last list: filled by a processor of the stream (one call
    per event, on the event loop), emptied by :func:`take`."""

    def __init__(self, stream: Any, max_: int, now: Callable[[Sequence[Any]], bool] | None) -> None:
        self.stream, self.max_, self.now = stream, max_, now
        self.events: list[Any] = []
        self.full = asyncio.Event()
        """Set when the events should be handed over (``max_`` of them, or ``now`` said so)."""
        self.consumed = asyncio.Event()
        self.consuming: asyncio.Future[None] | None = None
        """Set while a list is handed over: a new event waits for it."""

    async def add(self, value: Any) -> Any:
        """The stream's processor: buffer the stream's current event."""
        try:
            if self.consuming is not None:
                try:
                    await self.consuming
                finally:
                    self.consuming = None
            event = self.stream.current_event
            if event is None:
                raise RuntimeError("Take buffer found current_event is None")
            self.events.append(event)
            if len(self.events) >= self.max_:
                self.full.set()
                self.consumed.clear()
                await self.stream.wait(self.consumed)  # never more than max_ in a list
            elif self.now is not None and self.now(self.events):
                self.full.set()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.stream.log.exception("Error adding to take buffer: %r", exc)
            await self.stream.crash(exc)
        return value


async def take(
    stream: Any,
    max_: int,
    within: float,
    now: Callable[[Sequence[Any]], bool] | None = None,
) -> AsyncIterator[list[Any]]:
    """Lists of at most ``max_`` unacknowledged events of ``stream`` (a Faust stream): when
    ``max_`` arrived, ``within`` seconds after the last list, or when ``now(buffered)`` says
    so (asked after each arrival)."""
    buffer = _Buffer(stream, max_, now)
    enable_acks: bool = stream.enable_acks
    stream.enable_acks = False  # the caller acknowledges, after the rows are stored
    stream.add_processor(buffer.add)
    stream._enable_passive(aiter(stream.channel))
    try:
        while not stream.should_stop:
            await stream.wait_for_stopped(buffer.full, timeout=within)
            if buffer.events:
                buffer.consuming = asyncio.get_running_loop().create_future()
                try:
                    yield list(buffer.events)
                finally:
                    buffer.events.clear()
                    notify(buffer.consuming)
                    buffer.full.clear()
                    buffer.consumed.set()
    finally:
        stream.enable_acks = enable_acks
        stream._processors.remove(buffer.add)
