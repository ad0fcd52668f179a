"""The read side of the store: typed query functions, grouped by the reader that uses them.

Each module holds its SQL as module constants and returns typed rows (named tuples, dicts of
plain values); callers outside ``streams/sinks/`` never write SQL.

- :mod:`streams.sinks.reads.alarms` — ``linewatch drift`` (alarm listing) and the
  dead-letter query ``linewatch run`` prints.
- :mod:`streams.sinks.reads.demo` — the per-slice tables ``linewatch demo`` prints.
- :mod:`streams.sinks.reads.design_difference` — frames counted per slice x band x calibration
  step, for the difference estimator and the worker's audit probabilities.
- :mod:`streams.sinks.reads.estimation` — the lab frames, audits and production frames the
  estimates (``linewatch estimate``, the readiness metrics) are computed from.
- :mod:`streams.sinks.reads.gaps` — the worst distance to the lab reference per slice (the
  verdict, the report, the demo).
- :mod:`streams.sinks.reads.label_drift` — the reconciled units the label detectors replay.
- :mod:`streams.sinks.reads.metrics` — the readiness metrics' counts, latency, lab figures,
  label coverage and review queue.
- :mod:`streams.sinks.reads.reconcile` — pending labels and their frames, for ``reconcile``.
- :mod:`streams.sinks.reads.report` — the readiness report's drift, confidence, robustness,
  latency and review-queue sections.
- :mod:`streams.sinks.reads.snapshots` — a partition's newest monitor snapshot, for the
  streaming workers.
"""

from __future__ import annotations

__all__: list[str] = []
