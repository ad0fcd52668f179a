"""Flags the lab cannot explain, kept apart from inputs the lab never showed.

A re-weighted estimate (:mod:`streams.estimation.reweighted`) matches each window frame to lab
frames by their image statistics. Two different things can then be wrong:

- **no support**: the window's inputs look like no lab frame
  (:func:`streams.estimation.shift.shift_verdict`); nothing measured speaks for it, and every
  figure is ``unknown``;
- **excess positives**: the inputs are like lab inputs, but the window flags more frames than
  those lab frames would (:func:`flag_excess`): glare, a reflection, dust or a focus loss adds
  detections the image statistics do not show. That is first a false-positive problem.

With excess positives, the window's top scores are modelled as a mixture

    h = (1 − ε)·[(1 − π)·f₀ + π·f₁] + ε·g

of the weighted lab's good and defective score distributions ``f₀``, ``f₁`` at the window's
prevalence ``π``, and an excess component ``g`` the lab never showed, with the smallest share
``ε`` that fits (the sum of :func:`excess_parts`: the flags beyond the lab's false-positive
rate, and the window's score bins below the threshold that hold more than the lab mixture
does). Then

- **recall** is still read off the lab's defective frames like the window's (the share of
  them reaching the threshold): defects' scores are what it needs, and the matching speaks
  for them. The defects among the ``ε`` unexplained frames may be caught or missed whatever
  the lab says, but only those among the unexplained frames *below* the threshold (``ε_b``,
  :attr:`FlagExcess.below`) can be missed: a defect among the excess flags is caught. So
  the interval becomes ``[(1 − ε_b)·lo, hi + ε·(1 − hi)]``; it never falls below what the
  counts alone allow (the unflagged frames are the most defects that can be missed); with
  ``ε_b`` above :attr:`~streams.estimation.shift.ShiftRule.max_excess` and no such bound it
  is ``unknown``. (A defocused camera in dim light flags half its good frames, far more
  than the lab's blurred frames like its inputs; its defects still score like theirs.)
- **precision and FPR** cannot come from the lab's good frames, which do not produce these
  flags. Where the prevalence is known (configured or audited), they follow from the counts:
  ``TP = π·N·recall`` of the ``F`` flagged frames; where it is not (EM would count the excess
  flags as defects), they are ``unknown`` with the reason.

The figures themselves are built in :mod:`streams.estimation.counts`.

>>> s = np.r_[np.full(40, 0.9), np.full(260, 0.7), np.full(700, 0.1)]   # 26 % odd flags
>>> lab = np.r_[np.full(50, 0.9), np.full(50, 0.1)]; y = np.r_[np.ones(50), np.zeros(50)]
>>> e = flag_excess(s, 0.5, lab, y, np.ones(100), prevalence=0.04)
>>> round(e.observed, 2), round(e.expected, 2), round(e.share, 2), e.below, e.reason[:26]
(0.3, 0.04, 0.3, 0.0, 'the window flags 30.0% of ')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from streams.estimation.shift import effective_sample_size

__all__ = [
    "PLAUSIBLE_PREVALENCE",
    "FlagExcess",
    "excess_parts",
    "fitting_prevalences",
    "flag_excess",
]

FloatArray = npt.NDArray[np.float64]

PLAUSIBLE_PREVALENCE = 0.10
"""Without a known prevalence, :func:`flag_excess` lets the window hold up to this share of
defective frames (or EM's estimate, if higher) before its flags count as unexplained: EM's
estimate runs low where the weighted lab's flagged frames include false positives."""

_BELOW_EDGES = (0.5, 0.8, 0.95)
"""Quantiles of the weighted lab's scores below the threshold that cut the bins in which
:func:`excess_parts` looks for excess mass there."""


@dataclass(frozen=True)
class FlagExcess:
    """How a window's flags compare with what the weighted lab explains."""

    observed: float
    """Share of the window's frames at or above the threshold."""
    expected: float
    """Share the weighted lab would flag at the most plausible prevalence."""
    share: float
    """``ε``: the smallest share of window frames the lab mixture leaves unexplained
    (the sum of :func:`excess_parts`, at most 1); 0 when the flags are explained."""
    reason: str
    """Why the flags are unexplained (``""``: they are explained)."""
    band: tuple[float, float] | None
    """The lowest and highest prevalence whose lab mixture fits the window's flagged scores
    (:func:`fitting_prevalences`; the known prevalence twice where it is known); ``None``
    where the flags are unexplained or the lab lacks a class."""
    below: float | None = None
    """``ε_b``: the part of :attr:`share` below the threshold, the only frames among which
    the unexplained defects can be missed (``None``: all of :attr:`share`)."""

    @property
    def missable(self) -> float:
        """The unexplained share that can hold missed defects (:attr:`below`, else
        :attr:`share`)."""
        return self.share if self.below is None else min(self.below, self.share)


def _rates(
    lab_scores: FloatArray, lab_defective: npt.NDArray[Any], weights: FloatArray, threshold: float
) -> tuple[float, float, float, float] | None:
    """Weighted TPR and FPR of the lab at ``threshold`` and the effective sizes of its
    defective and good frames (``None``: one side has no weight)."""
    y = np.asarray(lab_defective, dtype=bool)
    w = np.asarray(weights, dtype=np.float64)
    caught = np.asarray(lab_scores, dtype=np.float64) >= threshold
    if not (w * y).sum() > 0 or not (w * ~y).sum() > 0:
        return None
    tpr = float((w * y * caught).sum() / (w * y).sum())
    fpr = float((w * ~y * caught).sum() / (w * ~y).sum())
    return tpr, fpr, effective_sample_size(w[y]), effective_sample_size(w[~y])


def flag_excess(
    scores: FloatArray,
    threshold: float,
    lab_scores: FloatArray,
    lab_defective: npt.NDArray[Any],
    weights: FloatArray,
    *,
    prevalence: float,
    known: float | None = None,
    z: float = 3.0,
) -> FlagExcess:
    """Whether the window flags more frames than the lab frames like its inputs would.

    The weighted lab flags ``π·TPR + (1 − π)·FPR`` of the frames at a prevalence ``π``
    (``prevalence``: the known one, or the most the window plausibly holds). A window that
    flags more, beyond ``z`` standard errors (its own binomial spread and the weighted lab's,
    by their effective sample sizes), has scores the compared inputs do not explain.
    ``known``: the known prevalence, used to size the excess (``None``: sized at 0, so the
    window's true defects count as excess too, the cautious side).
    """
    s = np.asarray(scores, dtype=np.float64)
    observed = float(np.count_nonzero(s >= threshold)) / s.size
    rates = _rates(lab_scores, lab_defective, weights, threshold)
    if rates is None:
        return FlagExcess(observed, observed, 0.0, "", None)
    tpr, fpr, ess_def, ess_good = rates
    expected = prevalence * tpr + (1 - prevalence) * fpr
    spread = (
        expected * (1 - expected) / s.size
        + fpr * (1 - fpr) / max(ess_good, 1.0)
        + prevalence**2 * tpr * (1 - tpr) / max(ess_def, 1.0)
    )
    if observed - expected <= z * float(np.sqrt(spread)) + 1 / s.size:
        candidates = np.linspace(0.0, 0.995, 200) if known is None else np.asarray([known])
        fits = fitting_prevalences(
            s, threshold, lab_scores, lab_defective, weights, candidates, z=z
        )
        if fits.size:  # the band: the prevalences that fit within 2 standard errors
            args = (s, threshold, lab_scores, lab_defective, weights, fits)
            band = fitting_prevalences(*args, z=2.0)
            band = band if band.size else fits
            return FlagExcess(observed, expected, 0.0, "", (float(band[0]), float(band[-1])))
        what = "its flagged frames score unlike any mix of the lab's defective and good frames"
    else:
        what = f"lab frames like its inputs would flag {100 * expected:.1f}%"
    above, below = excess_parts(
        s, threshold, lab_scores, lab_defective, weights, prevalence=known or 0.0
    )
    share = min(above + below, 1.0)
    reason = (
        f"the window flags {100 * observed:.1f}% of its frames; {what}: {100 * share:.0f}% "
        "of its frames score in a way the image statistics compared do not explain (a new "
        f"source of false positives, a focus loss), {100 * below:.0f}% below the threshold"
    )
    return FlagExcess(observed, expected, share, reason, None, below)


def fitting_prevalences(  # noqa: PLR0917
    scores: FloatArray,
    threshold: float,
    lab_scores: FloatArray,
    lab_defective: npt.NDArray[Any],
    weights: FloatArray,
    prevalences: FloatArray,
    *,
    z: float = 3.0,
) -> FloatArray:
    """The ``prevalences`` (sorted) at which the weighted lab's mixture fits the window's
    flagged scores: in every score bin above the threshold (cut at the terciles of the
    weighted defective lab frames' flagged scores), within ``z`` standard errors (the
    window's binomial spread and the lab's, by the effective sample sizes of each side).

    EM makes the flag count fit whatever the flags are; their scores still tell defects from
    a new source of false positives where the two score differently. Where good and
    defective lab frames score alike above the threshold, many prevalences fit: label-free
    precision is then only known within their range.

    >>> lab = np.r_[np.linspace(0.6, 1.0, 200), np.linspace(0.0, 0.3, 200)]
    >>> y = np.r_[np.ones(200), np.zeros(200)]
    >>> surge = np.r_[np.linspace(0.6, 1.0, 200), np.linspace(0.0, 0.3, 800)]
    >>> odd = np.r_[np.full(200, 0.65), np.linspace(0.0, 0.3, 800)]     # all at one score
    >>> grid = np.linspace(0.0, 0.99, 100)
    >>> fits = fitting_prevalences(surge, 0.5, lab, y, np.ones(400), grid)
    >>> float(fits.min()), float(fits.max())        # at a prevalence of 0.2
    (0.13, 0.33)
    >>> fitting_prevalences(odd, 0.5, lab, y, np.ones(400), grid).size
    0
    """
    s = np.asarray(scores, dtype=np.float64)
    ls = np.asarray(lab_scores, dtype=np.float64)
    y = np.asarray(lab_defective, dtype=bool)
    w = np.asarray(weights, dtype=np.float64)
    top = y & (ls >= threshold) & (w > 0)
    cuts = _weighted_quantiles(ls[top], w[top], (1 / 3, 2 / 3)) if top.any() else []
    edges = np.unique(np.r_[threshold, cuts, np.inf])
    h = np.histogram(s, edges)[0] / s.size
    f1 = np.histogram(ls[y], edges, weights=w[y])[0] / max(float(w[y].sum()), 1e-12)
    f0 = np.histogram(ls[~y], edges, weights=w[~y])[0] / max(float(w[~y].sum()), 1e-12)
    ess1, ess0 = max(effective_sample_size(w[y]), 1.0), max(effective_sample_size(w[~y]), 1.0)
    p = np.asarray(prevalences, dtype=np.float64)[:, None]
    m = np.clip((1 - p) * f0 + p * f1, 0.0, 1.0)
    var = m * (1 - m) / s.size + (1 - p) ** 2 * f0 * (1 - f0) / ess0
    var = var + p**2 * f1 * (1 - f1) / ess1
    ok = np.all(np.abs(h - m) <= z * np.sqrt(var) + 1 / s.size, axis=1)
    out: FloatArray = np.sort(p[ok, 0])
    return out


def excess_parts(
    scores: FloatArray,
    threshold: float,
    lab_scores: FloatArray,
    lab_defective: npt.NDArray[Any],
    weights: FloatArray,
    *,
    prevalence: float,
    z: float = 1.0,
) -> tuple[float, float]:
    """The unexplained share of the window's frames above the threshold and below it.

    Above the threshold it is the flags beyond the mixture's; below it, the sum over score
    bins (cut at the weighted lab's below-threshold quantiles :data:`_BELOW_EDGES`) of the
    window's share beyond the mixture's by more than ``z`` standard errors (the window's
    binomial spread and the lab's, by its effective sample size).

    >>> lab = np.r_[np.full(50, 0.9), np.linspace(0, 0.2, 50)]
    >>> y = np.r_[np.ones(50), np.zeros(50)]
    >>> odd = np.r_[np.linspace(0.0, 0.2, 500), np.full(400, 0.7), np.full(100, 0.4)]
    >>> [round(v, 2) for v in excess_parts(odd, 0.5, lab, y, np.ones(100), prevalence=0.0)]
    [0.4, 0.04]
    """
    s = np.asarray(scores, dtype=np.float64)
    ls = np.asarray(lab_scores, dtype=np.float64)
    y = np.asarray(lab_defective, dtype=bool)
    w = np.asarray(weights, dtype=np.float64)
    mix = np.where(y, prevalence, 1 - prevalence) * w / np.where(y, w[y].sum(), w[~y].sum())
    below = ls < threshold
    cuts = _weighted_quantiles(ls[below], mix[below], _BELOW_EDGES) if below.any() else []
    edges = np.unique(np.r_[-np.inf, cuts, threshold, np.inf])
    h = np.histogram(s, edges)[0] / s.size
    m = np.clip(np.histogram(ls, edges, weights=mix)[0] / max(float(mix.sum()), 1e-12), 0, 1)
    ess = max(effective_sample_size(w), 1.0)
    sd = np.sqrt(m * (1 - m) / s.size + m * (1 - m) / ess)
    above = edges[1:] > threshold
    beyond = np.clip(np.where(above, h - m, h - m - z * sd), 0.0, None)
    return float(min(beyond[above].sum(), 1.0)), float(min(beyond[~above].sum(), 1.0))


def _weighted_quantiles(x: FloatArray, w: FloatArray, qs: tuple[float, ...]) -> list[float]:
    order = np.argsort(x, kind="stable")
    cum = np.cumsum(w[order])
    if cum[-1] <= 0:
        return []
    idx = np.searchsorted(cum / cum[-1], qs)
    return [float(x[order][min(int(i), x.size - 1)]) for i in idx]
