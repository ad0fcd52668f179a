"""The false-alarm budget of each line, against the alarms the line actually raised.

For the readiness report: per line, the budget (``drift.false_alarms_per_line_week``), the frames it
processed and over how long (the measured frame rate next to the configured one), the alarms
raised, and how many false alarms the calibration expects over those frames (frames x
detectors per frame x the per-update rate of the thresholds). Alarms well above that
expectation are real changes; a count within it may be chance.

>>> s = Settings()
>>> (b,) = line_budgets(s, signals=11, rows=[("line-1", 86_400, 86_400.0, 3)])
>>> b.detectors_per_frame, f"{b.expected_false_alarms:.3f}", b.measured_frames_per_second
(15, '0.143', 1.0)
>>> b.alarms, f"{b.budget_for_period:.3f}"
(3, '0.143')
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from streams.config import LineConfig, Settings
from streams.drift.thresholds import SECONDS_PER_WEEK, budget_rate

__all__ = ["LineBudget", "line_budgets"]


@dataclass(frozen=True)
class LineBudget:
    """One line's false-alarm budget and what happened."""

    line_id: str
    budget_per_week: float
    configured_frames_per_second: float
    measured_frames_per_second: float | None
    frames: int
    detectors_per_frame: int
    rate_per_update: float
    alarms: int
    expected_false_alarms: float
    budget_for_period: float
    """The weekly budget scaled to the period the frames span."""


def line_budgets(
    settings: Settings, *, signals: int, rows: Sequence[tuple[str, int, float, int]]
) -> list[LineBudget]:
    """``rows``: (line, frames, seconds from first to last frame, frame-signal alarms)."""
    per_frame = signals + len(settings.plant.lighting_bucket_names)
    out = []
    for line_id, frames, seconds, alarms in rows:
        line = settings.plant.lines.get(line_id) or LineConfig()
        fixed = settings.drift.false_alarms_per_event
        rate = (
            fixed
            if fixed is not None
            else budget_rate(
                settings.drift.false_alarms_per_line_week,
                frames_per_second=line.frame_rate,
                detectors_per_frame=per_frame,
            )
        )
        measured = frames / seconds if seconds > 0 and frames > 1 else None
        out.append(
            LineBudget(
                line_id=line_id,
                budget_per_week=settings.drift.false_alarms_per_line_week,
                configured_frames_per_second=line.frame_rate,
                measured_frames_per_second=measured,
                frames=frames,
                detectors_per_frame=per_frame,
                rate_per_update=rate,
                alarms=alarms,
                expected_false_alarms=frames * per_frame * rate,
                budget_for_period=settings.drift.false_alarms_per_line_week
                * max(seconds, 0.0)
                / SECONDS_PER_WEEK,
            )
        )
    return out
