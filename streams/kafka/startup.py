"""``linewatch worker``'s start-up: what runs in parallel, and how long it took.

:func:`start_up` loads the stream worker (model, reference, store and its schema) on a thread
while the main thread imports Faust and the Kafka client, then checks that the broker answers and
builds the Faust app: every start-up failure still comes before Faust starts (one ``error:``
line), and the loading no longer waits for those imports.

Three moments are timed: the process started (read from ``/proc``, so the interpreter's start
and the imports count), the broker answered the worker's reachability check, and the agent got
its first event; with the process's CPU seconds then (all threads: on a shared machine the
wall-clock figures mostly say how busy it is). :data:`STARTUP` holds them for the one worker a
process runs; the first :meth:`StartupClock.consumed` logs::

    first event consumed 3.12 s after the process started, 0.41 s after the broker answered
    (CPU 1.52 s)

(one line) ``bench/bench_kafka.py --whole-only`` reads it.

>>> clock = StartupClock(100.0, iter([100.5, 101.2]).__next__, cpu_clock=lambda: 1.5)
>>> clock.broker_answered()
>>> clock.consumed()[-45:]
'0.70 s after the broker answered (CPU 1.50 s)'
>>> clock.consumed() is None  # logged once
True
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from streams.config import Settings

if TYPE_CHECKING:
    import faust

    from streams.runners.stream_worker import StreamWorker

__all__ = ["STARTUP", "StartupClock", "process_started_at", "start_up"]

log = logging.getLogger(__name__)


def process_started_at(clock: Callable[[], float] = time.monotonic) -> float:
    """When this process started, on ``clock`` (Linux: from ``/proc``, 10 ms resolution; where
    ``/proc`` cannot tell, now).

    >>> before = time.monotonic()
    >>> process_started_at() <= before  # this process started before that line ran
    True
    """
    now = clock()
    try:
        uptime_s = float(Path("/proc/uptime").read_text().split()[0])
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        started_s = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22: starttime
    except (OSError, ValueError, IndexError):
        return now
    return now - max(0.0, uptime_s - started_s)


class StartupClock:
    """The three moments of a worker's start (see the module docstring)."""

    def __init__(
        self,
        started_at: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        cpu_clock: Callable[[], float] = time.process_time,
    ) -> None:
        self._clock = clock
        self._cpu_clock = cpu_clock
        self.started_at = process_started_at(clock) if started_at is None else started_at
        self.broker_at: float | None = None
        self.first_event_at: float | None = None

    def broker_answered(self) -> None:
        """The broker answered (the worker's reachability check passed)."""
        self.broker_at = self._clock()

    def consumed(self) -> str | None:
        """Call at each take; the first logs (and returns) the start-up line, later ones
        return None."""
        if self.first_event_at is not None:
            return None
        self.first_event_at = now = self._clock()
        message = f"first event consumed {now - self.started_at:.2f} s after the process started"
        if self.broker_at is not None:
            message += f", {now - self.broker_at:.2f} s after the broker answered"
        message += f" (CPU {self._cpu_clock():.2f} s)"
        log.info("%s", message)
        return message


STARTUP = StartupClock()
"""The clock of this process's worker (started when this module is first imported)."""


def start_up(settings: Settings) -> faust.App:
    """The worker's Faust app, its stream worker loaded and the broker answering.

    A bootstrap server must accept a connection first (nothing is created without one). The
    stream worker loads on a thread while this one imports Faust and kafka-python and
    creates the data directory; the broker is asked once the worker is loaded, so that its
    answer is fresh when Faust starts. A failure of either closes what was loaded and raises.

    Faust's start and the group join are not overlapped with the load: tried, the load (a
    fresh store's schema, mostly Python between chDB's queries) and Faust's start share the
    interpreter lock, so they only interleaved, and the load slowed by about what Faust's start
    took (docs/streaming.md, "Start-up and the whole-process gap").
    """
    from streams.kafka.clients import check_reachable
    from streams.runners.stream_worker import StreamWorker

    check_reachable(settings)  # no broker: no store, no data directory created
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="linewatch-load") as pool:
        loading = pool.submit(StreamWorker.create, settings)
        try:
            from streams.kafka.clients import open_admin
            from streams.runners.faust_app import create_app, data_dir

            data_dir(settings)
            import kafka.admin  # noqa: F401  (imported here, while the worker loads)

            stream_worker = loading.result()
        except BaseException:
            _close_when_loaded(loading)
            raise
    try:
        open_admin(settings).close()  # KafkaUnavailable now rather than a Faust crash later
        STARTUP.broker_answered()
        return create_app(settings, stream_worker)
    except BaseException:
        stream_worker.close()
        raise


def _close_when_loaded(loading: Future[StreamWorker]) -> None:
    """Close the stream worker once it is loaded (nothing if its loading failed)."""
    try:
        loading.result().close()
    except BaseException:  # its own failure: the caller raises the first one
        log.debug("the stream worker did not load", exc_info=True)
