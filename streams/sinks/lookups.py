"""Lookups of what the store holds already, for :mod:`streams.sinks.writer`'s idempotent writes.

Each costs what the batch holds, not what the history does (see ``docs/storage.md``): frames
are looked up in ``event_keys`` (narrow, sorted by ``event_id``, fed by a materialized view),
which also yields their content hash, and, unless the store's journal vouches for ``event_keys``
(:mod:`streams.sinks.frames_journal`), in the same query in ``frames`` by their sort key
(frames whose ``event_keys`` row never landed); detections only for frames already stored, by their
frames' sort-key prefix (line, capture time, id); the small tables by an ``IN`` on their first
key column. Every lookup runs one query per :data:`LOOKUP_CHUNK` keys, its keys bound as
parameters, and asks for rows only (no second query for the column names of an empty result).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from schemas.records import DetectionRecord, FrameRecord, StoreRecord
from streams.errors import StoreError
from streams.sinks.connection import Connection
from streams.sinks.dsn import DATABASE

__all__ = [
    "LOOKUP_CHUNK",
    "existing_keys",
    "stored_detections",
    "stored_frames",
]

LOOKUP_CHUNK = 2000
"""Keys per ``IN`` query of the existing-key lookup."""

_SORT_KEYS = "{keys:Array(Tuple(String, DateTime64(3, 'UTC'), String))}"
"""The ``(line_id, captured_at, event_id)`` keys parameter of the sort-key lookups."""


def _key_type(values: Sequence[object]) -> str:
    if all(isinstance(v, str) for v in values):
        return "String"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "Int64"
    raise StoreError(f"unsupported key values {values[:3]!r}: keys must be strings or integers")


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def existing_keys(
    conn: Connection, model: type[StoreRecord], keys: Sequence[tuple[object, ...]]
) -> set[tuple[object, ...]]:
    """Those of ``keys`` already stored in ``model``'s table (any table; not bounded)."""
    if not keys:
        return set()
    key_cols = model.__key__
    firsts = sorted({k[0] for k in keys}, key=repr)
    type_name = _key_type(firsts)
    select = ", ".join(key_cols)
    sql = (
        f"SELECT DISTINCT {select} FROM {DATABASE}.{model.__table__} "
        f"WHERE {key_cols[0]} IN {{keys:Array({type_name})}}"
    )
    wanted = set(keys)
    found: set[tuple[object, ...]] = set()
    for chunk in _chunks(firsts, LOOKUP_CHUNK):
        for row in conn.query(sql, {"keys": list(chunk)}, names=False).result_rows:
            if tuple(row) in wanted:
                found.add(tuple(row))
    return found


def stored_frames(
    conn: Connection, frames: Mapping[str, FrameRecord], *, keyless: bool = True
) -> dict[str, tuple[str, str]]:
    """``event_id -> (content_hash, source)`` of those of ``frames`` already stored.

    One query per :data:`LOOKUP_CHUNK` frames reads ``event_keys`` by its primary key
    (``event_id``): only the granules that can hold the given ids, whatever line or time they
    were stored under. A non-empty hash wins over ``""`` when an event was stored both before
    and after hashes existed.

    ``keyless`` (unless the store's :mod:`~streams.sinks.frames_journal` vouches that every
    stored frame has its key row): the same query also reads ``frames`` itself (``UNION ALL``)
    by the full sort key ``(line_id, captured_at, event_id)`` (a replay carries the stored
    frame's line and capture time): ``event_keys`` is filled by a materialized view in a second
    part, so a process killed between the two leaves frames whose keys are missing. The primary
    index keeps only the granules that can hold one of those exact keys - for new frames, none
    but the newest parts'. What ``event_keys`` found wins.
    """
    found: dict[str, tuple[str, str]] = {}
    keyless_found: dict[str, tuple[str, str]] = {}
    items = sorted(frames.items())
    sql = (
        f"SELECT 1, event_id, content_hash, source FROM {DATABASE}.event_keys "
        "WHERE event_id IN {ids:Array(String)}"
    )
    if keyless:
        sql += (
            f" UNION ALL SELECT 0, event_id, content_hash, source FROM {DATABASE}.frames "
            f"WHERE (line_id, captured_at, event_id) IN {_SORT_KEYS}"
        )
    for chunk in _chunks(items, LOOKUP_CHUNK):
        parameters: dict[str, Any] = {"ids": [event_id for event_id, _ in chunk]}
        if keyless:
            parameters["keys"] = [(f.line_id, f.captured_at, event_id) for event_id, f in chunk]
        rows = conn.query(sql, parameters, names=False).result_rows
        for from_keys, event_id, digest, source in rows:
            if not from_keys:
                keyless_found[str(event_id)] = (str(digest), str(source))
            elif event_id not in found or not found[event_id][0]:
                found[str(event_id)] = (str(digest), str(source))
    for event_id, stored in keyless_found.items():
        found.setdefault(event_id, stored)
    return found


def stored_detections(
    conn: Connection, detections: Sequence[DetectionRecord]
) -> set[tuple[object, ...]]:
    """Keys of ``detections`` already stored, read by their frames' sort-key prefix.

    ``(line_id, captured_at, event_id)`` opens the table's sort key, so the primary index
    keeps only the granules that can hold those frames' detections: a detection's line and
    capture time are those of its frame, identical in a replay.
    """
    if not detections:
        return set()
    wanted = {d.key() for d in detections}
    frames = sorted({(d.line_id, d.captured_at, d.event_id) for d in detections})
    found: set[tuple[object, ...]] = set()
    for chunk in _chunks(frames, LOOKUP_CHUNK):
        sql = (
            f"SELECT DISTINCT event_id, det_index FROM {DATABASE}.detections "
            f"WHERE (line_id, captured_at, event_id) IN {_SORT_KEYS}"
        )
        for row in conn.query(sql, {"keys": list(chunk)}, names=False).result_rows:
            if tuple(row) in wanted:
                found.add(tuple(row))
    return found
