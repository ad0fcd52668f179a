"""Score-based audits for ``bench_audit.py``: the plan of :mod:`streams.readiness.score_design`
against uniform audits, and the flagged + 2 % policy by both estimators (prints nothing)."""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import replace

import numpy as np
import numpy.typing as npt

from streams.readiness.design import DesignLabel, DesignRate, estimate_slices
from streams.readiness.score_design import plan_probabilities, systematic_sample
from streams.readiness.score_estimate import ScoredSample, difference_rate

__all__ = ["Unit", "policy_difference", "population", "score_check", "truth_of"]

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
    """Per slice: every unit's band, prediction and flag, and the chosen ones with their pi."""
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
        )
    return out


def score_check(
    units: list[Unit], p: FloatArray, seeds: int, fraction: float = 0.01
) -> dict[str, dict[str, float]]:
    """The score-based plan (:mod:`streams.readiness.score_design`) against uniform audits of
    the same size: per-slice FNR interval widths and coverage, each with the difference
    estimator (predictions ``p``) and the plain Horvitz-Thompson ratio (no predictions)."""
    truth = truth_of(units)
    n = int(np.ceil(fraction * len(units)))
    flagged = np.array([u[1] == "flagged" for u in units])
    cells = [(u[0], u[1]) for u in units]
    plan_pi = plan_probabilities([u[0] for u in units], flagged, p, n, cells=cells)
    order = sorted(range(len(units)), key=lambda i: (units[i][0], units[i][1], p[i]))
    uniform_pi = np.full(len(units), n / len(units))
    found: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for seed in range(seeds):
        rng = np.random.default_rng(7000 + seed)
        designs = {
            "plan": (systematic_sample(plan_pi, order, rng), plan_pi),
            "uniform": (sorted(rng.choice(len(units), size=n, replace=False)), uniform_pi),
        }
        for design, (chosen, pi) in designs.items():
            for key, sample in _scored(units, p, [int(c) for c in chosen], pi).items():
                t = truth[key]["fnr"]
                if t is None:
                    continue
                no_p = replace(sample, p=0 * sample.p, label_p=0 * sample.label_p)
                for est, s in (("ppi", sample), ("ht", no_p)):
                    value, lo, hi, _sd = difference_rate(s, "fnr")
                    lo, hi = (0.0, 1.0) if value is None else (lo, hi)
                    found[f"{design}+{est}"]["width"].append(hi - lo)
                    found[f"{design}+{est}"]["cover"].append(float(lo - 1e-12 <= t <= hi + 1e-12))
                    found[f"{design}+{est}"]["labels"].append(len(sample.pi))
    return {
        name: {
            "median_width": statistics.median(v["width"]),
            "cover": statistics.mean(v["cover"]),
            "labels": sum(v["labels"]) / seeds,
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
