"""Covariate shift between the lab frames and a production window: importance weights and the
rule that says when the lab cannot speak for the window.

The lab calibration (``P(defective | score)``) holds for inputs like the lab's. When a line
darkens, defocuses or gains a new source of false positives, the scores of the same units move
and a calibration fitted on clean lab frames follows them. The lab set of ``linewatch assess``
holds every lab frame under every corruption too (darker, blurred, noisy, ...), each with its
truth and the image statistics the production frames also carry (``frames.brightness`` ...).
Re-weighting those lab frames by the density ratio ``q(x) / p(x)`` between the window's inputs
``x`` and the lab's makes the weighted lab set look like the window, so its calibration is the
one the window's scores need.

The density ratio is estimated by nearest-neighbour matching (:func:`matching_weights`): every
window frame hands weight ``1/k`` to each of its ``k`` (30) nearest lab frames in the
standardised feature space (the focus feature folded first, see :data:`SHIFT_FEATURES`), so
a lab frame's weight is proportional to how many window frames
look like it (a k-NN density-ratio estimate; it follows several conditions at once, e.g. a
window of which 30 % has glare). The weights' effective sample size ``(Σw)² / Σw²`` (Kish)
says how many lab frames the estimate really rests on. A probabilistic classifier between lab
and window frames
(L2-regularised logistic regression, :func:`fit_logistic`) gives the AUC reported beside it:
how far apart the two sets are (0.5: alike).

The window is ``unknown`` where the lab never showed inputs like its own:

- more than ``max_unsupported`` of its frames are further from their ``k``-th nearest lab
  frame than 99 % of the lab frames are from theirs (beyond the lab's support; a smaller share
  widens the recall and FPR intervals by that share instead), or
- fewer than ``min_ess_defective`` effective defective lab frames remain (the lab frames like
  the window's are too few to calibrate on).

>>> rng = np.random.default_rng(0)
>>> lab = LabGeometry.of(rng.normal(0.0, 1.0, (2000, 1)))
>>> near = matching_weights(lab, rng.normal(0.3, 1.0, (500, 1)))
>>> round(near.ess / 2000, 1), near.unsupported < 0.02
(0.8, True)
>>> far = matching_weights(lab, rng.normal(6.0, 0.2, (500, 1)))
>>> far.unsupported > 0.5, far.auc > 0.99, far.ess < 100
(True, True, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from streams.errors import EstimationError

__all__ = [
    "SHIFT_FEATURES",
    "LabGeometry",
    "ShiftRule",
    "ShiftWeights",
    "auc",
    "effective_sample_size",
    "feature_matrix",
    "fit_logistic",
    "matching_weights",
    "shift_verdict",
]

FloatArray = npt.NDArray[np.float64]

SHIFT_FEATURES: tuple[str, ...] = (
    "brightness",
    "contrast",
    "sharpness",
    "clipped_high",
    "clipped_low",
)
"""Per-frame image statistics the density ratio compares (``streams.features.ImageStats``):
exposure, contrast (haze, a dirty lens), focus, glare and crushed blacks.

Focus enters as the log of the camera-health ``detail_ratio`` (``sharpness / contrast``):
a lamp's gain scales both alike, so darkening leaves it unchanged while blur, a smudge or
haze remove fine detail far more than contrast (and sensor noise adds it). It is compared
only **outside the band the clean lab frames span** (their 1st to 99th percentile, see
:meth:`LabGeometry.of`): inside it, a frame's detail ratio says more about its scene than
about its lens, and production frames arrive JPEG-compressed where the suite's lab frames
do not, which alone lowers it by 0.1-0.25. Compared raw, that small offset picked the lab
frames of other scenes and so other gain levels (a darkened window matched to darker lab
levels: recall error 0.32, docs/estimation.md); folded, a window inside the band matches
as it did without the feature, a defocused one (2-4 times less detail) matches the lab's
blurred frames.

Colour is left out: the lab light box spans 4500-6000 K; a night bank's 4200 K would put
every night frame outside the lab's support while it barely moves the scores (the
corruption suite's colour-cast rows measure that)."""

DETAIL_BAND = (0.01, 0.99)
"""The quantiles of the clean lab frames' log detail ratio inside which focus is not
compared."""

_LOG_FLOOR = 1e-3
_DETAIL_FLOOR = 1e-6
_MAX_LOGIT = 30.0


def feature_matrix(columns: Sequence[Sequence[float] | FloatArray]) -> FloatArray:
    """Rows of the matching's inputs from the :data:`SHIFT_FEATURES` columns, in that order.

    Contrast enters as its log (dimming scales it, haze divides it), sharpness as the log
    detail ratio ``log(sharpness / contrast)`` (dimming leaves it, blur lowers it).

    >>> feature_matrix([[0.5], [0.2], [0.1], [0.0], [0.01]]).round(3).tolist()
    [[0.5, -1.609, -0.693, 0.0, 0.01]]
    """
    if len(columns) != len(SHIFT_FEATURES):
        raise EstimationError(
            f"expected {len(SHIFT_FEATURES)} feature columns ({', '.join(SHIFT_FEATURES)}), "
            f"got {len(columns)}"
        )
    out = np.column_stack([np.asarray(c, dtype=np.float64) for c in columns])
    j = SHIFT_FEATURES.index("contrast")
    contrast = np.maximum(out[:, j], _LOG_FLOOR)
    out[:, j] = np.log(contrast)
    d = SHIFT_FEATURES.index("sharpness")
    out[:, d] = np.log(np.maximum(out[:, d], _DETAIL_FLOOR) / contrast)
    if not np.all(np.isfinite(out)):
        raise EstimationError("image statistics must be finite to compare lab and window")
    return out


def _sigmoid(z: FloatArray) -> FloatArray:
    out: FloatArray = 1.0 / (1.0 + np.exp(-np.clip(z, -_MAX_LOGIT, _MAX_LOGIT)))
    return out


def fit_logistic(
    x: FloatArray, y: FloatArray, *, l2: float = 1.0, iterations: int = 50, tol: float = 1e-8
) -> FloatArray:
    """Coefficients ``[intercept, β...]`` of an L2-penalised logistic regression (Newton).

    The intercept is not penalised; the penalty ``l2 · |β|²`` keeps the coefficients finite
    when the classes separate, so separation shows as extreme weights, not as a crash.

    >>> x = np.asarray([[0.0], [1.0], [2.0], [3.0]]); y = np.asarray([0.0, 0.0, 1.0, 1.0])
    >>> beta = fit_logistic(x, y, l2=0.1)
    >>> bool(beta[1] > 0), bool(abs(beta[0] + 1.5 * beta[1]) < 1e-6)
    (True, True)
    """
    if l2 <= 0:
        raise EstimationError(f"the logistic penalty must be > 0, got {l2}")
    design = np.column_stack([np.ones(len(x)), x])
    penalty = np.full(design.shape[1], 2.0 * l2)
    penalty[0] = 0.0
    beta = np.zeros(design.shape[1])
    for _ in range(iterations):
        p = _sigmoid(design @ beta)
        grad = design.T @ (p - y) + penalty * beta
        hess = (design * (p * (1.0 - p))[:, None]).T @ design + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hess, grad)
        beta = beta - step
        if float(np.max(np.abs(step))) < tol:
            break
    return beta


def effective_sample_size(weights: FloatArray | Sequence[float]) -> float:
    """Kish's effective sample size ``(Σw)² / Σw²`` (``n`` for equal weights).

    >>> effective_sample_size([1.0, 1.0, 1.0, 1.0]), effective_sample_size([1.0, 0.0, 0.0, 0.0])
    (4.0, 1.0)
    """
    w = np.asarray(weights, dtype=np.float64)
    total = float(np.square(w).sum())
    return 0.0 if total <= 0 else float(w.sum()) ** 2 / total


def auc(positive: FloatArray, negative: FloatArray) -> float:
    """Area under the ROC curve: ``P(score of a positive > score of a negative)``, ties half.

    >>> auc(np.asarray([2.0, 3.0]), np.asarray([0.0, 1.0])), auc(np.ones(3), np.ones(2))
    (1.0, 0.5)
    """
    pos, neg = np.asarray(positive, np.float64), np.asarray(negative, np.float64)
    if pos.size == 0 or neg.size == 0:
        return 0.5
    both = np.concatenate([pos, neg])
    order = np.argsort(both, kind="mergesort")
    ranks = np.empty(both.size)
    ranks[order] = np.arange(1, both.size + 1)
    # average the ranks of ties
    _, inverse, counts = np.unique(both, return_inverse=True, return_counts=True)
    ranks = (np.bincount(inverse, weights=ranks) / counts)[inverse]
    u = float(ranks[: pos.size].sum()) - pos.size * (pos.size + 1) / 2.0
    return u / (pos.size * neg.size)


@dataclass(frozen=True)
class ShiftWeights:
    """Importance weights of the lab frames for one window, and how far apart the two are."""

    weights: FloatArray
    """Per lab frame, ``∝ q(x) / p(x)``, mean 1."""
    ess: float
    """Kish effective sample size of ``weights``."""
    auc: float
    """Classifier AUC, window vs lab (0.5: indistinguishable, 1: separated)."""
    unsupported: float
    """Share of window frames beyond the lab's support (see the module docstring)."""
    gap_feature: str
    """The feature whose weighted lab mean stays furthest from the window's (in lab SDs)."""
    neighbours: npt.NDArray[np.intp] | None = field(default=None, compare=False, repr=False)
    """Per window frame, the indices of its ``k`` nearest lab frames (the weights' source)."""


def _kth_neighbours(
    queries: FloatArray, points: FloatArray, k: int, *, skip_self: bool = False, chunk: int = 256
) -> tuple[npt.NDArray[np.intp], FloatArray]:
    """Indices of the ``k`` nearest ``points`` of every query row, and the ``k``-th distance."""
    k_eff = min(k + int(skip_self), len(points))
    idx = np.empty((len(queries), k_eff), dtype=np.intp)
    kth = np.empty(len(queries))
    sq_points = np.einsum("ij,ij->i", points, points)
    for lo in range(0, len(queries), chunk):
        q = queries[lo : lo + chunk]
        d2 = np.einsum("ij,ij->i", q, q)[:, None] + sq_points[None, :] - 2.0 * (q @ points.T)
        part = np.argpartition(d2, k_eff - 1, axis=1)[:, :k_eff]
        idx[lo : lo + chunk] = part
        kth[lo : lo + chunk] = np.sqrt(np.maximum(np.take_along_axis(d2, part, 1).max(1), 0.0))
    return idx, kth


@dataclass(frozen=True)
class LabGeometry:
    """The lab frames' features, standardised, with the radius of the lab's support.

    Built once per lab set (:meth:`of`); ``radius`` is the 99th percentile of the lab frames'
    distance to their ``k``-th nearest other lab frame.
    """

    rows: FloatArray
    """Standardised lab feature rows (the focus feature folded, :meth:`fold`)."""
    mean: FloatArray
    std: FloatArray
    k: int
    radius: float
    detail_band: tuple[float, float] | None = None
    """The clean lab frames' band of log detail ratio (:data:`DETAIL_BAND`); ``None``: the
    feature rows are compared as they are."""

    def fold(self, x: FloatArray) -> FloatArray:
        """``x`` (feature rows, :func:`feature_matrix`) with the log detail ratio replaced by
        its distance outside :attr:`detail_band` (0 inside it, negative below, positive above).

        >>> g = LabGeometry(np.zeros((1, 5)), np.zeros(5), np.ones(5), 1, 1.0, (-1.0, -0.5))
        >>> g.fold(np.asarray([[0, 0, -2.5, 0, 0], [0, 0, -0.7, 0, 0]]))[:, 2].tolist()
        [-1.5, 0.0]
        """
        if self.detail_band is None:
            return x
        lo, hi = self.detail_band
        out = np.array(x, dtype=np.float64)
        d = SHIFT_FEATURES.index("sharpness")
        out[:, d] = np.minimum(out[:, d] - lo, 0.0) + np.maximum(out[:, d] - hi, 0.0)
        return out

    @classmethod
    def of(
        cls, lab: FloatArray, *, k: int = 30, reference: npt.NDArray[np.bool_] | None = None
    ) -> LabGeometry:
        """Standardise ``lab`` (an ``(n, d)`` feature matrix) and measure its support radius.

        ``reference`` (the clean lab frames), for a matrix of the :data:`SHIFT_FEATURES`: the
        detail ratio is compared only outside the band these frames span
        (:data:`DETAIL_BAND`, :meth:`fold`).
        """
        x = np.asarray(lab, dtype=np.float64)
        if x.ndim != 2 or len(x) <= k:
            raise EstimationError(
                f"the lab feature matrix must be 2-d with more than k={k} rows, got {x.shape}"
            )
        if k < 1:
            raise EstimationError(f"k must be >= 1, got {k}")
        band = None
        if reference is not None and x.shape[1] == len(SHIFT_FEATURES) and np.any(reference):
            ref = x[np.asarray(reference, dtype=bool), SHIFT_FEATURES.index("sharpness")]
            lo, hi = np.quantile(ref, DETAIL_BAND)
            band = (float(lo), float(hi))
            x = cls(x, x[0], x[0], k, 0.0, band).fold(x)
        mean = x.mean(axis=0)
        std = x.std(axis=0)
        std = np.where(std > 1e-9, std, 1.0)
        rows = (x - mean) / std
        _, kth = _kth_neighbours(rows, rows, k, skip_self=True)
        return cls(rows, mean, std, k, float(np.quantile(kth, 0.99)), band)


def matching_weights(lab: LabGeometry, window: FloatArray, *, l2: float = 1.0) -> ShiftWeights:
    """Importance weights ``q(x) / p(x)`` of the lab rows for the ``window`` feature rows, by
    ``k``-nearest-neighbour matching (see the module docstring)."""
    w_rows = np.asarray(window, dtype=np.float64)
    if w_rows.ndim != 2 or w_rows.shape[1] != lab.rows.shape[1] or len(w_rows) < 2:
        raise EstimationError(
            f"window features must be 2-d with {lab.rows.shape[1]} columns and at least 2 rows, "
            f"got {w_rows.shape}"
        )
    z = (lab.fold(w_rows) - lab.mean) / lab.std
    idx, kth = _kth_neighbours(z, lab.rows, lab.k)
    counts = np.bincount(idx.ravel(), minlength=len(lab.rows)).astype(np.float64)
    w = counts / counts.mean()
    xl = np.column_stack([lab.rows, lab.rows**2])
    xw = np.column_stack([z, z**2])
    beta = fit_logistic(np.vstack([xl, xw]), np.r_[np.zeros(len(xl)), np.ones(len(xw))], l2=l2)
    gap = np.abs((w[:, None] * lab.rows).sum(axis=0) / w.sum() - z.mean(axis=0))
    j = int(np.argmax(gap))
    return ShiftWeights(
        weights=w,
        ess=effective_sample_size(w),
        auc=auc(beta[0] + xw @ beta[1:], beta[0] + xl @ beta[1:]),
        unsupported=float(np.count_nonzero(kth > lab.radius)) / len(kth),
        gap_feature=SHIFT_FEATURES[j] if lab.rows.shape[1] == len(SHIFT_FEATURES) else f"#{j}",
        neighbours=idx,
    )


@dataclass(frozen=True)
class ShiftRule:
    """When the re-weighted lab cannot speak for a window (see the module docstring)."""

    max_unsupported: float = 0.10
    """Above this share of frames beyond the lab's support the window is unknown; below it,
    the recall and FPR intervals widen by that share (those frames' outcomes are unknown)."""
    min_ess_defective: float = 30.0
    max_excess: float = 0.5
    """Above this share of frames the lab mixture leaves unexplained *below the threshold*
    (where missed defects can hide, :attr:`~streams.estimation.excess.FlagExcess.missable`)
    the window's recall is unknown unless the counts bound it; below it, recall's interval
    widens by that share (its upper end by all the unexplained share) and precision and FPR
    come from the counts or say unknown (:mod:`streams.estimation.excess`)."""


def shift_verdict(
    shift: ShiftWeights, defective: FloatArray | Sequence[int], rule: ShiftRule
) -> tuple[str, str]:
    """``("ok", "")`` or ``("unknown", reason)`` for one window's weights.

    >>> w = ShiftWeights(np.ones(100), 100.0, 0.5, 0.0, "brightness")
    >>> shift_verdict(w, [1] * 50 + [0] * 50, ShiftRule())
    ('ok', '')
    >>> shift_verdict(w, [1] * 10 + [0] * 90, ShiftRule())[1][:60]
    'only 10.0 effective defective lab frames look like this wind'
    """
    y = np.asarray(defective, dtype=bool)
    if shift.unsupported > rule.max_unsupported:
        return (
            "unknown",
            f"{100 * shift.unsupported:.0f}% of the window's frames look like no lab frame "
            f"(furthest: {shift.gap_feature}; classifier AUC {shift.auc:.2f}): assess the model "
            "under these conditions (`linewatch assess`) or audit this slice",
        )
    ess_defective = effective_sample_size(shift.weights[y])
    if ess_defective < rule.min_ess_defective:
        return (
            "unknown",
            f"only {ess_defective:.1f} effective defective lab frames look like this window "
            f"(need {rule.min_ess_defective:.0f}; furthest: {shift.gap_feature}): assess more "
            "lab frames under these conditions (`linewatch assess --frames`) or audit this slice",
        )
    return "ok", ""
