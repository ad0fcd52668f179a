"""Retry helpers: exponential back-off with a cap, logging each failed attempt.

``retry`` gives up after a number of attempts; ``retry_until_available`` waits out a store
outage however long it lasts (for callers that must not drop rows and can pause their input).

>>> from streams.errors import StoreUnavailable
>>> delays = []
>>> calls = iter([StoreUnavailable("down"), StoreUnavailable("down"), 42])
>>> def flaky() -> int:
...     outcome = next(calls)
...     if isinstance(outcome, Exception):
...         raise outcome
...     return outcome
>>> retry(flaky, attempts=5, base_delay_s=0.5, sleep=delays.append)
42
>>> delays
[0.5, 1.0]
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

from streams.errors import StoreError, StoreUnavailable

__all__ = ["backoff_delays", "retry", "retry_until_available"]

log = logging.getLogger(__name__)

T = TypeVar("T")


def backoff_delays(base_delay_s: float, max_delay_s: float, factor: float = 2.0) -> Iterator[float]:
    """Endless delays ``base, base·factor, …`` capped at ``max_delay_s``.

    >>> from itertools import islice
    >>> list(islice(backoff_delays(1.0, 5.0), 5))
    [1.0, 2.0, 4.0, 5.0, 5.0]
    """
    delay = base_delay_s
    while True:
        yield min(delay, max_delay_s)
        delay *= factor


def retry(
    fn: Callable[[], T],
    *,
    attempts: int = 5,
    base_delay_s: float = 0.5,
    max_delay_s: float = 30.0,
    retry_on: tuple[type[BaseException], ...] = (StoreError,),
    sleep: Callable[[float], object] = time.sleep,
    what: str = "store write",
) -> T:
    """Call ``fn`` until it succeeds or ``attempts`` calls failed with ``retry_on``.

    The last failure is re-raised unchanged; other exceptions propagate at once.
    """
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    delays = backoff_delays(base_delay_s, max_delay_s)
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except retry_on as exc:
            if attempt == attempts:
                log.error("%s failed %d times, giving up: %s", what, attempt, exc)
                raise
            delay = next(delays)
            log.warning(
                "%s failed (attempt %d/%d), retrying in %.1fs: %s",
                what,
                attempt,
                attempts,
                delay,
                exc,
            )
            sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def retry_until_available(
    fn: Callable[[], T],
    *,
    base_delay_s: float = 0.5,
    max_delay_s: float = 10.0,
    sleep: Callable[[float], object] = time.sleep,
    what: str = "store write",
) -> T:
    """Call ``fn`` until it does not raise :class:`StoreUnavailable`; other errors propagate.

    Use it only around idempotent work (a ``BatchWriter`` flush keeps its rows on failure and
    ``ClickHouseStore.insert`` skips rows already stored), and only where the caller reads no
    more input meanwhile, so memory stays bounded for however long the outage lasts.

    >>> outcomes = iter([StoreUnavailable("down"), StoreUnavailable("down"), 7])
    >>> def flaky() -> int:
    ...     outcome = next(outcomes)
    ...     if isinstance(outcome, Exception):
    ...         raise outcome
    ...     return outcome
    >>> waits: list[float] = []
    >>> retry_until_available(flaky, sleep=waits.append), waits
    (7, [0.5, 1.0])
    """
    delays = backoff_delays(base_delay_s, max_delay_s)
    attempt = 1
    while True:
        try:
            result = fn()
        except StoreUnavailable as exc:
            delay = next(delays)
            log.warning(
                "%s: store unreachable (attempt %d), retrying in %.1fs: %s",
                what,
                attempt,
                delay,
                exc,
            )
            sleep(delay)
            attempt += 1
            continue
        if attempt > 1:
            log.warning("%s: store is back after %d attempts; resuming", what, attempt)
        return result
