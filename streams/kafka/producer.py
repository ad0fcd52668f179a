"""Produce camera events and their labels to Kafka, from a JSON-lines file or the simulator.

- Events go to ``camera-events`` keyed by their ``line_id``, so the events of one line stay in
  order on one partition. Labels go to ``labels`` keyed by ``event_id``.
- A line that is not JSON, or has no string ``line_id``, is **still sent** (with a null key, so
  the partitioner spreads it): a real camera can send garbage too, and the worker is the one place
  that judges events — it dead-letters them with a reason to ``camera-events.dlq``, where they can
  be counted and inspected. Such lines are counted as ``unkeyed`` in the summary.
- acks=all with the idempotent producer: a message counts as sent once all in-sync replicas
  have it, and retries never duplicate it.

>>> line_key(b'{"line_id": "line-2", "event_id": "e1"}')
b'line-2'
>>> line_key(b'not json') is None
True
>>> event_id_key(b'{"event_id": "e1", "objects": []}')
b'e1'
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from streams.config import Settings
from streams.errors import ConfigError
from streams.ingest import RawRecord
from streams.ingest.sources import open_source, read_records
from streams.kafka.clients import open_admin, open_producer

__all__ = ["Pacer", "ProduceSummary", "StartProgress", "event_id_key", "line_key", "produce"]

StartProgress = Callable[[str, int | None], Callable[[], None]]
"""``start(description, total)`` opens one progress counter and returns its ``advance()``.

:func:`produce` opens one per topic and advances it once per acknowledged or failed message,
from the producer's I/O thread; the CLI draws it as a progress bar."""

_MAX_ERRORS_KEPT = 5
_FLUSH_TIMEOUT_S = 120.0


def _field_key(payload: bytes, name: str) -> bytes | None:
    try:
        obj = json.loads(payload)
    except (ValueError, UnicodeDecodeError, RecursionError):  # the worker dead-letters these
        return None
    value = obj.get(name) if isinstance(obj, dict) else None
    return value.encode() if isinstance(value, str) and value else None


def line_key(payload: bytes) -> bytes | None:
    """The partition key of a camera event: its ``line_id``, or None if it has none."""
    return _field_key(payload, "line_id")


def event_id_key(payload: bytes) -> bytes | None:
    """The partition key of a label: its ``event_id``, or None if it has none."""
    return _field_key(payload, "event_id")


class Pacer:
    """Limits a loop to ``rate`` iterations per second (None: no limit).

    Keeps a schedule rather than sleeping a fixed gap, so slow sends are not paid twice; after a
    stall of more than a second it restarts the schedule instead of bursting to catch up.
    ``clock`` and ``sleep`` are injectable for tests.

    >>> now = [0.0]
    >>> p = Pacer(4.0, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    >>> for _ in range(5):
    ...     p.wait()
    >>> now[0]
    1.0
    """

    def __init__(
        self,
        rate: float | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate is not None and rate <= 0:
            raise ConfigError(f"--rate must be > 0 events/s, got {rate}")
        self._gap = None if rate is None else 1.0 / rate
        self._clock = clock
        self._sleep = sleep
        self._next = clock()

    def wait(self) -> None:
        """Sleep until the next slot is due."""
        if self._gap is None:
            return
        now = self._clock()
        if now < self._next:
            self._sleep(self._next - now)
        elif now - self._next > 1.0:
            self._next = now
        self._next += self._gap


@dataclass
class ProduceSummary:
    """Counts of one ``produce`` run; ``ok`` when nothing failed."""

    events_sent: int = 0
    events_failed: int = 0
    events_unkeyed: int = 0
    labels_sent: int = 0
    labels_failed: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def failed(self) -> int:
        """Messages that were not acknowledged by the broker."""
        return self.events_failed + self.labels_failed

    @property
    def ok(self) -> bool:
        """True when every message was acknowledged."""
        return self.failed == 0


class _Deliveries:
    """Counts acknowledgements and failures reported from the producer's I/O thread."""

    def __init__(self, summary: ProduceSummary) -> None:
        self._summary = summary
        self._lock = threading.Lock()
        self.pending = 0

    def enqueued(self) -> None:
        with self._lock:
            self.pending += 1

    def done(
        self, kind: str, advance: Callable[[], None] | None, error: BaseException | None
    ) -> None:
        with self._lock:
            self.pending -= 1
            if error is None:
                setattr(self._summary, f"{kind}_sent", getattr(self._summary, f"{kind}_sent") + 1)
            else:
                self.failed(kind, error)
        if advance is not None:
            advance()

    def failed(self, kind: str, error: BaseException | str) -> None:
        name = f"{kind}_failed"
        setattr(self._summary, name, getattr(self._summary, name) + 1)
        if len(self._summary.errors) < _MAX_ERRORS_KEPT:
            self._summary.errors.append(f"{kind}: {error}")


def _check_topics(settings: Settings, topics: Iterable[str]) -> None:
    admin = open_admin(settings)
    try:
        present = set(admin.list_topics())
    finally:
        admin.close()
    missing = sorted(set(topics) - present)
    if missing:
        raise ConfigError(
            f"topic(s) {', '.join(missing)} do not exist on {settings.kafka.bootstrap}: "
            "run `linewatch topics create` first"
        )


def _send_all(
    producer: Any,
    records: Iterable[RawRecord],
    *,
    topic: str,
    kind: str,
    key_of: Callable[[bytes], bytes | None],
    deliveries: _Deliveries,
    pacer: Pacer,
    advance: Callable[[], None] | None,
) -> int:
    """Send every record; return how many had no key."""
    from kafka.errors import KafkaError

    unkeyed = 0
    for record in records:
        if record.cut is not None:
            deliveries.failed(
                kind,
                f"{record.source}: line is {record.cut.length} bytes, longer than any valid "
                "message; not sent",
            )
            continue
        pacer.wait()
        key = key_of(record.payload)
        if key is None:
            unkeyed += 1
        try:
            future = producer.send(topic, key=key, value=record.payload)
        except KafkaError as exc:  # too large, metadata or buffer timeout
            deliveries.failed(kind, f"{record.source}: {exc}")
            continue
        deliveries.enqueued()
        future.add_callback(lambda _md: deliveries.done(kind, advance, None))
        future.add_errback(lambda exc: deliveries.done(kind, advance, exc))
    return unkeyed


def _send_labels(
    producer: Any,
    labels: list[RawRecord],
    topic: str,
    deliveries: _Deliveries,
    on_progress: StartProgress | None,
) -> None:
    """Send ``labels`` (after the events: keyed by event id, not paced), if there are any."""
    if not labels:
        return
    advance = on_progress(f"labels → {topic}", len(labels)) if on_progress is not None else None
    _send_all(
        producer,
        labels,
        topic=topic,
        kind="labels",
        key_of=event_id_key,
        deliveries=deliveries,
        pacer=Pacer(None),
        advance=advance,
    )


def produce(
    settings: Settings,
    source: str,
    *,
    labels_file: str | None = None,
    rate: float | None = None,
    topic: str | None = None,
    labels_topic: str | None = None,
    on_progress: StartProgress | None = None,
) -> ProduceSummary:
    """Send the events of ``source`` and then the labels (of the source and of ``labels_file``).

    ``source`` is a JSON-lines file, ``-`` (stdin) or ``simulate:...`` (whose ground truth is
    sent as labels). ``rate`` caps events per second. Raises
    :class:`~streams.errors.KafkaUnavailable` when the broker cannot be reached and
    :class:`~streams.errors.ConfigError` when a topic is missing; failures of single messages
    are counted in the returned summary instead. ``on_progress`` (see :data:`StartProgress`)
    is told of every message the broker answered.
    """
    events_topic = topic or settings.kafka.topic_events
    label_topic = labels_topic or settings.kafka.topic_labels
    pacer = Pacer(rate)
    opened = open_source(source)
    extra_labels = read_records(labels_file) if labels_file is not None else []
    wants_labels = bool(extra_labels) or source.startswith("simulate:")
    _check_topics(settings, [events_topic, label_topic] if wants_labels else [events_topic])

    summary = ProduceSummary()
    deliveries = _Deliveries(summary)
    producer = open_producer(settings, delivery_timeout_ms=60_000)
    try:
        advance = None
        if on_progress is not None:
            advance = on_progress(f"events → {events_topic}", opened.total)
        summary.events_unkeyed = _send_all(
            producer,
            opened.events,
            topic=events_topic,
            kind="events",
            key_of=line_key,
            deliveries=deliveries,
            pacer=pacer,
            advance=advance,
        )
        labels = [*opened.labels, *extra_labels]
        _send_labels(producer, labels, label_topic, deliveries, on_progress)
        producer.flush(timeout=_FLUSH_TIMEOUT_S)
    finally:
        producer.close(timeout=10)
    if deliveries.pending:
        summary.events_failed += deliveries.pending
        summary.errors.append(
            f"{deliveries.pending} message(s) not acknowledged within {_FLUSH_TIMEOUT_S:.0f}s"
        )
    return summary
