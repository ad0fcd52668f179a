"""When the write-behind cuts its pending rows for a write: by size, or by a latency budget.

``checkpoint.flush_interval_s`` is the budget: a row should be *stored* that long after its
event was produced. The age that counts is the oldest pending row's Kafka timestamp (its
producer's send) when the event has one, else its arrival at the worker (``linewatch run``),
and the write's own time is counted in: the rows are cut once

    age of the oldest pending row + the expected write + the time to the next check >= the budget

(the expected write: an exponentially weighted mean of the last writes' seconds; the next
check: a timer tick, a quarter budget at most, or, when the worker is busy, the next take: the
mean gap between takes, at most half the budget, as a cut cannot come while a take is being
processed). So rows of an event that spent its time in Kafka, in the take
window or in a slow model are cut as soon as they are ready, not a full interval after they
reached the worker (the age used to count from the arrival, so a row could wait for the
interval after it had already used it up). To bound the insert rate (each insert has a fixed
cost, and chDB holds the interpreter lock while it writes), budget cuts are at least half a
budget apart, as the worker's caught-up cuts are; ``checkpoint.flush_rows`` pending rows cut
at once. A worker that is behind in Kafka uses the larger cadence of
:mod:`streams.kafka.backlog` instead (its rows are late anyway).

>>> policy = FlushPolicy(flush_rows=2000, budget_s=1.0)
>>> policy.due(rows=10, oldest_produced_age_s=0.2, oldest_arrival_age_s=0.1, since_cut_s=5.0)
False
>>> policy.due(rows=10, oldest_produced_age_s=0.8, oldest_arrival_age_s=0.1, since_cut_s=5.0)
True
>>> policy.due(rows=10, oldest_produced_age_s=3.0, oldest_arrival_age_s=0.1, since_cut_s=0.1)
False
>>> policy.due(rows=2000, oldest_produced_age_s=None, oldest_arrival_age_s=0.0, since_cut_s=0.0)
True
"""

from __future__ import annotations

__all__ = ["FlushPolicy"]


class FlushPolicy:
    """Size and latency-budget triggers of a flush (see the module docstring)."""

    def __init__(self, flush_rows: int, budget_s: float, *, weight: float = 0.2) -> None:
        self.flush_rows = flush_rows
        self.budget_s = budget_s
        self.weight = weight
        self.write_s = 0.0
        """Expected seconds of a write (exponentially weighted mean of the observed ones)."""
        self.take_gap_s = 0.0
        """Mean seconds between takes (exponentially weighted; at most the budget)."""

    @property
    def tick_s(self) -> float:
        """How often a timer should check :meth:`due` (a quarter budget, at most 0.25 s)."""
        return min(0.25, self.budget_s / 4)

    def wrote(self, seconds: float) -> None:
        """A write took ``seconds``."""
        self.write_s += self.weight * (seconds - self.write_s)

    def took(self, gap_s: float) -> None:
        """A take came ``gap_s`` after the one before."""
        self.take_gap_s += self.weight * (min(gap_s, self.budget_s) - self.take_gap_s)

    def due(
        self,
        *,
        rows: int,
        oldest_produced_age_s: float | None,
        oldest_arrival_age_s: float,
        since_cut_s: float,
    ) -> bool:
        """Whether to cut now: ``rows`` pending reach ``flush_rows``, the oldest pending row
        arrived a budget ago, or (half a budget after the last cut) the oldest row's produce
        age plus the expected write and the time to the next check reaches the budget."""
        return (
            self.due_in(
                rows=rows,
                oldest_produced_age_s=oldest_produced_age_s,
                oldest_arrival_age_s=oldest_arrival_age_s,
                since_cut_s=since_cut_s,
            )
            <= 0.0
        )

    def due_in(
        self,
        *,
        rows: int,
        oldest_produced_age_s: float | None,
        oldest_arrival_age_s: float,
        since_cut_s: float,
    ) -> float:
        """Seconds until :meth:`due` fires if no row is added (0: due now), so that a worker
        can wake up then instead of waiting for its next take or timer tick.

        >>> FlushPolicy(2000, 1.0).due_in(
        ...     rows=1, oldest_produced_age_s=None, oldest_arrival_age_s=0.25, since_cut_s=0.0
        ... )
        0.75
        """
        if rows >= self.flush_rows:
            return 0.0
        wait_s = self.budget_s - oldest_arrival_age_s
        if oldest_produced_age_s is not None:
            next_check_s = max(self.tick_s, min(self.take_gap_s, self.budget_s / 2))
            spaced_s = self.budget_s / 2 - since_cut_s
            aged_s = self.budget_s - oldest_produced_age_s - self.write_s - next_check_s
            wait_s = min(wait_s, max(spaced_s, aged_s))
        return max(0.0, wait_s)
