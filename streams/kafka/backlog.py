"""Flush cadence by backlog: a worker that is behind flushes in large batches, one that is caught
up flushes at once.

The worker's time trigger (``checkpoint.flush_interval_s``, 1 s) bounds produce-to-row latency for
live traffic. A worker with a backlog (started after the events were produced, or after an
outage) gains nothing from it: its pending rows are already late, the events behind them wait
for the worker, and each flush has a fixed cost (a few inserts and key lookups, ~0.1 s of CPU
in chDB) that a 1 s cadence pays 5-10 times more often than ``linewatch run``. While more than
``worker.take_max_events`` events wait in Kafka beyond what the worker has taken, a flush is due
at ``checkpoint.flush_rows`` pending rows or :data:`BACKLOG_INTERVAL_FACTOR` flush intervals after
the last cut; otherwise the worker's own triggers apply (and the caught-up flush).

>>> backlog = Backlog(threshold=64, highwaters=lambda: {("t", 0): 1000})
>>> backlog.taken([("t", 0, 99)])
>>> backlog.waiting(), backlog.behind()
(900, True)
>>> backlog.taken([("t", 0, 990)])
>>> backlog.waiting(), backlog.behind()
(9, False)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["BACKLOG_INTERVAL_FACTOR", "Backlog", "faust_highwaters"]

log = logging.getLogger(__name__)

BACKLOG_INTERVAL_FACTOR = 10.0
"""While behind, the time trigger is this many ``checkpoint.flush_interval_s`` (10 s by default):
a cap for a backlog that stalls."""


class Backlog:
    """How many events wait in Kafka beyond those the worker has taken.

    ``highwaters`` gives the log-end offset of each partition the worker owns, keyed as
    ``(topic, partition)``; :meth:`taken` records the offsets the worker took.
    """

    def __init__(
        self, threshold: int, highwaters: Callable[[], Mapping[tuple[str, int], int]]
    ) -> None:
        self.threshold = threshold
        self._highwaters = highwaters
        self._next: dict[tuple[str, int], int] = {}

    def taken(self, offsets: Iterable[tuple[str, int, int]]) -> None:
        """Record taken events as ``(topic, partition, offset)``."""
        for topic, partition, offset in offsets:
            key = (topic, partition)
            self._next[key] = max(self._next.get(key, 0), offset + 1)

    def waiting(self) -> int:
        """Events in the owned partitions past the last one taken (0 when it cannot tell)."""
        return self._left(self._next) or 0

    def left_after(self, offsets: Iterable[tuple[str, int, int]]) -> int | None:
        """Events in the owned partitions past those taken and ``offsets`` (events received,
        not taken yet, as ``(topic, partition, offset)``); None when it cannot tell.

        >>> backlog = Backlog(threshold=64, highwaters=lambda: {("t", 0): 10, ("t", 1): 5})
        >>> backlog.taken([("t", 0, 7)])
        >>> backlog.left_after([("t", 0, 9)]), backlog.left_after([("t", 1, 4)])
        (0, 2)
        """
        after = dict(self._next)
        for topic, partition, offset in offsets:
            key = (topic, partition)
            after[key] = max(after.get(key, 0), offset + 1)
        return self._left(after)

    def _left(self, after: Mapping[tuple[str, int], int]) -> int | None:
        try:
            ends = self._highwaters()
        except Exception as exc:  # the consumer is (re)connecting or rebalancing
            log.debug("log-end offsets unavailable: %s", exc)
            return None
        return sum(max(0, end - after.get(tp, end)) for tp, end in ends.items())

    def behind(self) -> bool:
        """Whether more than ``threshold`` events wait."""
        return self.waiting() > self.threshold

    def flush_due(
        self,
        pending_rows: int,
        since_cut_s: float,
        *,
        flush_rows: int,
        flush_interval_s: float,
        otherwise: bool,
    ) -> bool:
        """Whether to cut a flush now: the backlog cadence while behind, ``otherwise`` (the
        worker's own triggers) when caught up.

        >>> far = Backlog(0, lambda: {("t", 0): 10})
        >>> far.taken([("t", 0, 0)])  # 9 events wait
        >>> far.flush_due(10, 1.0, flush_rows=2000, flush_interval_s=1.0, otherwise=True)
        False
        >>> far.flush_due(10, 10.0, flush_rows=2000, flush_interval_s=1.0, otherwise=False)
        True
        """
        wait_s = self.flush_due_in(
            pending_rows, since_cut_s, flush_rows=flush_rows, flush_interval_s=flush_interval_s
        )
        return otherwise if wait_s is None else wait_s == 0.0

    def flush_due_in(
        self, pending_rows: int, since_cut_s: float, *, flush_rows: int, flush_interval_s: float
    ) -> float | None:
        """Seconds until :meth:`flush_due` cuts while behind (0: now); None when the worker is
        not behind or nothing pends (its own triggers apply)."""
        if not (pending_rows and self.behind()):
            return None
        if pending_rows >= flush_rows:
            return 0.0
        return max(0.0, BACKLOG_INTERVAL_FACTOR * flush_interval_s - since_cut_s)


def faust_highwaters(app: Any, topic: str) -> Callable[[], dict[tuple[str, int], int]]:
    """Log-end offsets of the partitions of ``topic`` that ``app``'s consumer owns, as known
    from its last fetches (a partition without one yet is left out)."""

    def highwaters() -> dict[tuple[str, int], int]:
        consumer = app.consumer
        ends = {}
        for tp in consumer.assignment():
            if tp.topic == topic:
                end = consumer.highwater(tp)
                if end is not None:
                    ends[(tp.topic, tp.partition)] = int(end)
        return ends

    return highwaters
