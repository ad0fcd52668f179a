"""Label-free recall estimates under shifts the lab never showed: error, coverage, ``unknown``.

Per seed: ``linewatch assess``'s suite runs on the simulator's lab split (``--lab-frames``
frames under every corruption, with the shipped detector), then a stationary production run of
``--events`` events, where from the run's midpoint on

- ``line-1`` is darkened to 45 % brightness while its lux sensor reads as before (its frames
  stay in their lighting slice): a dimmed lamp the sensor does not see;
- ``line-2`` is out of focus (the camera-faults scenario's defocus: a box blur of radius 3);
- ``line-3`` gets a glare patch on 30 % of its frames, in every shift (a new false-positive
  source; the lab has none, production only 6 % on the day shift).

Every frame goes through JPEG as production frames do, gets its image statistics
(``streams.features``) and the detector's outcome against its truth. Each slice (line x shift x
lighting) is cut at the midpoint into two windows: before it is stationary, after it shifted
(line-1: darkened, ...). For windows with at least ``--min-defects`` defective frames the bench
compares the realized frame-level recall with

- ``today``: the clean lab calibration moved to the window's prevalence (label shift only), and
- ``reweighted``: the lab frames of every condition re-weighted to the window's inputs
  (``streams.estimation.reweighted``), or ``unknown`` with a reason,

both label-free (prevalence by EM on the window's scores). It prints the median |estimated -
realized recall|, the share of 95 % intervals that cover the realized value, and the share of
``unknown`` windows with their reasons, per window kind, and the CPU seconds it used.

Run: ``PYTHONPATH=. .venv/bin/python bench/bench_estimate_shift.py --seeds 10``
(``--defect-rate 0.1`` renders 5x fewer frames for the same number of defects; the docs say
which rate each table used). Frames are cached per seed under ``--cache``.
"""

from __future__ import annotations

import argparse
import importlib
import io
import json
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from schemas.events import CameraEvent
from streams.assess.suite import evaluate_suite
from streams.config import Settings
from streams.estimation import LabSet, estimate_performance
from streams.estimation.reweighted import LabPool, estimate_under_shift
from streams.estimation.shift import SHIFT_FEATURES, ShiftRule, feature_matrix
from streams.estimation.windows import UNDESCRIBED_CORRUPTIONS
from streams.evaluation.boxes import PredictedBox, TruthBox
from streams.features import ImageStats, compute_image_stats
from streams.inference import Detector, operating_threshold
from streams.readiness.matching import frame_outcome
from streams.simulate import SimulationRequest, generate
from streams.simulate.camera_faults import apply_fault
from streams.slicing import Slicer

__all__ = ["main"]

# the module, not the function the package re-exports under the same name
simulate_generate = importlib.import_module("streams.simulate.generate")

STATS = tuple(ImageStats.__dataclass_fields__)
"""Every image statistic is cached; the estimator picks its SHIFT_FEATURES by name."""
DARKEN = 0.45
GLARE_SHARE = 0.3
SHIFTED = {"line-1": "darkened", "line-2": "defocus", "line-3": "glare"}


def _glare(rgb: npt.NDArray[np.uint8], rng: np.random.Generator) -> npt.NDArray[np.uint8]:
    """An additive bright patch, the simulator's glare model, at a random place."""
    h, w = rgb.shape[:2]
    g = rng.random(5)
    x, y = 40 + 240 * g[0], 20 + 200 * g[1]
    rx, ry, strength = 25 + 50 * g[2], 15 + 35 * g[3], 0.25 + 0.35 * g[4]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    patch = 255.0 * strength * np.exp(-(((xs - x) / rx) ** 2) - ((ys - y) / ry) ** 2)
    out = rgb.astype(np.float32) + patch[..., None] * np.asarray([1.0, 0.98, 0.93], np.float32)
    glared: npt.NDArray[np.uint8] = np.clip(out + 0.5, 0, 255).astype(np.uint8)
    return glared


def _shifted(line: str, rgb: npt.NDArray[np.uint8], rng: np.random.Generator) -> npt.NDArray[Any]:
    kind = SHIFTED[line]
    if kind == "darkened":
        dark: npt.NDArray[np.uint8] = np.clip(rgb.astype(np.float32) * DARKEN + 0.5, 0, 255).astype(
            np.uint8
        )
        return dark
    if kind == "defocus":
        return apply_fault("defocus", rgb)
    return _glare(rgb, rng) if rng.random() < GLARE_SHARE else rgb


def _jpeg(rgb: npt.NDArray[np.uint8], quality: int) -> npt.NDArray[np.uint8]:
    buf = io.BytesIO()
    Image.fromarray(rgb, mode="RGB").save(buf, format="JPEG", quality=quality)
    buf.seek(0)
    return np.asarray(Image.open(buf).convert("RGB"), dtype=np.uint8)


def _batches(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _lab_pool(detector: Detector, settings: Settings, frames: int, seed: int) -> dict[str, Any]:
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


def _production(detector: Detector, settings: Settings, events: int, seed: int) -> dict[str, Any]:
    threshold = operating_threshold(settings, detector.spec)
    slicer = Slicer(settings)
    request = SimulationRequest(split="production", events=events, seed=seed, lines=3)
    midpoint = request.start + request.duration / 2
    rng = np.random.default_rng([seed, 99])
    cols: dict[str, list[Any]] = defaultdict(list)
    done = 0
    for batch in _batches(generate(request), 32):
        rgbs = []
        for sim in batch:
            event = CameraEvent.model_validate(sim.event)
            after = event.captured_at >= midpoint
            rgb = _shifted(event.line_id, sim.rgb, rng) if after else sim.rgb
            rgb = _jpeg(rgb, request.jpeg_quality)
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


@dataclass
class WindowResult:
    seed: int
    slice: str
    kind: str
    frames: int
    defects: int
    realized: float
    today: tuple[float | None, float | None, float | None]
    reweighted: tuple[float | None, float | None, float | None]
    status: str
    reason: str
    ess_defective: float | None


def _evaluate(
    seed: int,
    lab: dict[str, Any],
    prod: dict[str, Any],
    threshold: float,
    *,
    min_defects: int,
    draws: int,
    rule: ShiftRule,
) -> list[WindowResult]:
    cols = [STATS.index(f) for f in SHIFT_FEATURES]
    pool = LabPool(
        lab["scores"], lab["defective"], feature_matrix(list(lab["stats"][:, cols].T)), lab["clean"]
    )
    clean: LabSet = pool.clean_set()
    out: list[WindowResult] = []
    keys = sorted(set(zip(prod["line"], prod["shift"], prod["lighting"], strict=True)))
    for line, shift, lighting in keys:
        in_slice = (
            (prod["line"] == line) & (prod["shift"] == shift) & (prod["lighting"] == lighting)
        )
        for after in (False, True):
            m = in_slice & (prod["after"] == after)
            defects = int(prod["defective"][m].sum())
            if defects < min_defects:
                continue
            s = prod["score"][m]
            realized = float(prod["flagged"][m & prod["defective"]].mean())
            today = estimate_performance(s, threshold, clean, prevalence=None, draws=draws)
            new = estimate_under_shift(
                s,
                feature_matrix(list(prod["stats"][m][:, cols].T)),
                threshold,
                pool,
                rule=rule,
                prevalence=None,
                draws=draws,
            )
            out.append(
                WindowResult(
                    seed=seed,
                    slice=f"{line}/{shift}/{lighting}",
                    kind=SHIFTED[line] if after else "stationary",
                    frames=int(m.sum()),
                    defects=defects,
                    realized=realized,
                    today=(today.recall.value, today.recall.lo, today.recall.hi),
                    reweighted=(new.recall.value, new.recall.lo, new.recall.hi),
                    status=new.status,
                    reason=new.reason.split(":")[0],
                    ess_defective=new.lab_ess_defective,
                )
            )
    return out


def _summary(results: list[WindowResult]) -> list[dict[str, Any]]:
    rows = []
    groups = ("stationary", "darkened", "defocus", "glare", "all shifted", "all")
    for kind in groups:
        if kind == "all":
            rs = list(results)
        elif kind == "all shifted":
            rs = [r for r in results if r.kind != "stationary"]
        else:
            rs = [r for r in results if r.kind == kind]
        if not rs:
            continue
        row: dict[str, Any] = {"kind": kind, "windows": len(rs), "seeds": len({r.seed for r in rs})}
        for name in ("today", "reweighted"):
            known = [r for r in rs if getattr(r, name)[0] is not None]
            errs = [abs(getattr(r, name)[0] - r.realized) for r in known]
            cover = [
                getattr(r, name)[1] is not None
                and getattr(r, name)[1] - 1e-9 <= r.realized <= getattr(r, name)[2] + 1e-9
                for r in known
            ]
            row[f"{name}_median_abs_err"] = statistics.median(errs) if errs else None
            row[f"{name}_coverage"] = sum(cover) / len(cover) if cover else None
        row["unknown_share"] = sum(r.status == "unknown" for r in rs) / len(rs)
        row["unknown_reasons"] = dict(Counter(r.reason for r in rs if r.status == "unknown"))
        row["realized_recall_median"] = statistics.median(r.realized for r in rs)
        rows.append(row)
    return rows


def main() -> None:
    """Render (or load cached) seeds, estimate every window, print the table as JSON lines."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--first-seed", type=int, default=100)
    ap.add_argument("--events", type=int, default=45_000)
    ap.add_argument("--lab-frames", type=int, default=300)
    ap.add_argument("--defect-rate", type=float, default=0.02, help="production defect share")
    ap.add_argument("--min-defects", type=int, default=50)
    ap.add_argument("--draws", type=int, default=100)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/linewatch-bench-estimate-shift"))
    ap.add_argument("--out", type=Path, default=None, help="write every window's result (JSON)")
    ap.add_argument(
        "--cached-only",
        action="store_true",
        help="evaluate the seeds already rendered, skip others",
    )
    args = ap.parse_args()
    # The demo world's production defect rate; a higher one renders fewer frames per defect.
    simulate_generate.PRODUCTION_DEFECT_RATE = args.defect_rate  # type: ignore[attr-defined]
    settings = Settings()
    detector = Detector.load(settings.inference.model, settings=settings)
    threshold = operating_threshold(settings, detector.spec)
    rule = ShiftRule(
        max_unsupported=settings.estimation.shift_max_unsupported,
        min_ess_defective=settings.estimation.shift_min_ess_defective,
    )
    args.cache.mkdir(parents=True, exist_ok=True)
    results: list[WindowResult] = []
    cpu = {"render": 0.0, "estimate": 0.0}
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        path = (
            args.cache / f"v3-seed{seed}-e{args.events}-l{args.lab_frames}-r{args.defect_rate}.npz"
        )
        t0 = time.process_time()
        if args.cached_only and not path.exists():
            continue
        if path.exists():
            data = dict(np.load(path))
            lab = {k.removeprefix("lab_"): v for k, v in data.items() if k.startswith("lab_")}
            prod = {k.removeprefix("prod_"): v for k, v in data.items() if k.startswith("prod_")}
        else:
            lab = _lab_pool(detector, settings, args.lab_frames, seed)
            prod = _production(detector, settings, args.events, seed)
            np.savez(
                path,
                **{f"lab_{k}": v for k, v in lab.items()},
                **{f"prod_{k}": v for k, v in prod.items()},
            )
        t1 = time.process_time()
        seed_results = _evaluate(
            seed, lab, prod, threshold, min_defects=args.min_defects, draws=args.draws, rule=rule
        )
        t2 = time.process_time()
        cpu["render"] += t1 - t0
        cpu["estimate"] += t2 - t1
        results.extend(seed_results)
        for r in seed_results:
            est = r.reweighted[0]
            print(
                f"seed {seed} {r.slice:28s} {r.kind:10s} defects {r.defects:4d} realized "
                f"{r.realized:.3f} today {r.today[0] or float('nan'):.3f} reweighted "
                f"{'unknown' if est is None else f'{est:.3f}'} "
                f"[{r.reweighted[1] or float('nan'):.3f}, {r.reweighted[2] or float('nan'):.3f}]"
                f" ess_def {r.ess_defective or 0:.0f} {r.reason}",
                flush=True,
            )
    table = _summary(results)
    for row in table:
        print(json.dumps(row))
    print(
        json.dumps(
            {
                "seeds": sorted({r.seed for r in results}),
                "events": args.events,
                "lab_frames": args.lab_frames,
                "defect_rate": args.defect_rate,
                "cpu_s": {k: round(v, 1) for k, v in cpu.items()},
            }
        )
    )
    if args.out is not None:
        args.out.write_text(json.dumps([r.__dict__ for r in results], indent=1, default=str))


if __name__ == "__main__":
    main()
