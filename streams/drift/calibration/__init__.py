"""Calibration of the drift detectors, apart from the online runtime in :mod:`streams.drift`.

The analytic thresholds the runtime builds its detectors with (Siegmund, Lorden, the per-line
weekly budget) are runtime: :mod:`streams.drift.thresholds`. Here, what measures them:

- :mod:`~streams.drift.calibration.montecarlo`: stationary streams bootstrapped from the lab
  reference, fed to many copies of the runtime detectors at once (``det.paths(count)``), and
  a Monte-Carlo check of the thresholds.
- :mod:`~streams.drift.calibration.calibrate`: ``linewatch drift calibrate`` (imports
  ``river.drift``, so only that command loads it).
"""

from __future__ import annotations

__all__: list[str] = []
