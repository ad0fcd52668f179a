"""Batches for the model cut from takes of any size, bounded by a wait.

A streaming worker takes events off Kafka in takes (``worker.take_max_events`` within
``worker.take_window_s``, across every partition it owns). Cut into model batches take by
take, each take ends in a short batch: a take of 12 events with ``inference.batch_frames``
8 runs the model on 8 frames, then on 4. :class:`BatchAssembler` carries such a tail over to
the next take instead, so frames of several cameras and partitions fill one ``session.run``;
a tail runs short only once its oldest item has waited ``inference.max_batch_wait_ms``.

Items leave in the order they came (so each partition's events reach its state in offset
order); what the assembler holds is not processed yet, so its events must not be
acknowledged.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

__all__ = ["BatchAssembler", "BatchSizer", "budget_frames", "frames_per_run"]

T = TypeVar("T")


def frames_per_run(batch_frames: int, static_batch: int | None) -> int:
    """Frames worth assembling for one inference call.

    A model with a dynamic batch takes ``batch_frames``; a graph with a static batch size
    pads every run up to it, so a whole multiple of it (at least one) is assembled.

    >>> frames_per_run(8, None)
    8
    >>> frames_per_run(8, 1)  # eight runs of one frame each
    8
    >>> frames_per_run(8, 16), frames_per_run(20, 8)
    (16, 16)
    """
    if static_batch is None:
        return batch_frames
    return static_batch * max(1, batch_frames // static_batch)


def budget_frames(
    limit: int, static_batch: int | None, per_frame_s: float | None, budget_s: float
) -> int:
    """Frames per model batch: ``limit`` (:func:`frames_per_run`), but no more than the model
    runs within ``budget_s`` at its measured ``per_frame_s`` (every frame of a batch waits for
    the whole batch), and at least one frame (one static batch). No measure yet, or a budget
    of 0: ``limit``.

    >>> budget_frames(8, None, 0.0014, 0.1)  # the shipped model: 71 frames fit, 8 asked
    8
    >>> budget_frames(8, None, 0.02, 0.1)  # a YOLOv8n-class model on one core
    5
    >>> budget_frames(8, None, 0.5, 0.1), budget_frames(16, 4, 0.02, 0.1)
    (1, 4)
    >>> budget_frames(8, 4, 1.0, 0.1)  # a static batch of 4: never fewer
    4
    >>> budget_frames(8, None, None, 0.1), budget_frames(8, None, 0.02, 0.0)
    (8, 8)
    """
    if per_frame_s is None or per_frame_s <= 0 or budget_s <= 0:
        return limit
    step = static_batch or 1
    fit = int(budget_s / per_frame_s) // step * step
    return max(step, min(limit, fit))


class BatchSizer:
    """The model's measured wall seconds per frame (an exponentially weighted mean over its
    runs) and the batch size it allows within a budget (:func:`budget_frames`).

    Observed on the thread that runs the model, read on the one that cuts batches (a float
    assignment). Wall time, not CPU: a model slowed by a busy machine gets smaller batches.
    The first run is not counted (a session's first run allocates its buffers).

    >>> s = BatchSizer(8, None, 0.1)
    >>> s.observe(8, 2.0)  # the first run: not counted
    >>> s.size
    8
    >>> s.observe(8, 0.16)  # 20 ms a frame
    >>> s.size
    5
    """

    def __init__(
        self, limit: int, static_batch: int | None, budget_s: float, *, weight: float = 0.2
    ) -> None:
        self.limit = limit
        self.static_batch = static_batch
        self.budget_s = budget_s
        self.weight = weight
        self.per_frame_s: float | None = None
        self._warm = False

    def observe(self, frames: int, seconds: float) -> None:
        """One model run of ``frames`` frames took ``seconds``."""
        if frames <= 0:
            return
        if not self._warm:
            self._warm = True
            return
        x = seconds / frames
        prev = self.per_frame_s
        self.per_frame_s = x if prev is None else prev + self.weight * (x - prev)

    @property
    def size(self) -> int:
        """Frames the next model batch may hold."""
        return budget_frames(self.limit, self.static_batch, self.per_frame_s, self.budget_s)


class BatchAssembler(Generic[T]):
    """Cuts items arriving in takes into batches of ``size``; holds a short tail at most
    ``max_wait_s`` (from the arrival of its oldest item) for the items of later takes.

    >>> now = [0.0]
    >>> a = BatchAssembler[int](4, 0.1, clock=lambda: now[0])
    >>> a.add([1, 2, 3, 4, 5, 6])
    [[1, 2, 3, 4]]
    >>> a.held, a.due()
    ([5, 6], False)
    >>> a.add([7, 8, 9])
    [[5, 6, 7, 8]]
    >>> now[0] = 0.1
    >>> a.take_due()
    [9]
    """

    def __init__(
        self, size: int, max_wait_s: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if size < 1:
            raise ValueError(f"a batch holds at least one item, got size={size}")
        if max_wait_s < 0:
            raise ValueError(f"max_wait_s must be >= 0, got {max_wait_s}")
        self.size = size
        self.max_wait_s = max_wait_s
        self._clock = clock
        self._held: list[T] = []
        self._since: float | None = None
        """When the oldest held item arrived."""

    @property
    def held(self) -> list[T]:
        """The items waiting for a batch, oldest first (a copy)."""
        return list(self._held)

    def __len__(self) -> int:
        """How many items are held."""
        return len(self._held)

    @property
    def since(self) -> float | None:
        """When the oldest held item arrived (clock time), ``None`` when nothing is held."""
        return self._since

    def waited_s(self) -> float:
        """Seconds the oldest held item has waited (0 when nothing is held)."""
        return 0.0 if self._since is None else self._clock() - self._since

    def due(self) -> bool:
        """Whether the held items have waited long enough to run as a short batch."""
        return bool(self._held) and self.waited_s() >= self.max_wait_s

    def add(self, items: Sequence[T]) -> list[list[T]]:
        """Append a take; return the batches ready to run, oldest first.

        Full batches are returned; the remainder is held, unless its oldest item has already
        waited ``max_wait_s`` (always, when ``max_wait_s`` is 0): then it is returned too, as
        a last, short batch.
        """
        if not items:
            return [self.take_due()] if self.due() else []
        now = self._clock()
        pool = [*self._held, *items]
        cut = len(pool) - len(pool) % self.size
        batches = [pool[i : i + self.size] for i in range(0, cut, self.size)]
        rest = pool[cut:]
        if batches or self._since is None:
            # a batch took every item held before (they came first): the rest are this take's
            self._since = now if rest else None
        self._held = rest
        if self.due():
            batches.append(self.drain())
        return batches

    def take_due(self) -> list[T]:
        """The held items if they are due (see :meth:`due`), else nothing."""
        return self.drain() if self.due() else []

    def drain(self) -> list[T]:
        """Every held item, now (e.g. before a revoke or a shutdown)."""
        held, self._held, self._since = self._held, [], None
        return held
