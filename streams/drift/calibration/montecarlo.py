"""Monte-Carlo calibration of the drift detectors: false alarms and detection delays.

Stationary streams are bootstrapped from the lab reference of each signal (inverse-CDF
sampling between its stored 1st..99th percentiles; a discrete signal draws its observed
values), standardised like the monitor does, and fed to the detectors. linewatch's CUSUMs run
*vectorised* over many independent paths: ``GaussianCusum(...).paths(count)`` and
``BernoulliCusum(...).paths(count)`` (:mod:`streams.drift.cusum`) step ``count`` copies of the
runtime detector with its own arithmetic, one numpy operation per step for all paths (the tests
check they alarm at the same updates as the scalar detectors), so tens of millions of updates
take seconds. River's detectors run one update at a time.

>>> from streams.drift.detectors import GaussianCusum
>>> rng = np.random.default_rng(0)
>>> vec = GaussianCusum(k=0.5, h=5.0, warmup=10).paths(3)
>>> alarms = sum(int(vec.step(rng.standard_normal(3) + (i >= 100) * 2.0).sum()) for i in range(130))
>>> alarms >= 3
True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
from river import base

from streams.drift.cusum import BernoulliCusumPaths, GaussianCusumPaths
from streams.drift.reference import SignalReference
from streams.drift.signals import detector_scale, pit_of

__all__ = [
    "CalibrationRow",
    "VectorDetector",
    "bootstrap_sampler",
    "delays_vectorised",
    "false_alarms_scalar",
    "false_alarms_vectorised",
    "poisson_interval",
    "simulate_arl",
]

Sampler = Callable[[np.random.Generator, tuple[int, ...]], np.ndarray]


VectorDetector = GaussianCusumPaths | BernoulliCusumPaths
"""Independent copies of a runtime detector, stepped together (``det.paths(count)``)."""


def bootstrap_sampler(signal: str, ref: SignalReference, *, binary: bool) -> Sampler:
    """Draws from the lab distribution of one signal, transformed as the monitor feeds it.

    Continuous signals: inverse-CDF between the stored 1st..99th percentiles (the extreme
    1% tails are clipped to those percentiles), then the signal's variance-stabiliser (if any)
    and the monitor's standardisation (:func:`~streams.drift.signals.detector_scale`).
    Discrete ones (few distinct percentiles): the percentiles themselves, i.e. the observed
    values with their frequencies. Binary signals: Bernoulli with the lab rate.
    """
    if binary:
        p = min(max(ref.mean, 0.0), 1.0)
        return lambda rng, shape: (rng.random(shape) < p).astype(np.float64)
    pit = pit_of(signal, ref)
    if pit is not None:
        atoms = np.asarray(ref.quantiles, dtype=np.float64)
        return lambda rng, shape: pit.array(
            atoms[rng.integers(0, atoms.size, shape)], rng.random(shape)
        )
    centre, scale, stab = detector_scale(signal, ref)
    raw = np.asarray(ref.quantiles, dtype=np.float64)
    qs = ((raw if stab is None else stab.array(raw)) - centre) / scale
    levels = np.linspace(0.01, 0.99, qs.size)
    if np.unique(qs).size < 20:
        return lambda rng, shape: qs[rng.integers(0, qs.size, shape)]
    return lambda rng, shape: np.interp(rng.uniform(0.01, 0.99, shape), levels, qs)


def false_alarms_vectorised(
    make: Callable[[int], VectorDetector],
    sample: Sampler,
    *,
    updates: int,
    paths: int = 2000,
    seed: int = 0,
) -> tuple[int, int]:
    """(alarms, updates) of ``paths`` stationary detectors; ``updates`` in total (rounded up)."""
    rng = np.random.default_rng(seed)
    steps = max(1, -(-updates // paths))
    det = make(paths)
    alarms = 0
    chunk = 256
    for start in range(0, steps, chunk):
        block = sample(rng, (min(chunk, steps - start), paths))
        for row in block:
            alarms += int(np.count_nonzero(det.step(row)))
    return alarms, steps * paths


def false_alarms_scalar(
    det: base.DriftDetector | base.BinaryDriftDetector,
    sample: Sampler,
    *,
    updates: int,
    binary: bool,
    seed: int = 0,
) -> tuple[int, int]:
    """(alarms, updates) of one River detector on a stationary stream, one update at a time."""
    rng = np.random.default_rng(seed)
    alarms = 0
    done = 0
    while done < updates:
        block = sample(rng, (min(65_536, updates - done),))
        values: Sequence[float | bool] = (block >= 0.5).tolist() if binary else block.tolist()
        for x in values:
            det.update(x)  # type: ignore[arg-type]
            if det.drift_detected:
                alarms += 1
        done += len(values)
    return alarms, done


def delays_vectorised(
    make: Callable[[int], VectorDetector],
    sample: Sampler,
    shift: float,
    *,
    paths: int = 400,
    before: int = 1000,
    after: int = 2000,
    seed: int = 0,
    binary_rate: float | None = None,
) -> np.ndarray:
    """Delays (updates after the change) until the first alarm after a step change.

    Continuous: ``+shift`` lab standard deviations. Binary (``binary_rate`` = lab rate): the
    odds multiplied by ``exp(shift)``. Paths with a false alarm before the change are dropped;
    missed changes are ``inf``.
    """
    rng = np.random.default_rng(seed)
    det = make(paths)
    first = np.full(paths, np.inf)
    clean = np.ones(paths, dtype=bool)
    if binary_rate is not None:
        odds = binary_rate / (1.0 - binary_rate) * math.exp(shift)
        p_after = odds / (1.0 + odds)
    for i in range(before + after):
        if binary_rate is None:
            x = sample(rng, (paths,)) + (shift if i >= before else 0.0)
        else:
            p = binary_rate if i < before else p_after
            x = (rng.random(paths) < p).astype(np.float64)
        alarm = det.step(x)
        if i < before:
            clean &= ~alarm
        else:
            new = alarm & np.isinf(first)
            first[new] = i - before
    return first[clean]


def simulate_arl(
    k: float, h: float, *, paths: int = 2000, max_steps: int = 1_000_000, seed: int = 0
) -> float:
    """Monte-Carlo in-control ARL of a one-sided CUSUM on iid N(0, 1), vectorised over paths.

    Used to verify :func:`gaussian_threshold`; costs ~ARL x paths normal draws.
    """
    rng = np.random.default_rng(seed)
    s = np.zeros(paths)
    run = np.zeros(paths, dtype=np.int64)
    alive = np.ones(paths, dtype=bool)
    step = 0
    while alive.any() and step < max_steps:
        idx = np.flatnonzero(alive)
        s[idx] = np.maximum(0.0, s[idx] + rng.standard_normal(idx.size) - k)
        step += 1
        run[idx] = step
        alive[idx[s[idx] > h]] = False
    return float(run.mean())


def poisson_interval(count: int, confidence: float = 0.95) -> tuple[float, float]:
    """Exact (Garwood) confidence interval of a Poisson mean from one count.

    >>> [round(v, 3) for v in poisson_interval(0)]
    [0.0, 3.689]
    """
    tail = (1.0 - confidence) / 2.0
    high = _solve(lambda mu: _poisson_cdf(count, mu) - tail)
    low = 0.0 if count == 0 else _solve(lambda mu: tail - (1.0 - _poisson_cdf(count - 1, mu)))
    return low, high


def _poisson_cdf(count: int, mu: float) -> float:
    """P(X <= count) for X ~ Poisson(mu), summed in log space."""
    if mu <= 0:
        return 1.0
    terms = [k * math.log(mu) - mu - math.lgamma(k + 1.0) for k in range(count + 1)]
    top = max(terms)
    return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in terms))


def _solve(f: Callable[[float], float]) -> float:
    """The root of a function positive below it and negative above it (bisection)."""
    lo, hi = 0.0, 10.0
    while f(hi) > 0:
        hi *= 2.0
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if f(mid) > 0:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2.0


@dataclass(frozen=True)
class CalibrationRow:
    """One line of ``linewatch drift calibrate``."""

    detector: str
    signal: str
    updates: int
    false_alarms: int
    per_million: float
    expected_per_million: float | None
    delays: dict[str, tuple[float, float, float]]
    """shift label -> (median, p95, share missed) of the detection delay."""

    def as_dict(self) -> dict[str, object]:
        """JSON-friendly."""
        return asdict(self)
