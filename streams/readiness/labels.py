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
from schemas.records import DeadLetterRecord, LabelRecord, stable_id
from streams.ingest import RawRecord

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
    lines: Iterable[RawRecord | bytes | str], *, source: str = "labels"
) -> tuple[list[LabelRecord], list[DeadLetterRecord]]:
    """Validate ground-truth JSON lines; invalid ones become dead letters (``label_invalid``).

    ``lines`` are :class:`~streams.ingest.RawRecord` (their source and arrival time are kept
    on dead letters) or plain JSON strings/bytes (``source`` is used). Blank lines are skipped.
    """
    good: list[LabelRecord] = []
    bad: list[DeadLetterRecord] = []
    now = datetime.now(UTC)
    for index, item in enumerate(lines):
        if isinstance(item, RawRecord):
            payload, where, received = item.payload, item.source, item.received_at
        else:
            payload = item.encode() if isinstance(item, str) else bytes(item)
            where, received = f"{source}:{index + 1}", now
        if not payload.strip():
            continue
        try:
            gt = GroundTruth.model_validate_json(payload)
        except ValidationError as exc:
            detail = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'line'}: {err['msg']}"
                for err in exc.errors()
            )
            bad.append(
                DeadLetterRecord.build(
                    reason=LABEL_INVALID,
                    detail=f"not a ground-truth label ({detail}); expected "
                    '{"event_id": UUID, "objects": [{"class_name", "box"}], "labelled_at"}',
                    payload=payload,
                    source=where,
                    received_at=received,
                )
            )
            continue
        good.append(parse_label(gt, ingested_at=received))
    return good, bad
