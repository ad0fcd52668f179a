"""The detector prototypes of each line: thresholds from its false-alarm budget, cloned per slice.

:class:`LinePrototypes` builds, once per line, the continuous and the binary prototype
(``drift.detector`` / ``drift.binary_detector``: linewatch's CUSUMs with thresholds from the
line's budget, or any River detector by name); slices, the lighting mix and the product mix clone
them. :func:`snapshot_detector` and :func:`load_detector` save and restore one detector's state.
"""

from __future__ import annotations

from typing import NamedTuple

from river import base

from streams.config import LineConfig, Settings
from streams.drift.detectors import BernoulliCusum, GaussianCusum
from streams.drift.spec import DetectorSpec, detector_label, parse_detector_spec
from streams.drift.state import DetectorSnapshot
from streams.drift.thresholds import (
    arl_per_side,
    bernoulli_threshold,
    budget_rate,
    gaussian_threshold,
)

__all__ = [
    "CUSUM_K",
    "LineDetectors",
    "LinePrototypes",
    "SliceDetector",
    "load_detector",
    "snapshot_detector",
]

CUSUM_K = 0.5
"""Reference value of the Gaussian CUSUM: tuned to detect shifts of ~1 noise std fastest."""

SliceDetector = base.DriftDetector | base.BinaryDriftDetector
"""The detector of one slice-signal: any River detector (not :class:`streams.inference.Detector`,
the model)."""


class LineDetectors(NamedTuple):
    """The detector prototypes of one line (cloned per slice) and what they promise."""

    rate: float
    """False alarms per slice-signal update the thresholds are calibrated for."""
    continuous: SliceDetector
    binary: SliceDetector
    continuous_label: str
    binary_label: str


def _build(spec: DetectorSpec, cusum: SliceDetector) -> SliceDetector:
    return cusum if spec.is_cusum else spec.build()


class LinePrototypes:
    """Each line's :class:`LineDetectors`, built on first use from the drift settings."""

    def __init__(self, settings: Settings, detectors_per_frame: int) -> None:
        self._settings = settings
        self._spec = parse_detector_spec(settings.drift.detector)
        self._binary_spec = parse_detector_spec(settings.drift.binary_detector, binary=True)
        self._lines: dict[str, LineDetectors] = {}
        self.detectors_per_frame = detectors_per_frame
        """Detectors one frame updates (the budget is spread over them)."""

    def update_rate(self, line_id: str) -> float:
        """False alarms per slice-signal update of this line's calibrated detectors.

        ``drift.false_alarms_per_event`` if set, else the line-week budget spread over the
        line's updates (its frame rate x :attr:`detectors_per_frame`).
        """
        fixed = self._settings.drift.false_alarms_per_event
        if fixed is not None:
            return fixed
        line = self._settings.plant.lines.get(line_id) or LineConfig()
        return budget_rate(
            self._settings.drift.false_alarms_per_line_week,
            frames_per_second=line.frame_rate,
            detectors_per_frame=self.detectors_per_frame,
        )

    def of(self, line_id: str) -> LineDetectors:
        """This line's detector prototypes, thresholds set from its false-alarm budget."""
        found = self._lines.get(line_id)
        if found is None:
            rate = self.update_rate(line_id)
            arl = arl_per_side(rate)
            warmup = self._settings.drift.warmup_events
            gauss = GaussianCusum(k=CUSUM_K, h=gaussian_threshold(CUSUM_K, arl), warmup=warmup)
            bern = BernoulliCusum(h=bernoulli_threshold(arl), warmup=warmup)
            cont = _build(self._spec, gauss)
            binary = _build(self._binary_spec, bern)
            found = LineDetectors(rate, cont, binary, detector_label(cont), detector_label(binary))
            self._lines[line_id] = found
        return found


def snapshot_detector(det: SliceDetector, label: str) -> dict[str, object]:
    """A :class:`DetectorSnapshot` as a plain dict (built per detector: the fast path)."""
    state = det.state_dict() if isinstance(det, GaussianCusum | BernoulliCusum) else None
    return {"label": label, "state": state}


def load_detector(det: SliceDetector, snap: DetectorSnapshot, label: str) -> bool:
    """Put a stored state into a fresh detector; False if it must start cold."""
    if snap.label != label or snap.state is None:
        return False
    if isinstance(det, GaussianCusum) and snap.state.kind == "gaussian-cusum":
        det.set_state(snap.state)
        return True
    if isinstance(det, BernoulliCusum) and snap.state.kind == "bernoulli-cusum":
        det.set_state(snap.state)
        return True
    return False
