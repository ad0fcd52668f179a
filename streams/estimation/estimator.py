"""Label-free precision, recall and false-positive rate of a slice at the operating threshold.

Each production frame gets ``p_i = P(defective | top score)`` from the lab calibration moved to
the production prevalence (:mod:`streams.estimation.calibration`). The frame-level confusion at
threshold ``t`` is then estimated by its expectation::

    TP = Σ_{s_i ≥ t} p_i        FP = Σ_{s_i ≥ t} (1 − p_i)
    FN = Σ_{s_i < t} p_i        TN = Σ_{s_i < t} (1 − p_i)

and precision, recall and FPR are the usual ratios of those sums.

Where the prevalence is known from audits (not estimated from the scores), the expected number of
defective frames ``π·N`` is a second, independent count. When even every flagged frame plus the
expected misses fall far short of it (``P(Poisson(π·N) ≤ flagged + FN) < 0.001``), the scores
have stopped meaning what they meant in the lab (a failing lamp: defects score like good units),
and recall is ``TP / (π·N)`` instead: the defects the base rate says are there and the model
does not see count as missed. ``recall_denominator`` says which count was used.

The 95 % interval comes from
``draws`` Monte-Carlo replicates, each refitting the calibration on a bootstrap resample of the
lab set (calibration uncertainty), re-deriving the prevalence the same way as the point estimate,
and drawing every frame's outcome from its ``p_i`` (sampling uncertainty of the slice itself).
``docs/estimation.md`` says what this assumes and when it breaks.

>>> rng = np.random.default_rng(0)
>>> lab_y = rng.integers(0, 2, 400)
>>> lab_s = np.where(lab_y == 1, rng.uniform(0.3, 1.0, 400), rng.uniform(0.0, 0.5, 400))
>>> cal = IsotonicCalibration.fit(lab_s, lab_y)
>>> prod_y = rng.random(4000) < 0.05
>>> prod_s = np.where(prod_y, rng.uniform(0.3, 1.0, 4000), rng.uniform(0.0, 0.5, 4000))
>>> est = estimate_performance(prod_s, 0.45, LabSet(lab_s, lab_y), prevalence=0.05, draws=50)
>>> true_recall = (prod_s[prod_y] >= 0.45).mean()
>>> bool(abs(est.recall.value - true_recall) < 0.1)
True
>>> est.recall.lo <= est.recall.value <= est.recall.hi
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from streams.errors import EstimationError
from streams.estimation.calibration import IsotonicCalibration, em_prevalence

__all__ = [
    "BASE_RATE_CHECK_P",
    "Estimate",
    "LabSet",
    "PerformanceEstimate",
    "estimate_performance",
    "poisson_cdf",
]

BASE_RATE_CHECK_P = 0.001
"""Below this probability of seeing so few defects, recall is divided by the base-rate count."""

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class LabSet:
    """The labelled calibration set: top score and 0/1 defective per lab frame, and optionally
    an importance weight per frame (:mod:`streams.estimation.shift`; ``None``: all equal)."""

    scores: FloatArray | Sequence[float]
    defective: npt.NDArray[Any] | Sequence[int]
    weights: FloatArray | None = None

    def calibration(self) -> IsotonicCalibration:
        """The isotonic calibration fitted on the whole set (weighted where weights are set)."""
        return IsotonicCalibration.fit(
            self.scores, np.asarray(self.defective, dtype=np.float64), weights=self.weights
        )


def poisson_cdf(k: float, mean: float) -> float:
    """``P(X <= floor(k))`` for ``X ~ Poisson(mean)``, summed in log space.

    >>> round(poisson_cdf(0, 7.0), 5), round(poisson_cdf(50, 57.0), 3)
    (0.00091, 0.196)
    """
    if mean <= 0:
        return 1.0
    top = math.floor(k)
    if top < 0:
        return 0.0
    log_mean = math.log(mean)
    total = 0.0
    for i in range(top + 1):
        total += math.exp(i * log_mean - mean - math.lgamma(i + 1))
    return min(total, 1.0)


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its 95 % interval; all ``None`` when the figure is undefined."""

    value: float | None
    lo: float | None
    hi: float | None

    def as_dict(self) -> dict[str, float | None]:
        """``{"value", "lo", "hi"}`` for JSON."""
        return {"value": self.value, "lo": self.lo, "hi": self.hi}

    def fmt(self) -> str:
        """``'91.2% [84.0–96.1]'``, or ``'–'``."""
        if self.value is None or self.lo is None or self.hi is None:
            return "–"
        return f"{100 * self.value:.1f}% [{100 * self.lo:.1f}–{100 * self.hi:.1f}]"


@dataclass(frozen=True)
class PerformanceEstimate:
    """Estimated figures of one group of frames at ``threshold``."""

    frames: int
    threshold: float
    prevalence: float
    prevalence_source: str
    expected_defective: float
    recall_denominator: str
    precision: Estimate
    recall: Estimate
    fpr: Estimate
    status: str = "unchecked"
    """``ok``: calibration re-weighted to the frames' inputs; ``partial``: the frames flag
    what the lab does not explain (recall given, widened; precision and FPR from the flag
    count at a known prevalence, else ``None``; ``reason`` says which and why);
    ``unknown``: the lab never showed inputs like these (figures ``None``, ``reason`` says
    why); ``unchecked``: no image statistics to compare, label-shift-only (see
    ``docs/estimation.md``)."""
    reason: str = ""
    lab_ess: float | None = None
    lab_ess_defective: float | None = None
    shift_auc: float | None = None
    per_class_recall: dict[str, Estimate] | None = None
    """Estimated recall of the frames that hold each defect class, where estimated."""

    def as_dict(self) -> dict[str, Any]:
        """Plain mapping for JSON output."""
        return {
            "status": self.status,
            "reason": self.reason,
            "lab_ess": self.lab_ess,
            "lab_ess_defective": self.lab_ess_defective,
            "shift_auc": self.shift_auc,
            "per_class_recall": None
            if self.per_class_recall is None
            else {k: v.as_dict() for k, v in sorted(self.per_class_recall.items())},
            "frames": self.frames,
            "threshold": self.threshold,
            "prevalence": self.prevalence,
            "prevalence_source": self.prevalence_source,
            "expected_defective": self.expected_defective,
            "recall_denominator": self.recall_denominator,
            "precision": self.precision.as_dict(),
            "recall": self.recall.as_dict(),
            "fpr": self.fpr.as_dict(),
        }


def _ratios(
    tp: float, fp: float, fn: float, tn: float, defective: float
) -> tuple[float, float, float]:
    """Precision, recall (over ``defective`` units) and FPR; NaN where undefined."""
    return (
        tp / (tp + fp) if tp + fp > 0 else np.nan,
        min(tp / defective, 1.0) if defective > 0 else np.nan,
        fp / (fp + tn) if fp + tn > 0 else np.nan,
    )


def _estimate(value: float, samples: list[float]) -> Estimate:
    if not np.isfinite(value):
        return Estimate(None, None, None)
    finite = np.asarray([s for s in samples if np.isfinite(s)])
    if finite.size < 10:
        return Estimate(value, None, None)
    lo, hi = np.quantile(finite, [0.025, 0.975])
    return Estimate(value, float(min(lo, value)), float(max(hi, value)))


def estimate_performance(
    scores: FloatArray | Sequence[float],
    threshold: float,
    lab: LabSet,
    *,
    prevalence: float | None = None,
    prevalence_source: str = "configured",
    draws: int = 200,
    seed: int = 0,
) -> PerformanceEstimate:
    """Estimated precision / recall / FPR of frames with top ``scores`` at ``threshold``.

    ``prevalence`` is the production defect share to calibrate to (from audited units or the
    settings); ``None`` estimates it from ``scores`` alone by EM (label-free, noisier for small
    slices). ``seed`` makes the interval reproducible.
    """
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 1 or s.size == 0:
        raise EstimationError("no frames to estimate performance for")
    if draws < 0:
        raise EstimationError(f"draws must be >= 0, got {draws}")
    flagged = s >= threshold
    cal = lab.calibration()
    source = prevalence_source
    if prevalence is None:
        prior = em_prevalence(cal, s)
        source = "em"
    else:
        prior = prevalence
    prior = min(max(prior, 1e-6), 1 - 1e-6)
    p = cal.at_prevalence(s, prior)
    n_flagged = float(np.count_nonzero(flagged))
    tp = float(p[flagged].sum())
    fn = float(p[~flagged].sum())
    base = prior * s.size
    # Every flagged frame counts as a possible defect here: the check must not fire because the
    # calibration doubts the flagged frames (a precision question), only because defects the
    # base rate says are there are neither flagged nor expected among the unflagged frames.
    use_base = source != "em" and poisson_cdf(n_flagged + fn, base) < BASE_RATE_CHECK_P
    point = _ratios(tp, n_flagged - tp, fn, s.size - n_flagged - fn, base if use_base else tp + fn)
    samples = _bootstrap(
        s, flagged, lab, prevalence, base if use_base else None, draws=draws, seed=seed
    )
    precision, recall, fpr = (_estimate(v, acc) for v, acc in zip(point, samples, strict=True))
    return PerformanceEstimate(
        frames=int(s.size),
        threshold=float(threshold),
        prevalence=float(prior),
        prevalence_source=source,
        expected_defective=base if use_base else tp + fn,
        recall_denominator="base_rate" if use_base else "calibration",
        precision=precision,
        recall=recall,
        fpr=fpr,
    )


def _bootstrap(
    s: FloatArray,
    flagged: npt.NDArray[np.bool_],
    lab: LabSet,
    prevalence: float | None,
    base: float | None,
    *,
    draws: int,
    seed: int,
) -> tuple[list[float], list[float], list[float]]:
    """Precision, recall and FPR of ``draws`` replicates (see the module docstring); recall
    over a Poisson draw of the base-rate count ``base`` where one is given."""
    rng = np.random.default_rng(seed)
    lab_s = np.asarray(lab.scores, dtype=np.float64)
    lab_y = np.asarray(lab.defective, dtype=np.float64)
    lab_w = None if lab.weights is None else np.asarray(lab.weights, dtype=np.float64)
    n_flagged = int(np.count_nonzero(flagged))
    samples: tuple[list[float], list[float], list[float]] = ([], [], [])
    for _ in range(draws):
        # A bootstrap of the (weighted) lab frames: each resampled frame keeps its weight, so
        # the spread grows as the weights concentrate on few frames (low effective size).
        idx = rng.integers(0, lab_s.size, lab_s.size)
        ys = lab_y[idx]
        ws = None if lab_w is None else lab_w[idx]
        present = ys if ws is None else ys[ws > 0]
        if present.size == 0 or present.min() == present.max():
            continue
        boot = IsotonicCalibration.fit(lab_s[idx], ys, weights=ws)
        b_prior = em_prevalence(boot, s) if prevalence is None else prevalence
        b_prior = min(max(b_prior, 1e-6), 1 - 1e-6)
        outcome = rng.random(s.size) < boot.at_prevalence(s, b_prior)
        d_tp = int(np.count_nonzero(outcome & flagged))
        d_fp = n_flagged - d_tp
        d_fn = int(np.count_nonzero(outcome & ~flagged))
        d_tn = s.size - d_tp - d_fp - d_fn
        defective = d_tp + d_fn if base is None else max(float(rng.poisson(base)), d_tp)
        for acc, v in zip(samples, _ratios(d_tp, d_fp, d_fn, d_tn, defective), strict=True):
            acc.append(v)
    return samples
