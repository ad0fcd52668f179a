"""Drift events where a slice's estimated recall stays below the lab's for several windows."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from schemas.records import DriftEventRecord, EstimatedPerformanceRecord, stable_id
from streams.slicing import SliceKey

__all__ = ["ESTIMATED_RECALL_SIGNAL", "ESTIMATE_DETECTOR", "recall_drop_events"]

ESTIMATED_RECALL_SIGNAL = "estimated_recall"
"""Drift-event signal of a sustained drop of estimated recall below the lab's."""
ESTIMATE_DETECTOR = "estimate-vs-lab"

_Window = tuple[EstimatedPerformanceRecord, str]


def recall_drop_events(
    windows: Sequence[_Window],
    reference_recall: float,
    *,
    margin: float,
    consecutive: int,
) -> list[DriftEventRecord]:
    """A drift event where ``consecutive`` windows of a slice all have their estimated-recall
    interval entirely below ``reference_recall - margin`` (one event per run of such windows).

    >>> from datetime import UTC, datetime, timedelta
    >>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
    >>> def w(i: int, hi: float) -> tuple[Any, str]:
    ...     r = EstimatedPerformanceRecord(estimate_id=str(i), line_id="l", shift="s",
    ...         lighting="b", window_start=t0 + timedelta(hours=i),
    ...         window_end=t0 + timedelta(hours=i, minutes=59), frames=100, threshold=0.5,
    ...         model_version="1", prevalence=0.02, prevalence_source="audited",
    ...         expected_defective=2.0, precision=None, precision_lo=None, precision_hi=None,
    ...         recall=hi - 0.1, recall_lo=hi - 0.2, recall_hi=hi, fpr=0.01, fpr_lo=0.0,
    ...         fpr_hi=0.02, estimated_at=t0)
    ...     return r, f"e{i}"
    >>> events = recall_drop_events([w(0, 0.99), w(1, 0.5), w(2, 0.6), w(3, 0.4)],
    ...                             0.95, margin=0.1, consecutive=2)
    >>> [(e.signal, e.trigger_event_id) for e in events]
    [('estimated_recall', 'e2')]
    """
    by_slice: dict[SliceKey, list[_Window]] = defaultdict(list)
    for record, last_event in windows:
        key = SliceKey(line_id=record.line_id, shift=record.shift, lighting=record.lighting)
        by_slice[key].append((record, last_event))
    events: list[DriftEventRecord] = []
    for key in sorted(by_slice, key=lambda k: (k.line_id, k.shift, k.lighting)):
        items = sorted(by_slice[key], key=lambda item: item[0].window_start)
        events.extend(
            _slice_drops(key, items, reference_recall, reference_recall - margin, consecutive)
        )
    return events


def _slice_drops(
    key: SliceKey, items: list[_Window], reference: float, limit: float, consecutive: int
) -> list[DriftEventRecord]:
    """The drift events of one slice's windows, in capture order."""
    recent = [r.recall for r, _ in items if r.recall is not None]
    events: list[DriftEventRecord] = []
    run = 0
    before: list[float] = []
    frames_seen = 0
    for record, last_event in items:
        frames_seen += record.frames
        low = record.recall_hi is not None and record.recall_hi < limit
        run = run + 1 if low else 0
        if not low and record.recall is not None:
            before.append(record.recall)
        if run != consecutive:
            continue
        events.append(
            DriftEventRecord(
                drift_id=stable_id(
                    key.line_id,
                    key.shift,
                    key.lighting,
                    ESTIMATED_RECALL_SIGNAL,
                    record.estimate_id,
                ),
                line_id=key.line_id,
                shift=key.shift,
                lighting=key.lighting,
                signal=ESTIMATED_RECALL_SIGNAL,
                detector=ESTIMATE_DETECTOR,
                detected_at=record.window_end,
                trigger_event_id=last_event,
                statistic=float(record.recall_hi or 0.0),
                threshold=limit,
                events_in_slice=frames_seen,
                before_mean=float(np.mean(before)) if before else reference,
                before_std=float(np.std(before)) if len(before) > 1 else 0.0,
                after_mean=float(record.recall or 0.0),
                after_std=float(np.std(recent)) if len(recent) > 1 else 0.0,
            )
        )
    return events
