"""``linewatch estimate`` as a function: estimate every slice window of a store and write it.

Writes one ``estimated_performance`` row per slice window and a drift event (signal
``estimated_recall``) where a slice's estimated recall stays below the lab's; both idempotent,
so a rerun over the same frames with the same inputs writes nothing new (a window whose figures
changed, after a new ``linewatch assess`` say, is written again).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from schemas.records import DriftEventRecord, EstimatedPerformanceRecord
from streams.config import EstimationSettings
from streams.drift.cause import attribute_signals
from streams.errors import EstimationError
from streams.estimation.combine import combine
from streams.estimation.drops import recall_drop_events
from streams.estimation.estimator import PerformanceEstimate
from streams.estimation.shift import ShiftRule
from streams.estimation.windows import (
    PrevalencePolicy,
    WindowEstimate,
    lab_recall,
    lab_set_name,
    window_estimates,
    window_record,
)
from streams.sinks import ClickHouseStore
from streams.sinks.reads.estimation import co_moving_signals

__all__ = ["EstimateRun", "attribute_recall_drops", "policy_of", "rule_of", "run_estimates"]


@dataclass
class EstimateRun:
    """What one estimation run computed and wrote."""

    windows: list[EstimatedPerformanceRecord] = field(default_factory=list)
    estimates: list[WindowEstimate] = field(default_factory=list)
    """The windows' estimates, in the order of ``windows``."""
    slices: dict[tuple[str, str, str], PerformanceEstimate] = field(default_factory=dict)
    """Each slice's estimate: its windows combined (:func:`streams.estimation.combine.combine`),
    the same frames as the slice's realized figures."""
    drift_events: list[DriftEventRecord] = field(default_factory=list)
    reference_recall: float | None = None
    rows_written: int = 0
    lab_set: str = ""
    """The lab set the calibration was fitted on (``""``: the simulated lab)."""


def policy_of(params: EstimationSettings) -> PrevalencePolicy:
    """The prevalence policy of the estimation settings."""
    return PrevalencePolicy(
        configured=params.prevalence,
        min_audited=params.min_audited,
        min_audited_slice=params.min_audited_slice,
    )


def rule_of(params: EstimationSettings) -> ShiftRule:
    """When a window's estimate is unknown, from the estimation settings."""
    return ShiftRule(
        max_unsupported=params.shift_max_unsupported,
        min_ess_defective=params.shift_min_ess_defective,
    )


def run_estimates(
    store: ClickHouseStore,
    threshold: float,
    params: EstimationSettings,
    *,
    now: datetime | None = None,
    write: bool = True,
) -> EstimateRun:
    """Estimate every slice window; write the rows and drift events unless ``write`` is off."""
    rule = rule_of(params)
    found = window_estimates(
        store,
        threshold,
        params.window_frames,
        policy=policy_of(params),
        draws=params.draws,
        rule=rule,
    )
    stamp = now or datetime.now(UTC)
    windows = [(window_record(w, stamp=stamp), w.group.event_ids[w.end - 1]) for w in found]
    run = EstimateRun(
        windows=[w for w, _ in windows],
        estimates=found,
        slices=_slices(found, rule.max_unsupported),
        lab_set=lab_set_name(store) or "",
    )
    run.reference_recall = lab_recall(store)
    if run.reference_recall is None:
        raise EstimationError(
            "the lab recall is unknown (no defective lab frames): run `linewatch assess` first"
        )
    run.drift_events = recall_drop_events(
        windows,
        run.reference_recall,
        margin=params.recall_drop_margin,
        consecutive=params.recall_drop_windows,
    )
    run.drift_events = attribute_recall_drops(store, run.drift_events, run.windows)
    if write:
        run.rows_written = store.insert([*run.windows, *run.drift_events])
    return run


def _slices(
    found: list[WindowEstimate], max_unknown: float
) -> dict[tuple[str, str, str], PerformanceEstimate]:
    """Each slice's windows combined."""
    parts: dict[tuple[str, str, str], list[PerformanceEstimate]] = {}
    for w in found:
        parts.setdefault((w.key.line_id, w.key.shift, w.key.lighting), []).append(w.estimate)
    return {key: combine(ests, max_unknown) for key, ests in parts.items()}


def attribute_recall_drops(
    store: ClickHouseStore,
    events: list[DriftEventRecord],
    windows: list[EstimatedPerformanceRecord],
    lead: timedelta = timedelta(minutes=30),
) -> list[DriftEventRecord]:
    """Give each estimated-recall drop the cause of the stored alarms that moved with it.

    The alarms considered are those of the same line and shift from ``lead`` before the first
    low window of the episode up to the event (a lamp failure's brightness alarms explain a
    recall drop as ``lighting``; with no input alarm it is ``model``).
    """
    out = []
    for event in events:
        starts = [
            w.window_start
            for w in windows
            if (w.line_id, w.shift, w.lighting) == (event.line_id, event.shift, event.lighting)
            and w.window_end <= event.detected_at
        ]
        start = (min(starts) if starts else event.detected_at) - lead
        moved = co_moving_signals(
            store, event.line_id, event.shift, event.signal, start=start, end=event.detected_at
        )
        cause, evidence = attribute_signals(event.signal, moved)
        out.append(event.model_copy(update={"cause": cause, "evidence": evidence}))
    return out
