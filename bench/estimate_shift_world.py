"""The world of ``bench_estimate_shift.py``: the lab pool of ``assess``'s suite and a
production run whose lines shift at its midpoint, every frame JPEG-compressed as production
frames are, with its image statistics and outcome.

The shifts are ``bench/shift_kinds.py``'s: the ``tuned`` set (darkened, defocused, glare: the
shifts the estimator was developed on) and sets added after the estimator's features were
chosen (``unseen``, ``exposure``, ``optics``, ``lowlight``), to check that it was not fitted to
the first set; or any three of its kinds.
"""

from __future__ import annotations

import importlib
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from schemas.events import CameraEvent
from streams.assess.condition import DEFAULT_SEVERITIES, frames_of
from streams.assess.grid import grid_conditions
from streams.assess.sample import simulated_sample
from streams.assess.suite import evaluate_suite
from streams.config import Settings
from streams.estimation.windows import UNDESCRIBED_CORRUPTIONS
from streams.evaluation.boxes import PredictedBox, TruthBox
from streams.features import ImageStats, compute_image_stats
from streams.inference import Detector, operating_threshold
from streams.readiness.matching import frame_outcome
from streams.simulate import SimulationRequest, generate
from streams.slicing import Slicer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from shift_kinds import SHIFT_SETS, apply_shift, jpeg_round_trip, resolve_set

__all__ = [
    "SHIFTED",
    "SHIFT_SETS",
    "STATS",
    "grid_pool",
    "lab_pool",
    "production",
    "resolve_set",
    "set_defect_rate",
]

# the module, not the function the package re-exports under the same name
simulate_generate = importlib.import_module("streams.simulate.generate")

STATS = tuple(ImageStats.__dataclass_fields__)
"""Every image statistic is cached; the estimator picks its SHIFT_FEATURES by name."""
SHIFTED = SHIFT_SETS["tuned"]


def _batches(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def lab_pool(detector: Detector, settings: Settings, frames: int, seed: int) -> dict[str, Any]:
    threshold = operating_threshold(settings, detector.spec)
    result = evaluate_suite(
        detector,
        threshold=threshold,
        review_band=settings.inference.review_band,
        frames=frames,
        seed=seed,
    )
    left_out = {r.corruption for r in result.results if r.kind == "novel"}
    left_out |= set(UNDESCRIBED_CORRUPTIONS)
    rows = [r for r in result.frames if r.corruption not in left_out]
    return {
        "condition": np.asarray([f"{r.corruption}{r.severity}" for r in rows]),
        "clean": np.asarray([r.corruption == "clean" for r in rows]),
        "scores": np.asarray([r.max_confidence for r in rows]),
        "defective": np.asarray([int(r.gt_defective) for r in rows]),
        "stats": np.asarray([[getattr(r, f) for f in STATS] for r in rows], np.float64),
        "classes": np.asarray(["|".join(sorted(set(r.gt_classes))) for r in rows]),
    }


def grid_pool(detector: Detector, settings: Settings, frames: int, seed: int) -> dict[str, Any]:
    """The rows :func:`lab_pool` holds for the suite's grid (``streams.assess.grid``) alone: the
    same frames, truths, scores and statistics the suite stores, so a lab pool cached before
    the grid existed is completed by rendering the grid only."""
    threshold = operating_threshold(settings, detector.spec)
    sample = simulated_sample(frames, seed, DEFAULT_SEVERITIES, detector.spec.class_names or ())
    cols: dict[str, list[Any]] = defaultdict(list)
    for cond in grid_conditions(0):
        for batch in _batches(frames_of(cond, sample, seed), 64):
            dets = detector.detect([rgb for _, _, rgb in batch])
            for (_, item, rgb), frame_dets in zip(batch, dets, strict=True):
                preds = [PredictedBox(d.class_name, float(d.confidence), d.box) for d in frame_dets]
                fo = frame_outcome(preds, list(item.truths), threshold)
                stats = compute_image_stats(rgb)
                cols["condition"].append(f"{cond.corruption}{cond.severity}")
                cols["clean"].append(False)
                cols["scores"].append(fo.max_confidence)
                cols["defective"].append(int(fo.gt_defective))
                cols["stats"].append([getattr(stats, f) for f in STATS])
                cols["classes"].append("|".join(sorted({t.class_name for t in item.truths})))
    return {k: np.asarray(v) for k, v in cols.items()}


def production(
    detector: Detector,
    settings: Settings,
    events: int,
    seed: int,
    *,
    shifts: str = "tuned",
) -> dict[str, Any]:
    """The production run's frames (statistics, slice, score, outcome), each line shifted from
    the run's midpoint on by its shift in ``shift_kinds.resolve_set(shifts)``. A set other than
    ``tuned`` renders the second half of the run only (its stationary half is the ``tuned``
    run's)."""
    threshold = operating_threshold(settings, detector.spec)
    slicer = Slicer(settings)
    kinds = resolve_set(shifts)
    request = SimulationRequest(split="production", events=events, seed=seed, lines=3)
    midpoint = request.start + request.duration / 2
    if shifts != "tuned":
        request = request.model_copy(
            update={"start": midpoint, "duration": request.duration / 2, "events": events // 2}
        )
    rng = np.random.default_rng([seed, 99])
    cols: dict[str, list[Any]] = defaultdict(list)
    done = 0
    for batch in _batches(generate(request), 32):
        rgbs = []
        for sim in batch:
            event = CameraEvent.model_validate(sim.event)
            after = event.captured_at >= midpoint
            rgb = apply_shift(kinds[event.line_id], sim.rgb, rng) if after else sim.rgb
            rgb = jpeg_round_trip(rgb, request.jpeg_quality)
            rgbs.append(rgb)
            stats = compute_image_stats(rgb)
            key = slicer.assign(event, stats)
            cols["line"].append(key.line_id)
            cols["shift"].append(key.shift)
            cols["lighting"].append(key.lighting)
            cols["after"].append(after)
            cols["stats"].append([getattr(stats, f) for f in STATS])
            cols["truths"].append([TruthBox(o.class_name, o.box) for o in sim.objects])
        for dets, truths in zip(detector.detect(rgbs), cols["truths"][-len(batch) :], strict=True):
            preds = [PredictedBox(d.class_name, float(d.confidence), d.box) for d in dets]
            fo = frame_outcome(preds, truths, threshold)
            cols["score"].append(fo.max_confidence)
            cols["defective"].append(fo.gt_defective)
            cols["flagged"].append(fo.pred_defective)
            cols["classes"].append("|".join(sorted(set(fo.gt_classes))))
        done += len(batch)
        if done % 3200 < 32:
            print(f"  seed {seed}: {done}/{events} production frames", flush=True)
    del cols["truths"]
    return {k: np.asarray(v) for k, v in cols.items()}


def set_defect_rate(rate: float) -> None:
    """The demo world's production defect rate; a higher one renders fewer frames per defect."""
    simulate_generate.PRODUCTION_DEFECT_RATE = rate  # type: ignore[attr-defined]
