"""``linewatch detect``'s loop: camera-event JSON lines in, one detections JSON line out per
accepted event, through :class:`~streams.describe.FrameDescriber` (the same decode and
inference as the monitoring pipeline).

This thread reads, parses and decodes the JPEGs while ``in_flight`` helper threads run the model
on the batches decoded before (onnxruntime, numpy and simplejpeg release the GIL): with
``in_flight=1`` decoding overlaps inference (a second thread's worth of CPU where a core is
free); ``in_flight=0`` keeps decode and model on the calling thread, one after the other; with
more, several batches are in the model at once, each on its own onnxruntime call (a session may
be run from several threads; each runs on the caller's thread plus the session's intra-op
threads). Results, callbacks and ``write`` stay on the calling thread, in input order.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from schemas.results import FrameDetections
from streams.describe import AcceptedFrame, DescribedFrame, FrameDescriber
from streams.errors import EventRejected
from streams.inference import Detector
from streams.ingest import IngestLimits, RawRecord

__all__ = ["DetectSummary", "detect_lines"]


@dataclass
class DetectSummary:
    """What :func:`detect_lines` did."""

    accepted: int = 0
    rejected: int = 0
    inference_s: float = 0.0
    reasons: dict[str, int] = field(default_factory=dict)


def detect_lines(
    lines: Iterable[bytes | RawRecord],
    detector: Detector,
    write: Callable[[str], Any],
    *,
    batch_size: int,
    limits: IngestLimits | None = None,
    on_reject: Callable[[int, EventRejected], None] | None = None,
    on_batch: Callable[[int], None] | None = None,
    in_flight: int = 1,
) -> DetectSummary:
    """Run camera-event JSON ``lines`` through :class:`FrameDescriber`; ``write`` each result.

    Writes one :class:`~schemas.results.FrameDetections` JSON line (with a newline) per accepted
    event, in input order; rejected lines go to ``on_reject(line_number, error)``. Blank lines
    are skipped. ``on_batch(lines_done)`` is called after each batch. ``lines`` may be
    :class:`~streams.ingest.RawRecord` from :func:`~streams.ingest.read_lines` (one per line,
    blank ones too), so a line longer than any event is never held whole. ``in_flight``:
    batches in the model at once (module doc).
    """
    if in_flight < 0:
        raise ValueError(f"in_flight must be 0 or more, got {in_flight}")
    describer = FrameDescriber(
        detector,
        operating_threshold=float(detector.spec.operating_threshold),
        review_band=(0.0, 0.0),  # detect writes detections only, never statistics or signals
        limits=limits,
    )
    summary = DetectSummary()

    def finish(batch: _DetectBatch, described: list[DescribedFrame]) -> None:
        for number, error in batch.rejected:
            summary.rejected += 1
            summary.reasons[error.reason] = summary.reasons.get(error.reason, 0) + 1
            if on_reject is not None:
                on_reject(number, error)
        _write_frames(described, write, summary)
        if on_batch is not None:
            on_batch(batch.lines_done)

    batches = _decoded_batches(describer, lines, batch_size)
    if in_flight == 0:
        for batch in batches:
            finish(batch, describer.describe(batch.accepted))
        return summary
    pending: deque[tuple[_DetectBatch, Future[list[DescribedFrame]]]] = deque()
    with ThreadPoolExecutor(max_workers=in_flight, thread_name_prefix="linewatch-model") as pool:
        for batch in batches:
            pending.append((batch, pool.submit(describer.describe, batch.accepted)))
            while len(pending) > in_flight or (pending and pending[0][1].done()):
                done, described = pending.popleft()
                finish(done, described.result())
        while pending:
            done, described = pending.popleft()
            finish(done, described.result())
    return summary


def _write_frames(
    frames: list[DescribedFrame], write: Callable[[str], Any], summary: DetectSummary
) -> None:
    """One detections JSON line per frame, counted in ``summary``."""
    for item in frames:
        record = FrameDetections.model_construct(
            event_id=str(item.event.event_id),
            detections=item.detections,
            inference_ms=round(item.inference_ms, 3),
        )
        write(record.model_dump_json() + "\n")
        summary.inference_s += item.inference_ms / 1000.0
    summary.accepted += len(frames)


@dataclass
class _DetectBatch:
    """Up to ``batch_size`` accepted frames of :func:`detect_lines`, the lines rejected on the
    way (line number, error), and the number of the last line read."""

    accepted: list[AcceptedFrame]
    rejected: list[tuple[int, EventRejected]]
    lines_done: int


def _decoded_batches(
    describer: FrameDescriber, lines: Iterable[bytes | RawRecord], batch_size: int
) -> Iterator[_DetectBatch]:
    """Read and decode ``lines`` into batches of ``batch_size`` accepted frames (the last one
    may be smaller; a last batch of rejections only, or of nothing, still reports the lines
    read). Blank lines are skipped."""
    batch = _DetectBatch([], [], 0)
    for number, line in enumerate(lines, start=1):
        raw = line if isinstance(line, RawRecord) else RawRecord(line, "", datetime.now(UTC))
        if raw.cut is None and not raw.payload.strip():
            continue
        batch.lines_done = number
        decoded = describer.decode(
            [RawRecord(raw.payload, f"line {number}", raw.received_at, raw.cut)]
        )
        batch.accepted.extend(decoded.accepted)
        batch.rejected.extend((number, r.error) for r in decoded.rejected)
        if len(batch.accepted) >= batch_size:
            yield batch
            batch = _DetectBatch([], [], number)
    yield batch
