"""Is the detector ready for the line? Ground truth, matching, metrics and the verdict inputs.

- :mod:`~streams.readiness.labels`: ground-truth lines → ``labels`` rows / dead letters;
- :mod:`~streams.readiness.matching`: class-aware greedy IoU matching, frame outcomes;
- :mod:`~streams.readiness.reconcile`: labelled frames → ``frame_outcomes``;
- :mod:`~streams.readiness.stats`, :mod:`~streams.readiness.baserate`: Wilson, AP, Bayes;
- :mod:`~streams.readiness.metrics`: every readiness metric read from the views.
"""

from __future__ import annotations

from streams.readiness.baserate import BaseRateOutcome, at_base_rate, precision_at_prevalence
from streams.readiness.labels import label_records
from streams.readiness.matching import frame_outcome, iou_matrix, match_boxes
from streams.readiness.reconcile import ReconcileSummary, reconcile
from streams.readiness.stats import average_precision, wilson_interval
from streams.readiness.threshold import operating_threshold

__all__ = [
    "BaseRateOutcome",
    "ReconcileSummary",
    "at_base_rate",
    "average_precision",
    "frame_outcome",
    "iou_matrix",
    "label_records",
    "match_boxes",
    "operating_threshold",
    "precision_at_prevalence",
    "reconcile",
    "wilson_interval",
]
