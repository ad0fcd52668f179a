"""Event identity: a replay of an ``event_id`` is a no-op, a conflict is a dead letter.

A frame whose ``event_id`` is already stored (or appears earlier in the same write) is

- a **replay** when both carry the same :func:`~schemas.records.content_hash` (or either hash is
  unknown, ``""``, as for rows stored before the hash existed): it is skipped silently;
- a **conflict** otherwise: the later frame and its detections are not stored, and a dead letter
  ``event_id_conflict`` names both sources.

>>> import datetime as dt
>>> from streams.readiness.samples import sample_frame
>>> a = sample_frame("e1").model_copy(update={"content_hash": "aa", "source": "file:a:1"})
>>> b = a.model_copy(update={"content_hash": "bb", "source": "file:b:7"})
>>> is_conflict("aa", b.content_hash), is_conflict("", b.content_hash)
(True, False)
>>> dl = conflict_dead_letter(b, stored_source="file:a:1", stored_hash="aa")
>>> dl.reason, dl.source
('event_id_conflict', 'file:b:7')
>>> "file:a:1" in dl.detail and "file:b:7" in dl.detail
True
"""

from __future__ import annotations

import json

from schemas.records import DeadLetterRecord, FrameRecord

__all__ = ["EVENT_ID_CONFLICT", "conflict_dead_letter", "is_conflict"]

EVENT_ID_CONFLICT = "event_id_conflict"


def is_conflict(stored_hash: str, new_hash: str) -> bool:
    """Whether two content hashes of one ``event_id`` disagree (unknown ``""`` never does)."""
    return bool(stored_hash) and bool(new_hash) and stored_hash != new_hash


def conflict_dead_letter(
    new: FrameRecord, *, stored_source: str, stored_hash: str
) -> DeadLetterRecord:
    """The dead letter for ``new``, whose ``event_id`` is held by other content.

    Its id depends only on the two events, so the same conflict replayed is one row.
    """
    identity = {
        "event_id": new.event_id,
        "content_hash": new.content_hash,
        "stored_content_hash": stored_hash,
        "stored_source": stored_source,
        "line_id": new.line_id,
        "camera_id": new.camera_id,
        "captured_at": new.captured_at.isoformat(),
    }
    return DeadLetterRecord.build(
        reason=EVENT_ID_CONFLICT,
        detail=(
            f"event_id {new.event_id} is already stored from {stored_source} with other content "
            f"(hash {stored_hash[:12]}); this event from {new.source} (line {new.line_id}, "
            f"camera {new.camera_id}, captured {new.captured_at.isoformat()}, hash "
            f"{new.content_hash[:12]}) was not stored, nor its detections: the producer must "
            "give every event its own event_id"
        ),
        payload=json.dumps(identity, sort_keys=True).encode(),
        source=new.source,
        received_at=new.ingested_at,
    )
