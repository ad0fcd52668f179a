"""The Faust application: thin agents that move bytes between Kafka and :class:`StreamWorker`.

- ``camera-events`` → micro-batches (``noack_take`` by size and time) → model batches of
  ``inference.batch_frames`` across takes (a short tail waits at most
  ``inference.max_batch_wait_ms``; a timer runs it then) → pipeline in a worker
  thread → rows pending in the worker (write-behind) → a flush when ``worker.flush_rows`` rows
  are pending or the oldest is ``worker.flush_interval_s`` old (a timer checks even when no
  events arrive; a worker that is behind uses :mod:`streams.kafka.backlog`'s larger cadence):
  rows, then the state snapshot per partition, then dead letters to ``camera-events.dlq`` and
  drift events to ``drift-events``. Only then are the flushed events acknowledged (and
  committed at once), so no committed offset has a row not stored; a SIGKILL at any point
  replays them, and the store's idempotent writes plus the snapshot offsets keep replays
  invisible.
- ``labels`` → ground truth into the store.
- ``/livez``, ``/readyz`` and ``/metrics`` (Prometheus) on the Faust web port: ready once the
  model, reference and store are loaded, the consumer has finished its (re)balance and a Kafka
  bootstrap server accepts connections.

Agents run with ``concurrency=1`` (with more, an open faust-streaming bug can commit an offset past
an unfinished message); scale with partitions and worker processes.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faust
from faust.tables import TableManager
from faust.web import Request, Response, View

from streams.config import Settings
from streams.errors import ConfigError
from streams.ingest import RawRecord
from streams.kafka.backlog import Backlog, faust_highwaters
from streams.kafka.config import faust_broker_options
from streams.kafka.startup import STARTUP
from streams.runners.metrics import CONTENT_TYPE, WorkerMetrics
from streams.runners.stream_worker import (
    FlushResult,
    KafkaRecord,
    PendingFlush,
    StreamWorker,
)
from streams.sinks.dsn import mask_dsn

__all__ = ["create_app", "data_dir"]

log = logging.getLogger(__name__)


def _record(event: Any, topic: str) -> KafkaRecord:
    message = event.message
    payload = message.value if isinstance(message.value, bytes) else bytes(message.value or b"")
    partition, offset = int(message.partition), int(message.offset)
    raw = RawRecord(payload, f"kafka:{topic}:{partition}:{offset}", datetime.now(UTC))
    stamp = getattr(message, "timestamp", None)
    return KafkaRecord(raw, partition, offset, float(stamp) if stamp else None)


def _bootstrap_addresses(bootstrap: str) -> list[tuple[str, int]]:
    """``host:port`` pairs of a bootstrap list (``kafka://`` prefixes allowed)."""
    pairs = []
    for item in bootstrap.split(","):
        host, _, port = item.strip().removeprefix("kafka://").rpartition(":")
        if host and port.isdigit():
            pairs.append((host.strip("[]"), int(port)))
    return pairs


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
    datadir = data_dir(settings)
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
        datadir=str(datadir),
        store="memory://",
        stream_wait_empty=False,
        TableManager=_NoTablesManager,
        broker_commit_interval=settings.worker.commit_interval_s,
    )
    events_topic = app.topic(settings.kafka.topic_events, value_type=bytes, key_type=bytes)
    labels_topic = app.topic(settings.kafka.topic_labels, value_type=bytes, key_type=bytes)
    dlq_topic = app.topic(settings.kafka.topic_dlq, value_type=bytes, key_type=bytes)
    drift_topic = app.topic(settings.kafka.topic_drift, value_type=bytes, key_type=bytes)

    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="linewatch-worker")
    holder: dict[str, StreamWorker] = {}
    ready = asyncio.Event()
    if stream_worker is not None:
        holder["worker"] = stream_worker
        ready.set()
        log.info(
            "linewatch worker ready: model, reference and store %s", mask_dsn(settings.store.dsn)
        )

    creating = asyncio.Lock()  # both agents and load_worker ask at start-up: create one worker

    async def worker() -> StreamWorker:
        async with creating:
            found = holder.get("worker")
            if found is None:
                loop = asyncio.get_running_loop()
                found = await loop.run_in_executor(executor, StreamWorker.create, settings)
                holder["worker"] = found
                ready.set()
                log.info(
                    "linewatch worker ready: model, reference and store %s",
                    mask_dsn(settings.store.dsn),
                )
        return found

    metrics = WorkerMetrics()
    # Three stages overlap, each in order: the agent takes micro-batches off Kafka (event loop),
    # the processor runs them through the pipeline (``executor``) and cuts flushes, and the
    # flusher writes a cut to the store (``flusher``, one write at a time) while the next
    # micro-batches are processed. Bounded: one batch queued, one being processed, at most
    # one write in flight; while a write waits for the store, the next cut waits for it, the
    # processor stops, the queue fills and the agent stops taking.
    flusher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="linewatch-flush")
    batches: asyncio.Queue[tuple[Any, list[Any], list[KafkaRecord]]] = asyncio.Queue(maxsize=1)
    process_lock = asyncio.Lock()  # held while a batch is processed or a flush is cut
    unacked: list[tuple[Any, Any]] = []  # (stream, event) whose rows are pending in the worker
    writing: dict[str, asyncio.Task[None]] = {}  # "last": the newest write and its acks
    commits: set[asyncio.Future[bool]] = set()  # commits started after a write, until done
    state = {"stopping": False}
    broker = {"up": True}

    async def publish(dead_letters: list[Any], drift_events: list[Any]) -> None:
        for dl in dead_letters:
            await dlq_topic.send(
                key=dl.source.encode(),
                value=dl.payload.encode(),
                headers={
                    "reason": dl.reason.encode(),
                    "source": dl.source.encode(),
                    "detail": dl.detail[:500].encode(),
                    "payload_bytes": str(dl.payload_bytes).encode(),
                    "payload_sha256": dl.payload_sha256.encode(),
                },
            )
        for drift in drift_events:
            await drift_topic.send(
                key=drift.line_id.encode(), value=drift.model_dump_json().encode()
            )

    async def write_and_ack(
        w: StreamWorker, pending: PendingFlush, events: list[tuple[Any, Any]]
    ) -> None:
        """Write a cut (flusher thread), publish, then acknowledge its events."""
        try:
            loop = asyncio.get_running_loop()
            result: FlushResult = await loop.run_in_executor(flusher, w.write_flush, pending)
            metrics.flushed(result)
            log.debug(
                "flushed %d events, %d rows in %.3fs", result.events, result.rows, result.seconds
            )
            await publish(result.dead_letters, result.drift_events)
            if result.drift_events:
                log.info("%d drift event(s) in this flush", len(result.drift_events))
            for stream, event in events:
                await stream.ack(event)
            if not state["stopping"] and not app.rebalancing:  # now, not at the next tick
                commit = asyncio.ensure_future(app.consumer.commit())  # the next cut needn't wait
                commits.add(commit)
                commit.add_done_callback(commits.discard)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # nothing acknowledged: the events are replayed
            log.exception("a flush failed; stopping the worker (its events will be replayed)")
            await app.crash(exc)
            raise

    async def written() -> None:
        """Wait until the write in flight (if any) is stored and acknowledged."""
        last = writing.get("last")
        if last is not None:
            await asyncio.shield(last)

    async def start_flush(w: StreamWorker) -> None:
        """Cut what is pending and start writing it (hold process_lock)."""
        await written()  # one write in flight at most, in cut order
        if not w.pending_events:
            return
        loop = asyncio.get_running_loop()
        cut_at["last"] = loop.time()
        pending, held = await loop.run_in_executor(executor, lambda: (w.cut(), w.held_events()))
        # events the batch assembler holds are not processed yet: acknowledged by a later cut
        events = [(s, e) for s, e in unacked if _key(e) not in held]
        unacked[:] = [(s, e) for s, e in unacked if _key(e) in held]
        writing["last"] = asyncio.ensure_future(write_and_ack(w, pending, events))

    cut_at = {"last": 0.0}  # event-loop time of the newest cut
    min_gap_s = settings.worker.flush_interval_s / 2
    backlog = Backlog(
        settings.worker.take_max_events, faust_highwaters(app, settings.kafka.topic_events)
    )

    def due(w: StreamWorker, otherwise: bool) -> bool:
        """``otherwise`` (the worker's triggers), or the larger cadence while behind."""
        since_cut_s = asyncio.get_running_loop().time() - cut_at["last"]
        return backlog.flush_due(
            w.pending_rows,
            since_cut_s,
            flush_rows=settings.worker.flush_rows,
            flush_interval_s=settings.worker.flush_interval_s,
            otherwise=otherwise,
        )

    def idle() -> bool:
        """The worker caught up: no batch waits to be processed, no write is in flight, and
        the last cut is at least half a flush interval old (bounds the insert rate of a
        worker kept just busy by a trickle of events to two flushes per interval)."""
        last = writing.get("last")
        return (
            batches.empty()
            and (last is None or last.done())
            and asyncio.get_running_loop().time() - cut_at["last"] >= min_gap_s
        )

    @app.agent(events_topic, concurrency=1)
    async def monitor(stream: Any) -> None:
        w = await worker()
        async for events in stream.noack_take(
            settings.worker.take_max_events, within=settings.worker.take_window_s
        ):
            metrics.consumed(len(events))
            STARTUP.consumed()  # logs the start-up time once
            batch = [_record(e, settings.kafka.topic_events) for e in events]
            backlog.taken((settings.kafka.topic_events, r.partition, r.offset) for r in batch)
            w.prefetch(batch)  # its first chunk decodes while the processor is busy
            await batches.put((stream, events, batch))  # waits while the processor is behind

    async def process_batches() -> None:
        """Run queued micro-batches through the pipeline in order; cut flushes when due."""
        w = await worker()
        loop = asyncio.get_running_loop()
        cut_at["last"] = loop.time()
        while True:
            stream, events, batch = await batches.get()
            async with process_lock:
                if state["stopping"]:
                    continue  # not acknowledged: replayed after the restart
                owned = _owned(app, settings.kafka.topic_events)
                if owned is not None and any(r.partition not in owned for r in batch):
                    # events of a partition revoked meanwhile: not ours (not acknowledged)
                    events = [e for e in events if int(e.message.partition) in owned]
                    batch = [r for r in batch if r.partition in owned]
                out = await loop.run_in_executor(executor, w.process, batch)
                unacked.extend((stream, e) for e in events)
                metrics.processed(out)
                # caught up (a partial take, nothing queued): flush now, not on the timer
                caught_up = len(events) < settings.worker.take_max_events and idle()
                if due(w, w.flush_due() or caught_up):
                    await start_flush(w)

    app.task(process_batches)

    async def flush_when_due() -> None:
        """The time trigger (a quiet partition's pending rows are flushed too), and rows left
        pending because a write was in flight when the worker caught up."""
        w = holder.get("worker")
        if w is None or not w.pending_events or process_lock.locked():
            return
        async with process_lock:
            if due(w, w.flush_due() or idle()):
                await start_flush(w)

    async def run_due() -> None:
        """Run a short model batch once its oldest event waited inference.max_batch_wait_ms."""
        w = holder.get("worker")
        if w is None or not w.holding or process_lock.locked():
            return
        async with process_lock:
            if not state["stopping"]:
                out = await asyncio.get_running_loop().run_in_executor(executor, w.run_due)
                metrics.processed(out)

    async def flush_all(w: StreamWorker) -> None:
        """Run held events, write and acknowledge everything pending (hold process_lock)."""
        metrics.processed(await asyncio.get_running_loop().run_in_executor(executor, w.drain))
        await start_flush(w)
        await written()

    async def watch_broker() -> None:
        """Readiness follows whether a bootstrap server accepts connections."""
        up = await _reachable(_bootstrap_addresses(settings.kafka.bootstrap))
        if up != broker["up"]:
            log.warning(
                "Kafka bootstrap %s %s",
                settings.kafka.bootstrap,
                "is reachable again" if up else "is unreachable: not ready",
            )
        broker["up"] = up

    app.timer(interval=min(0.25, settings.worker.flush_interval_s / 4))(flush_when_due)
    app.timer(interval=2.0)(watch_broker)
    if settings.inference.max_batch_wait_ms > 0:
        app.timer(interval=max(0.005, settings.inference.max_batch_wait_ms / 2000))(run_due)

    @app.agent(labels_topic, concurrency=1)
    async def labels(stream: Any) -> None:
        w = await worker()
        loop = asyncio.get_running_loop()
        async for events in stream.take_events(256, within=1.0):
            raws = [_record(e, settings.kafka.topic_labels).raw for e in events]
            _, bad = await loop.run_in_executor(executor, w.handle_labels, raws)
            for letter in bad:
                metrics.dead_letters.labels(reason=letter.reason).inc()

    async def load_worker() -> None:
        await worker()

    app.task(load_worker)

    async def on_revoked(sender: Any, revoked: Any, **_: Any) -> None:
        w = holder.get("worker")
        if w is not None:
            gone = {tp.partition for tp in revoked if tp.topic == settings.kafka.topic_events}
            async with process_lock:  # rows of the revoked partitions are pending: write them
                await flush_all(w)
                await asyncio.get_running_loop().run_in_executor(executor, w.revoke, gone)

    app.on_partitions_revoked.connect(on_revoked)  # type: ignore[arg-type]

    async def on_shutdown(sender: Any, **_: Any) -> None:
        """SIGTERM: the fetcher has stopped; write and acknowledge what is pending, so the
        consumer commits it when it stops (queued batches are dropped, unacknowledged)."""
        w = holder.get("worker")
        if w is None:
            return
        async with process_lock:
            state["stopping"] = True
            await flush_all(w)
        log.info("stopping: pending rows written and acknowledged")

    app.on_before_shutdown.connect(on_shutdown)  # type: ignore[arg-type]

    joined = asyncio.Event()  # the consumer finished its first rebalance (even with 0 partitions)

    async def on_assigned(sender: Any, assigned: Any, **_: Any) -> None:
        joined.set()

    app.on_partitions_assigned.connect(on_assigned)  # type: ignore[arg-type]

    @app.page("/livez")
    class Livez(View):
        async def get(self, request: Request) -> Response:
            return self.json({"status": "alive"})

    @app.page("/readyz")
    class Readyz(View):
        async def get(self, request: Request) -> Response:
            rebalancing = bool(getattr(app, "rebalancing", False))
            ok = ready.is_set() and joined.is_set() and not rebalancing and broker["up"]
            body = {
                "ready": ok,
                "worker_loaded": ready.is_set(),
                "joined": joined.is_set(),
                "rebalancing": rebalancing,
                "broker_reachable": broker["up"],
            }
            return self.json(body, status=200 if ok else 503)

    @app.page("/metrics")
    class Metrics(View):
        async def get(self, request: Request) -> Response:
            metrics.set_lag(settings.kafka.topic_events, _lag(app, settings.kafka.topic_events))
            return self.bytes(metrics.render(), content_type=CONTENT_TYPE)

    return app


def _key(event: Any) -> tuple[int, int]:
    """(partition, offset) of a Faust event."""
    return int(event.message.partition), int(event.message.offset)


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
        consumer = app.consumer
        committed = getattr(consumer, "_committed_offset", {})
        lag = {}
        for tp in consumer.assignment():
            if tp.topic != topic:
                continue
            end = consumer.highwater(tp)
            if end is None:
                continue
            lag[tp.partition] = max(0, int(end) - int(committed.get(tp) or 0))
        return lag
    except Exception as exc:  # the consumer is (re)connecting: report no lag series
        log.debug("consumer lag unavailable: %s", exc)
        return {}
