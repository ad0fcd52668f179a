"""Ground-truth lines → ``labels`` rows (or dead letters with the reason).

A label may arrive long after its frame, or before it: rows are stored either way and
:func:`streams.readiness.reconcile.reconcile` pairs them with frames whenever both exist.

>>> good, bad = label_records([
...     '{"event_id": "0b9f8e9a-2a53-4c9e-9c57-2f1b8f0d1a11", "objects": [],'
...     ' "labelled_at": "2026-11-29T06:00:00Z"}',
...     'not json'])
>>> len(good), good[0].object_count, bad[0].reason
(1, 0, 'label_invalid')
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from pydantic import ValidationError

from schemas.events import GroundTruth
from schemas.records import DEAD_LETTER_PAYLOAD_BYTES, DeadLetterRecord, LabelRecord, stable_id
from streams.errors import EventRejected
from streams.ingest import IngestLimits, LineCut, RawRecord, check_clock
from streams.ingest.decode import validation_detail

__all__ = ["LABEL_INVALID", "label_id_for", "label_records", "parse_label"]

LABEL_INVALID = "label_invalid"
"""Dead-letter reason of a ground-truth line that is not a valid ``GroundTruth``."""


def label_id_for(gt: GroundTruth) -> str:
    """The idempotency key of a label: the same review of the same event is one row."""
    return stable_id(str(gt.event_id), gt.source, gt.labelled_at.isoformat())


def parse_label(gt: GroundTruth, ingested_at: datetime) -> LabelRecord:
    """A validated ground truth as a ``labels`` row."""
    return LabelRecord(
        label_id=label_id_for(gt),
        event_id=str(gt.event_id),
        source=gt.source,
        labelled_at=gt.labelled_at.astimezone(UTC),
        object_count=len(gt.objects),
        class_names=[o.class_name for o in gt.objects],
        boxes=[[float(v) for v in o.box] for o in gt.objects],
        ingested_at=ingested_at,
    )


def label_records(
    lines: Iterable[RawRecord | bytes | str],
    *,
    source: str = "labels",
    limits: IngestLimits | None = None,
    max_payload_bytes: int = DEAD_LETTER_PAYLOAD_BYTES,
) -> tuple[list[LabelRecord], list[DeadLetterRecord]]:
    """Validate ground-truth JSON lines; invalid ones become dead letters (``label_invalid``).

    ``lines`` are :class:`~streams.ingest.RawRecord` (their source and arrival time are kept
    on dead letters) or plain JSON strings/bytes (``source`` is used). Blank lines are skipped.
    A line longer than ``limits.max_event_bytes`` is refused unparsed (``label_invalid``), and a
    ``labelled_at`` outside the clock window of ``limits`` is ``clock_out_of_range``.
    """
    limits = limits or IngestLimits()
    good: list[LabelRecord] = []
    bad: list[DeadLetterRecord] = []
    now = datetime.now(UTC)
    for index, item in enumerate(lines):
        cut = None
        if isinstance(item, RawRecord):
            payload, where, received, cut = item.payload, item.source, item.received_at, item.cut
        else:
            payload = item.encode() if isinstance(item, str) else bytes(item)
            where, received = f"{source}:{index + 1}", now
        if not payload.strip() and cut is None:
            continue
        try:
            good.append(_one_label(payload, received, limits, cut))
        except EventRejected as exc:
            bad.append(
                DeadLetterRecord.build(
                    reason=exc.reason,
                    detail=exc.detail,
                    payload=payload,
                    source=where,
                    received_at=received,
                    max_payload_bytes=max_payload_bytes,
                    whole=None if cut is None else (cut.length, cut.sha256),
                )
            )
    return good, bad


def _one_label(
    payload: bytes, received: datetime, limits: IngestLimits, cut: LineCut | None
) -> LabelRecord:
    length = len(payload) if cut is None else cut.length
    if cut is not None or length > limits.max_event_bytes:
        raise EventRejected(
            LABEL_INVALID,
            f"label line is {length} bytes, longer than any label needs "
            f"({limits.max_event_bytes}); not parsed",
        )
    try:
        gt = GroundTruth.model_validate_json(payload)
    except ValidationError as exc:
        detail = validation_detail(exc)
        raise EventRejected(
            LABEL_INVALID,
            f"not a ground-truth label ({detail}); expected "
            '{"event_id": UUID, "objects": [{"class_name", "box"}], "labelled_at"}',
        ) from exc
    try:
        check_clock(gt.labelled_at, limits, received)
    except EventRejected as exc:
        raise EventRejected(
            exc.reason, exc.detail.replace("captured_at", "labelled_at", 1)
        ) from exc
    return parse_label(gt, ingested_at=received)
