"""Everything one partition of camera events remembers between frames, and its one snapshot.

Each Kafka partition of ``camera-events`` carries whole camera lines (events are keyed by
``line_id``), so a partition's lines, slices and cameras belong to it alone. Its
:class:`PartitionState` holds the four stateful stages of the pipeline:

- ``monitor``: the :class:`~streams.drift.DriftMonitor` (per-slice detectors, lighting mix,
  reference-gap windows);
- ``camera_health``: each camera's previous-frame thumbnail
  (:class:`~streams.features.CameraHealth`);
- ``product_mix``: the product-variant share detectors per line and shift
  (:class:`~streams.drift.product_mix.ProductMixWatch`, clones of the monitor's binary
  prototypes);
- ``causes``: the alarms of the last 2 hours per line and shift that give each new alarm its
  cause (:class:`~streams.drift.cause.CauseAttributor`).

:meth:`PartitionState.snapshot` writes all four as one
:class:`~streams.drift.state.PartitionSnapshot` (versioned JSON) and :meth:`PartitionState.restore`
reads it back, so a restored partition continues with the same outputs as one that never stopped
(River detectors without a typed state excepted: they restart cold). The embedded runner keeps one
state for the run; the streaming worker one per partition (:mod:`streams.runners.partitions`).
"""

from __future__ import annotations

import json
import logging

from streams.config import Settings
from streams.drift.cause import CauseAttributor
from streams.drift.monitor import DriftMonitor
from streams.drift.product_mix import ProductMixWatch
from streams.drift.reference import ReferenceProfile
from streams.drift.state import FORMAT, VERSION, decode_snapshot
from streams.errors import ConfigError
from streams.features import CameraHealth

__all__ = ["PartitionState"]

log = logging.getLogger(__name__)


class PartitionState:
    """The drift monitor, camera health, product mix and cause memory of one partition."""

    def __init__(
        self,
        reference: ReferenceProfile,
        settings: Settings,
        *,
        monitor: DriftMonitor | None = None,
        camera_health: CameraHealth | None = None,
    ) -> None:
        self.monitor = monitor if monitor is not None else DriftMonitor(reference, settings)
        self.camera_health = camera_health if camera_health is not None else CameraHealth()
        self.product_mix = ProductMixWatch(lambda line: self.monitor.line_detectors(line).binary)
        self.causes = CauseAttributor()

    def snapshot(self) -> bytes:
        """The whole state as one :class:`~streams.drift.state.PartitionSnapshot` (UTF-8 JSON)."""
        return json.dumps(
            {
                "format": FORMAT,
                "version": VERSION,
                "monitor": self.monitor.snapshot_data(),
                "cameras": self.camera_health.snapshot(),
                "product_mix": self.product_mix.snapshot(),
                "causes": self.causes.snapshot(),
            },
            separators=(",", ":"),
        ).encode()

    @classmethod
    def restore(
        cls, data: bytes, reference: ReferenceProfile, settings: Settings
    ) -> PartitionState:
        """The state :meth:`snapshot` saved, continuing exactly where it stopped.

        Raises :class:`~streams.errors.ConfigError` for anything that is not this format at
        this version (a pickle, an older version), for a snapshot taken with another reference
        profile, or for a camera thumbnail of the wrong size: the caller starts the partition
        cold.
        """
        snap = decode_snapshot(data)
        monitor = DriftMonitor.from_snapshot(snap.monitor, reference, settings)
        try:
            health = CameraHealth.restore(c.model_dump() for c in snap.cameras)
        except ValueError as exc:
            raise ConfigError(f"the partition snapshot is damaged ({exc}); delete it") from None
        state = cls(reference, settings, monitor=monitor, camera_health=health)
        cold = state.product_mix.load(snap.product_mix)
        if cold:
            log.info("product-mix snapshot: %d detectors start cold (changed or stateless)", cold)
        state.causes.load(snap.causes)
        return state
