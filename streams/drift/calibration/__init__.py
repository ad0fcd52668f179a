"""Calibration of the drift detectors, apart from the online runtime in :mod:`streams.drift`.

- :mod:`~streams.drift.calibration.thresholds`: the analytic thresholds for a false-alarm
  target (Siegmund, Lorden) and the per-line weekly budget; the runtime reads them when it
  builds its detectors.
- :mod:`~streams.drift.calibration.montecarlo`: stationary streams bootstrapped from the lab
  reference, fed to many copies of the runtime detectors at once (``det.paths(count)``), and
  a Monte-Carlo check of the thresholds.
- :mod:`~streams.drift.calibration.calibrate`: ``linewatch drift calibrate`` (imports
  ``river.drift``, so only that command loads it).
"""

from __future__ import annotations

__all__: list[str] = []
