"""One estimate of many frames from the estimates of their windows.

A slice's (or a line's, or the whole store's) label-free estimate is not computed over its
frames pooled: where the inputs changed during the run, one re-weighting of the lab to the
mixture of before and after describes neither. Each window (cut so that none straddles a change,
:mod:`streams.estimation.windows`) is estimated on its own, and the whole is their combination:

- recall: the windows' recalls weighted by their expected defective frames;
- FPR: weighted by their expected good frames;
- precision: weighted by their expected flagged frames (``recall * defective + FPR * good``).

Each bound of the interval is the same weighted mean of the windows' bounds. The windows share
one lab calibration, so their errors move together; this is the interval of fully correlated
errors, wider than the one independent errors would give, never narrower.

A window that says ``unknown`` enters the interval as ``[0, 1]`` with its weight (its frames
times the known windows' prevalence where it has none), and the point value comes from the
known windows. Where the unknown windows hold more than ``max_unknown`` of the frames, the whole
is ``unknown`` too, with their reason.

>>> from streams.estimation.estimator import Estimate
>>> def part(frames, defective, recall, lo, hi):
...     r = Estimate(recall, lo, hi)
...     f = Estimate(0.01, 0.0, 0.02)
...     return PerformanceEstimate(frames, 0.5, defective / frames, "em", defective,
...                                "calibration", r, r, f, status="ok")
>>> whole = combine([part(500, 10, 0.9, 0.8, 1.0), part(500, 30, 0.5, 0.4, 0.6)], 0.1)
>>> whole.frames, whole.expected_defective, whole.recall.as_dict()
(1000, 40, {'value': 0.6, 'lo': 0.5, 'hi': 0.7})
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from streams.estimation.estimator import Estimate, PerformanceEstimate
from streams.estimation.reweighted import unknown_estimate

__all__ = ["combine"]

_Weight = Callable[[PerformanceEstimate], float]


def _mean(
    parts: Sequence[PerformanceEstimate],
    figure: Callable[[PerformanceEstimate], Estimate],
    weight: _Weight,
    unknown_weight: float,
) -> Estimate:
    """Weighted mean of one figure; ``unknown_weight`` more of weight, and the weight of every
    part without the figure, enter the bounds as ``[0, 1]``. ``None`` where no part has it."""
    known = [(figure(p), weight(p)) for p in parts if figure(p).value is not None]
    # A window that could not give this figure (a ``partial`` window's precision) widens the
    # bounds like an unknown window instead of silently dropping out of them.
    unknown_weight += sum(weight(p) for p in parts if figure(p).value is None)
    total = sum(w for _, w in known)
    if total <= 0:
        return Estimate(None, None, None)
    value = sum(e.value * w for e, w in known if e.value is not None) / total
    if any(e.lo is None or e.hi is None for e, _ in known):
        return Estimate(round(value, 12), None, None)
    span = total + unknown_weight
    lo = sum(e.lo * w for e, w in known if e.lo is not None) / span
    hi = (sum(e.hi * w for e, w in known if e.hi is not None) + unknown_weight) / span
    return Estimate(round(value, 12), round(min(lo, value), 12), round(max(hi, value), 12))


def _per_class(parts: Sequence[PerformanceEstimate], weight: _Weight) -> dict[str, Estimate] | None:
    """Per-class recall where every known window has the class (weighted as recall)."""
    tables = [p.per_class_recall for p in parts if p.status != "unknown"]
    if not tables or any(t is None for t in tables):
        return None
    names = set.intersection(*(set(t) for t in tables if t is not None))
    known = [p for p in parts if p.status != "unknown"]
    out: dict[str, Estimate] = {}
    for name in sorted(names):

        def of(p: PerformanceEstimate, name: str = name) -> Estimate:
            return (p.per_class_recall or {}).get(name, Estimate(None, None, None))

        out[name] = _mean(known, of, weight, 0.0)
    return out


def _defective(p: PerformanceEstimate) -> float:
    return p.expected_defective


def _good(p: PerformanceEstimate) -> float:
    return p.frames - p.expected_defective


def _flagged(p: PerformanceEstimate) -> float:
    r, f = p.recall.value, p.fpr.value
    return (r or 0.0) * p.expected_defective + (f or 0.0) * (p.frames - p.expected_defective)


def _status(known: Sequence[PerformanceEstimate]) -> str:
    """``ok`` where every known window was re-weighted, else the first other status."""
    return next((p.status for p in known if p.status != "ok"), "ok")


def combine(parts: Sequence[PerformanceEstimate], max_unknown: float) -> PerformanceEstimate:
    """The estimate of the frames of ``parts`` together (see the module docstring)."""
    if not parts:
        raise ValueError("combine needs at least one window estimate")
    if len(parts) == 1:
        return parts[0]
    frames = sum(p.frames for p in parts)
    known = [p for p in parts if p.status != "unknown"]
    unknown = [p for p in parts if p.status == "unknown"]
    unknown_frames = sum(p.frames for p in unknown)
    known_frames = sum(p.frames for p in known)
    prevalence = sum(p.expected_defective for p in known) / known_frames if known_frames else 0.0
    sources = sorted({p.prevalence_source for p in parts})
    source = sources[0] if len(sources) == 1 else "+".join(sources)
    if not known or unknown_frames > max_unknown * frames:
        first = unknown[0]
        return unknown_estimate(
            frames,
            first.threshold,
            f"{len(unknown)} of {len(parts)} windows ({unknown_frames / frames:.0%} of the "
            f"frames) say unknown; the first: {first.reason}",
            prevalence=prevalence if known else None,
            prevalence_source=source,
        )

    u_def = sum(max(p.expected_defective, prevalence * p.frames) for p in unknown)
    u_good = sum(p.frames for p in unknown) - u_def
    ess = [p.lab_ess for p in known if p.lab_ess is not None]
    ess_def = [p.lab_ess_defective for p in known if p.lab_ess_defective is not None]
    auc = [p.shift_auc for p in known if p.shift_auc is not None]
    base = known[0]
    return PerformanceEstimate(
        frames=frames,
        threshold=base.threshold,
        prevalence=(sum(p.expected_defective for p in known) + u_def) / frames,
        prevalence_source=source,
        expected_defective=sum(p.expected_defective for p in known) + u_def,
        recall_denominator=base.recall_denominator,
        precision=_mean(known, lambda p: p.precision, _flagged, u_def + u_good),
        recall=_mean(known, lambda p: p.recall, _defective, u_def),
        fpr=_mean(known, lambda p: p.fpr, _good, u_good),
        status=_status(known),
        reason=""
        if not unknown
        else f"{len(unknown)} of {len(parts)} windows unknown, counted as [0, 1] in the "
        f"intervals: {unknown[0].reason}",
        lab_ess=min(ess) if ess else None,
        lab_ess_defective=min(ess_def) if ess_def else None,
        shift_auc=max(auc) if auc else None,
        per_class_recall=_per_class(parts, _defective),
    )
