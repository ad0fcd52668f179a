"""The corruption / out-of-distribution suite behind ``linewatch assess --suite corruptions``.

A lab sample is rendered with the simulator, every corruption is applied at several severities,
and novel inputs (a never-seen defect, an empty belt, a foreign object) are added. For every
condition the suite records recall at the operating threshold, the mean top confidence and how
the model fails:

- **fail-safe**: it is unsure — a true defect's best confidence stays below the threshold (it
  may still reach the review band), or a novel input gets only low confidences;
- **fail-silent**: it is confident and wrong — a box ≥ threshold of the wrong class or place
  while a defect is missed, a good unit / empty belt / foreign object flagged, or a novel
  defect confidently called one of the trained classes.

Everything is deterministic by ``seed``: frame ``i`` of condition ``c`` always uses the random
stream ``(seed, c, i)``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from schemas.records import stable_id
from schemas.results import Detection
from streams.assess.corruptions import CORRUPTIONS, apply_corruption
from streams.assess.novel import NOVEL_INPUTS
from streams.config import Settings
from streams.evaluation.boxes import PredictedBox, TruthBox
from streams.features import compute_image_stats
from streams.inference.threshold import operating_threshold
from streams.readiness.matching import frame_outcome
from streams.readiness.records import AssessmentRunRecord, CorruptionResultRecord, LabEvalRecord
from streams.simulate import SimulationRequest, generate
from streams.sinks import ClickHouseStore

__all__ = [
    "DEFAULT_FRAMES",
    "DEFAULT_SEVERITIES",
    "SUITE",
    "Condition",
    "DetectorLike",
    "SuiteResult",
    "conditions",
    "evaluate_suite",
    "run_corruption_suite",
]

SUITE = "corruptions"
DEFAULT_FRAMES = 120
DEFAULT_SEVERITIES = (1, 3, 5)
NOVEL_FRACTION = 3
"""Each novel input gets ``frames // NOVEL_FRACTION`` frames."""


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


@dataclass(frozen=True)
class Condition:
    """One row of the suite: ``clean``, a corruption at a severity, or a novel input."""

    index: int
    kind: str  # clean | corruption | novel
    corruption: str
    severity: int


def conditions(severities: Sequence[int] = DEFAULT_SEVERITIES) -> list[Condition]:
    """Clean first, then every corruption x severity, then the novel inputs."""
    out = [Condition(0, "clean", "clean", 0)]
    for name in CORRUPTIONS:
        for sev in severities:
            out.append(Condition(len(out), "corruption", name, int(sev)))
    for name in NOVEL_INPUTS:
        out.append(Condition(len(out), "novel", name, 0))
    return out


@dataclass
class SuiteResult:
    """The rows one suite run writes."""

    run: AssessmentRunRecord
    results: list[CorruptionResultRecord] = field(default_factory=list)
    frames: list[LabEvalRecord] = field(default_factory=list)

    def records(self) -> list[AssessmentRunRecord | CorruptionResultRecord | LabEvalRecord]:
        return [*self.frames, *self.results, self.run]


def _lab_sample(frames: int, seed: int) -> list[tuple[NDArray[np.uint8], list[TruthBox]]]:
    request = SimulationRequest(split="lab", events=frames, seed=seed, lines=3)
    return [
        (sim.rgb, [TruthBox(o.class_name, o.box) for o in sim.objects]) for sim in generate(request)
    ]


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


def _frames_of(
    cond: Condition,
    sample: list[tuple[NDArray[np.uint8], list[TruthBox]]],
    seed: int,
    novel_frames: int,
) -> Iterator[tuple[int, NDArray[np.uint8], list[TruthBox]]]:
    if cond.kind == "novel":
        make = NOVEL_INPUTS[cond.corruption]
        for i in range(novel_frames):
            rgb, objects = make(np.random.default_rng([seed, cond.index, i]))
            yield i, rgb, [TruthBox(o.class_name, o.box) for o in objects]
        return
    for i, (rgb, truths) in enumerate(sample):
        if cond.kind == "clean":
            yield i, rgb, truths
        else:
            rng = np.random.default_rng([seed, cond.index, i])
            yield i, apply_corruption(cond.corruption, rgb, cond.severity, rng), truths


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
    )


def evaluate_suite(
    detector: DetectorLike,
    *,
    threshold: float,
    review_band: tuple[float, float],
    frames: int = DEFAULT_FRAMES,
    seed: int = 0,
    severities: Sequence[int] = DEFAULT_SEVERITIES,
    batch_size: int = 32,
    on_progress: Callable[[int, int], None] | None = None,
) -> SuiteResult:
    """Run the suite in memory (no store); ``on_progress(done, total)`` after each condition."""
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    spec = detector.spec
    trained = set(spec.class_names or ())
    conds = conditions(severities)
    run_id = stable_id(SUITE, seed, frames, tuple(severities), spec.name, spec.version, threshold)
    sample = _lab_sample(frames, seed)
    novel_frames = max(1, frames // NOVEL_FRACTION)
    lab_rows: list[LabEvalRecord] = []
    results: list[CorruptionResultRecord] = []
    for done, cond in enumerate(conds, start=1):
        items = list(_frames_of(cond, sample, seed, novel_frames))
        rows: list[LabEvalRecord] = []
        matched: list[tuple[int, int]] = []
        for start in range(0, len(items), batch_size):
            batch = items[start : start + batch_size]
            dets = detector.detect([rgb for _, rgb, _ in batch])
            for (i, rgb, truths), frame_dets in zip(batch, dets, strict=True):
                preds = [PredictedBox(d.class_name, float(d.confidence), d.box) for d in frame_dets]
                fo = frame_outcome(preds, truths, threshold)
                known = [t for t in truths if not trained or t.class_name in trained]
                kfo = frame_outcome(preds, known, threshold)
                matched.append((len(known), sum(kfo.gt_matched)))
                rows.append(
                    LabEvalRecord(
                        row_id=stable_id(run_id, cond.corruption, cond.severity, i),
                        run_id=run_id,
                        corruption=cond.corruption,
                        severity=cond.severity,
                        frame_index=i,
                        scene_id=stable_id(seed, cond.kind == "novel", cond.corruption, i),
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
                )
        results.append(_summarise(run_id, cond, rows, matched, review_band))
        lab_rows.extend(rows)
        if on_progress is not None:
            on_progress(done, len(conds))
    run = AssessmentRunRecord(
        run_id=run_id,
        suite=SUITE,
        seed=seed,
        frames=frames,
        conditions=len(conds),
        model_name=spec.name,
        model_version=spec.version,
        threshold=threshold,
        review_low=review_band[0],
        review_high=review_band[1],
        started_at=started,
        finished_at=datetime.now(UTC),
        elapsed_s=time.perf_counter() - t0,
    )
    return SuiteResult(run=run, results=results, frames=lab_rows)


def run_corruption_suite(
    store: ClickHouseStore,
    settings: Settings,
    *,
    detector: DetectorLike | None = None,
    frames: int = DEFAULT_FRAMES,
    seed: int = 0,
    severities: Sequence[int] = DEFAULT_SEVERITIES,
    on_progress: Callable[[int, int], None] | None = None,
) -> SuiteResult:
    """Run the suite and write ``assessment_runs``, ``corruption_results`` and ``lab_eval``.

    ``detector`` defaults to ``settings.inference.model`` (the shipped detector); the threshold is
    ``settings.inference.operating_threshold`` or the model card's.
    """
    if detector is None:
        from streams.inference import Detector

        detector = Detector.load(settings.inference.model, settings=settings)
    threshold = operating_threshold(settings, detector.spec)
    result = evaluate_suite(
        detector,
        threshold=threshold,
        review_band=settings.inference.review_band,
        frames=frames,
        seed=seed,
        severities=severities,
        batch_size=max(1, settings.inference.batch_frames * 4),
        on_progress=on_progress,
    )
    store.apply_schema()
    store.insert(result.records())
    return result
