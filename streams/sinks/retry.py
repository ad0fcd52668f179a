"""linewatch's one retry implementation: exponential back-off with a cap, logging each failure.

``retry`` is the loop. The runners' store writes (:mod:`streams.runners.checkpoint`) wait
without limit for a store that cannot be reached (``forever_on=(StoreUnavailable,)``) and give
any other store error ``attempts`` tries.

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

from streams.errors import StoreError

__all__ = ["backoff_delays", "retry"]

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
    attempts: int | None = 5,
    base_delay_s: float = 0.5,
    max_delay_s: float = 30.0,
    retry_on: tuple[type[BaseException], ...] = (StoreError,),
    forever_on: tuple[type[BaseException], ...] = (),
    sleep: Callable[[float], object] = time.sleep,
    what: str = "store write",
) -> T:
    """Call ``fn`` until it succeeds or ``attempts`` calls failed with ``retry_on``.

    ``attempts=None`` retries without limit. Failures that are instances of ``forever_on`` are
    retried without limit and do not count against ``attempts`` (e.g. a store that cannot be
    reached, as opposed to one that rejects the rows). The last failure is re-raised unchanged;
    other exceptions propagate at once.

    >>> from streams.errors import StoreUnavailable, StoreWriteError
    >>> outcomes = iter([StoreUnavailable("down")] * 6 + [StoreWriteError("bad row")] * 2)
    >>> def flaky() -> int:
    ...     raise next(outcomes)
    >>> slept = []
    >>> retry(flaky, attempts=2, forever_on=(StoreUnavailable,), sleep=slept.append)
    Traceback (most recent call last):
    ...
    streams.errors.StoreWriteError: bad row
    >>> len(slept)  # six waits for the store, one between the two rejections
    7
    """
    if attempts is not None and attempts < 1:
        raise ValueError("attempts must be at least 1 (or None: without limit)")
    delays = backoff_delays(base_delay_s, max_delay_s)
    failures = 0
    calls = 0
    while True:
        calls += 1
        try:
            return fn()
        except retry_on as exc:
            counted = not isinstance(exc, forever_on)
            failures += counted
            if counted and attempts is not None and failures >= attempts:
                log.error("%s failed %d times, giving up: %s", what, calls, exc)
                raise
            delay = next(delays)
            limit = "" if attempts is None or not counted else f"/{attempts}"
            log.warning(
                "%s failed (attempt %d%s), retrying in %.1fs: %s",
                what,
                calls,
                limit,
                delay,
                exc,
            )
            sleep(delay)
