"""What ``reconcile`` (:mod:`streams.readiness.reconcile`) reads: the pending labels (the latest
label of each event whose outcome at the threshold is not stored yet), where their frames are,
the frames with their detections at the threshold, and the labels still without a frame."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from streams.sinks.clickhouse import ClickHouseStore

__all__ = [
    "KEYS_SQL",
    "LOOKUP_SQL",
    "ORPHANS_SQL",
    "PENDING_CTE",
    "PENDING_SQL",
    "FrameKey",
    "all_pending_frames",
    "frames_of",
    "labels_without_frames",
    "pending_frame_keys",
    "pending_labels",
    "scan_sql",
    "window",
]

PENDING_CTE = """
WITH pending AS (
    -- the latest label of each event, unless its outcome at this threshold is stored already:
    -- in steady state a handful of rows, whatever the size of the store
    SELECT l.event_id AS event_id, l.label_id AS label_id, l.source AS source,
           l.labelled_at AS labelled_at, l.class_names AS class_names, l.boxes AS boxes
    FROM (
        SELECT event_id, label_id, source, labelled_at, class_names, boxes
        FROM linewatch.labels FINAL
        ORDER BY event_id, labelled_at DESC, label_id DESC
        LIMIT 1 BY event_id
    ) AS l
    LEFT ANTI JOIN (
        SELECT event_id, label_id FROM linewatch.v_frame_outcomes
        WHERE threshold = {threshold:Float64}
    ) AS o ON o.event_id = l.event_id AND o.label_id = l.label_id
)
"""

PENDING_SQL = PENDING_CTE + "SELECT * FROM pending"

KEYS_SQL = (
    PENDING_CTE
    + """
-- where each pending label's frame is (line, capture time), from event_keys by primary key:
-- labels whose frame has not arrived drop out here
SELECT event_id, line_id, captured_at FROM linewatch.event_keys
WHERE event_id IN (SELECT event_id FROM pending)
LIMIT 1 BY event_id
"""
)

LOOKUP_SQL = """
-- the frames of one chunk of pending rows, each with its detections at the threshold (sorted by
-- det_index); the chunk's ids are bound once for both tables, whose reads are bounded by the
-- chunk's capture-time range on each of its lines (/*window*/, see _window)
SELECT f.event_id, f.line_id, f.camera_id, f.shift, f.lighting, f.product_variant,
       f.captured_at, f.model_version, f.max_confidence, f.latency_ms, f.inference_ms, d.dets
FROM (
    SELECT event_id, line_id, camera_id, shift, lighting, product_variant, captured_at,
           model_version, max_confidence, latency_ms, inference_ms
    FROM linewatch.frames
    WHERE /*window*/ AND event_id IN {ids:Array(String)}
    LIMIT 1 BY event_id
) AS f
LEFT JOIN (
    SELECT event_id, arraySort(groupArray((det_index, class_name, confidence, x1, y1, x2, y2)))
           AS dets
    FROM (
        SELECT DISTINCT event_id, det_index, class_name, confidence, x1, y1, x2, y2
        FROM linewatch.detections
        WHERE /*window*/ AND event_id IN {ids:Array(String)}
          AND confidence >= {threshold:Float64}
    )
    GROUP BY event_id
) AS d ON d.event_id = f.event_id
SETTINGS join_use_nulls = 0
"""


ORPHANS_SQL = """
SELECT labels_without_frames FROM linewatch.v_labels_without_frames
"""
"""``v_label_coverage``'s ``labels_without_frames`` alone (without its count of all frames)."""

FrameKey = tuple[str, str, dt.datetime]
"""``(event_id, line_id, captured_at)`` of one pending label's frame."""


def window(keys: Sequence[FrameKey]) -> tuple[str, dict[str, Any]]:
    """The condition and parameters that bound a read of ``frames``/``detections`` (both sorted
    by line and capture time) to the frames of ``keys``: per line, its capture-time range; and
    the event ids. A chunk of keys sorted by (line, capture time) spans a few lines, the first
    and the last of them only in part: one range per line reads only that part of them."""
    ranges: dict[str, list[Any]] = {}
    for _event, line_id, captured_at in keys:
        span = ranges.setdefault(line_id, [captured_at, captured_at])
        span[0], span[1] = min(span[0], captured_at), max(span[1], captured_at)
    params: dict[str, Any] = {"ids": [k[0] for k in keys]}
    terms = []
    for i, (line, (lo, hi)) in enumerate(sorted(ranges.items())):
        params |= {f"line{i}": line, f"lo{i}": lo, f"hi{i}": hi}
        terms.append(
            f"(line_id = {{line{i}:String}} AND captured_at >= {{lo{i}:DateTime64(3, 'UTC')}}"
            f" AND captured_at <= {{hi{i}:DateTime64(3, 'UTC')}})"
        )
    return "(" + " OR ".join(terms) + ")", params


def scan_sql() -> str:
    """:data:`LOOKUP_SQL` for every pending label at once, in one scan of the tables."""
    bounded = "/*window*/ AND event_id IN {ids:Array(String)}"
    assert LOOKUP_SQL.count(bounded) == 2
    return PENDING_CTE + LOOKUP_SQL.replace(bounded, "event_id IN (SELECT event_id FROM pending)")


def pending_labels(store: ClickHouseStore, threshold: float) -> list[tuple[Any, ...]]:
    """``(event_id, label_id, source, labelled_at, class_names, boxes)`` of each pending label."""
    return store.query(PENDING_SQL, {"threshold": threshold}).result_rows


def pending_frame_keys(store: ClickHouseStore, threshold: float) -> dict[str, tuple[Any, ...]]:
    """``event_id -> (line_id, captured_at)`` of the pending labels whose frame is stored."""
    rows = store.query(KEYS_SQL, {"threshold": threshold}).result_rows
    return {r[0]: r[1:] for r in rows}


def frames_of(
    store: ClickHouseStore, keys: Sequence[FrameKey], threshold: float
) -> list[tuple[Any, ...]]:
    """The frames of ``keys``, each a row of :data:`LOOKUP_SQL` (frame columns, then its
    detections at ``threshold`` sorted by ``det_index``)."""
    cond, params = window(keys)
    sql = LOOKUP_SQL.replace("/*window*/", cond)
    return store.query(sql, {**params, "threshold": threshold}).result_rows


def all_pending_frames(store: ClickHouseStore, threshold: float) -> list[tuple[Any, ...]]:
    """The frames of every pending label at once (rows as :func:`frames_of`)."""
    return store.query(scan_sql(), {"threshold": threshold}).result_rows


def labels_without_frames(store: ClickHouseStore) -> int:
    """Labels whose frame is not stored (yet)."""
    return int(store.query(ORPHANS_SQL).result_rows[0][0])
