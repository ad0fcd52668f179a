"""The label-free estimate of a group of frames with the lab calibration re-weighted to the
frames' inputs, or ``unknown`` where the lab never showed inputs like theirs.

:class:`LabPool` is every labelled lab frame of the latest assessment (the clean condition and
every corruption of it whose effect global image statistics describe), each with its image
statistics. For a window of production frames, :func:`estimate_under_shift` weights the pool by
the density ratio of the window's statistics to the pool's
(:func:`streams.estimation.shift.matching_weights`), applies the
:func:`~streams.estimation.shift.shift_verdict`, and estimates with the weighted calibration
(:func:`streams.estimation.estimator.estimate_performance`). Its intervals come from the
whole-chain bootstrap (:mod:`streams.estimation.resample`: window and lab resampled, weights
re-derived, calibration refitted), so they widen as the effective sample size falls; recall
is the one read directly off the weighted lab frames, its interval spanning that reading's
and the calibrated one's (:func:`streams.estimation.resample.recall_interval`); precision and
FPR come from the flag count at the prevalence (:mod:`streams.estimation.counts`). A window
that flags what the lab does not explain (:mod:`streams.estimation.excess`) is ``partial``:
recall widened by the unexplained share, precision and FPR from the count at a known
prevalence or ``None``.

>>> from streams.estimation.shift import feature_matrix
>>> rng = np.random.default_rng(1)
>>> n = 3000
>>> gain = rng.choice([1.0, 0.5], n)          # half the lab frames under a darkening
>>> y = rng.integers(0, 2, n)
>>> s = np.where(y == 1, np.clip(rng.normal(0.8 * gain, 0.1), 0, 1), rng.uniform(0, 0.3, n))
>>> stats = rng.normal(0.5, 0.02, (5, n)); stats[0] = 0.5 * gain + rng.normal(0, 0.02, n)
>>> pool = LabPool(s, y, feature_matrix(list(stats)), clean=gain == 1.0)
>>> m = 2000; yd = rng.random(m) < 0.05       # a darkened window: defects score lower
>>> sd = np.where(yd, np.clip(rng.normal(0.4, 0.1, m), 0, 1), rng.uniform(0, 0.3, m))
>>> wstats = rng.normal(0.5, 0.02, (5, m)); wstats[0] = 0.25 + rng.normal(0, 0.02, m)
>>> est = estimate_under_shift(sd, feature_matrix(list(wstats)), 0.45, pool, draws=50)
>>> realized = float((sd[yd] >= 0.45).mean())
>>> est.status, bool(abs((est.recall.value or 0) - realized) < 0.05), realized < 0.4
('ok', True, True)
>>> naive = estimate_performance(sd, 0.45, pool.clean_set(), draws=0)
>>> round(naive.recall.value or 0, 1)
1.0
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from streams.errors import EstimationError
from streams.estimation.counts import counted_figures, defect_shares, partial_estimate, widened
from streams.estimation.estimator import (
    Estimate,
    LabSet,
    PerformanceEstimate,
    estimate_performance,
)
from streams.estimation.excess import PLAUSIBLE_PREVALENCE, FlagExcess, flag_excess
from streams.estimation.resample import Chain, chain_draws, interval, recall_interval
from streams.estimation.shift import (
    LabGeometry,
    ShiftRule,
    ShiftWeights,
    effective_sample_size,
    matching_weights,
    shift_verdict,
)

__all__ = ["LabPool", "estimate_under_shift", "unknown_estimate"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class LabPool:
    """Labelled lab frames under every assessed condition, with their shift features.

    ``features`` is ``None`` when the lab frames carry no image statistics (an assessment made
    before they were stored): the estimate is then the clean calibration's, ``unchecked``.
    ``clean`` marks the frames of the clean condition.
    """

    scores: FloatArray
    defective: npt.NDArray[Any]
    features: FloatArray | None
    clean: npt.NDArray[np.bool_]
    geometry: LabGeometry | None = field(default=None, compare=False, repr=False)
    """The standardised features and support radius; built from ``features`` if not given."""
    classes: tuple[tuple[str, ...], ...] | None = field(default=None, compare=False, repr=False)
    """Each frame's true defect classes, for per-class recall (``None``: not estimated)."""

    def __post_init__(self) -> None:
        if self.features is not None and self.geometry is None:
            geometry = LabGeometry.of(self.features, reference=np.asarray(self.clean, bool))
            object.__setattr__(self, "geometry", geometry)

    def class_recall(
        self,
        threshold: float,
        weights: FloatArray | None,
        *,
        draws: int,
        seed: int,
        units: float | None = None,
    ) -> dict[str, Estimate] | None:
        """Recall of the lab frames holding each defect class (a frame counts as caught when
        its top score reaches ``threshold``), weighted by ``weights`` (``None``: the clean
        frames only), with a bootstrap interval over the lab frames.

        It is the score distribution the lab measured for that class under conditions like
        the window's; classes with fewer than 5 effective lab frames get no estimate.
        ``units``: the window's expected number of defective frames; each replicate then
        also draws the window's own frames of the class (a Poisson count of ``units`` times
        the class's weighted share of the defective lab frames, each caught with the
        replicate's recall), so the interval holds the window's sampling too.
        """
        if self.classes is None:
            return None
        w = self.clean.astype(np.float64) if weights is None else np.asarray(weights, np.float64)
        caught = np.asarray(self.scores, dtype=np.float64) >= threshold
        rng = np.random.default_rng(seed)
        boots = [rng.integers(0, w.size, w.size) for _ in range(draws)]
        defective = float((w * np.asarray(self.defective, dtype=bool)).sum())
        out: dict[str, Estimate] = {}
        for name in sorted({c for frame in self.classes for c in frame}):
            has = np.asarray([name in frame for frame in self.classes])
            wc = w * has
            if effective_sample_size(wc) < 5:
                continue
            value = float((wc * caught).sum() / wc.sum())
            expected = None if units is None else units * float(wc.sum()) / max(defective, 1e-12)
            samples = []
            for idx in boots:
                total = float(wc[idx].sum())
                if total > 0:
                    r = float((wc[idx] * caught[idx]).sum()) / total
                    if expected is not None:
                        k = max(int(rng.poisson(expected)), 1)
                        r = float(rng.binomial(k, r)) / k
                    samples.append(r)
            if len(samples) < 10:
                out[name] = Estimate(value, None, None)
                continue
            lo, hi = np.quantile(samples, [0.025, 0.975])
            out[name] = Estimate(value, float(min(lo, value)), float(max(hi, value)))
        return out

    def lab_recall(self, threshold: float, weights: FloatArray) -> float | None:
        """The weighted share of defective lab frames whose top score reaches ``threshold``
        (``None``: no weighted defective frame)."""
        w = np.asarray(weights, dtype=np.float64) * np.asarray(self.defective, dtype=bool)
        total = float(w.sum())
        caught = np.asarray(self.scores, dtype=np.float64) >= threshold
        return None if total <= 0 else float((w * caught).sum()) / total

    def clean_set(self) -> LabSet:
        """The clean lab frames, unweighted: the label-shift-only calibration set."""
        return LabSet(self.scores[self.clean], self.defective[self.clean])


def _widen(figure: Estimate, by: float) -> Estimate:
    """The interval widened by ``by`` on both sides, within [0, 1].

    >>> _widen(Estimate(0.9, 0.85, 0.95), 0.08)
    Estimate(value=0.9, lo=0.77, hi=1.0)
    """
    if figure.lo is None or figure.hi is None or by <= 0:
        return figure
    return Estimate(figure.value, max(0.0, round(figure.lo - by, 12)), min(1.0, figure.hi + by))


def unknown_estimate(
    frames: int,
    threshold: float,
    reason: str,
    *,
    prevalence: float | None = None,
    prevalence_source: str = "unknown",
    **check: float | None,
) -> PerformanceEstimate:
    """An estimate that says ``unknown``: every figure ``None``, with the reason.

    The prevalence is the known one (configured or audited) where there is one; else 0 with
    source ``unknown`` (not estimated: EM would need the calibration the window lacks).
    """
    nothing = Estimate(None, None, None)
    known = 0.0 if prevalence is None else float(prevalence)
    return PerformanceEstimate(
        frames=frames,
        threshold=threshold,
        prevalence=known,
        prevalence_source="unknown" if prevalence is None else prevalence_source,
        expected_defective=known * frames,
        recall_denominator="unknown",
        precision=nothing,
        recall=nothing,
        fpr=nothing,
        status="unknown",
        reason=reason,
        lab_ess=check.get("lab_ess"),
        lab_ess_defective=check.get("lab_ess_defective"),
        shift_auc=check.get("shift_auc"),
    )


def estimate_under_shift(
    scores: FloatArray,
    features: FloatArray | None,
    threshold: float,
    pool: LabPool,
    *,
    rule: ShiftRule | None = None,
    l2: float = 1.0,
    prevalence: float | None = None,
    prevalence_source: str = "configured",
    draws: int = 200,
    seed: int = 0,
) -> PerformanceEstimate:
    """Estimated precision / recall / FPR of the frames (top ``scores``, ``features`` rows as
    :func:`~streams.estimation.shift.feature_matrix` builds them) with the lab pool re-weighted
    to their inputs; ``unknown`` where the lab never showed inputs like theirs.

    Without features on either side it is the clean lab calibration's estimate, ``unchecked``.
    """
    s = np.asarray(scores, dtype=np.float64)
    prior = _Prior(prevalence, prevalence_source)
    if pool.geometry is None or features is None:
        est = estimate_performance(
            s, threshold, pool.clean_set(), draws=draws, seed=seed, **prior.kwargs()
        )
        per_class = pool.class_recall(threshold, None, draws=draws, seed=seed)
        return replace(est, status="unchecked", per_class_recall=per_class)
    if len(features) != s.size:
        raise EstimationError(f"{len(features)} feature rows for {s.size} frames")
    shift = matching_weights(pool.geometry, features, l2=l2)
    defective = np.asarray(pool.defective, dtype=bool)
    rule = rule or ShiftRule()
    status, reason = shift_verdict(shift, defective, rule)
    if status != "unknown":
        est, excess = _reweighted(s, float(threshold), pool, shift, prior, draws=draws, seed=seed)
        status, reason = est.status, est.reason
        lo = est.recall.lo
        if excess.missable > rule.max_excess and (lo is None or lo < 1 - rule.max_excess):
            status, reason = "unknown", excess.reason
            reason += (
                f", more than the {100 * rule.max_excess:.0f}% below the threshold that lets "
                "recall be bounded: "
                "audit this slice, or assess the model under these conditions "
                "(`linewatch assess`)"
            )
    if status == "unknown":
        est = unknown_estimate(int(s.size), float(threshold), reason, **prior.kwargs())
    return replace(
        est,
        status=status,
        reason=reason,
        lab_ess=shift.ess,
        lab_ess_defective=effective_sample_size(shift.weights[defective]),
        shift_auc=shift.auc,
    )


@dataclass(frozen=True)
class _Prior:
    """The known prevalence (``None``: estimated by EM) and where it comes from."""

    value: float | None
    source: str

    def kwargs(self) -> dict[str, Any]:
        return {"prevalence": self.value, "prevalence_source": self.source}


def _defect_counts(
    prevalence: float, known: float | None, excess: FlagExcess
) -> tuple[float | None, float]:
    """:func:`~streams.estimation.counts.defect_shares`, held to the plausible share where a
    label-free window's flags are unexplained: EM counts those flags as defects (with half the
    frames flagged it reads a prevalence near 0.5), so the draw of the window's own defects
    would be as narrow, and the counts' bound on recall (the unflagged frames are the most
    that can be missed) as high, as hundreds of defects make them."""
    units, counted = defect_shares(prevalence, known, excess)
    if excess.reason and known is None and units is not None:
        counted = min(counted, PLAUSIBLE_PREVALENCE)
        units = min(units, counted * (1.0 - min(excess.share, 1.0)))
    return units, counted


def _reweighted(
    s: FloatArray,
    threshold: float,
    pool: LabPool,
    shift: ShiftWeights,
    prior: _Prior,
    *,
    draws: int,
    seed: int,
) -> tuple[PerformanceEstimate, FlagExcess]:
    """The estimate with the pool weighted by ``shift`` (recall from the chain bootstrap,
    precision and FPR from the flag count, :mod:`streams.estimation.counts`), and how its
    flags compare with the weighted lab's (``partial`` where they are unexplained)."""
    weighted = LabSet(pool.scores, pool.defective, shift.weights)
    point = estimate_performance(s, threshold, weighted, draws=0, **prior.kwargs())
    if shift.neighbours is None:
        raise EstimationError("the shift weights carry no matching to resample")
    most = prior.value if prior.value is not None else max(point.prevalence, PLAUSIBLE_PREVALENCE)
    lab = (pool.scores, pool.defective, shift.weights)
    excess = flag_excess(s, threshold, *lab, prevalence=most, known=prior.value)
    units, counted = _defect_counts(point.prevalence, prior.value, excess)
    chain = Chain(
        s,
        shift.neighbours,
        np.asarray(pool.scores, dtype=np.float64),
        np.asarray(pool.defective),
        threshold,
        prior.value,
        base_rate=point.recall_denominator == "base_rate",
        units_share=units,
    )
    d = chain_draws(chain, draws=draws, seed=seed)
    direct = interval(pool.lab_recall(threshold, shift.weights), d["lab_recall"])
    expected = point.expected_defective if units is None else units * s.size
    per_class = pool.class_recall(threshold, shift.weights, draws=draws, seed=seed, units=expected)
    # frames beyond the lab's support could be caught or missed: off by up to their share
    u = shift.unsupported
    if per_class is not None:
        per_class = {
            k: widened(_widen(e, u), excess.share, low=excess.missable)
            for k, e in per_class.items()
        }
    recall = _widen(recall_interval(interval(point.recall.value, d["recall"]), direct), u)
    if excess.reason:
        est = partial_estimate(
            point, recall, excess, known=prior.value, source=prior.source, counted=counted
        )
        return replace(est, per_class_recall=per_class), excess
    precision, fpr = counted_figures(
        s, threshold, recall, known=prior.value, em=point.prevalence, band=excess.band
    )
    est = replace(
        point,
        precision=precision,
        recall=recall,
        fpr=_widen(fpr, u),
        per_class_recall=per_class,
        status="ok",
    )
    return est, excess
