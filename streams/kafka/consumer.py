"""Faust's aiokafka consumer without four asyncio tasks per message.

Faust's fetch loop (``Consumer._drain_messages``) hands every fetched message to the
conductor's callback through ``self.wait_first(callback(message), self.suspend_flow.wait())``:
the callback runs as a task raced against a rebalance (``suspend_flow``), the consumer's
``stopped`` and its ``crashed`` events, four tasks and an ``asyncio.wait`` per message, plus
the three cancellations after it. A ``py-spy --gil`` profile of ``linewatch worker`` over 6,000
events showed this as the largest single item on the event loop, which holds the interpreter
lock longer than any pipeline thread (docs/streaming.md, "Start-up and the whole-process gap").

The callback almost never waits: it puts the event into the stream's buffer and returns. It
waits only while flow control is suspended (a rebalance), the producer's buffer is full, or the
stream's buffer is full. :class:`LeanConsumer` therefore runs the callback's first step at once,
and only when that step waits does it race the rest against the same events as Faust does
(:func:`resumed` continues the coroutine where it stopped). What the callback does, what a
rebalance interrupts and what Faust acknowledges and commits are unchanged; only the tasks of
the common case are gone.

>>> import asyncio
>>> async def two_steps() -> str:
...     await asyncio.sleep(0)
...     return "done"
>>> async def main() -> str:
...     coro = two_steps()
...     waiting_on = coro.send(None)  # the first step: stops at the sleep
...     return await resumed(coro, waiting_on)
>>> asyncio.run(main())
'done'
"""

from __future__ import annotations

from collections.abc import Awaitable, Coroutine, Generator
from typing import Any, ClassVar

from faust.transport.drivers import aiokafka as faust_aiokafka
from mode.services import WaitArgT, WaitResults

__all__ = ["LeanConsumer", "LeanTransport", "resumed"]


class _Resumed:
    """An awaitable that goes on with a coroutine whose first step already ran."""

    __slots__ = ("_coro", "_waiting_on")

    def __init__(self, coro: Coroutine[Any, Any, Any], waiting_on: Any) -> None:
        self._coro = coro
        self._waiting_on = waiting_on

    def __await__(self) -> Generator[Any, Any, Any]:
        # ``yield from`` by hand (PEP 380) from the point where the coroutine stopped: what it
        # yielded (a future, or None for a bare yield) goes to the task that awaits us, and
        # what that task sends or throws back goes into the coroutine
        coro, waiting_on = self._coro, self._waiting_on
        while True:
            try:
                sent = yield waiting_on
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:
                try:
                    waiting_on = coro.throw(exc)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    waiting_on = coro.send(sent)
                except StopIteration as stop:
                    return stop.value


def resumed(coro: Coroutine[Any, Any, Any], waiting_on: Any) -> Awaitable[Any]:
    """Await the rest of ``coro`` after its first step (``coro.send(None)``) returned
    ``waiting_on``; the result is the coroutine's."""
    return _Resumed(coro, waiting_on)


class LeanConsumer(faust_aiokafka.Consumer):
    """Faust's aiokafka consumer whose fetch loop runs a message's callback without tasks
    when the callback does not wait (see the module docstring)."""

    async def wait_first(self, *coros: WaitArgT, timeout: Any = None) -> WaitResults:
        """Faust's ``wait_first``, with a first coroutine that finishes at its first step
        returned at once (as Faust's would: that coroutine's task runs first and wins)."""
        first = coros[0] if coros else None
        if not isinstance(first, Coroutine) or self._stopped.is_set() or self._crashed.is_set():
            return await super().wait_first(*coros, timeout=timeout)
        try:
            waiting_on = first.send(None)
        except BaseException as exc:  # finished (StopIteration) or failed at its first step
            for other in coros[1:]:  # never started (e.g. ``suspend_flow.wait()``)
                if isinstance(other, Coroutine):
                    other.close()
            if isinstance(exc, StopIteration):
                return WaitResults([first], [exc.value], False)
            raise
        rest: tuple[WaitArgT, ...] = (resumed(first, waiting_on), *coros[1:])
        return await super().wait_first(*rest, timeout=timeout)


class LeanTransport(faust_aiokafka.Transport):
    """Faust's aiokafka transport with :class:`LeanConsumer`."""

    Consumer: ClassVar[type[Any]] = LeanConsumer
