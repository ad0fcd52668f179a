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

__all__ = ["BaseRateOutcome", "at_base_rate", "precision_at_prevalence"]


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
