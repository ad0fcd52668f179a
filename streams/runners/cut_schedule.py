"""When the Kafka worker cuts its pending rows for a write, and one wake-up for that moment.

A cut is due on the :class:`~streams.runners.checkpoint.Checkpoint`'s own triggers (size, the
oldest row's latency budget, acknowledgements waiting for a snapshot), on the caught-up cut
(the worker has nothing left to run and the last cut is half a budget old), or, while the
worker is behind in Kafka, on the larger cadence of :mod:`streams.kafka.backlog`.

:meth:`CutSchedule.due_in` says how many seconds are left until one of them fires if no event
arrives, and :meth:`CutSchedule.arm` keeps one event-loop timer for that moment: the worker
re-arms it each time its processor lets go or a write ends, so the last rows of a line that goes
quiet are cut when their budget says (not at the next event, nor at the next tick of a polling
timer).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable

from streams.config_groups import CheckpointSettings
from streams.kafka.backlog import Backlog
from streams.runners.checkpoint import Checkpoint

__all__ = ["MIN_WAKE_S", "CutSchedule"]

MIN_WAKE_S = 0.005
"""Shortest wait of a wake-up: a due cut is at most this late, and a clock tie between a
trigger and its wait cannot spin the event loop."""


class CutSchedule:
    """When a cut is due, how long until it is, and the wake-up armed for then."""

    def __init__(self, settings: CheckpointSettings, backlog: Backlog | None = None) -> None:
        self.settings = settings
        self.backlog = backlog
        """Events waiting in Kafka past the last take (a worker behind flushes in large cuts)."""
        self.cut_at = -math.inf
        """Event-loop time of the newest cut (none yet: the first is not spaced from it)."""
        self._wake: asyncio.TimerHandle | None = None

    def since_cut_s(self) -> float:
        return asyncio.get_running_loop().time() - self.cut_at

    def due(self, checkpoint: Checkpoint, otherwise: bool) -> bool:
        """``otherwise`` (the checkpoint's triggers, or the caught-up cut), or the larger
        cadence while behind."""
        if self.backlog is None:
            return otherwise
        return self.backlog.flush_due(
            checkpoint.pending_rows,
            self.since_cut_s(),
            flush_rows=self.settings.flush_rows,
            flush_interval_s=self.settings.flush_interval_s,
            otherwise=otherwise,
        )

    def due_in(self, checkpoint: Checkpoint) -> float | None:
        """Seconds until :meth:`due` fires for the checkpoint's triggers or the caught-up cut,
        if no event arrives (0: now; None: nothing pends and no acknowledgement waits)."""
        since_cut_s = self.since_cut_s()
        if self.backlog is not None:
            behind_s = self.backlog.flush_due_in(
                checkpoint.pending_rows,
                since_cut_s,
                flush_rows=self.settings.flush_rows,
                flush_interval_s=self.settings.flush_interval_s,
            )
            if behind_s is not None:
                return behind_s
        wait_s = checkpoint.due_in()
        if wait_s is not None and checkpoint.pending_events:  # the caught-up cut
            wait_s = min(wait_s, max(0.0, self.settings.flush_interval_s / 2 - since_cut_s))
        return wait_s

    def arm(self, wait_s: float | None, wake: Callable[[], object]) -> None:
        """Call ``wake`` in ``wait_s`` seconds (at least :data:`MIN_WAKE_S`) instead of any
        wake-up armed before; None: disarm."""
        if self._wake is not None:
            self._wake.cancel()
            self._wake = None
        if wait_s is not None:
            loop = asyncio.get_running_loop()
            self._wake = loop.call_later(max(wait_s, MIN_WAKE_S), self._fire, wake)

    def armed_in(self) -> float | None:
        """Seconds until the wake-up (None: none armed)."""
        if self._wake is None:
            return None
        return self._wake.when() - asyncio.get_running_loop().time()

    def _fire(self, wake: Callable[[], object]) -> None:
        self._wake = None
        wake()
