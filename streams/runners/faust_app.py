"""The Faust application: thin agents that move bytes between Kafka and :class:`StreamWorker`.

- ``camera-events`` → micro-batches (``take_events`` by size and time) → pipeline in a worker
  thread → rows in the store → dead letters to ``camera-events.dlq``, drift events to
  ``drift-events`` → drift state snapshot per partition. Events are acknowledged only after all
  of that, so a SIGKILL at any point replays them, and the store's idempotent writes plus the
  snapshot offsets keep replays invisible.
- ``labels`` → ground truth into the store.
- ``/livez`` and ``/readyz`` on the Faust web port: ready once the model, reference and store are
  loaded and the consumer has finished its (re)balance.

Agents run with ``concurrency=1`` (with more, an open faust-streaming bug can commit an offset past
an unfinished message); scale with partitions and worker processes.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import faust
from faust.web import Request, Response, View

from streams.config import Settings
from streams.ingest import RawRecord
from streams.kafka.config import faust_broker_options
from streams.pipeline import PipelineOutput
from streams.runners.stream_worker import KafkaRecord, StreamWorker

__all__ = ["create_app"]

log = logging.getLogger(__name__)


def _record(event: Any, topic: str) -> KafkaRecord:
    message = event.message
    payload = message.value if isinstance(message.value, bytes) else bytes(message.value or b"")
    partition, offset = int(message.partition), int(message.offset)
    raw = RawRecord(payload, f"kafka:{topic}:{partition}:{offset}", datetime.now(UTC))
    return KafkaRecord(raw, partition, offset)


def create_app(settings: Settings) -> faust.App:
    """Build the Faust app for ``settings`` (no I/O happens until the worker starts)."""
    app = faust.App(
        settings.worker_id,
        **faust_broker_options(settings),
        value_serializer="raw",
        key_serializer="raw",
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        web_port=settings.worker_web_port,
        web_host="0.0.0.0",
        datadir=settings.worker_data_dir,
        store="memory://",
        stream_wait_empty=False,
    )
    events_topic = app.topic(settings.topic_events, value_type=bytes, key_type=bytes)
    labels_topic = app.topic(settings.topic_labels, value_type=bytes, key_type=bytes)
    dlq_topic = app.topic(settings.topic_dlq, value_type=bytes, key_type=bytes)
    drift_topic = app.topic(settings.topic_drift, value_type=bytes, key_type=bytes)

    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="linewatch-worker")
    holder: dict[str, StreamWorker] = {}
    ready = asyncio.Event()

    async def worker() -> StreamWorker:
        found = holder.get("worker")
        if found is None:
            loop = asyncio.get_running_loop()
            found = await loop.run_in_executor(executor, StreamWorker.create, settings)
            holder["worker"] = found
            ready.set()
            log.info("linewatch worker ready: model, reference and store %s", settings.store)
        return found

    async def publish(out: PipelineOutput) -> None:
        for dl in out.dead_letters:
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
        for drift in out.drift_events:
            await drift_topic.send(
                key=drift.line_id.encode(), value=drift.model_dump_json().encode()
            )

    @app.agent(events_topic, concurrency=1)
    async def monitor(stream: Any) -> None:
        w = await worker()
        loop = asyncio.get_running_loop()
        async for events in stream.take_events(
            settings.worker_batch_size, within=settings.inference_batch_timeout_s
        ):
            batch = [_record(e, settings.topic_events) for e in events]
            out, offsets = await loop.run_in_executor(executor, w.handle_events, batch)
            await publish(out)
            await loop.run_in_executor(executor, w.save_state, offsets)
            if out.drift_events:
                log.info("%d drift event(s) in this batch", len(out.drift_events))

    @app.agent(labels_topic, concurrency=1)
    async def labels(stream: Any) -> None:
        w = await worker()
        loop = asyncio.get_running_loop()
        async for events in stream.take_events(256, within=1.0):
            raws = [_record(e, settings.topic_labels).raw for e in events]
            await loop.run_in_executor(executor, w.handle_labels, raws)

    async def load_worker() -> None:
        await worker()

    app.task(load_worker)

    async def on_revoked(sender: Any, revoked: Any, **_: Any) -> None:
        w = holder.get("worker")
        if w is not None:
            gone = {tp.partition for tp in revoked if tp.topic == settings.topic_events}
            await asyncio.get_running_loop().run_in_executor(executor, w.revoke, gone)

    app.on_partitions_revoked.connect(on_revoked)  # type: ignore[arg-type]

    @app.page("/livez")
    class Livez(View):
        async def get(self, request: Request) -> Response:
            return self.json({"status": "alive"})

    @app.page("/readyz")
    class Readyz(View):
        async def get(self, request: Request) -> Response:
            rebalancing = bool(getattr(app, "rebalancing", False))
            ok = ready.is_set() and not rebalancing
            body = {"ready": ok, "worker_loaded": ready.is_set(), "rebalancing": rebalancing}
            return self.json(body, status=200 if ok else 503)

    return app
