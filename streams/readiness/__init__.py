"""Is the detector ready for the line? Ground truth, matching, metrics and the verdict inputs.

- :mod:`~streams.readiness.labels`: ground-truth lines → ``labels`` rows / dead letters;
- :mod:`~streams.readiness.matching`: class-aware greedy IoU matching, frame outcomes;
- :mod:`~streams.readiness.reconcile`: labelled frames → ``frame_outcomes``;
- :mod:`~streams.readiness.stats`, :mod:`~streams.readiness.baserate`: Wilson, Bayes;
- :mod:`~streams.readiness.lab`: lab mAP (AP from :mod:`streams.evaluation.ap`, IoU from
  :func:`streams.inference.nms.box_iou`);
- :mod:`~streams.readiness.metrics`: every readiness metric read from the views (records in
  :mod:`~streams.readiness.metric_records`);
- audits: :mod:`~streams.readiness.design` (cell estimator), :mod:`~streams.readiness.audits`
  (against the store), :mod:`~streams.readiness.audit_plan` (band strata),
  :mod:`~streams.readiness.score_design` / :mod:`~streams.readiness.score_plan` (by score) and
  :mod:`~streams.readiness.design_difference` (the difference estimator);
  :mod:`~streams.readiness.slice_audits` (per slice, estimate beside the design-weighted figure
  and the next audit: ``estimate``, the report, Grafana); :mod:`~streams.readiness.audit_stream`
  and :mod:`~streams.readiness.stream_audits` (the worker's per-unit audit requests).
"""

from __future__ import annotations

from streams.readiness.baserate import BaseRateOutcome, at_base_rate, precision_at_prevalence
from streams.readiness.labels import label_records
from streams.readiness.matching import frame_outcome, match_boxes
from streams.readiness.reconcile import ReconcileSummary, reconcile
from streams.readiness.stats import wilson_interval

__all__ = [
    "BaseRateOutcome",
    "ReconcileSummary",
    "at_base_rate",
    "frame_outcome",
    "label_records",
    "match_boxes",
    "precision_at_prevalence",
    "reconcile",
    "wilson_interval",
]
