"""Figures of a window from its counts: precision and FPR from the flag count at a
prevalence, and recall's interval where part of the window is unexplained.

Where the window's flags are not what the lab's good frames would produce
(:mod:`streams.estimation.excess`), or label-free where EM's prevalence follows score bins
the lab does not explain, the calibrated posteriors of the flagged frames cannot be trusted.
What remains is arithmetic on counts: of the ``F`` flagged frames of ``N``, ``TP = D·recall``
are defects, ``D`` the window's defects at the prevalence (:func:`from_counts`); at most the
``N − F`` unflagged frames can be missed defects (:func:`least_recall`); the defects among a
share ``ε`` of frames the lab does not explain can be caught or missed whatever it says
(:func:`widened`).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import numpy.typing as npt

from streams.estimation.estimator import Estimate, PerformanceEstimate
from streams.estimation.excess import FlagExcess

__all__ = [
    "counted_figures",
    "defect_shares",
    "from_counts",
    "least_recall",
    "partial_estimate",
    "poisson_quantile",
    "widened",
]

FloatArray = npt.NDArray[np.float64]


def widened(recall: Estimate, share: float, *, low: float | None = None) -> Estimate:
    """Recall's interval when a ``share`` of the defects may be caught or missed whatever the
    lab says: ``[(1 − ε_low)·lo, hi + ε·(1 − hi)]``, ``ε_low`` the part of them that can be
    missed (``low``, default all of ``share``; excess flags are caught).

    >>> widened(Estimate(0.9, 0.8, 0.95), 0.2), widened(Estimate(0.9, 0.8, 0.95), 0.2, low=0.0)
    (Estimate(value=0.9, lo=0.64, hi=0.96), Estimate(value=0.9, lo=0.8, hi=0.96))
    """
    if recall.lo is None or recall.hi is None or share <= 0:
        return recall
    e = min(share, 1.0)
    d = e if low is None else min(max(low, 0.0), e)
    lo, hi = round((1 - d) * recall.lo, 12), round(recall.hi + e * (1 - recall.hi), 12)
    return Estimate(recall.value, lo, hi)


def least_recall(frames: int, flagged: int, defects: float) -> float:
    """The lowest recall the counts allow: at most the ``frames - flagged`` unflagged frames
    can be missed defects, of at least ``defects`` (a low quantile of the window's count).

    It needs no lab at all, so it holds whatever the excess is: a window that flags every
    frame caught every defective one.

    >>> least_recall(3000, 3000, 5.0), least_recall(3000, 2995, 100.0), least_recall(10, 0, 2.0)
    (1.0, 0.95, 0.0)
    """
    if flagged >= frames:
        return 1.0
    return max(0.0, 1.0 - (frames - flagged) / max(defects, 1.0))


def poisson_quantile(mean: float, q: float) -> int:
    """The smallest ``k`` with ``P(Poisson(mean) <= k) >= q``.

    Each term is computed in log space, so a large mean (beyond ~700, where ``exp(-mean)``
    underflows) is summed correctly too.

    >>> poisson_quantile(10.0, 0.025), poisson_quantile(10.0, 0.975), poisson_quantile(0.0, 0.5)
    (4, 17, 0)
    >>> poisson_quantile(1000.0, 0.025), poisson_quantile(1000.0, 0.975)
    (938, 1062)
    """
    if mean <= 0:
        return 0
    log_mean = math.log(mean)
    k, total = 0, math.exp(-mean)
    while total < q and k < 10 * mean + 100:
        k += 1
        total += math.exp(k * log_mean - mean - math.lgamma(k + 1))
    return k


def from_counts(
    frames: int, flagged: int, prevalence: float, recall: Estimate
) -> tuple[Estimate, Estimate]:
    """Precision and FPR from the counts, without the lab's good frames: of the ``flagged``
    frames, ``TP = D·recall`` are defects, ``D`` the window's defects at ``prevalence``
    (its interval: the Poisson 2.5-97.5 % quantiles of ``π·N`` with recall's interval ends).

    >>> p, f = from_counts(1000, 300, 0.05, Estimate(0.9, 0.8, 1.0))
    >>> round(p.value, 3), round(p.lo, 3), round(p.hi, 3), round(f.value, 3)
    (0.15, 0.099, 0.213, 0.268)
    """
    nothing = Estimate(None, None, None)
    if recall.value is None or flagged <= 0:
        return nothing, nothing
    mean = prevalence * frames
    d_lo = min(poisson_quantile(mean, 0.025), frames)
    d_hi = min(poisson_quantile(mean, 0.975), frames)
    tp = min(float(flagged), mean * recall.value)
    precision, fpr = tp / flagged, _false_rate(flagged - tp, frames - mean)
    if recall.lo is None or recall.hi is None:
        return Estimate(precision, None, None), Estimate(fpr, None, None)
    tp_lo, tp_hi = min(float(flagged), d_lo * recall.lo), min(float(flagged), d_hi * recall.hi)
    return (
        Estimate(precision, min(tp_lo / flagged, precision), max(tp_hi / flagged, precision)),
        Estimate(
            fpr,
            min(_false_rate(max(flagged - tp_hi, 0.0), frames - d_lo), fpr),
            max(_false_rate(flagged - tp_lo, frames - d_hi), fpr),
        ),
    )


def _false_rate(false_positives: float, good: float) -> float:
    """False positives over the good frames, which number at least the false positives:
    a window's defects at a high prevalence bound can leave fewer good frames than flags that
    are not defects, and the rate stays within [0, 1].

    >>> _false_rate(3.0, 1.0), _false_rate(3.0, 30.0)
    (1.0, 0.1)
    """
    return false_positives / max(good, false_positives, 1.0)


def counted_figures(
    scores: FloatArray,
    threshold: float,
    recall: Estimate,
    *,
    known: float | None,
    em: float,
    band: tuple[float, float] | None,
) -> tuple[Estimate, Estimate]:
    """Precision and FPR of a window whose flags the lab explains, from its flag count
    (:func:`from_counts`) at the ``known`` prevalence or, label-free, at ``em``'s held below
    the top of the ``band`` of prevalences its flagged scores fit (:func:`fitting_prevalences`),
    the intervals holding both ends of the band.

    The calibrated posteriors of the flagged frames would need the lab's good frames to
    score as the window's do; the count needs only recall and the prevalence. Label-free,
    EM's prevalence follows every score bin, below the threshold too, where the window and
    the lab differ most (a defocused window: EM 0.14 for a true 0.019, band 0.01-0.04): the
    band's top caps it. It does not raise it: the band errs the same way EM does (a source
    of false positives that score like defects fits as more defects), and where the whole
    band lies above EM it is the band that is off (a day window: band 0.040-0.045, EM
    0.025, true 0.020; measured in docs/estimation.md).

    >>> s = np.r_[np.full(60, 0.9), np.full(940, 0.1)]
    >>> p, f = counted_figures(s, 0.5, Estimate(0.9, 0.8, 1.0), known=None, em=0.2,
    ...                        band=(0.02, 0.04))
    >>> round(p.value, 2), round(p.lo, 2), round(p.hi, 2)
    (0.6, 0.16, 0.88)
    >>> p, f = counted_figures(s, 0.5, Estimate(0.9, 0.8, 1.0), known=None, em=0.03,
    ...                        band=(0.04, 0.05))
    >>> round(p.value, 2), round(p.lo, 2), round(p.hi, 2)
    (0.45, 0.27, 1.0)
    """
    s = np.asarray(scores, dtype=np.float64)
    flagged = int(np.count_nonzero(s >= threshold))
    if known is not None or band is None:
        return from_counts(s.size, flagged, em if known is None else known, recall)
    precision, fpr = from_counts(s.size, flagged, min(em, band[1]), recall)
    for end in band:
        p, f = from_counts(s.size, flagged, end, recall)
        precision, fpr = _hold(precision, p), _hold(fpr, f)
    return precision, fpr


def _hold(figure: Estimate, other: Estimate) -> Estimate:
    """``figure`` with its interval stretched to hold ``other``'s."""
    if figure.lo is None or figure.hi is None or other.lo is None or other.hi is None:
        return figure
    return Estimate(figure.value, min(figure.lo, other.lo), max(figure.hi, other.hi))


def defect_shares(em: float, known: float | None, excess: FlagExcess) -> tuple[float | None, float]:
    """The window's defect share for the direct recall reading's draw of its defects
    (``None``: each replicate's prevalence), and the share its counts rest on.

    With excess flags only the explained ``1 - ε`` of the defects follow the lab, and EM
    counts the excess flags as defects, so its share is cut to the flags the lab explains;
    label-free with explained flags, EM is held within the band the flagged scores fit.

    >>> excess = FlagExcess(0.4, 0.2, 0.25, "odd flags", None)
    >>> [round(v or 0.0, 4) for v in defect_shares(0.3, None, excess)]
    [0.1125, 0.15]
    """
    if excess.reason:
        share = known
        if share is None:
            share = em * min(1.0, excess.expected / max(excess.observed, 1e-12))
        return share * (1.0 - min(excess.share, 1.0)), share
    if known is None and excess.band is not None:
        return min(max(em, excess.band[0]), excess.band[1]), em
    return None, em


def partial_estimate(
    point: PerformanceEstimate,
    recall: Estimate,
    excess: FlagExcess,
    *,
    known: float | None,
    source: str,
    counted: float,
) -> PerformanceEstimate:
    """The estimate of a window with excess flags (status ``partial``): ``recall`` widened by
    the unexplained share (:func:`widened`) and held above what the counts allow
    (:func:`least_recall`, at a low quantile of ``counted * frames`` defects); precision and
    FPR from the counts at the ``known`` prevalence (:func:`from_counts`), else ``None``."""
    flagged = round(excess.observed * point.frames)
    least = least_recall(point.frames, flagged, poisson_quantile(counted * point.frames, 0.025))
    recall = widened(recall, excess.share, low=excess.missable)
    if recall.value is not None and recall.lo is not None and recall.hi is not None:
        recall = Estimate(max(recall.value, least), max(recall.lo, least), max(recall.hi, least))
    if known is None:
        precision = fpr = Estimate(None, None, None)
        how = (
            "; precision and FPR unknown (the lab's good frames do not produce these flags, "
            "and without a known prevalence the flags cannot be split into defects and false "
            "positives): audit this slice's flagged units, or set the prevalence"
        )
    else:
        precision, fpr = from_counts(point.frames, flagged, known, recall)
        how = (
            f"; precision and FPR from the flag count at the {source} prevalence "
            f"{100 * known:.1f}% instead of the lab's good frames"
        )
    reason = (
        f"{excess.reason}; recall is read from the lab's defective frames like the window's, "
        f"its interval widened by that share{how}"
    )
    return replace(
        point,
        precision=precision,
        recall=recall,
        fpr=fpr,
        recall_denominator="lab",
        expected_defective=point.frames * (known or counted),
        status="partial",
        reason=reason,
    )
