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

__all__ = ["LABEL_INVALID", "label_id_for", "label_records", "parse_label", "read_labels"]

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


def read_labels(
    lines: Iterable[RawRecord | bytes | str],
    *,
    source: str = "labels",
    limits: IngestLimits | None = None,
    max_payload_bytes: int = DEAD_LETTER_PAYLOAD_BYTES,
) -> list[tuple[RawRecord, LabelRecord | DeadLetterRecord]]:
    """Each non-blank ground-truth line with its row: a ``labels`` row or its dead letter.

    ``lines`` are :class:`~streams.ingest.RawRecord` (their source and arrival time are kept
    on dead letters) or plain JSON strings/bytes (``source:N`` is used). Blank lines are skipped.
    A line longer than ``limits.max_event_bytes`` is refused unparsed (``label_invalid``), and a
    ``labelled_at`` outside the clock window of ``limits`` is ``clock_out_of_range``. A value
    that its ``labels`` column cannot hold (a box corner past Float32) is ``label_invalid``
    naming the field; any other failure of one line is that line's dead letter too.
    """
    limits = limits or IngestLimits()
    rows: list[tuple[RawRecord, LabelRecord | DeadLetterRecord]] = []
    now = datetime.now(UTC)
    for index, item in enumerate(lines):
        if isinstance(item, RawRecord):
            raw = item
        else:
            payload = item.encode("utf-8", "surrogatepass") if isinstance(item, str) else item
            raw = RawRecord(bytes(payload), f"{source}:{index + 1}", now)
        if not raw.payload.strip() and raw.cut is None:
            continue
        try:
            row: LabelRecord | DeadLetterRecord = _one_label(
                raw.payload, raw.received_at, limits, raw.cut
            )
        except Exception as exc:  # any failure of one line is that line's dead letter
            rejected = (
                exc
                if isinstance(exc, EventRejected)
                else EventRejected.failed(LABEL_INVALID, "reading the label", exc)
            )
            row = DeadLetterRecord.build(
                reason=rejected.reason,
                detail=rejected.detail,
                payload=raw.payload,
                source=raw.source,
                received_at=raw.received_at,
                max_payload_bytes=max_payload_bytes,
                whole=None if raw.cut is None else (raw.cut.length, raw.cut.sha256),
            )
        rows.append((raw, row))
    return rows


def label_records(
    lines: Iterable[RawRecord | bytes | str],
    *,
    source: str = "labels",
    limits: IngestLimits | None = None,
    max_payload_bytes: int = DEAD_LETTER_PAYLOAD_BYTES,
) -> tuple[list[LabelRecord], list[DeadLetterRecord]]:
    """Validate ground-truth JSON lines (:func:`read_labels`): the ``labels`` rows and the dead
    letters (``label_invalid``, ``clock_out_of_range``)."""
    good: list[LabelRecord] = []
    bad: list[DeadLetterRecord] = []
    rows = read_labels(lines, source=source, limits=limits, max_payload_bytes=max_payload_bytes)
    for _, row in rows:
        if isinstance(row, LabelRecord):
            good.append(row)
        else:
            bad.append(row)
    return good, bad


def _detail(exc: ValidationError, where: str = "") -> str:
    return "; ".join(
        f"{where}{'.'.join(str(p)[:100] for p in err['loc']) or 'line'}: {err['msg']}"
        for err in exc.errors(include_input=False)[:5]
    )


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
        raise EventRejected(
            LABEL_INVALID,
            f"not a ground-truth label ({_detail(exc)}); expected "
            '{"event_id": UUID, "objects": [{"class_name", "box"}], "labelled_at"}',
        ) from exc
    try:
        check_clock(gt.labelled_at, limits, received)
    except EventRejected as exc:
        raise EventRejected(
            exc.reason, exc.detail.replace("captured_at", "labelled_at", 1)
        ) from exc
    try:
        return parse_label(gt, ingested_at=received)
    except ValidationError as exc:  # a value its column cannot hold (labels.boxes: Float32)
        raise EventRejected(
            LABEL_INVALID, f"a value the store cannot hold ({_detail(exc, 'labels.')})"
        ) from exc
