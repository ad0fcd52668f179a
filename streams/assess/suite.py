"""The corruption / out-of-distribution suite behind ``linewatch assess --suite corruptions``.

The suite runs on a :class:`~streams.assess.sample.SuiteSample`: the plant's own lab set (its
clean images, every corruption applied to them at several severities, and its images of each
novel class) or, where no lab set exists, the simulator's lab split with its novel inputs (a
never-seen defect, an empty belt, a foreign object). For every condition the suite records recall
at the operating threshold, the mean top confidence, the classes the model flagged, and how the
model fails:

- **fail-safe**: it is unsure — a true defect's best confidence stays below the threshold (it
  may still reach the review band), or a novel input gets only low confidences;
- **fail-silent**: it is confident and wrong — a box ≥ threshold of the wrong class or place
  while a defect is missed, a good unit / empty belt / foreign object flagged, or a novel
  defect confidently called one of the trained classes.

The lab frames are also rendered at every level of the dense grid of
:mod:`streams.assess.grid` (a lamp's gain, a lens's defocus) and stored frame by frame
(``lab_eval``) for the label-free estimate's re-weighting; the grid is not summarised.

Everything is deterministic by ``seed``: frame ``i`` of condition ``c`` always uses the random
stream ``(seed, c, i)``. The run names its lab set (``assessment_runs.lab_set``, empty for the
simulated lab), which every later figure (lab mAP, ``linewatch estimate``, the report) reads.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from schemas.records import stable_id
from schemas.results import Detection
from streams.assess.condition import DEFAULT_SEVERITIES, Condition, conditions, frames_of
from streams.assess.grid import GRID_VERSION, GridCondition, grid_conditions
from streams.assess.sample import SuiteSample, simulated_sample
from streams.config import Settings
from streams.evaluation.boxes import PredictedBox, TruthBox
from streams.features import compute_image_stats
from streams.inference.threshold import operating_threshold
from streams.readiness.matching import frame_outcome
from streams.readiness.records import AssessmentRunRecord, CorruptionResultRecord, LabEvalRecord
from streams.sinks import ClickHouseStore

__all__ = [
    "DEFAULT_FRAMES",
    "SUITE",
    "DetectorLike",
    "SuiteResult",
    "evaluate_suite",
    "run_corruption_suite",
]

SUITE = "corruptions"
DEFAULT_FRAMES = 300
"""Simulated lab frames ``linewatch assess`` renders by default. The label-free estimate is
calibrated on them (docs/estimation.md, "Windows"): a window under a shift needs
``shift_min_ess_defective`` (30) effective defective lab frames like its own, and with 120
frames (about 60 defective per condition) shifted windows fell short and said ``unknown``;
300 is what ``bench/bench_estimate_shift.py`` measured the estimate's accuracy with."""


class _SpecLike(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def operating_threshold(self) -> float: ...
    @property
    def class_names(self) -> tuple[str, ...] | None: ...


class DetectorLike(Protocol):
    """What the suite needs of :class:`streams.inference.Detector`."""

    @property
    def spec(self) -> _SpecLike: ...

    def detect(self, frames: Sequence[NDArray[np.uint8]]) -> list[list[Detection]]: ...


@dataclass
class SuiteResult:
    """The rows one suite run writes."""

    run: AssessmentRunRecord
    results: list[CorruptionResultRecord] = field(default_factory=list)
    frames: list[LabEvalRecord] = field(default_factory=list)
    warnings: tuple[str, ...] = ()
    """What the lab set's classes made doubtful (a class the model does not know, ...)."""

    def records(self) -> list[AssessmentRunRecord | CorruptionResultRecord | LabEvalRecord]:
        return [*self.frames, *self.results, self.run]


def _failure_mode(
    kind: str, truths: Sequence[TruthBox], preds: Sequence[PredictedBox], thr: float
) -> str:
    fo = frame_outcome(preds, truths, thr)
    confident = fo.pred_defective
    if kind == "novel" or not truths:
        return "fail_silent" if confident else ("correct" if kind != "novel" else "fail_safe")
    if all(fo.gt_matched):
        return "correct"
    wrong = confident and not all(fo.pred_tp)
    return "fail_silent" if wrong else "fail_safe"


def _summarise(
    run_id: str,
    cond: Condition,
    rows: list[LabEvalRecord],
    matched: list[tuple[int, int]],
    review_band: tuple[float, float],
) -> CorruptionResultRecord:
    lo, hi = review_band
    objects = sum(n for n, _ in matched)
    recalled = sum(k for _, k in matched)
    defective = [r for r in rows if r.gt_defective]
    good = [r for r in rows if not r.gt_defective]
    modes = [r.failure_mode for r in rows]
    flagged_as: dict[str, int] = {}
    for r in rows:
        for name in sorted(
            {c for c, p in zip(r.det_classes, r.det_confidences, strict=True) if p >= r.threshold}
        ):
            flagged_as[name] = flagged_as.get(name, 0) + 1
    return CorruptionResultRecord(
        result_id=stable_id(run_id, cond.corruption, cond.severity),
        run_id=run_id,
        kind=cond.kind,
        corruption=cond.corruption,
        severity=cond.severity,
        frames=len(rows),
        defect_objects=objects,
        recalled_objects=recalled,
        recall=(recalled / objects) if objects else None,
        defective_frames=len(defective),
        caught_frames=sum(r.pred_defective for r in defective),
        good_frames=len(good),
        flagged_good_frames=sum(r.pred_defective for r in good),
        mean_top_confidence=float(np.mean([r.max_confidence for r in rows])) if rows else 0.0,
        fail_safe=modes.count("fail_safe"),
        fail_silent=modes.count("fail_silent"),
        in_review_band=sum(lo <= r.max_confidence < hi for r in rows),
        flagged_as=flagged_as,
    )


def _evaluate_condition(
    detector: DetectorLike,
    cond: Condition | GridCondition,
    sample: SuiteSample,
    *,
    run_id: str,
    seed: int,
    threshold: float,
    batch_size: int,
    trained: set[str],
) -> tuple[list[LabEvalRecord], list[tuple[int, int]]]:
    """One condition's frames through ``detector``: a row per frame, and per frame the
    ``(defects of a trained class, those found)`` (every class when ``trained`` is empty)."""
    rows: list[LabEvalRecord] = []
    matched: list[tuple[int, int]] = []
    items = frames_of(cond, sample, seed)
    while batch := list(islice(items, batch_size)):
        dets = detector.detect([rgb for _, _, rgb in batch])
        for (i, item, rgb), frame_dets in zip(batch, dets, strict=True):
            preds = [PredictedBox(d.class_name, float(d.confidence), d.box) for d in frame_dets]
            known = [t for t in item.truths if not trained or t.class_name in trained]
            kfo = frame_outcome(preds, known, threshold)
            matched.append((len(known), sum(kfo.gt_matched)))
            scene = (
                item.key
                if sample.digest
                else stable_id(seed, cond.kind == "novel", cond.corruption, i)
            )
            rows.append(
                _eval_row(
                    cond,
                    i,
                    scene=scene,
                    truths=list(item.truths),
                    preds=preds,
                    rgb=rgb,
                    run_id=run_id,
                    threshold=threshold,
                )
            )
    return rows, matched


def _eval_row(
    cond: Condition | GridCondition,
    index: int,
    *,
    scene: str,
    truths: list[TruthBox],
    preds: list[PredictedBox],
    rgb: NDArray[np.uint8],
    run_id: str,
    threshold: float,
) -> LabEvalRecord:
    """The ``lab_eval`` row of one frame of the suite."""
    fo = frame_outcome(preds, truths, threshold)
    return LabEvalRecord(
        row_id=stable_id(run_id, cond.corruption, cond.severity, index),
        run_id=run_id,
        corruption=cond.corruption,
        severity=cond.severity,
        frame_index=index,
        scene_id=scene,
        gt_classes=[t.class_name for t in truths],
        gt_boxes=[list(t.box) for t in truths],
        det_classes=[p.class_name for p in preds],
        det_confidences=[p.confidence for p in preds],
        det_boxes=[[float(v) for v in p.box] for p in preds],
        max_confidence=fo.max_confidence,
        threshold=threshold,
        gt_defective=fo.gt_defective,
        pred_defective=fo.pred_defective,
        outcome=fo.outcome,
        failure_mode=_failure_mode(cond.kind, truths, preds, threshold),
        # the frame's statistics, for the estimator's covariate-shift weights
        **compute_image_stats(rgb).as_dict(),
    )


def _run_id(
    spec: _SpecLike,
    sample: SuiteSample,
    *,
    seed: int,
    frames: int,
    severities: Sequence[int],
    threshold: float,
) -> str:
    """The run's id: the same model, frames and settings give the same id (and rows)."""
    return stable_id(
        SUITE,
        seed,
        frames,
        tuple(severities),
        spec.name,
        spec.version,
        threshold,
        sample.digest,
        sample.name,
        sample.novel_classes if sample.digest else (),
        GRID_VERSION,
    )


def _run_record(
    run_id: str,
    spec: _SpecLike,
    sample: SuiteSample,
    *,
    seed: int,
    conditions: int,
    threshold: float,
    review_band: tuple[float, float],
    started: datetime,
    t0: float,
) -> AssessmentRunRecord:
    """The ``assessment_runs`` row of a run that started at ``started`` (``t0``: its
    ``perf_counter``) and ends now."""
    return AssessmentRunRecord(
        run_id=run_id,
        suite=SUITE,
        seed=seed,
        frames=len(sample.clean),
        conditions=conditions,
        model_name=spec.name,
        model_version=spec.version,
        threshold=threshold,
        review_low=review_band[0],
        review_high=review_band[1],
        started_at=started,
        finished_at=datetime.now(UTC),
        elapsed_s=time.perf_counter() - t0,
        lab_set=sample.name,
        lab_digest=sample.digest,
        classes=list(sample.classes),
        novel_classes=list(sample.novel_classes),
    )


def evaluate_suite(
    detector: DetectorLike,
    *,
    threshold: float,
    review_band: tuple[float, float],
    sample: SuiteSample | None = None,
    frames: int = DEFAULT_FRAMES,
    seed: int = 0,
    severities: Sequence[int] = DEFAULT_SEVERITIES,
    batch_size: int = 32,
    on_progress: Callable[[int, int], None] | None = None,
) -> SuiteResult:
    """Run the suite in memory (no store); ``on_progress(done, total)`` after each condition.

    ``sample``: the frames to run on (a lab set's, :func:`~streams.assess.sample.lab_sample`);
    ``None``: ``frames`` scenes of the simulated lab, by ``seed``.
    """
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    spec = detector.spec
    trained = set(spec.class_names or ())
    if sample is None:
        sample = simulated_sample(frames, seed, severities, spec.class_names or ())
    conds = conditions(severities, tuple(sample.novel))
    run_id = _run_id(
        spec, sample, seed=seed, frames=frames, severities=severities, threshold=threshold
    )
    lab_rows: list[LabEvalRecord] = []
    results: list[CorruptionResultRecord] = []
    # The grid's levels (streams.assess.grid) are stored frame by frame for the estimator only.
    every: list[Condition | GridCondition] = [*conds, *grid_conditions(len(conds))]
    for done, cond in enumerate(every, start=1):
        rows, matched = _evaluate_condition(
            detector,
            cond,
            sample,
            run_id=run_id,
            seed=seed,
            threshold=threshold,
            batch_size=batch_size,
            trained=trained,
        )
        if isinstance(cond, Condition):
            results.append(_summarise(run_id, cond, rows, matched, review_band))
        lab_rows.extend(rows)
        if on_progress is not None:
            on_progress(done, len(every))
    run = _run_record(
        run_id,
        spec,
        sample,
        seed=seed,
        conditions=len(conds),
        threshold=threshold,
        review_band=review_band,
        started=started,
        t0=t0,
    )
    return SuiteResult(run=run, results=results, frames=lab_rows, warnings=sample.warnings)


def run_corruption_suite(
    store: ClickHouseStore,
    settings: Settings,
    *,
    detector: DetectorLike | None = None,
    sample: SuiteSample | None = None,
    frames: int = DEFAULT_FRAMES,
    seed: int = 0,
    severities: Sequence[int] = DEFAULT_SEVERITIES,
    on_progress: Callable[[int, int], None] | None = None,
) -> SuiteResult:
    """Run the suite and write ``assessment_runs``, ``corruption_results`` and ``lab_eval``.

    ``detector`` defaults to ``settings.inference.model`` (the shipped detector); the threshold is
    ``settings.inference.operating_threshold`` or the model card's. ``sample``: the lab set's
    frames (:func:`~streams.assess.sample.lab_sample`), ``None`` for the simulated lab.
    """
    if detector is None:
        from streams.inference import Detector

        detector = Detector.load(settings.inference.model, settings=settings)
    threshold = operating_threshold(settings, detector.spec)
    result = evaluate_suite(
        detector,
        threshold=threshold,
        review_band=settings.inference.review_band,
        sample=sample,
        frames=frames,
        seed=seed,
        severities=severities,
        batch_size=max(1, settings.inference.batch_frames * 4),
        on_progress=on_progress,
    )
    store.apply_schema()
    store.insert(result.records())
    return result
