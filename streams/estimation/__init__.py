"""Label-free performance estimates: what the detector's precision, recall and FPR probably are
on production frames that nobody has labelled yet (see ``docs/estimation.md``)."""

from streams.estimation.calibration import IsotonicCalibration, em_prevalence, shift_prior
from streams.estimation.estimator import (
    Estimate,
    LabSet,
    PerformanceEstimate,
    estimate_performance,
)

__all__ = [
    "Estimate",
    "IsotonicCalibration",
    "LabSet",
    "PerformanceEstimate",
    "em_prevalence",
    "estimate_performance",
    "shift_prior",
]
