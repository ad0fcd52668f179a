"""Label-free recall estimates under shifts the lab never showed: error, coverage, ``unknown``.

Per seed (the world is ``bench/estimate_shift_world.py``): ``linewatch assess``'s suite runs
on the simulator's lab split (``--lab-frames`` frames under every corruption, with the
shipped detector), then a stationary production run of ``--events`` events, where from the
run's midpoint on

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
realized recall|, the share of 95 % intervals that cover the realized value, the same for the
per-class recall estimates (classes with at least 20 frames in a window) and for the
re-weighted precision and FPR (with the share of windows where they are ``unknown``), the
share of ``unknown`` windows with their reasons by kind and of ``partial`` ones (recall given,
precision and FPR not: flags the lab does not explain), per window kind, and the CPU seconds
it used.

Run: ``PYTHONPATH=. .venv/bin/python bench/bench_estimate_shift.py --seeds 10`` (defaults: a
2 % production defect rate, 30,000 events per seed, so the largest slice of each line-half
holds about 50 defects; ``--defect-rate 0.1`` renders 5x fewer frames per defect). Frames are
cached per seed under ``--cache``; ``--cached-only`` evaluates the seeds already rendered.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from streams.assess.grid import GRID_VERSION
from streams.config import Settings
from streams.estimation import Estimate, PerformanceEstimate, estimate_performance
from streams.estimation.reweighted import LabPool, estimate_under_shift
from streams.estimation.shift import SHIFT_FEATURES, ShiftRule, feature_matrix
from streams.inference import Detector, operating_threshold

sys.path.insert(0, str(Path(__file__).resolve().parent))
import estimate_shift_world as world  # a sibling file, not a package

__all__ = ["main"]


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
    precision: tuple[float | None, float | None, float | None, float | None]
    """Realized frame-level precision, then the re-weighted estimate and its interval."""
    fpr: tuple[float | None, float | None, float | None, float | None]
    """Realized FPR, then the re-weighted estimate and its interval."""
    classes: dict[str, tuple[int, float, float | None, float | None, float | None]]
    """Per defect class with >= 20 frames in the window: frames, realized recall, estimate."""


def _split_classes(joined: npt.NDArray[Any]) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(c for c in str(j).split("|") if c) for j in joined)


def _class_results(
    est: PerformanceEstimate, classes: tuple[tuple[str, ...], ...], flagged: npt.NDArray[Any]
) -> dict[str, tuple[int, float, float | None, float | None, float | None]]:
    out = {}
    for name in sorted({c for frame in classes for c in frame}):
        has = np.asarray([name in frame for frame in classes])
        if has.sum() < 20:
            continue
        e = (est.per_class_recall or {}).get(name, Estimate(None, None, None))
        out[name] = (int(has.sum()), float(flagged[has].mean()), e.value, e.lo, e.hi)
    return out


def _reason_kind(reason: str) -> str:
    """The kind of an ``unknown`` reason (its figures left out), for counting."""
    if not reason:
        return ""
    if "look like no lab frame" in reason:
        return "frames beyond the lab's support"
    if "score unlike any mix" in reason:
        return "flagged scores unlike any mix of the lab's defective and good frames"
    if "would flag" in reason:
        return "more frames flagged than lab frames like the inputs explain"
    if "effective defective lab frames" in reason:
        return "too few effective defective lab frames like the window's"
    return reason.split(":", maxsplit=1)[0]


def _evaluate(
    seed: int,
    lab: dict[str, Any],
    prod: dict[str, Any],
    threshold: float,
    *,
    min_defects: int,
    draws: int,
    rule: ShiftRule,
    shifts: dict[str, str],
) -> list[WindowResult]:
    cols = [world.STATS.index(f) for f in SHIFT_FEATURES]
    pool = LabPool(
        lab["scores"],
        lab["defective"],
        feature_matrix(list(lab["stats"][:, cols].T)),
        lab["clean"],
        classes=_split_classes(lab["classes"]),
    )
    out: list[WindowResult] = []
    keys = sorted(set(zip(prod["line"], prod["shift"], prod["lighting"], strict=True)))
    for line, shift, lighting in keys:
        in_slice = (
            (prod["line"] == line) & (prod["shift"] == shift) & (prod["lighting"] == lighting)
        )
        for after in (False, True):
            m = in_slice & (prod["after"] == after)
            if int(prod["defective"][m].sum()) < min_defects:
                continue
            kind = shifts[line] if after else "stationary"
            case = _Case(seed, f"{line}/{shift}/{lighting}", kind, m)
            out.append(_window(case, pool, prod, threshold, draws=draws, rule=rule))
    return out


@dataclass(frozen=True)
class _Case:
    """One window of one seed: its slice, kind and frames (a mask over the production run)."""

    seed: int
    name: str
    kind: str
    mask: npt.NDArray[np.bool_]


def _window(
    case: _Case,
    pool: LabPool,
    prod: dict[str, Any],
    threshold: float,
    *,
    draws: int,
    rule: ShiftRule,
) -> WindowResult:
    """The window's estimates against its realized recall."""
    m = case.mask
    cols = [world.STATS.index(f) for f in SHIFT_FEATURES]
    s = prod["score"][m]
    defective = prod["defective"][m].astype(bool)
    flagged = prod["flagged"][m].astype(bool)
    today = estimate_performance(s, threshold, pool.clean_set(), prevalence=None, draws=draws)
    new = estimate_under_shift(
        s,
        feature_matrix(list(prod["stats"][m][:, cols].T)),
        threshold,
        pool,
        rule=rule,
        prevalence=None,
        draws=draws,
    )
    return WindowResult(
        seed=case.seed,
        slice=case.name,
        kind=case.kind,
        frames=int(m.sum()),
        defects=int(defective.sum()),
        realized=float(flagged[defective].mean()),
        today=(today.recall.value, today.recall.lo, today.recall.hi),
        reweighted=(new.recall.value, new.recall.lo, new.recall.hi),
        status=new.status,
        reason=_reason_kind(new.reason),
        ess_defective=new.lab_ess_defective,
        precision=(
            float(defective[flagged].mean()) if flagged.any() else None,
            *_triple(new.precision),
        ),
        fpr=(float(flagged[~defective].mean()), *_triple(new.fpr)),
        classes=_class_results(new, _split_classes(prod["classes"][m]), flagged),
    )


def _triple(e: Estimate) -> tuple[float | None, float | None, float | None]:
    return e.value, e.lo, e.hi


def _figure_row(name: str, pairs: list[tuple[Any, ...]]) -> dict[str, Any]:
    """Median |error|, coverage and ``unknown`` share of ``(realized, value, lo, hi)`` pairs."""
    rows = [p for p in pairs if p[0] is not None]
    known = [p for p in rows if p[1] is not None]
    cover = [p[2] is not None and p[2] - 1e-9 <= p[0] <= p[3] + 1e-9 for p in known]
    return {
        f"{name}_median_abs_err": statistics.median(abs(p[1] - p[0]) for p in known)
        if known
        else None,
        f"{name}_coverage": sum(cover) / len(cover) if cover else None,
        f"{name}_unknown_share": 1 - len(known) / len(rows) if rows else None,
    }


def _summary(results: list[WindowResult], shifts: dict[str, str]) -> list[dict[str, Any]]:
    rows = []
    groups = ("stationary", *dict.fromkeys(shifts.values()), "all shifted", "all")
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
            figure = _figure_row(name, [(r.realized, *getattr(r, name)) for r in rs])
            row.update({k: v for k, v in figure.items() if not k.endswith("unknown_share")})
        row.update(_figure_row("precision", [r.precision for r in rs]))
        row.update(_figure_row("fpr", [r.fpr for r in rs]))
        pairs = [c for r in rs for c in r.classes.values()]
        known_c = [c for c in pairs if c[2] is not None]
        row["class_windows"] = len(pairs)
        row["class_median_abs_err"] = (
            statistics.median(abs(c[2] - c[1]) for c in known_c if c[2] is not None)
            if known_c
            else None
        )
        row["class_coverage"] = (
            sum(c[3] is not None and c[4] is not None and c[3] <= c[1] <= c[4] for c in known_c)
            / len(known_c)
            if known_c
            else None
        )
        row["unknown_share"] = sum(r.status == "unknown" for r in rs) / len(rs)
        row["unknown_reasons"] = dict(Counter(r.reason for r in rs if r.status == "unknown"))
        row["partial_share"] = sum(r.status == "partial" for r in rs) / len(rs)
        row["partial_reasons"] = dict(Counter(r.reason for r in rs if r.status == "partial"))
        row["realized_recall_median"] = statistics.median(r.realized for r in rs)
        rows.append(row)
    return rows


def _args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--first-seed", type=int, default=100)
    ap.add_argument("--events", type=int, default=30_000)
    ap.add_argument("--lab-frames", type=int, default=300)
    ap.add_argument("--defect-rate", type=float, default=0.02, help="production defect share")
    ap.add_argument("--min-defects", type=int, default=50)
    ap.add_argument("--draws", type=int, default=200)
    ap.add_argument("--cache", type=Path, default=Path("bench/.cache/estimate-shift"))
    ap.add_argument(
        "--shifts",
        default="tuned",
        help="a set of bench/shift_kinds.py (tuned, unseen, exposure, optics, lowlight) or "
        "three of its kinds joined by commas; any but tuned renders the second half only",
    )
    ap.add_argument("--out", type=Path, default=None, help="write every window's result (JSON)")
    ap.add_argument(
        "--cached-only",
        action="store_true",
        help="evaluate the seeds already rendered, skip others",
    )
    return ap.parse_args()


def _seed_data(
    args: argparse.Namespace, detector: Detector, settings: Settings, seed: int
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The seed's lab pool and production run, each from the cache or rendered (and cached).

    The production run is cached in ``v3-seed…`` files, the lab pool apart from it, per
    version of the suite's grid (``lab-g…-seed…``): a new grid re-renders the lab only.
    """
    stem = f"seed{seed}-e{args.events}-l{args.lab_frames}-r{args.defect_rate}"
    kinds = "v3" if args.shifts == "tuned" else args.shifts.replace(",", "+")
    prod_path = args.cache / f"{kinds}-{stem}.npz"
    lab_path = args.cache / f"lab-g{GRID_VERSION}-seed{seed}-l{args.lab_frames}.npz"
    if args.cached_only and not (prod_path.exists() and lab_path.exists()):
        return None
    data = dict(np.load(prod_path)) if prod_path.exists() else {}
    if lab_path.exists():
        lab = dict(np.load(lab_path))
    elif "lab_scores" in data:  # the suite's rows cached before the grid: render the grid only
        old = {k.removeprefix("lab_"): v for k, v in data.items() if k.startswith("lab_")}
        grid = world.grid_pool(detector, settings, args.lab_frames, seed)
        lab = {k: np.concatenate([old[k], grid[k]]) for k in grid}
        np.savez(lab_path, **lab)
    else:
        lab = world.lab_pool(detector, settings, args.lab_frames, seed)
        np.savez(lab_path, **lab)
    if data:
        prod = {k.removeprefix("prod_"): v for k, v in data.items() if k.startswith("prod_")}
    else:
        prod = world.production(detector, settings, args.events, seed, shifts=args.shifts)
        np.savez(prod_path, **{f"prod_{k}": v for k, v in prod.items()})
    return lab, prod


def _num(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f}"


def _print_window(r: WindowResult) -> None:
    est = r.reweighted[0]
    print(
        f"seed {r.seed} {r.slice:28s} {r.kind:10s} defects {r.defects:4d} realized "
        f"{r.realized:.3f} today {r.today[0] or float('nan'):.3f} reweighted "
        f"{'unknown' if est is None else f'{est:.3f}'} "
        f"[{r.reweighted[1] or float('nan'):.3f}, {r.reweighted[2] or float('nan'):.3f}]"
        f" ess_def {r.ess_defective or 0:.0f} precision {_num(r.precision[0])} est "
        f"{_num(r.precision[1])} [{_num(r.precision[2])}, {_num(r.precision[3])}] "
        f"{r.status} {r.reason}",
        flush=True,
    )


def main() -> None:
    """Render (or load cached) seeds, estimate every window, print the table as JSON lines."""
    args = _args()
    try:
        shifts = world.resolve_set(args.shifts)
    except ValueError as exc:  # it names the sets and kinds
        raise SystemExit(f"bench_estimate_shift: {exc}") from None
    world.set_defect_rate(args.defect_rate)
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
        t0 = time.process_time()
        data = _seed_data(args, detector, settings, seed)
        if data is None:
            continue
        t1 = time.process_time()
        seed_results = _evaluate(
            seed,
            *data,
            threshold,
            min_defects=args.min_defects,
            draws=args.draws,
            rule=rule,
            shifts=shifts,
        )
        cpu["render"] += t1 - t0
        cpu["estimate"] += time.process_time() - t1
        results.extend(seed_results)
        for r in seed_results:
            _print_window(r)
    for row in _summary(results, shifts):
        print(json.dumps(row))
    conditions = {
        "seeds": sorted({r.seed for r in results}),
        "events": args.events,
        "shifts": args.shifts,
        "lab_frames": args.lab_frames,
        "defect_rate": args.defect_rate,
        "min_defects": args.min_defects,
        "cpu_s": {k: round(v, 1) for k, v in cpu.items()},
    }
    print(json.dumps(conditions))
    if args.out is not None:
        args.out.write_text(json.dumps([r.__dict__ for r in results], indent=1, default=str))


if __name__ == "__main__":
    main()
