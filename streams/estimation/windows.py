"""Estimates over the store: lab calibration set, production prevalence, per-slice windows.

Reads the labelled lab frames of the latest assessment (``lab_eval``, written by ``linewatch
assess``: the plant's lab set when one was imported, else the simulated lab, :func:`lab_set_name`
says which; the clean condition and every corruption, with their image statistics), the audited
production units (``v_frame_outcomes``) and the production frames' top confidences and image
statistics, and turns them into :class:`~streams.estimation.PerformanceEstimate` per slice and
per slice window, with the lab calibration re-weighted to each group's inputs
(:mod:`streams.estimation.reweighted`). Every function takes the store and plain parameters;
the CLI passes the settings' values in. The queries are the typed reads of
:mod:`streams.sinks.reads.estimation`.

Slices are :class:`~streams.slicing.SliceKey`; their estimates are listed by line, shift and
lighting, and their ids and seeds hash those three in that order.

The prevalence a slice is calibrated to comes from what is known, most specific first:
the slice's own audited units (at least ``min_audited_slice``), all audited production units (at
least ``min_audited``), else an EM estimate from the slice's own scores (label-free).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from schemas.records import EstimatedPerformanceRecord, stable_id
from streams.errors import EstimationError
from streams.estimation.combine import combine
from streams.estimation.estimator import LabSet, PerformanceEstimate
from streams.estimation.reweighted import LabPool, estimate_under_shift
from streams.estimation.segments import change_points, segments
from streams.estimation.shift import SHIFT_FEATURES, FloatArray, ShiftRule, feature_matrix
from streams.sinks import ClickHouseStore
from streams.sinks.reads.estimation import (
    lab_frames,
    lab_recall_counts,
    latest_lab_set,
    production_frames,
    slice_audits,
)
from streams.slicing import SliceKey

__all__ = [
    "UNDESCRIBED_CORRUPTIONS",
    "PrevalencePolicy",
    "SliceFrames",
    "WindowEstimate",
    "estimate_groups",
    "lab_set_name",
    "load_lab_pool",
    "load_lab_set",
    "load_slice_frames",
    "slice_windows",
    "window_estimates",
    "window_record",
]

UNDESCRIBED_CORRUPTIONS: tuple[str, ...] = ("occlusion",)
"""Corruptions whose effect the global image statistics do not describe (a local patch): their
lab frames would be matched to windows they do not resemble, so the lab pool leaves them out
(as it leaves out the novel inputs, which have no trained truth)."""


@dataclass(frozen=True)
class PrevalencePolicy:
    """Where a slice's defect prevalence comes from (see the module docstring)."""

    configured: float | None = None
    min_audited: int = 200
    min_audited_slice: int = 500


@dataclass
class SliceFrames:
    """Production frames of one slice in capture order, with their image statistics (one list
    per :data:`~streams.estimation.shift.SHIFT_FEATURES` name)."""

    captured_at: list[datetime]
    event_ids: list[str]
    scores: list[float]
    model_version: str
    stats: list[list[float]] = field(default_factory=lambda: [[] for _ in SHIFT_FEATURES])

    def features(self, start: int = 0, end: int | None = None) -> FloatArray:
        """Shift-feature rows of frames ``start:end``."""
        return feature_matrix([column[start:end] for column in self.stats])


def load_lab_pool(store: ClickHouseStore) -> LabPool:
    """The labelled lab frames of the latest corruption-suite run: the clean condition and every
    corruption (novel inputs left out), with their image statistics where stored."""
    frames = lab_frames(store, UNDESCRIBED_CORRUPTIONS)
    clean = np.asarray([f.clean for f in frames], dtype=bool)
    if not frames or not clean.any():
        raise EstimationError(
            "no labelled lab frames in the store: run `linewatch assess` (it evaluates the lab "
            "split the calibration is fitted on), then estimate again"
        )
    scores = np.asarray([f.max_confidence for f in frames])
    defective = np.asarray([f.gt_defective for f in frames])
    classes = tuple(f.gt_classes for f in frames)
    described = [f.stats for f in frames if f.stats is not None]
    if len(described) < len(frames):
        # An assessment made before lab frames carried image statistics: clean frames only.
        return LabPool(
            scores[clean],
            defective[clean],
            None,
            np.ones(int(clean.sum()), bool),
            classes=tuple(c for c, keep in zip(classes, clean, strict=True) if keep),
        )
    stats = feature_matrix([[row[j] for row in described] for j in range(len(SHIFT_FEATURES))])
    return LabPool(scores, defective, stats, clean, classes=classes)


def load_lab_set(store: ClickHouseStore) -> LabSet:
    """The clean labelled lab frames of the latest corruption-suite run, unweighted."""
    return load_lab_pool(store).clean_set()


def lab_set_name(store: ClickHouseStore) -> str | None:
    """The lab set the calibration is fitted on: the latest assessment's (``""``: the simulated
    lab; ``None``: no assessment yet)."""
    return latest_lab_set(store)


def lab_recall(store: ClickHouseStore) -> float | None:
    """Frame-level recall of the lab split at the threshold of the latest assessment."""
    counts = lab_recall_counts(store)
    if counts is None or not counts[1]:
        return None
    return counts[0] / counts[1]


def _audits(store: ClickHouseStore) -> dict[SliceKey, tuple[int, int]]:
    return {
        SliceKey(line_id=a.line_id, shift=a.shift, lighting=a.lighting): (a.units, a.defective)
        for a in slice_audits(store)
    }


def load_slice_frames(store: ClickHouseStore) -> dict[SliceKey, SliceFrames]:
    """Every production frame's top confidence, grouped by slice, in capture order."""
    out: dict[SliceKey, SliceFrames] = {}
    for frame in production_frames(store):
        key = SliceKey(line_id=frame.line_id, shift=frame.shift, lighting=frame.lighting)
        group = out.get(key)
        if group is None:
            group = out[key] = SliceFrames([], [], [], frame.model_version)
        group.captured_at.append(frame.captured_at)
        group.event_ids.append(frame.event_id)
        group.scores.append(frame.max_confidence)
        for column, value in zip(group.stats, frame.stats, strict=True):
            column.append(value)
    return out


def _by_line_shift_lighting(item: tuple[SliceKey, object]) -> tuple[str, str, str]:
    """Sort key of a slice's item: line, shift, lighting (the order estimates are listed in)."""
    key = item[0]
    return key.line_id, key.shift, key.lighting


def _prevalence(
    keys: Sequence[SliceKey], audits: dict[SliceKey, tuple[int, int]], policy: PrevalencePolicy
) -> tuple[float | None, str]:
    if policy.configured is not None:
        return policy.configured, "configured"
    units = sum(audits.get(k, (0, 0))[0] for k in keys)
    defective = sum(audits.get(k, (0, 0))[1] for k in keys)
    if units >= policy.min_audited_slice and defective > 0:
        return defective / units, "audited-slice"
    total = sum(u for u, _ in audits.values())
    total_def = sum(d for _, d in audits.values())
    if total >= policy.min_audited and total_def > 0:
        return total_def / total, "audited"
    return None, "em"


def estimate_groups(
    store: ClickHouseStore,
    threshold: float,
    groupings: Sequence[Sequence[str]],
    *,
    window_frames: int,
    policy: PrevalencePolicy,
    draws: int = 200,
    rule: ShiftRule | None = None,
) -> list[dict[tuple[str, ...], PerformanceEstimate]]:
    """Per grouping (columns out of line_id/shift/lighting; ``()``: one overall group keyed
    ``()``), the estimate of every group of slices.

    A group's estimate combines the estimates of its slices' windows
    (:func:`streams.estimation.combine.combine`): the windows ``linewatch estimate`` writes, cut
    where each slice's inputs change, a slice shorter than half a window taken as one window.
    """
    found = window_estimates(
        store, threshold, window_frames, policy=policy, draws=draws, rule=rule, whole=True
    )
    max_unknown = (rule or ShiftRule()).max_unsupported
    out = []
    for by in groupings:
        grouped: dict[tuple[str, ...], list[PerformanceEstimate]] = defaultdict(list)
        for window in found:
            grouped[tuple(str(getattr(window.key, c)) for c in by)].append(window.estimate)
        out.append({group: combine(parts, max_unknown) for group, parts in sorted(grouped.items())})
    return out


def slice_windows(group: SliceFrames, size: int, *, whole: bool = False) -> list[tuple[int, int]]:
    """``[start, end)`` of a slice's windows, in capture order.

    The slice is first cut where its image statistics step (:mod:`.segments`, segments of at
    least half a window), so that no window straddles a change of its inputs; each segment
    is then cut into consecutive windows of ``size`` frames from its first frame, a tail
    shorter than a window joining the last one. A slice shorter than half a window gets no
    window, or one over all its frames where ``whole``.
    """
    n = len(group.scores)
    min_size = max(size // 2, 10)
    cuts = change_points(group.features(), min_size=min_size)
    out = [
        (start + a, start + b)
        for start, end in segments(n, cuts)
        for a, b in _windows(end - start, size)
    ]
    if not out and whole and n:
        out = [(0, n)]
    return out


def _windows(n: int, size: int) -> Iterator[tuple[int, int]]:
    """``[start, end)`` of consecutive windows; a short tail joins the last window."""
    if n < size:
        if n >= size // 2:
            yield 0, n
        return
    starts = list(range(0, n - size + 1, size))
    for i, start in enumerate(starts):
        end = n if i == len(starts) - 1 else start + size
        yield start, end


@dataclass(frozen=True)
class WindowEstimate:
    """The estimate of frames ``start:end`` of one slice."""

    key: SliceKey
    group: SliceFrames
    start: int
    end: int
    estimate: PerformanceEstimate


def window_estimates(
    store: ClickHouseStore,
    threshold: float,
    window_frames: int,
    *,
    policy: PrevalencePolicy,
    draws: int,
    rule: ShiftRule | None,
    whole: bool = False,
) -> list[WindowEstimate]:
    """Every slice window's estimate (:func:`slice_windows`; a slice shorter than half a window
    as one window where ``whole``), slices by line, shift and lighting."""
    if window_frames < 20:
        raise EstimationError(f"an estimation window needs >= 20 frames, got {window_frames}")
    pool = load_lab_pool(store)
    audits = _audits(store)
    out: list[WindowEstimate] = []
    for key, group in sorted(load_slice_frames(store).items(), key=_by_line_shift_lighting):
        prevalence, source = _prevalence([key], audits, policy)
        scores = np.asarray(group.scores)
        for start, end in slice_windows(group, window_frames, whole=whole):
            first = group.captured_at[start]
            est = estimate_under_shift(
                scores[start:end],
                group.features(start, end),
                threshold,
                pool,
                rule=rule,
                prevalence=prevalence,
                prevalence_source=source,
                draws=draws,
                seed=int(
                    stable_id(key.line_id, key.shift, key.lighting, first.isoformat())[:8], 16
                ),
            )
            out.append(WindowEstimate(key, group, start, end, est))
    return out


def window_record(window: WindowEstimate, *, stamp: datetime) -> EstimatedPerformanceRecord:
    """The stored row of a window's estimate (frames ``start:end`` of a slice).

    Its id covers the window and the figures estimated for it: a rerun over the same frames
    with the same inputs writes nothing new, while one whose figures changed (a new
    `linewatch assess`, audits that now give the prevalence, other settings) writes a new row,
    which ``v_estimated_performance`` shows as the window's latest.
    """
    key, group, start, end, est = (
        window.key,
        window.group,
        window.start,
        window.end,
        window.estimate,
    )
    first, last = group.captured_at[start], group.captured_at[end - 1]
    figures = [(e.value, e.lo, e.hi) for e in (est.precision, est.recall, est.fpr)]
    return EstimatedPerformanceRecord(
        estimate_id=stable_id(
            key.line_id,
            key.shift,
            key.lighting,
            first.isoformat(),
            last.isoformat(),
            end - start,
            est.threshold,
            group.model_version,
            est.status,
            est.prevalence,
            est.prevalence_source,
            figures,
        ),
        line_id=key.line_id,
        shift=key.shift,
        lighting=key.lighting,
        window_start=first,
        window_end=last,
        frames=end - start,
        threshold=est.threshold,
        model_version=group.model_version,
        prevalence=est.prevalence,
        prevalence_source=est.prevalence_source,
        expected_defective=est.expected_defective,
        precision=est.precision.value,
        precision_lo=est.precision.lo,
        precision_hi=est.precision.hi,
        recall=est.recall.value,
        recall_lo=est.recall.lo,
        recall_hi=est.recall.hi,
        fpr=est.fpr.value,
        fpr_lo=est.fpr.lo,
        fpr_hi=est.fpr.hi,
        estimated_at=stamp,
        status=est.status,
        reason=est.reason,
        lab_ess=est.lab_ess,
        lab_ess_defective=est.lab_ess_defective,
        shift_auc=est.shift_auc,
    )
