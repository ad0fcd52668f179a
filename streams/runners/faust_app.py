"""The Faust application: thin agents that move bytes between Kafka and :class:`StreamWorker`.

- ``camera-events`` → micro-batches (:func:`~streams.kafka.take.take`, Faust's ``noack_take``
  by size and time, handed over at once when a drained backlog leaves nothing to wait for) →
  model batches of
  ``inference.batch_frames`` across takes (a short tail waits at most
  ``inference.max_batch_wait_ms``; a timer runs it then) → pipeline in a worker
  thread → rows pending in the worker's :class:`~streams.runners.checkpoint.Checkpoint`
  (write-behind) → a flush when ``checkpoint.flush_rows`` rows
  are pending or the oldest is ``checkpoint.flush_interval_s`` old (a timer checks even when no
  events arrive; a worker that is behind uses :mod:`streams.kafka.backlog`'s larger cadence):
  rows, then the state snapshot per partition, then dead letters to ``camera-events.dlq`` and
  drift events to ``drift-events``. Only then are the flushed events acknowledged (and
  committed at once), so Faust commits no offset whose row is not stored; a SIGKILL at any point
  replays them, and the store's idempotent writes plus the snapshot offsets keep replays
  invisible.
- ``labels`` → ground truth into the store.
- the consumer is Faust's aiokafka consumer without its per-message tasks
  (:class:`~streams.kafka.consumer.LeanConsumer`); the timers are plain ``asyncio.sleep`` loops.
- ``/livez``, ``/readyz`` and ``/metrics`` (Prometheus) on the Faust web port: ready once the
  model, reference and store are loaded, the consumer has finished its (re)balance and a Kafka
  bootstrap server accepts connections.

:func:`create_app` is wiring only: the state and the coroutines live in
:class:`~streams.runners.worker_loop.WorkerLoop`. Agents run with ``concurrency=1`` (with more,
an open faust-streaming bug can commit an offset past an unfinished message); scale with
partitions and worker processes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faust
from faust.tables import TableManager
from faust.web import Request, Response, View

from schemas.records import DeadLetterRecord, DriftEventRecord
from streams.config import Settings
from streams.errors import ConfigError
from streams.ingest import RawRecord
from streams.kafka.backlog import Backlog, faust_highwaters
from streams.kafka.clients import bootstrap_addresses
from streams.kafka.config import faust_broker_options, faust_session_options
from streams.kafka.consumer import LeanTransport
from streams.kafka.take import take
from streams.readiness.audit_stream import AuditRequest
from streams.runners.metrics import CONTENT_TYPE
from streams.runners.stream_worker import KafkaRecord, StreamWorker
from streams.runners.worker_loop import AuditPublisher, WorkerLoop

__all__ = ["create_app", "data_dir"]

log = logging.getLogger(__name__)


def _record(event: Any, topic: str) -> KafkaRecord:
    message = event.message
    payload = message.value if isinstance(message.value, bytes) else bytes(message.value or b"")
    partition, offset = int(message.partition), int(message.offset)
    raw = RawRecord(payload, f"kafka:{topic}:{partition}:{offset}", datetime.now(UTC))
    stamp = getattr(message, "timestamp", None)
    return KafkaRecord(raw, partition, offset, float(stamp) if stamp else None)


async def _reachable(addresses: list[tuple[str, int]], timeout_s: float = 2.0) -> bool:
    """Whether any bootstrap server accepts a TCP connection."""
    for host, port in addresses:
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
        except (OSError, TimeoutError):
            continue
        writer.close()
        return True
    return False


class _RawSchema(faust.Schema[bytes, bytes]):
    """A topic's schema that hands each message on as it came: its key and value bytes.

    Faust's own decode looks both up in its serializer registry per message (the ``raw`` codec,
    a type check) before it creates the event; the worker reads ``event.message`` only, so the
    event is created straight from the message (about a tenth of a millisecond less per event
    on the event loop, where the worker is bound by the interpreter lock).
    """

    def compile(self, app: Any, **_: Any) -> Any:
        """The decode function: the event of the message's own bytes."""
        create_event = app.create_event

        async def decode(message: Any, *, propagate: bool = False) -> Any:
            return create_event(message.key, message.value, message.headers, message)

        return decode


class _NoTablesManager(TableManager):
    """Faust's table manager without its fixed one-second sleep at start.

    Faust sleeps 1 s before starting table recovery so that tables declared late can still be
    registered; the app declares no table (``store="memory://"``, state lives in the store), so
    the sleep only delays the consumer's subscription, and the first event, by a second.
    """

    async def on_start(self) -> None:
        """Start recovery at once (Faust's own ``on_start`` minus ``sleep(1.0)``)."""
        if not self.should_stop:
            await self._update_channels()
            await self.recovery.start()


def data_dir(settings: Settings) -> Path:
    """The worker's Faust data directory, created with its parents (any current directory)."""
    path = Path(settings.worker.data_dir).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot create the worker's data directory LINEWATCH_WORKER__DATA_DIR={path}: "
            f"{exc.strerror or exc}; choose a writable directory"
        ) from exc
    return path


def create_app(settings: Settings, stream_worker: StreamWorker | None = None) -> faust.App:
    """Build the Faust app for ``settings``; only its data directory is created now.

    ``stream_worker``: one already loaded (``linewatch worker`` loads it first, so that a
    missing model or an unreachable store is one clear error before Faust starts); without
    it, the app loads one when it starts.
    """
    app = _faust_app(settings)
    publish = _publisher(app, settings)
    backlog = Backlog(
        settings.worker.take_max_events, faust_highwaters(app, settings.kafka.topic_events)
    )

    def commit() -> Awaitable[object] | None:
        return None if getattr(app, "rebalancing", False) else app.consumer.commit()

    loop = WorkerLoop(
        settings,
        publish,
        app.crash,
        stream_worker,
        backlog=backlog,
        commit=commit,
        publish_audits=_audit_publisher(app, settings),
    )
    _wire_streams(app, settings, loop)
    _wire_signals(app, settings, loop)
    _wire_pages(app, settings, loop)
    return app


def _faust_app(settings: Settings) -> faust.App:
    app = faust.App(
        settings.worker.app_id,
        **faust_broker_options(settings),
        value_serializer="raw",
        key_serializer="raw",
        topic_partitions=settings.kafka.topic_partitions,
        topic_replication_factor=settings.kafka.topic_replication,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        web_port=settings.worker.web_port,
        web_host="0.0.0.0",
        datadir=str(data_dir(settings)),
        store="memory://",
        stream_wait_empty=False,
        TableManager=_NoTablesManager,
        broker_commit_interval=settings.worker.commit_interval_s,
        # a dead letter carries its event (~17 KB for a 640x480 JPEG): with Faust's 16 KB
        # batches each one was a batch of its own and the next waited for its acknowledgement
        producer_max_batch_size=_PRODUCER_BATCH_BYTES,
    )
    # after construction: Faust lets its own BROKER_SESSION_TIMEOUT / BROKER_HEARTBEAT_INTERVAL
    # environment variables override keyword arguments; LINEWATCH_WORKER__SESSION_TIMEOUT_S is
    # the one source
    for name, value in faust_session_options(settings).items():
        setattr(app.conf, name, value)
    # Faust's consumer without its four asyncio tasks per fetched message
    # (streams/kafka/consumer.py); set before anything asks for the transport
    app.transport = LeanTransport(app.conf.broker_consumer, app)
    return app


_PRODUCER_BATCH_BYTES = 512 * 1024
"""Bytes per producer batch and partition (Faust's default 16 KB holds one dead letter)."""


def _publisher(
    app: faust.App, settings: Settings
) -> Callable[[list[DeadLetterRecord], list[DriftEventRecord]], Awaitable[None]]:
    """Sends dead letters to ``camera-events.dlq`` and drift events to ``drift-events``.

    Straight to Faust's producer (each send returns once the message is in the producer's
    batch, as ``Topic.send`` does), without ``Topic.send``'s per-message future and sensor
    bookkeeping on the event loop.
    """
    dlq_topic, drift_topic = settings.kafka.topic_dlq, settings.kafka.topic_drift

    async def publish(
        dead_letters: list[DeadLetterRecord], drift_events: list[DriftEventRecord]
    ) -> None:
        if not (dead_letters or drift_events):
            return
        producer = await app.maybe_start_producer()
        for dl in dead_letters:
            headers = [
                ("reason", dl.reason.encode()),
                ("source", dl.source.encode()),
                ("detail", dl.detail[:500].encode()),
                ("payload_bytes", str(dl.payload_bytes).encode()),
                ("payload_sha256", dl.payload_sha256.encode()),
            ]
            key, value = dl.source.encode(), dl.payload.encode()
            await producer.send(dlq_topic, key, value, None, None, headers)
        for drift in drift_events:
            key, value = drift.line_id.encode(), drift.model_dump_json().encode()
            await producer.send(drift_topic, key, value, None, None, None)

    return publish


def _audit_publisher(app: faust.App, settings: Settings) -> AuditPublisher | None:
    """Sends the units chosen for review to ``audit-requests`` (keyed by line); ``None``
    without ``worker.audit_budget``."""
    if settings.worker.audit_budget is None:
        return None
    topic = app.topic(settings.kafka.topic_audit_requests, value_type=bytes, key_type=bytes)

    async def publish(requests: list[AuditRequest]) -> None:
        for request in requests:
            await topic.send(key=request.line_id.encode(), value=request.to_json())

    return publish


def _wire_streams(app: faust.App, settings: Settings, loop: WorkerLoop) -> None:
    """The two agents, the processor task and the timers."""
    kafka, worker = settings.kafka, settings.worker
    events_topic = app.topic(kafka.topic_events, schema=_RawSchema())
    labels_topic = app.topic(kafka.topic_labels, schema=_RawSchema())

    def take_now(received: Sequence[Any]) -> bool:
        """The newest event received is the last Kafka holds for its partition (its last
        fetch's log-end offset, a cheap check per event), and the worker drained its backlog."""
        if not loop.was_behind:
            return False
        message = received[-1].message
        try:
            end = app.consumer.highwater(message.tp)
        except Exception:  # the consumer is (re)starting: take as Faust does
            return False
        return end is not None and message.offset + 1 >= end and loop.drained_with(received)

    async def monitor(stream: Any) -> None:
        takes = take(stream, worker.take_max_events, worker.take_window_s, take_now)
        async for events in takes:
            await loop.take(stream, events, [_record(e, kafka.topic_events) for e in events])

    async def labels(stream: Any) -> None:
        async for events in stream.take_events(256, within=1.0):
            await loop.labels([_record(e, kafka.topic_labels).raw for e in events])

    async def process_batches() -> None:
        await loop.process_batches(lambda: _owned(app, kafka.topic_events))

    async def load_worker() -> None:
        await loop.worker()

    async def watch_broker() -> None:
        """Readiness follows whether a bootstrap server accepts connections."""
        up = await _reachable(bootstrap_addresses(kafka.bootstrap))
        if up != loop.broker_up:
            state = "is reachable again" if up else "is unreachable: not ready"
            log.warning("Kafka bootstrap %s %s", kafka.bootstrap, state)
        loop.broker_up = up

    app.agent(events_topic, concurrency=1)(monitor)
    app.agent(labels_topic, concurrency=1)(labels)
    app.task(process_batches)
    app.task(load_worker)
    _every(app, min(0.25, settings.checkpoint.flush_interval_s / 4), loop.flush_when_due)
    _every(app, 2.0, watch_broker)
    if settings.inference.max_batch_wait_ms > 0:
        wait_s = max(0.005, settings.inference.max_batch_wait_ms / 2000)
        _every(app, wait_s, loop.run_due)


def _every(app: faust.App, interval_s: float, fn: Callable[[], Awaitable[None]]) -> None:
    """Run ``fn`` every ``interval_s`` seconds while the app runs (a task of the app).

    A plain ``asyncio.sleep`` between calls: Faust's ``app.timer`` costs a task, a
    ``wait_for`` and a drift check (a warning when late) per tick, on the event loop that
    bounds the worker; the batch timer ticks every 50 ms by default.
    """

    async def every() -> None:
        while not app.should_stop:
            await asyncio.sleep(interval_s)
            await fn()

    every.__qualname__ = every.__name__ = f"every_{getattr(fn, '__name__', 'tick')}"
    app.task(every)


def _wire_signals(app: faust.App, settings: Settings, loop: WorkerLoop) -> None:
    """Rebalances and the graceful stop."""
    topic = settings.kafka.topic_events

    async def on_revoked(sender: Any, revoked: Any, **_: Any) -> None:
        await loop.revoked({tp.partition for tp in revoked if tp.topic == topic})

    async def on_shutdown(sender: Any, **_: Any) -> None:
        await loop.shutdown()

    async def on_assigned(sender: Any, assigned: Any, **_: Any) -> None:
        loop.joined.set()

    app.on_partitions_revoked.connect(on_revoked)  # type: ignore[arg-type]
    app.on_before_shutdown.connect(on_shutdown)  # type: ignore[arg-type]
    app.on_partitions_assigned.connect(on_assigned)  # type: ignore[arg-type]


def _wire_pages(app: faust.App, settings: Settings, loop: WorkerLoop) -> None:
    """``/livez``, ``/readyz`` and ``/metrics`` on the Faust web port."""

    @app.page("/livez")
    class Livez(View):
        async def get(self, request: Request) -> Response:
            return self.json({"status": "alive"})

    @app.page("/readyz")
    class Readyz(View):
        async def get(self, request: Request) -> Response:
            body = loop.readiness(bool(getattr(app, "rebalancing", False)))
            return self.json(body, status=200 if body["ready"] else 503)

    @app.page("/metrics")
    class Metrics(View):
        async def get(self, request: Request) -> Response:
            topic = settings.kafka.topic_events
            loop.metrics.set_lag(topic, _lag(app, topic))
            return self.bytes(loop.metrics.render(), content_type=CONTENT_TYPE)


def _owned(app: faust.App, topic: str) -> set[int] | None:
    """Partitions of ``topic`` assigned to this worker now (None: the consumer cannot say)."""
    try:
        return {tp.partition for tp in app.consumer.assignment() if tp.topic == topic}
    except Exception:  # not started yet / reconnecting: keep every event
        return None


def _lag(app: faust.App, topic: str) -> dict[int, int]:
    """Log-end minus committed offset of each owned partition of ``topic`` (what KEDA reads).

    Faust keeps the committed offsets it knows in ``Consumer._committed_offset`` (no public
    accessor); before the first commit of a partition the lag counts from offset 0.
    """
    try:
        committed = getattr(app.consumer, "_committed_offset", {})
        ends = faust_highwaters(app, topic)()  # keyed (topic, partition): equal to Faust's TP
        return {p: max(0, end - int(committed.get((t, p)) or 0)) for (t, p), end in ends.items()}
    except Exception as exc:  # the consumer is (re)connecting: report no lag series
        log.debug("consumer lag unavailable: %s", exc)
        return {}
