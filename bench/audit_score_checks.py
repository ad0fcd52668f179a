"""Score-based audits for ``bench_audit.py``: the plan of :mod:`streams.readiness.score_design`
against uniform audits, and the flagged + 2 % policy by both estimators (prints nothing)."""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import replace

import numpy as np
import numpy.typing as npt

from streams.readiness.design import DesignLabel, DesignRate, estimate_slices
from streams.readiness.score_design import metric_sizes, plan_probabilities, systematic_sample
from streams.readiness.score_estimate import ScoredSample, difference_rate, label_dispersion

__all__ = [
    "Unit",
    "at_coverage",
    "design_arithmetic",
    "per_slice_truth",
    "policy_difference",
    "pooled_truth",
    "population",
    "score_check",
    "truth_of",
]

Unit = tuple[tuple[str, ...], str, str]  # slice, band, outcome
FloatArray = npt.NDArray[np.float64]


def truth_of(units: list[Unit]) -> dict[tuple[str, ...], dict[str, float | None]]:
    counts: dict[tuple[str, ...], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for key, _band, outcome in units:
        counts[key][outcome] += 1
    out = {}
    for key, c in counts.items():
        d, g = c["TP"] + c["FN"], c["FP"] + c["TN"]
        out[key] = {"fnr": c["FN"] / d if d else None, "fpr": c["FP"] / g if g else None}
    return out


def population(units: list[Unit]) -> dict[tuple[tuple[str, ...], str], int]:
    pop: dict[tuple[tuple[str, ...], str], int] = defaultdict(int)
    for key, band, _o in units:
        pop[(key, band)] += 1
    return dict(pop)


def _scored(
    units: list[Unit], p: FloatArray, chosen: list[int], pi: FloatArray
) -> dict[tuple[str, ...], ScoredSample]:
    """Per slice: every unit's band, prediction and flag, and the chosen ones with their pi;
    the calibration's misfit over every chosen unit (as ``metrics`` takes it over the store)."""
    dispersion = label_dispersion(
        p[chosen],
        np.array([units[i][1] == "flagged" for i in chosen], dtype=bool),
        np.array([units[i][2] in ("TP", "FN") for i in chosen], dtype=bool),
        pi[chosen],
    )
    by_slice: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for i, (key, _b, _o) in enumerate(units):
        by_slice[key].append(i)
    picked: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for i in chosen:
        picked[units[i][0]].append(i)
    out = {}
    for key, idx in by_slice.items():
        lab = picked[key]
        out[key] = ScoredSample(
            cells=[units[i][1] for i in idx],
            p=p[idx],
            flagged=np.array([units[i][1] == "flagged" for i in idx]),
            label_cells=[units[i][1] for i in lab],
            label_p=p[lab],
            label_flagged=np.array([units[i][1] == "flagged" for i in lab], dtype=bool),
            pi=pi[lab],
            defective=np.array([units[i][2] in ("TP", "FN") for i in lab], dtype=bool),
            dispersion=dispersion,
        )
    return out


Interval = tuple[float | None, float, float, float]  # value, lo, hi, truth


def at_coverage(found: list[Interval], target: float = 0.95) -> tuple[float, float]:
    """``(k, median width)``: the least factor ``k`` (a grid of 0.01 steps up to 3) by which every
    interval's two arms (``value - lo``, ``hi - value``) are scaled so that ``target`` of them
    cover the truth, and the median width of the scaled intervals (an end at 0 or 1 stays). Two
    designs compare at equal coverage this way whatever slack their interval methods carry; an
    interval without a value stays ``[0, 1]``."""
    known = [f for f in found if f[0] is not None]
    value = np.array([f[0] for f in known], dtype=np.float64)
    lo = np.array([f[1] for f in known])
    hi = np.array([f[2] for f in known])
    truth = np.array([f[3] for f in known])
    unknown = len(found) - len(known)
    k = 0.0
    for k in np.arange(0.0, 3.0001, 0.01):
        # an end at the edge of [0, 1] was clipped there: it stays
        a = np.where(lo <= 0.0, 0.0, np.maximum(value - k * (value - lo), 0.0))
        b = np.where(hi >= 1.0, 1.0, np.minimum(value + k * (hi - value), 1.0))
        hit = (a - 1e-12 <= truth) & (truth <= b + 1e-12)
        if (hit.sum() + unknown) / max(len(found), 1) >= target:
            break
    widths = np.r_[b - a, np.ones(unknown)]
    return float(k), float(np.median(widths))


def score_check(
    units: list[Unit],
    p: FloatArray,
    seeds: int,
    fraction: float = 0.01,
    *,
    p_plan: FloatArray | None = None,
) -> dict[str, dict[str, float]]:
    """The score-based plan (:mod:`streams.readiness.score_design`) against uniform audits of
    the same size: per-slice FNR interval widths and coverage, each with the difference
    estimator (predictions ``p``) and the plain Horvitz-Thompson ratio (no predictions);
    ``p_plan``: other predictions for the plan to choose by (default ``p``)."""
    truth = truth_of(units)
    n = int(np.ceil(fraction * len(units)))
    flagged = np.array([u[1] == "flagged" for u in units])
    cells = [(u[0], u[1]) for u in units]
    chooser = p if p_plan is None else p_plan
    plan_pi = plan_probabilities([u[0] for u in units], flagged, chooser, n, cells=cells)
    order = sorted(range(len(units)), key=lambda i: (units[i][0], units[i][1], p[i]))
    uniform_pi = np.full(len(units), n / len(units))
    found: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    intervals: dict[str, list[Interval]] = defaultdict(list)
    for seed in range(seeds):
        rng = np.random.default_rng(7000 + seed)
        designs = {
            "plan": (systematic_sample(plan_pi, order, rng), plan_pi),
            "uniform": (sorted(rng.choice(len(units), size=n, replace=False)), uniform_pi),
        }
        for design, (chosen, pi) in designs.items():
            for est in ("ppi", "ht"):  # every slice's labels, with or without an FNR
                found[f"{design}+{est}"]["labels"].append(len(chosen))
            for key, sample in _scored(units, p, [int(c) for c in chosen], pi).items():
                t = truth[key]["fnr"]
                if t is None:
                    continue
                no_p = replace(
                    sample, p=0 * sample.p, label_p=0 * sample.label_p, dispersion=(1.0, 1.0)
                )
                for est, s in (("ppi", sample), ("ht", no_p)):
                    value, lo, hi, _sd = difference_rate(s, "fnr")
                    lo, hi = (0.0, 1.0) if value is None else (lo, hi)
                    intervals[f"{design}+{est}"].append((value, lo, hi, t))
                    found[f"{design}+{est}"]["width"].append(hi - lo)
                    found[f"{design}+{est}"]["cover"].append(float(lo - 1e-12 <= t <= hi + 1e-12))
    return {
        name: {
            "median_width": statistics.median(v["width"]),
            "cover": statistics.mean(v["cover"]),
            "labels": sum(v["labels"]) / seeds,
            "k95": at_coverage(intervals[name])[0],
            "width95": at_coverage(intervals[name])[1],
        }
        for name, v in found.items()
    }


def policy_difference(
    units: list[Unit], p: FloatArray, seeds: int, passed_rate: float = 0.02
) -> dict[str, dict[str, dict[str, float]]]:
    """Every flagged unit plus ``passed_rate`` of the others, estimated by the cell estimator
    of ``metrics`` (``design``) and by the difference estimator (``difference``): per metric,
    median interval width and coverage of the full-label truth."""
    truth = truth_of(units)
    pop = population(units)
    pi = np.array([1.0 if u[1] == "flagged" else passed_rate for u in units])
    found: dict[str, list[float]] = defaultdict(list)
    for seed in range(seeds):
        draw = np.random.default_rng(1000 + seed).random(len(units))
        chosen = [i for i, u in enumerate(units) if u[1] == "flagged" or draw[i] < passed_rate]
        labels = [DesignLabel(*units[i], inclusion_probability=float(pi[i])) for i in chosen]
        cells = estimate_slices(pop, labels, seed=seed)
        for key, sample in _scored(units, p, chosen, pi).items():
            for metric in ("fnr", "fpr"):
                t = truth[key][metric]
                if t is None:
                    continue
                value, lo, hi, _sd = difference_rate(sample, metric)
                rate = getattr(cells[key], metric)
                for name, got in (("difference", (value, lo, hi)), ("design", rate_of(rate))):
                    a, b = (0.0, 1.0) if got[0] is None else got[1:]
                    found[f"{metric} {name} width"].append(b - a)
                    found[f"{metric} {name} cover"].append(float(a - 1e-12 <= t <= b + 1e-12))
    return {
        metric: {
            name: {
                "median_width": statistics.median(found[f"{metric} {name} width"]),
                "cover": statistics.mean(found[f"{metric} {name} cover"]),
            }
            for name in ("design", "difference")
        }
        for metric in ("fnr", "fpr")
    }


def rate_of(rate: DesignRate) -> tuple[float | None, float, float]:
    """A design rate as ``(value, lo, hi)``; ``[0, 1]`` where nothing is known."""
    if rate.value is None or rate.lo is None or rate.hi is None:
        return None, 0.0, 1.0
    return rate.value, rate.lo, rate.hi


def pooled_truth(units: list[Unit], scores: FloatArray, bins: int = 8) -> FloatArray:
    """Every unit's defect rate among the units of its score bin, pooled over slices: a score of
    0 (no candidate box) is a bin, the other scores of each band fall in ``bins`` quantile bins.
    An oracle (it reads every unit's truth): the finest ``P(defective | score)`` that any
    calibration shared by the slices could give a plan."""
    scores = np.asarray(scores, dtype=np.float64)
    defective = np.array([u[2] in ("TP", "FN") for u in units], dtype=np.float64)
    band = np.array([u[1] for u in units])
    code = np.full(len(units), -1, dtype=np.int64)
    for b, name in enumerate(sorted(set(band.tolist()))):
        mine = (band == name) & (scores > 0)
        if mine.any():
            edges = np.quantile(scores[mine], np.linspace(0, 1, bins + 1)[1:-1])
            code[mine] = 1 + b * bins + np.searchsorted(edges, scores[mine], side="right")
    out = np.zeros(len(units))
    for c in np.unique(code):
        out[code == c] = defective[code == c].mean()
    return out


def per_slice_truth(units: list[Unit], scores: FloatArray, bins: int = 4) -> FloatArray:
    """:func:`pooled_truth` slice by slice (``bins`` per band): what a calibration that knew how
    each slice's scene moved its scores could at best give a plan (an oracle, fitted on the
    very outcomes, so optimistic), the bound for a shift-aware ``P(defective)``."""
    scores = np.asarray(scores, dtype=np.float64)
    out = np.zeros(len(units))
    by_slice: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for i, u in enumerate(units):
        by_slice[u[0]].append(i)
    for idx in by_slice.values():
        out[idx] = pooled_truth([units[i] for i in idx], scores[idx], bins)
    return out


def design_arithmetic(
    units: list[Unit], scores: FloatArray, p: FloatArray, fraction: float = 0.01
) -> dict[str, float]:
    """Why a design can or cannot narrow the FNR here: labels, defects and misses per slice,
    how many of them a uniform audit and the plan (on predictions ``p``) label on average, where
    the misses sit in score, and the best a score-stratified design can do for the misses'
    total: Neyman's standard error over proportional's, ``sum(N_h S_h) / sqrt(N sum(N_h
    S_h^2))`` over the unflagged units' score bins of :func:`pooled_truth`; and what the plan
    promises by its own predictions ``p``: the median over slices of the FNR standard error
    its probabilities anticipate over a uniform audit's (``calibration_sd_ratio``)."""
    scores = np.asarray(scores, dtype=np.float64)
    n = int(np.ceil(fraction * len(units)))
    slices = [u[0] for u in units]
    flagged = np.array([u[1] == "flagged" for u in units])
    defect = np.array([u[2] in ("TP", "FN") for u in units])
    miss = np.array([u[2] == "FN" for u in units])
    pi = plan_probabilities(slices, flagged, p, n, cells=[(u[0], u[1]) for u in units])
    count = len(set(slices))
    # what the calibration itself promises: each slice's anticipated FNR variance
    # sum(a_fnr^2 (1/pi - 1)) under the plan over that under uniform audits (median of slices)
    a_fnr, _a_fpr, group = metric_sizes(slices, flagged, p)
    uniform = n / len(units)
    v_plan = np.bincount(group, a_fnr**2 * (1 / pi - 1))
    v_uniform = np.bincount(group, a_fnr**2 * (1 / uniform - 1))
    held = v_uniform > 0
    rate = pooled_truth(units, scores)[~flagged]
    strata = [rate[rate == r] for r in np.unique(rate)]
    neyman = sum(len(s) * np.sqrt(s[0] * (1 - s[0])) for s in strata)
    proportional = np.sqrt((~flagged).sum() * sum(len(s) * s[0] * (1 - s[0]) for s in strata))
    return {
        "slices": count,
        "labels_per_slice": n / count,
        "defects_per_slice": defect.sum() / count,
        "misses_per_slice": miss.sum() / count,
        "uniform_defects": n / len(units) * defect.sum() / count,
        "plan_defects": float(pi[defect].sum()) / count,
        "uniform_misses": n / len(units) * miss.sum() / count,
        "plan_misses": float(pi[miss].sum()) / count,
        "plan_flagged_share": float(pi[flagged].sum()) / n,
        "misses_at_zero": float((scores[miss] == 0).mean()) if miss.any() else 0.0,
        "miss_score_median": float(np.median(scores[miss])) if miss.any() else 0.0,
        "good_passed_score_median": float(np.median(scores[~flagged & ~defect])),
        "neyman_sd_ratio": float(neyman / proportional) if proportional > 0 else 1.0,
        "calibration_sd_ratio": float(np.median(np.sqrt(v_plan[held] / v_uniform[held]))),
    }
