"""Base-rate arithmetic: what lab TPR/FPR mean at the production defect prevalence.

A lab set with half defective units hides how many alarms a 1 % false-positive rate raises
when only 2 % of units are defective. Bayes' rule gives the precision at the production base
rate, and the expected alarms per million units follow directly.

>>> r = at_base_rate(tpr=0.95, fpr=0.01, prevalence=0.02)
>>> round(r.precision, 4), round(r.false_alarms_per_million), round(r.missed_per_million)
(0.6597, 9800, 1000)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from streams.readiness.proportion import NO_DATA, Proportion

__all__ = [
    "BaseRateOutcome",
    "at_base_rate",
    "per_million",
    "precision_at_prevalence",
    "predicted_precision",
]


def precision_at_prevalence(tpr: float, fpr: float, prevalence: float) -> float | None:
    """Positive predictive value ``TPR·π / (TPR·π + FPR·(1−π))``; ``None`` if nothing is flagged.

    >>> precision_at_prevalence(0.9, 0.1, 0.5)
    0.9
    >>> precision_at_prevalence(0.0, 0.0, 0.1) is None
    True
    """
    for name, value in (("tpr", tpr), ("fpr", fpr), ("prevalence", prevalence)):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be within [0, 1], got {value}")
    flagged = tpr * prevalence + fpr * (1.0 - prevalence)
    return None if flagged <= 0 else tpr * prevalence / flagged


@dataclass(frozen=True)
class BaseRateOutcome:
    """Expected operating figures of a detector at a given defect prevalence."""

    tpr: float
    fpr: float
    prevalence: float
    precision: float | None
    flagged_per_million: float
    false_alarms_per_million: float
    missed_per_million: float

    def as_dict(self) -> dict[str, float | None]:
        """Plain mapping for JSON output."""
        return asdict(self)


def at_base_rate(tpr: float, fpr: float, prevalence: float) -> BaseRateOutcome:
    """Precision, alarms and misses per 1,000,000 units at ``prevalence``."""
    precision = precision_at_prevalence(tpr, fpr, prevalence)
    million = 1_000_000.0
    false_alarms = fpr * (1.0 - prevalence) * million
    caught = tpr * prevalence * million
    return BaseRateOutcome(
        tpr=tpr,
        fpr=fpr,
        prevalence=prevalence,
        precision=precision,
        flagged_per_million=caught + false_alarms,
        false_alarms_per_million=false_alarms,
        missed_per_million=(1.0 - tpr) * prevalence * million,
    )


def per_million(p: Proportion, scale: float, of: str) -> str:
    """``k/n × scale`` per 1,000,000 with its 95 % Wilson interval and the counts it comes from;
    ``0 of n`` gives its upper bound too (by the rule of three, about ``3/n``), never a bare 0.

    >>> per_million(Proportion(0, 62), 0.98, "good lab units")
    '0 [0–57,177] (0 of 62 good lab units; with none seen, up to 47,419 by the rule of three)'
    >>> per_million(Proportion(5, 500), 1.0, "good units")
    '10,000 [4,279–23,193] (5 of 500 good units)'
    """
    if p.n == 0:
        return NO_DATA
    lo, hi = p.interval or (0.0, 0.0)
    value = p.k / p.n
    text = f"{value * scale * 1e6:,.0f} [{lo * scale * 1e6:,.0f}–{hi * scale * 1e6:,.0f}]"
    counts = f"{p.k} of {p.n} {of}"
    if p.k == 0:
        counts += f"; with none seen, up to {3 / p.n * scale * 1e6:,.0f} by the rule of three"
    return f"{text} ({counts})"


def predicted_precision(tpr: Proportion, fpr: Proportion, prevalence: float) -> str:
    """Bayes' precision from lab TPR/FPR at ``prevalence``, with the range the two lab intervals
    allow and the counts behind them.

    >>> predicted_precision(Proportion(57, 58), Proportion(0, 62), 0.0183)
    '100.0% [22.5–100.0] (lab: 57 of 58 defective, 0 of 62 good flagged)'
    """
    point = precision_at_prevalence(tpr.value or 0.0, fpr.value or 0.0, prevalence)
    if point is None or tpr.interval is None or fpr.interval is None:
        return NO_DATA if point is None else f"{point:.1%}"
    low = precision_at_prevalence(tpr.interval[0], fpr.interval[1], prevalence)
    high = precision_at_prevalence(tpr.interval[1], fpr.interval[0], prevalence)
    span = "" if low is None or high is None else f" [{100 * low:.1f}–{100 * high:.1f}]"
    return f"{point:.1%}{span} (lab: {tpr.k} of {tpr.n} defective, {fpr.k} of {fpr.n} good flagged)"
