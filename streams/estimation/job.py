"""``linewatch estimate`` as a function: estimate every slice window of a store and write it.

Writes one ``estimated_performance`` row per slice window and a drift event (signal
``estimated_recall``) where a slice's estimated recall stays below the lab's; both idempotent,
so a rerun over the same frames writes nothing new.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from schemas.records import DriftEventRecord, EstimatedPerformanceRecord
from streams.config import EstimationSettings
from streams.errors import EstimationError
from streams.estimation.windows import (
    PrevalencePolicy,
    estimate_windows,
    lab_recall,
    recall_drop_events,
)
from streams.sinks import ClickHouseStore

__all__ = ["EstimateRun", "policy_of", "run_estimates"]


@dataclass
class EstimateRun:
    """What one estimation run computed and wrote."""

    windows: list[EstimatedPerformanceRecord] = field(default_factory=list)
    drift_events: list[DriftEventRecord] = field(default_factory=list)
    reference_recall: float | None = None
    rows_written: int = 0


def policy_of(params: EstimationSettings) -> PrevalencePolicy:
    """The prevalence policy of the estimation settings."""
    return PrevalencePolicy(
        configured=params.prevalence,
        min_audited=params.min_audited,
        min_audited_slice=params.min_audited_slice,
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
    windows = estimate_windows(
        store,
        threshold,
        window_frames=params.window_frames,
        policy=policy_of(params),
        draws=params.draws,
        now=now,
    )
    run = EstimateRun(windows=[w for w, _ in windows])
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
    if write:
        run.rows_written = store.insert([*run.windows, *run.drift_events])
    return run
