"""Audits chosen and weighted by design (issue 21): prints, never asserts.

World (``--world``, :data:`WORLDS`): a simulated scenario (``demo`` by default; ``faults``:
the camera-faults scenario; ``faults5``: the same with 5 % defective units) run through the
pipeline with every frame labelled, into an embedded store under ``bench/.cache/`` (built once
per seed; each unit's slice, band, outcome and predicted P(defective) are kept beside it in
``units.json``, so later runs read the world in a second: delete that file after changing how
they are computed); the full labels are the truth. Then, per audit seed, labels are drawn from
that world and weighted by :mod:`streams.readiness.design` and
:mod:`streams.readiness.score_estimate` (the code behind ``metrics``):

1. policy "every flagged unit plus 2 % of the others" (Bernoulli): per slice, whether the
   design-weighted FNR / FPR 95 % intervals cover the full-label truth, and the naive figures
   (the labelled frames taken as the line) with their Wilson intervals;
2. a budget of 1 % of units: ``audit plan`` (by score where a lab calibration exists, else by
   band) against uniform random audits with the same number of labels, one estimator on both
   sides per row (the difference estimator, ``design_difference`` in ``metrics``; the same
   without predictions; the cell estimator, ``design``): median per-slice FNR interval width,
   coverage, and the widths with each side's intervals scaled to 95 % realized coverage;
3. why: labels, defects and misses per slice, where the misses sit in score, and the bounds (the
   plan and the estimator given the true P(defective | score bin), pooled over slices, and per
   slice: what a calibration that knew how each slice's scene changed could give).

Run: ``python bench/bench_audit.py [--world demo] [--events 30000] [--worlds 1] [--seeds 20]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from streams.config import Settings
from streams.estimation.windows import load_lab_set
from streams.inference.threshold import operating_threshold
from streams.readiness.audit_plan import (
    DEFAULT_DEFECT_RATES,
    Stratum,
    neyman_allocation,
    select_units,
)
from streams.readiness.design import DesignLabel, estimate_slices
from streams.readiness.reconcile import reconcile
from streams.readiness.score_design import (
    predicted_defect,
)
from streams.readiness.stats import wilson_interval
from streams.sinks import ClickHouseStore
from streams.sinks.audits import design_outcomes

sys.path.insert(0, str(Path(__file__).resolve().parent))
from audit_score_checks import (
    FloatArray,
    Interval,
    Unit,
    at_coverage,
    design_arithmetic,
    per_slice_truth,
    policy_difference,
    pooled_truth,
    population,
    score_check,
    truth_of,
)

CACHE = Path(__file__).parent / ".cache"


def _linewatch(*args: str, defect_rate: float | None = None) -> None:
    if defect_rate is None:
        exe = Path(sys.executable).with_name("linewatch")
        subprocess.run([str(exe), *args], check=True, stdout=subprocess.DEVNULL)
        return
    # the simulator's production defect rate is a module constant: set it in the child (the
    # module by importlib: the package re-exports a function of the same name)
    code = (
        "import importlib; g = importlib.import_module('streams.simulate.generate'); "
        f"g.PRODUCTION_DEFECT_RATE = {defect_rate!r}; "
        "import sys; from streams.cli import main; sys.argv[0] = 'linewatch'; main()"
    )
    subprocess.run([sys.executable, "-c", code, *args], check=True, stdout=subprocess.DEVNULL)


WORLDS = {
    "demo": ("demo", None),
    "faults": ("camera-faults", None),
    "faults5": ("camera-faults", 0.05),
}
"""Worlds by name: the simulator's scenario and production defect rate (``None``: its own,
2 %). ``faults``: line-1's camera frozen, line-2 out of focus, line-3 smudged from the
midpoint (another score separation); ``faults5``: the same with 5 % defective units."""


def world(
    seed: int, events: int, store: str | None = None, kind: str = "demo"
) -> tuple[list[Unit], FloatArray, FloatArray]:
    """Every frame of a simulated world (:data:`WORLDS`) with its full-label outcome (built
    once, cached, and assessed: ``linewatch assess`` fits the lab calibration), each frame's
    predicted P(defective) and its top confidence; ``store``: an existing fully labelled,
    assessed store instead."""
    scenario, defect_rate = WORLDS[kind]
    name = f"audit-world-s{seed}-n{events}" + ("" if kind == "demo" else f"-{kind}")
    store_dir = CACHE / name
    dsn = store or f"chdb://{store_dir}"
    if store is None and not (store_dir / "done").exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        ev, lab = CACHE / f"{name}-ev.jsonl", CACHE / f"{name}-lab.jsonl"
        print(f"building world {kind} seed {seed}: {events} events through the pipeline ...",
              flush=True)  # fmt: skip
        _linewatch("simulate", "--events", str(events), "--seed", str(seed), "--scenario",
                   scenario, "--out", str(ev), "--labels-out", str(lab),
                   defect_rate=defect_rate)  # fmt: skip
        _linewatch("run", "--source", str(ev), "--labels", str(lab), "--store", dsn)
        ev.unlink()
        lab.unlink()
        (store_dir / "done").write_text("ok\n")
    if store is None and not (store_dir / "assessed").exists():
        print(f"world seed {seed}: linewatch assess (the lab calibration) ...", flush=True)
        _linewatch("assess", "--store", dsn)
        (store_dir / "assessed").write_text("ok\n")
    units_file = store_dir / "units.json"
    cached = json.loads(units_file.read_text()) if units_file.exists() else {}
    if store is None and "score" in cached:  # read back in a second, not the store's minute
        kept: list[Unit] = [(tuple(k), b, o) for k, b, o in cached["units"]]
        return kept, np.array(cached["p"]), np.array(cached["score"])
    settings = Settings(store={"dsn": dsn})
    threshold = operating_threshold(settings)
    with ClickHouseStore.open(dsn) as st:
        reconcile(st, settings, threshold=threshold)
        rows = design_outcomes(st, threshold, settings.inference.review_band[0])
        calibration = load_lab_set(st).calibration()
    # by slice, band and top confidence (as ``audit plan`` orders its draw), not by outcome
    # first: systematic sampling along this order must not stratify on the truth
    scored = sorted(
        ((r.line_id, r.shift, r.lighting), r.band, r.max_confidence, r.outcome) for r in rows
    )
    p = predicted_defect(calibration, [u[0] for u in scored], np.array([u[2] for u in scored]))
    units: list[Unit] = [(u[0], u[1], u[3]) for u in scored]
    score = np.array([u[2] for u in scored])
    if store is None:
        units_file.write_text(
            json.dumps({"units": units, "p": p.tolist(), "score": score.tolist()})
        )
    return units, p, score


def _covers(rate_lo: float | None, rate_hi: float | None, truth: float | None) -> bool | None:
    if truth is None or rate_lo is None or rate_hi is None:
        return None
    return rate_lo - 1e-12 <= truth <= rate_hi + 1e-12


def policy_check(units: list[Unit], seeds: int, passed_rate: float = 0.02) -> dict[str, float]:
    """Every flagged unit plus ``passed_rate`` of the others, over ``seeds`` audit seeds."""
    truth = truth_of(units)
    pop = population(units)
    cover = {"fnr": [], "fpr": []}  # type: dict[str, list[bool]]
    naive_cover = {"fnr": [], "fpr": []}  # type: dict[str, list[bool]]
    naive_bias = {"fnr": [], "fpr": []}  # type: dict[str, list[float]]
    design_bias = {"fnr": [], "fpr": []}  # type: dict[str, list[float]]
    labels_used = []
    naive_fpr: list[float] = []
    for seed in range(seeds):
        rng = np.random.default_rng(1000 + seed)
        draw = rng.random(len(units))
        labels = [
            DesignLabel(key, band, outcome, 1.0 if band == "flagged" else passed_rate)
            for (key, band, outcome), u in zip(units, draw, strict=True)
            if band == "flagged" or u < passed_rate
        ]
        labels_used.append(len(labels))
        est = estimate_slices(pop, labels, seed=seed)
        naive_counts: dict[tuple[str, ...], dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for lab in labels:
            naive_counts[lab.slice][lab.outcome] += 1
        for key, t in truth.items():
            c = naive_counts[key]
            for metric, (num, other) in (("fnr", ("FN", "TP")), ("fpr", ("FP", "TN"))):
                true = t[metric]
                rate = getattr(est[key], metric)
                hit = _covers(rate.lo, rate.hi, true)
                if hit is None or true is None:
                    continue
                cover[metric].append(hit)
                assert rate.value is not None
                design_bias[metric].append(rate.value - true)
                n = c[num] + c[other]
                interval = wilson_interval(c[num], n)
                if interval is not None:
                    naive_cover[metric].append(_covers(*interval, true) is True)
                    naive_bias[metric].append(c[num] / n - true)
                    if metric == "fpr":
                        naive_fpr.append(c[num] / n)
    return {
        "labels_mean": statistics.mean(labels_used),
        "slice_metrics": len(cover["fnr"]) + len(cover["fpr"]),
        "cover_fnr": statistics.mean(cover["fnr"]),
        "cover_fpr": statistics.mean(cover["fpr"]),
        "cover_all": statistics.mean(cover["fnr"] + cover["fpr"]),
        "naive_cover_all": statistics.mean(naive_cover["fnr"] + naive_cover["fpr"]),
        "naive_bias_fnr": statistics.mean(naive_bias["fnr"]),
        "naive_bias_fpr": statistics.mean(naive_bias["fpr"]),
        "design_bias_fnr": statistics.mean(design_bias["fnr"]),
        "design_bias_fpr": statistics.mean(design_bias["fpr"]),
        "true_fpr_median": statistics.median(
            t["fpr"] for t in truth.values() if t["fpr"] is not None
        ),
        "naive_fpr_lo": min(naive_fpr),
        "naive_fpr_hi": max(naive_fpr),
    }


def slice_table(units: list[Unit], passed_rate: float = 0.02) -> None:
    """Per slice, audit seed 0 of the policy: truth, naive and design-weighted figures."""
    truth = truth_of(units)
    draw = np.random.default_rng(1000).random(len(units))
    labels = [
        DesignLabel(key, band, outcome, 1.0 if band == "flagged" else passed_rate)
        for (key, band, outcome), u in zip(units, draw, strict=True)
        if band == "flagged" or u < passed_rate
    ]
    est = estimate_slices(population(units), labels, seed=0)

    def f(v: float | None) -> str:
        return "  -  " if v is None else f"{v:.3f}"

    print("  slice | labels | FNR true naive design [95%] | FPR true naive design [95%]")
    for key, t in sorted(truth.items()):
        d = est[key]
        print(
            f"  {'/'.join(key)} | {d.labels} | {f(t['fnr'])} {f(d.naive_fnr)} {f(d.fnr.value)} "
            f"[{f(d.fnr.lo)}-{f(d.fnr.hi)}] | {f(t['fpr'])} {f(d.naive_fpr)} {f(d.fpr.value)} "
            f"[{f(d.fpr.lo)}-{f(d.fpr.hi)}]"
        )


def budget_check(
    units: list[Unit], seeds: int, fraction: float = 0.01
) -> dict[str, dict[str, float]]:
    """``audit plan`` without a lab calibration (slice x band strata, Neyman) against uniform
    random audits of the same size, both by the cell estimator (``design`` in ``metrics``)."""
    truth = truth_of(units)
    pop = population(units)
    n = int(np.ceil(fraction * len(units)))
    groups: dict[tuple[tuple[str, ...], str], list[str]] = defaultdict(list)
    for i, (key, band, _o) in enumerate(units):
        groups[(key, band)].append(str(i))
    keys = sorted(groups)
    strata = [Stratum(k[0], k[1], len(groups[k]), DEFAULT_DEFECT_RATES[k[1]]) for k in keys]
    allocation = neyman_allocation(strata, n)
    widths: dict[str, list[float]] = {"plan": [], "uniform": []}
    cover: dict[str, list[bool]] = {"plan": [], "uniform": []}
    intervals: dict[str, list[Interval]] = {"plan": [], "uniform": []}
    for seed in range(seeds):
        chosen = select_units(groups, strata, allocation, seed=seed)
        plan = [
            DesignLabel(*units[int(u.event_id)], inclusion_probability=u.inclusion_probability)
            for u in chosen
        ]
        rng = np.random.default_rng(5000 + seed)
        picked = rng.choice(len(units), size=n, replace=False)
        uniform = [
            DesignLabel(*units[int(i)], inclusion_probability=n / len(units)) for i in picked
        ]
        for name, labels in (("plan", plan), ("uniform", uniform)):
            est = estimate_slices(pop, labels, seed=seed)
            for key, t in truth.items():
                rate = est[key].fnr
                if t["fnr"] is None:
                    continue
                # no defective unit among the labels: nothing is known, the interval is [0, 1]
                lo, hi = (0.0, 1.0) if rate.value is None else (rate.lo, rate.hi)
                assert lo is not None and hi is not None
                widths[name].append(hi - lo)
                cover[name].append(_covers(lo, hi, t["fnr"]) is True)
                intervals[name].append((rate.value, lo, hi, t["fnr"]))
    return {
        name: {
            "median_width": statistics.median(widths[name]),
            "cover": statistics.mean(cover[name]),
            "labels": n,
            "k95": at_coverage(intervals[name])[0],
            "width95": at_coverage(intervals[name])[1],
        }
        for name in ("plan", "uniform")
    }


ESTIMATORS = (
    ("difference", "score", "ppi", "difference estimator (`design_difference` in metrics)"),
    ("ht", "score", "ht", "Horvitz-Thompson ratio (the same, no predictions)"),
    ("cell", "band", "", "cell estimator (`design` in metrics)"),
)
"""The rows of :func:`budget_table`: estimator, which plan, its key in the checks, its name."""


def budget_table(
    band: dict[str, dict[str, float]], scored: dict[str, dict[str, float]], budget: float
) -> None:
    """Per estimator (the same on both sides): the plan's and uniform audits' median per-slice
    FNR interval width, coverage, and the widths at 95 % realized coverage
    (:func:`audit_score_checks.at_coverage`)."""
    n = band["plan"]["labels"]
    print(
        f"  budget {budget:.0%} ({n:.0f} labels): median per-slice FNR interval width over "
        f"slices x audit seeds; plan = `audit plan` (score: systematic PPS on the lab "
        f"calibration's P(defective); band: slice x band Neyman, no calibration), uniform = "
        f"{n:.0f} units without replacement (pi = n/N); each row one estimator on both sides"
    )
    for _name, plan_kind, key, label in ESTIMATORS:
        plan = band["plan"] if plan_kind == "band" else scored[f"plan+{key}"]
        uni = band["uniform"] if plan_kind == "band" else scored[f"uniform+{key}"]
        print(
            f"    {label}, {plan_kind} plan: {plan['median_width']:.3f} vs uniform "
            f"{uni['median_width']:.3f} ({1 - plan['median_width'] / uni['median_width']:.0%} "
            f"narrower), coverage {plan['cover']:.1%} / {uni['cover']:.1%}, labels "
            f"{plan['labels']:.0f} / {uni['labels']:.0f}; at 95% realized coverage "
            f"{plan['width95']:.3f} vs {uni['width95']:.3f} "
            f"({1 - plan['width95'] / uni['width95']:.0%} narrower; arms x{plan['k95']:.2f} / "
            f"x{uni['k95']:.2f})"
        )
    best, same = scored["plan+ppi"], scored["uniform+ppi"]
    gain = 1 - best["median_width"] / same["median_width"]
    gain95 = 1 - best["width95"] / same["width95"]
    print(
        f"  target (plan >= 30% narrower than uniform, same estimator, equal coverage): "
        f"{'met' if min(gain, gain95) >= 0.30 else 'NOT MET'} with the difference estimator "
        f"({gain:.0%} as printed, {gain95:.0%} at 95% coverage)"
    )


def design_limits(
    units: list[Unit], p: FloatArray, score: FloatArray, seeds: int, budget: float
) -> None:
    """The arithmetic of a budget (labels, defects and misses per slice, labelled by each design
    on average, where the misses sit) and the bound: the plan and the estimator given the
    pooled true ``P(defective | score bin)`` (an oracle) against uniform audits."""
    a = design_arithmetic(units, score, p, budget)
    print(
        f"  budget {budget:.0%} per slice: {a['labels_per_slice']:.0f} labels, "
        f"{a['defects_per_slice']:.1f} defects, {a['misses_per_slice']:.1f} misses; labelled "
        f"defects uniform {a['uniform_defects']:.2f} vs plan {a['plan_defects']:.2f}, labelled "
        f"misses uniform {a['uniform_misses']:.3f} vs plan {a['plan_misses']:.3f}; plan's "
        f"labels on flagged units {a['plan_flagged_share']:.1%}"
    )
    print(
        f"  misses: {a['misses_at_zero']:.0%} at score 0 (no candidate box), median score "
        f"{a['miss_score_median']:.3f} (good passed units {a['good_passed_score_median']:.3f}); "
        f"best score-stratified design for the misses' total: standard error x "
        f"{a['neyman_sd_ratio']:.2f} of uniform's (Neyman over the true rates of score bins); "
        f"the plan's own promise (its anticipated FNR standard error over uniform's, by the lab "
        f"calibration it plans with; median of slices) x{a['calibration_sd_ratio']:.2f}"
    )
    oracle = pooled_truth(units, score)
    bound = score_check(units, oracle, seeds, budget)
    plan, uniform = bound["plan+ppi"], bound["uniform+ppi"]
    print(
        f"  bound (plan and estimator on the true P(defective | score bin), pooled over "
        f"slices): median FNR width {plan['median_width']:.3f} vs uniform "
        f"{uniform['median_width']:.3f} ({1 - plan['median_width'] / uniform['median_width']:.0%}"
        f" narrower), coverage {plan['cover']:.1%} vs {uniform['cover']:.1%}; at 95% realized "
        f"coverage {plan['width95']:.3f} vs {uniform['width95']:.3f} "
        f"({1 - plan['width95'] / uniform['width95']:.0%} narrower)"
    )
    shifted = score_check(units, per_slice_truth(units, score), seeds, budget)
    plan, uniform = shifted["plan+ppi"], shifted["uniform+ppi"]
    print(
        f"  bound for a plan that knows how each slice's scene moved its scores (plan and "
        f"estimator on the true P(defective | score bin) per slice): median FNR width "
        f"{plan['median_width']:.3f} vs uniform {uniform['median_width']:.3f} "
        f"({1 - plan['median_width'] / uniform['median_width']:.0%} narrower), coverage "
        f"{plan['cover']:.1%} vs {uniform['cover']:.1%}; at 95% realized coverage "
        f"{plan['width95']:.3f} vs {uniform['width95']:.3f} "
        f"({1 - plan['width95'] / uniform['width95']:.0%} narrower)"
    )
    print(
        f"  why: the FNR interval of either design is the variance the calibration anticipates "
        f"for the misses, sum(c^2 p (1 - p) (1/pi - 1)), over the estimated defects (labelled "
        f"misses per slice: {a['uniform_misses']:.3f} uniform, {a['plan_misses']:.3f} plan); "
        f"a design narrows it only where P(miss | score) varies between units, by at most the "
        f"Neyman ratio above (x{a['neyman_sd_ratio']:.2f}) for the misses' total, for any "
        f"design-unbiased estimator given slice, band and score (Godambe-Joshi); the "
        f"difference estimator's control variate narrows both designs alike"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=30_000)
    parser.add_argument("--worlds", type=int, default=1, help="world seeds 1..N")
    parser.add_argument("--world", choices=sorted(WORLDS), default="demo", help="which world")
    parser.add_argument("--seeds", type=int, default=20, help="audit seeds per world")
    parser.add_argument("--store", help="a fully labelled store to use as the (one) world")
    parser.add_argument("--slices", action="store_true", help="print audit seed 0 per slice")
    parser.add_argument("--budget", type=float, default=0.01, help="fraction of units to audit")
    args = parser.parse_args()
    os.environ.setdefault("LINEWATCH_STORE__DSN", "chdb://" + str(CACHE / "unused"))
    for w in range(1, args.worlds + 1):
        units, p, score = world(w, args.events, args.store, args.world)
        cpu = time.process_time()
        pol = policy_check(units, args.seeds)
        bud = budget_check(units, args.seeds, args.budget)
        cpu = time.process_time() - cpu
        print(f"world {args.world} seed {w}: {len(units)} units, {len(truth_of(units))} slices, "
              f"{args.seeds} audit seeds ({cpu:.0f} s CPU)")  # fmt: skip
        print(
            f"  flagged + 2% passed: {pol['labels_mean']:.0f} labels; 95% intervals cover the "
            f"full-label truth in {pol['cover_all']:.1%} of {pol['slice_metrics']} slice-metrics "
            f"(FNR {pol['cover_fnr']:.1%}, FPR {pol['cover_fpr']:.1%}); naive "
            f"{pol['naive_cover_all']:.1%}"
        )
        print(
            f"  mean bias: design FNR {pol['design_bias_fnr']:+.3f} FPR "
            f"{pol['design_bias_fpr']:+.3f}; naive FNR {pol['naive_bias_fnr']:+.3f} FPR "
            f"{pol['naive_bias_fpr']:+.3f} (naive FPR {pol['naive_fpr_lo']:.3f}-"
            f"{pol['naive_fpr_hi']:.3f}, median true FPR {pol['true_fpr_median']:.3f})"
        )
        for metric, figures in policy_difference(units, p, args.seeds).items():
            print(
                f"  flagged + 2% passed, {metric.upper()}: "
                + "; ".join(
                    f"{name} median width {r['median_width']:.3f} coverage {r['cover']:.1%}"
                    for name, r in figures.items()
                )
            )
        scored = score_check(units, p, args.seeds, args.budget)
        budget_table(bud, scored, args.budget)
        design_limits(units, p, score, args.seeds, args.budget)
        if args.slices:
            slice_table(units)


if __name__ == "__main__":
    main()
