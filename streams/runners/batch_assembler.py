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

__all__ = ["BatchAssembler", "frames_per_run"]

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
