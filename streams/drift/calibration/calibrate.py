"""``linewatch drift calibrate``: measured false alarms and delays of the configured detectors.

:func:`calibrate` bootstraps stationary streams from the lab reference of every signal
(:func:`~streams.drift.calibration.montecarlo.bootstrap_sampler`) and counts the false alarms of the
detectors the monitor would build for a line, per 1M updates, next to the rate their
thresholds were calibrated for; then the median / p95 detection delay of 0.5, 1 and 2 sd
shifts (binary signals: odds x e^0.5, e^1, e^2). linewatch's CUSUMs run vectorised
(millions of updates per second); River's detectors (``compare``: ADWIN, PageHinkley and
KSWIN at their defaults) one update at a time, spread over ``jobs`` processes.

:func:`budget_check` simulates line-weeks at the line's frame rate with every detector of a
frame (the signals and the lighting-mix buckets) and compares the false alarms per line-week
with the budget (exact Poisson interval).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from typing import NamedTuple

import numpy as np
from river import base, drift

from streams.config import LineConfig, Settings
from streams.drift.calibration.montecarlo import (
    CalibrationRow,
    Sampler,
    VectorDetector,
    bootstrap_sampler,
    delays_vectorised,
    false_alarms_scalar,
    false_alarms_vectorised,
    poisson_interval,
)
from streams.drift.detectors import BernoulliCusum, GaussianCusum
from streams.drift.line_detectors import LineDetectors
from streams.drift.monitor import DriftMonitor
from streams.drift.reference import ReferenceProfile, SignalReference
from streams.drift.signals import signal_kind
from streams.drift.spec import detector_label
from streams.drift.thresholds import SECONDS_PER_WEEK
from streams.errors import ConfigError

__all__ = ["SHIFTS", "BudgetResult", "budget_check", "calibrate", "compare_detectors"]

SHIFTS = (0.5, 1.0, 2.0)


def compare_detectors() -> list[base.DriftDetector]:
    """River's detectors at their defaults, for ``--compare``."""
    return [drift.ADWIN(), drift.PageHinkley(), drift.KSWIN()]  # type: ignore[no-untyped-call]


def _vector_factory(det: base.Base) -> Callable[[int], VectorDetector] | None:
    """``det.paths`` for linewatch's CUSUMs (vectorised copies of the runtime detector)."""
    if isinstance(det, GaussianCusum | BernoulliCusum):
        return det.paths
    return None


def _summary(delays: np.ndarray) -> tuple[float, float, float]:
    if delays.size == 0:
        return (math.nan, math.nan, math.nan)
    caught = delays[np.isfinite(delays)]
    missed = 1.0 - caught.size / delays.size
    if caught.size == 0:
        return (math.inf, math.inf, missed)
    return (float(np.median(caught)), float(np.percentile(caught, 95)), missed)


def _scalar_delays(
    det: base.Base, sample: Sampler, shift: float, *, binary_rate: float | None, seed: int
) -> np.ndarray:
    paths, before, after = 10, 300, 700
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(paths):
        d = det.clone()
        found = math.inf
        clean = True
        if binary_rate is None:
            xs = sample(rng, (before + after,))
            xs[before:] += shift
            values: list[float | bool] = xs.tolist()
        else:
            odds = binary_rate / (1.0 - binary_rate) * math.exp(shift)
            p = np.where(np.arange(before + after) < before, binary_rate, odds / (1.0 + odds))
            values = (rng.random(before + after) < p).tolist()
        for i, x in enumerate(values):
            d.update(x)  # type: ignore[attr-defined]
            if d.drift_detected:  # type: ignore[attr-defined]
                if i < before:
                    clean = False
                    break
                found = i - before
                break
        if clean:
            out.append(found)
    return np.asarray(out, dtype=float)


@dataclass(frozen=True)
class _Task:
    det: base.Base
    label: str
    signal: str
    ref_mean: float
    binary: bool
    updates: int
    expected: float | None
    seed: int
    sampler_ref: SignalReference


def _run(task: _Task) -> CalibrationRow:
    sample = bootstrap_sampler(task.signal, task.sampler_ref, binary=task.binary)
    rate = task.ref_mean if task.binary else None
    vec = _vector_factory(task.det)
    delays: dict[str, tuple[float, float, float]] = {}
    if vec is not None:
        alarms, done = false_alarms_vectorised(vec, sample, updates=task.updates, seed=task.seed)
        for shift in SHIFTS:
            d = delays_vectorised(vec, sample, shift, seed=task.seed + 1, binary_rate=rate)
            delays[f"{shift:g}"] = _summary(d)
    else:
        det = task.det.clone()
        alarms, done = false_alarms_scalar(
            det,  # type: ignore[arg-type]
            sample,
            updates=task.updates,
            binary=task.binary,
            seed=task.seed,
        )
        for shift in SHIFTS:
            d = _scalar_delays(task.det, sample, shift, binary_rate=rate, seed=task.seed + 1)
            delays[f"{shift:g}"] = _summary(d)
    return CalibrationRow(
        detector=task.label,
        signal=task.signal,
        updates=done,
        false_alarms=alarms,
        per_million=alarms / done * 1e6,
        expected_per_million=None if task.expected is None else task.expected * 1e6,
        delays=delays,
    )


def _usable_rate(ref_mean: float) -> float:
    return min(max(ref_mean, 1e-3), 1.0 - 1e-3)


def _runtime_tasks(
    reference: ReferenceProfile,
    protos: LineDetectors,
    chosen: Sequence[str],
    *,
    updates: int,
    compare_updates: int,
    seed: int,
) -> list[_Task]:
    """One task per chosen signal: the line's prototype for its kind (the runtime detector)."""
    tasks = []
    for i, name in enumerate(chosen):
        ref = reference[name]
        binary = signal_kind(name) == "bernoulli"
        det = protos.binary if binary else protos.continuous
        vectorised = _vector_factory(det) is not None
        tasks.append(
            _Task(
                det=det,
                label=detector_label(det),
                signal=name,
                ref_mean=_usable_rate(ref.mean),
                binary=binary,
                updates=updates if vectorised else compare_updates,
                expected=protos.rate if vectorised else None,
                seed=seed + 1000 * i,
                sampler_ref=ref,
            )
        )
    return tasks


def _compare_tasks(
    reference: ReferenceProfile,
    chosen: Sequence[str],
    compare_signals: Sequence[str],
    *,
    compare_updates: int,
    slow_updates: int,
    seed: int,
) -> list[_Task]:
    """River's detectors at their defaults on the chosen continuous signals."""
    tasks = []
    for det in compare_detectors():
        slow = isinstance(det, drift.KSWIN)
        for i, name in enumerate(chosen):
            if signal_kind(name) == "bernoulli" or name not in compare_signals:
                continue
            ref = reference[name]
            tasks.append(
                _Task(
                    det=det,
                    label=detector_label(det),
                    signal=name,
                    ref_mean=ref.mean,
                    binary=False,
                    updates=slow_updates if slow else compare_updates,
                    expected=None,
                    seed=seed + 1000 * i,
                    sampler_ref=ref,
                )
            )
    return tasks


def calibrate(
    reference: ReferenceProfile,
    settings: Settings,
    *,
    line: str,
    updates: int = 10_000_000,
    compare: bool = False,
    compare_updates: int = 10_000_000,
    slow_updates: int = 20_000,
    compare_signals: Sequence[str] = ("brightness", "max_confidence", "detections_per_frame"),
    signals: Sequence[str] | None = None,
    jobs: int = 2,
    seed: int = 0,
) -> list[CalibrationRow]:
    """One row per (detector, signal); see the module docstring.

    ``slow_updates`` caps the stationary updates of detectors slower than ~20 us per update
    (KSWIN runs a KS test on every update: ~1 ms), whose row then says how many were run.
    """
    protos = DriftMonitor(reference, settings).line_detectors(line)
    chosen = [s for s in reference.signals if signals is None or s in signals]
    tasks = _runtime_tasks(
        reference, protos, chosen, updates=updates, compare_updates=compare_updates, seed=seed
    )
    if compare:
        tasks += _compare_tasks(
            reference,
            chosen,
            compare_signals,
            compare_updates=compare_updates,
            slow_updates=slow_updates,
            seed=seed,
        )
    if jobs <= 1:
        return [_run(t) for t in tasks]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(_run, tasks))


@dataclass(frozen=True)
class BudgetResult:
    """``drift calibrate --budget``: simulated line-weeks against the budget."""

    line: str
    frames_per_second: float
    detectors_per_frame: int
    budget_per_line_week: float
    rate_per_update: float
    gaussian_threshold: float
    bernoulli_threshold: float
    line_weeks: float
    updates: int
    false_alarms: int
    per_line_week: float
    per_line_week_ci95: tuple[float, float]
    delay_1sd_median: float
    delay_1sd_p95: float

    @property
    def within_budget(self) -> bool:
        """The budget lies inside or above the 95% interval of the observed rate."""
        return self.per_line_week_ci95[0] <= self.budget_per_line_week

    def as_dict(self) -> dict[str, object]:
        """JSON-friendly."""
        return asdict(self) | {"within_budget": self.within_budget}


class _Stream(NamedTuple):
    """One detector of a frame in the budget simulation: its vectorised copies and values."""

    make: Callable[[int], VectorDetector]
    sample: Sampler


def _frame_streams(
    reference: ReferenceProfile, gauss: GaussianCusum, bern: BernoulliCusum, buckets: int
) -> list[_Stream]:
    """Every detector one frame updates: one per signal (bootstrapped from the lab reference)
    and one per lighting bucket (bucket shares equal)."""
    streams = []
    for name in reference.signals:
        binary = signal_kind(name) == "bernoulli"
        det: GaussianCusum | BernoulliCusum = bern if binary else gauss
        streams.append(_Stream(det.paths, bootstrap_sampler(name, reference[name], binary=binary)))
    share = 1.0 / buckets
    for _ in range(buckets):
        streams.append(
            _Stream(bern.paths, lambda rng, shape: (rng.random(shape) < share).astype(float))
        )
    return streams


def budget_check(
    reference: ReferenceProfile,
    settings: Settings,
    *,
    line: str,
    line_weeks: float = 10.0,
    seed: int = 0,
    slice_hours: float = 8.0,
) -> BudgetResult:
    """Simulate ``line_weeks`` of stationary frames of ``line`` through all its detectors.

    Every frame updates each signal's detector and one Bernoulli detector per lighting bucket
    (bucket shares equal); streams bootstrapped from the lab reference. A simulated detector
    runs ``slice_hours`` of frames (a slice lives for a shift, then is evicted and starts
    again with a warm-up), so the paths are as long as in production.
    """
    protos = DriftMonitor(reference, settings).line_detectors(line)
    gauss, bern = protos.continuous, protos.binary
    if not isinstance(gauss, GaussianCusum) or not isinstance(bern, BernoulliCusum):
        raise ConfigError(
            "the line-week budget sets the thresholds of the 'cusum' detectors only; "
            "unset LINEWATCH_DRIFT__DETECTOR / LINEWATCH_DRIFT__BINARY_DETECTOR for --budget"
        )
    fps = (settings.plant.lines.get(line) or LineConfig()).frame_rate
    frames = max(1, round(fps * SECONDS_PER_WEEK * line_weeks))
    paths = max(1, math.ceil(frames / max(1.0, fps * 3600.0 * slice_hours)))
    streams = _frame_streams(reference, gauss, bern, len(settings.plant.lighting_bucket_names))
    alarms = updates = 0
    for i, (make, sample) in enumerate(streams):
        a, n = false_alarms_vectorised(make, sample, updates=frames, paths=paths, seed=seed + i)
        alarms += a
        updates += n
    weeks = updates / (fps * SECONDS_PER_WEEK * len(streams))
    low, high = poisson_interval(alarms)
    delays = delays_vectorised(
        gauss.paths, lambda rng, shape: rng.standard_normal(shape), 1.0, seed=seed
    )
    median, p95, _missed = _summary(delays)
    return BudgetResult(
        line=line,
        frames_per_second=fps,
        detectors_per_frame=len(streams),
        budget_per_line_week=settings.drift.false_alarms_per_line_week,
        rate_per_update=protos.rate,
        gaussian_threshold=gauss.h,
        bernoulli_threshold=bern.h,
        line_weeks=weeks,
        updates=updates,
        false_alarms=alarms,
        per_line_week=alarms / weeks,
        per_line_week_ci95=(low / weeks, high / weeks),
        delay_1sd_median=median,
        delay_1sd_p95=p95,
    )
