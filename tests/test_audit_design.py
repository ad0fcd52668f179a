"""Design-weighted rates and audit allocation as plain functions, on a synthetic world built
here with numpy (not ``streams/simulate``): slices with known scores bands and outcomes."""

from __future__ import annotations

import statistics
from collections import defaultdict

import numpy as np
import pytest

from streams.errors import ConfigError
from streams.readiness.audit_plan import (
    DEFAULT_DEFECT_RATES,
    Budget,
    Stratum,
    neyman_allocation,
    parse_budget,
    prior_defect_rates,
    select_units,
)
from streams.readiness.design import DesignLabel, estimate_slices, resolve_designs, score_band

Unit = tuple[tuple[str, ...], str, str]

# per band: (share of a slice's units, defect rate); flagged units are TP/FP, others FN/TN
BANDS = {"flagged": (0.05, 0.45), "uncertain": (0.05, 0.08), "passed": (0.90, 0.004)}


def synthetic_world(seed: int, slices: int = 12, per_slice: int = 2000) -> list[Unit]:
    """Units of ``slices`` slices whose defect rates differ by slice (x0.5 .. x2)."""
    rng = np.random.default_rng(seed)
    units: list[Unit] = []
    for s in range(slices):
        scale = 0.5 + 1.5 * s / max(slices - 1, 1)
        for band, (share, rate) in BANDS.items():
            n = int(per_slice * share)
            defective = rng.random(n) < min(rate * scale, 0.95)
            for d in defective:
                outcome = ("TP" if d else "FP") if band == "flagged" else ("FN" if d else "TN")
                units.append(((f"line-{s}",), band, outcome))
    return units


def population(units: list[Unit]) -> dict[tuple[tuple[str, ...], str], int]:
    pop: dict[tuple[tuple[str, ...], str], int] = defaultdict(int)
    for key, band, _o in units:
        pop[(key, band)] += 1
    return dict(pop)


def truth(units: list[Unit]) -> dict[tuple[str, ...], tuple[float, float]]:
    c: dict[tuple[str, ...], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for key, _b, o in units:
        c[key][o] += 1
    return {k: (v["FN"] / (v["FN"] + v["TP"]), v["FP"] / (v["FP"] + v["TN"])) for k, v in c.items()}


def flagged_plus(units: list[Unit], rate: float, seed: int) -> list[DesignLabel]:
    draw = np.random.default_rng(seed).random(len(units))
    return [
        DesignLabel(key, band, o, 1.0 if band == "flagged" else rate)
        for (key, band, o), u in zip(units, draw, strict=True)
        if band == "flagged" or u < rate
    ]


def test_score_bands() -> None:
    assert [score_band(s, 0.6, 0.2) for s in (0.6, 0.59, 0.2, 0.19)] == [
        "flagged",
        "uncertain",
        "uncertain",
        "passed",
    ]


def test_flagged_plus_two_percent_covers_the_truth_where_naive_rates_do_not() -> None:
    units = synthetic_world(seed=3)
    pop, true = population(units), truth(units)
    hits, naive_fpr, fpr_bias = [], [], []
    for seed in range(25):
        labels = flagged_plus(units, 0.02, seed)
        est = estimate_slices(pop, labels, draws=800, seed=seed)
        for key, (fnr, fpr) in true.items():
            d = est[key]
            assert d.fnr.lo is not None and d.fnr.hi is not None
            assert d.fpr.lo is not None and d.fpr.hi is not None
            hits.append(d.fnr.lo - 1e-12 <= fnr <= d.fnr.hi + 1e-12)
            hits.append(d.fpr.lo - 1e-12 <= fpr <= d.fpr.hi + 1e-12)
            assert d.fpr.value is not None and d.naive_fpr is not None
            fpr_bias.append(d.fpr.value - fpr)
            naive_fpr.append(d.naive_fpr - fpr)
    assert statistics.mean(hits) >= 0.9
    # the naive FPR treats the labelled (mostly flagged) frames as the line: biased far up
    assert statistics.mean(naive_fpr) > 0.3
    assert abs(statistics.mean(fpr_bias)) < 0.005


def test_census_equals_plain_counts_and_undesigned_labels_stay_apart() -> None:
    units = synthetic_world(seed=1, slices=2, per_slice=400)
    pop, true = population(units), truth(units)
    every = [DesignLabel(key, band, o, 0.0) for key, band, o in units]  # no design, all labelled
    est = estimate_slices(pop, every, draws=100)
    for key, (fnr, fpr) in true.items():
        d = est[key]
        assert d.census and d.undesigned == 0 and d.labels == 400
        assert d.fnr.value == pytest.approx(fnr) and d.fnr.lo == d.fnr.hi == d.fnr.value
        assert d.fpr.value == pytest.approx(fpr) and d.naive_fpr == pytest.approx(fpr)
        assert d.next_audit is None
    # half the labels, still without design: nothing to weight them by -> apart, no rate
    half = every[::2]
    designed, undesigned, _ = resolve_designs(half, pop)
    assert designed == [] and sum(undesigned.values()) == len(half)
    est = estimate_slices(pop, half, draws=100)
    assert all(d.fnr.value is None and d.undesigned > 0 for d in est.values())


def test_unlabelled_units_keep_the_outcomes_of_their_side_of_the_threshold() -> None:
    """A slice whose camera flags nearly everything: 300 flagged units, every one labelled (a
    false flag), and 2 unflagged units, none labelled. The unflagged ones are good or missed
    defects, never false flags: FPR is 300/302 or 300/301 or 1, so its interval must reach
    300/302 (it read 1.0 [1.0-1.0] when they were taken for flagged ones)."""
    key: tuple[str, ...] = ("line-9",)
    pop: dict[tuple[tuple[str, ...], str], int] = {(key, "flagged"): 300, (key, "uncertain"): 2}
    labels = [DesignLabel(key, "flagged", "FP", 1.0)] * 300
    est = estimate_slices(pop, labels, draws=2000, seed=1)[key]
    assert est.fpr.lo is not None and est.fpr.hi is not None
    assert est.fpr.lo <= 300 / 302 + 1e-12 and est.fpr.hi == 1.0
    # FNR: no defect labelled; the two unflagged units may be the only defects (FNR 1) or good
    assert est.fnr.hi == 1.0
    # a flagged cell that no label describes is TP or FP, never TN: with every unflagged unit
    # labelled good, a flagged unit counts against the FPR only as a false flag
    pop = {(key, "flagged"): 5, (key, "passed"): 40}
    labels = [DesignLabel(key, "passed", "TN", 1.0)] * 40
    est = estimate_slices(pop, labels, draws=2000, seed=1)[key]
    assert est.fpr.lo == 0.0 and est.fpr.hi is not None and est.fpr.hi >= 5 / 45 - 1e-12
    assert est.fnr.value == 0.0 and est.fnr.hi == 0.0  # no unflagged defect: no miss


def test_mixed_designs_weight_by_inverse_probability() -> None:
    # 10 flagged units all labelled; 1000 passed, 10 labelled at p=0.01 of which 1 missed defect
    pop: dict[tuple[tuple[str, ...], str], int] = {(("a",), "flagged"): 10}
    pop[(("a",), "passed")] = 1000
    labels = [DesignLabel(("a",), "flagged", "TP", 1.0)] * 10
    labels += [DesignLabel(("a",), "passed", "FN", 0.01)]
    labels += [DesignLabel(("a",), "passed", "TN", 0.01)] * 9
    d = estimate_slices(pop, labels, draws=1000)[("a",)]
    # 1 FN of 10 passed labels stands for ~100 misses: FNR 100 / 110, not the naive 1 / 11
    assert d.fnr.value == pytest.approx(100 / 110)
    assert d.naive_fnr == pytest.approx(1 / 11)
    assert d.fnr.lo is not None and d.fnr.value is not None and d.fnr.lo < d.fnr.value
    assert d.next_audit is not None and d.next_audit.band == "passed"


def test_neyman_allocation_floor_caps_and_budget() -> None:
    strata = [
        Stratum(("a",), "flagged", 30, 0.5),
        Stratum(("a",), "uncertain", 40, 0.1),
        Stratum(("a",), "passed", 2000, 0.005),
        Stratum(("b",), "flagged", 1, 0.5),
        Stratum(("b",), "passed", 500, 0.005),
    ]
    alloc = neyman_allocation(strata, 100, floor=2)
    assert sum(alloc) == 100
    assert all(n >= min(2, s.frames) for n, s in zip(alloc, strata, strict=True))
    assert all(n <= s.frames for n, s in zip(alloc, strata, strict=True))
    assert alloc[2] > alloc[0]  # the big passed stratum holds the misses' uncertainty
    assert neyman_allocation(strata, 2571) == [s.frames for s in strata]
    with pytest.raises(ConfigError, match="at least 9"):
        neyman_allocation(strata, 5, floor=2)


def test_select_units_probabilities() -> None:
    strata = [Stratum(("a",), "flagged", 4, 0.5), Stratum(("a",), "passed", 100, 0.01)]
    ids: dict[tuple[tuple[str, ...], str], list[str]] = {
        (("a",), "flagged"): [f"f{i}" for i in range(4)]
    }
    ids[(("a",), "passed")] = [f"p{i}" for i in range(100)]
    chosen = select_units(ids, strata, [4, 10], seed=1)
    assert len(chosen) == 14 and len({u.event_id for u in chosen}) == 14
    probs = {u.event_id[0]: u.inclusion_probability for u in chosen}
    assert probs == {"f": 1.0, "p": 0.1}


def test_parse_budget() -> None:
    assert parse_budget("300/day") == Budget(per_day=300)
    assert parse_budget("2.5%") == Budget(fraction=0.025)
    assert Budget(per_day=100).units(10_000, 2.5) == 250
    assert Budget(fraction=0.01).units(30_000, 1) == 300
    for bad in ("0/day", "-1%", "abc", "1.5", "0"):
        with pytest.raises(ConfigError, match="--budget"):
            parse_budget(bad)


def test_priors_from_designed_labels() -> None:
    labels = [DesignLabel(("a",), "passed", "FN", 0.1)] + [
        DesignLabel(("a",), "passed", "TN", 0.1)
    ] * 9
    rates = prior_defect_rates(labels)
    assert rates["flagged"] == DEFAULT_DEFECT_RATES["flagged"]
    assert rates["passed"] == pytest.approx((1 + DEFAULT_DEFECT_RATES["passed"]) / 11)


def test_plan_narrows_fnr_intervals_against_uniform_audits() -> None:
    units = synthetic_world(seed=5, slices=8, per_slice=3000)
    pop = population(units)
    n = len(units) // 50
    groups: dict[tuple[tuple[str, ...], str], list[str]] = defaultdict(list)
    for i, (key, band, _o) in enumerate(units):
        groups[(key, band)].append(str(i))
    keys = sorted(groups)
    strata = [Stratum(k[0], k[1], len(groups[k]), DEFAULT_DEFECT_RATES[k[1]]) for k in keys]
    alloc = neyman_allocation(strata, n)
    plan_w: list[float] = []
    uni_w: list[float] = []
    for seed in range(4):
        plan = [
            DesignLabel(*units[int(u.event_id)], inclusion_probability=u.inclusion_probability)
            for u in select_units(groups, strata, alloc, seed=seed)
        ]
        picked = np.random.default_rng(seed).choice(len(units), n, replace=False)
        uni = [DesignLabel(*units[int(i)], inclusion_probability=n / len(units)) for i in picked]
        for labels, widths in ((plan, plan_w), (uni, uni_w)):
            for d in estimate_slices(pop, labels, draws=500, seed=seed).values():
                widths.append(1.0 if d.fnr.width is None else d.fnr.width)
    assert statistics.median(plan_w) < statistics.median(uni_w)
