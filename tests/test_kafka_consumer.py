"""The worker's Faust consumer: a fetched message's callback runs without tasks unless it waits.

Faust's fetch loop calls ``consumer.wait_first(callback(message), consumer.suspend_flow.wait())``
for every message. These tests call that method of the worker's real consumer (built by
``create_app``, not started: no broker needed) the same way.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from streams.config import Settings
from streams.kafka.consumer import LeanConsumer, LeanTransport
from streams.runners.faust_app import create_app


def _consumer(tmp_path: Path) -> Any:
    """The worker app's consumer; call it in the running loop (Faust binds it to that loop)."""
    app = create_app(Settings(worker={"data_dir": str(tmp_path / "faust")}))
    return app.consumer


def test_the_worker_app_uses_the_lean_consumer(tmp_path: Path) -> None:
    app = create_app(Settings(worker={"data_dir": str(tmp_path / "faust")}))
    assert isinstance(app.transport, LeanTransport)
    assert isinstance(app.consumer, LeanConsumer)


def test_a_callback_that_does_not_wait_runs_at_once_without_a_task(tmp_path: Path) -> None:
    delivered: list[int] = []

    async def callback(n: int) -> int:
        delivered.append(n)
        return n

    async def main() -> tuple[Any, int]:
        consumer = _consumer(tmp_path)
        before = len(asyncio.all_tasks())
        suspend = asyncio.Event()
        results = await consumer.wait_first(callback(7), suspend.wait())
        return results, len(asyncio.all_tasks()) - before

    results, new_tasks = asyncio.run(main())
    assert delivered == [7]
    assert results.results == [7] and not results.stopped
    assert new_tasks == 0  # Faust's own wait_first leaves its cancelled tasks behind


def test_a_callback_that_waits_finishes_once_what_it_waits_for_is_done(tmp_path: Path) -> None:
    async def main() -> tuple[Any, list[str]]:
        consumer = _consumer(tmp_path)
        steps: list[str] = []
        queue: asyncio.Queue[str] = asyncio.Queue()

        async def callback() -> str:
            steps.append("first step")
            item = await queue.get()  # waits: the stream's buffer is full, say
            steps.append(item)
            return item

        asyncio.get_running_loop().call_later(0.01, queue.put_nowait, "room")
        results = await consumer.wait_first(callback(), asyncio.Event().wait())
        return results, steps

    results, steps = asyncio.run(main())
    assert steps == ["first step", "room"]
    assert results.results == ["room"]


def test_a_waiting_callback_is_given_up_when_the_flow_is_suspended(tmp_path: Path) -> None:
    """A rebalance (``suspend_flow``) interrupts a callback that waits, as in Faust."""

    async def main() -> tuple[Any, bool]:
        consumer = _consumer(tmp_path)
        cancelled = False
        suspend = asyncio.Event()

        async def callback() -> None:
            nonlocal cancelled
            try:
                await asyncio.Event().wait()  # flow control suspended: waits forever
            except asyncio.CancelledError:
                cancelled = True
                raise

        asyncio.get_running_loop().call_later(0.01, suspend.set)
        results = await asyncio.wait_for(consumer.wait_first(callback(), suspend.wait()), 5)
        await asyncio.sleep(0)  # the cancelled callback runs its handler
        return results, cancelled

    results, cancelled = asyncio.run(main())
    assert len(results.done) == 1 and results.results == [True]  # suspend_flow won
    assert cancelled


def test_an_error_at_the_callbacks_first_step_reaches_the_fetch_loop(tmp_path: Path) -> None:
    async def callback() -> None:
        raise ValueError("decode failed")

    async def main() -> None:
        consumer = _consumer(tmp_path)
        await consumer.wait_first(callback(), asyncio.Event().wait())

    with pytest.raises(ValueError, match="decode failed"):
        asyncio.run(main())
