"""One partition state (drift monitor, camera health, product mix, cause memory), one snapshot:
a restored partition continues with the same outputs as one that never stopped."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass

import pytest

from schemas.records import DriftEventRecord, ReferenceGapRecord
from streams.config import Settings
from streams.drift import ReferenceProfile
from streams.drift.cause import CAMERA_SIGNALS
from streams.drift.partition_state import PartitionState
from streams.drift.product_mix import PRODUCT_MIX_SIGNAL
from streams.errors import ConfigError
from streams.inference import Detector
from streams.ingest import RawRecord
from streams.pipeline import MonitoringPipeline
from streams.runners.reference import load_reference
from tests.belt_world import CAMERAS, belt_records

EVENTS, FAULT_AT, SPLIT = 480, 240, 320
"""The split falls inside the fault episode: after its first alarms, before its later ones."""

Outputs = tuple[list[DriftEventRecord], list[ReferenceGapRecord]]


@dataclass(frozen=True)
class Belt:
    """What every run here shares: settings, the shipped detector, its reference, the events."""

    settings: Settings
    detector: Detector
    reference: ReferenceProfile
    records: list[RawRecord]

    def pipeline(self, state: PartitionState | None = None) -> MonitoringPipeline:
        return MonitoringPipeline(self.settings, self.detector, self.reference, state)

    def resume(self, blob: bytes) -> Outputs:
        """Restore ``blob`` into a new pipeline and feed it the events after the split."""
        state = PartitionState.restore(blob, self.reference, self.settings)
        return _feed(self.pipeline(state), self.records[SPLIT:])


def _feed(pipeline: MonitoringPipeline, records: Sequence[RawRecord]) -> Outputs:
    drift: list[DriftEventRecord] = []
    gaps: list[ReferenceGapRecord] = []
    for k in range(0, len(records), 8):
        out = pipeline.process(records[k : k + 8])
        assert not out.dead_letters, out.dead_letters[0]
        drift += out.drift_events
        gaps += out.reference_gaps
    return drift, gaps


@pytest.fixture(scope="module")
def belt() -> Belt:
    settings = Settings(store={"dsn": "chdb:///nonexistent-unused"})
    return Belt(
        settings,
        Detector.load(None),
        load_reference(settings),
        belt_records(EVENTS, fault_at=FAULT_AT),
    )


@pytest.fixture(scope="module")
def straight(belt: Belt) -> tuple[bytes, Outputs, Outputs]:
    """One uninterrupted run: its snapshot at the split, its outputs before and after it."""
    pipeline = belt.pipeline()
    before = _feed(pipeline, belt.records[:SPLIT])
    blob = pipeline.state.snapshot()
    return blob, before, _feed(pipeline, belt.records[SPLIT:])


def test_a_restored_partition_continues_exactly(
    straight: tuple[bytes, Outputs, Outputs], belt: Belt
) -> None:
    blob, before, after = straight
    drift = after[0]
    # the run after the split holds each kind of output the state carries
    assert {d.signal for d in before[0]} & CAMERA_SIGNALS  # the episode began before the split
    assert {d.signal for d in drift} & CAMERA_SIGNALS
    assert any(d.signal == PRODUCT_MIX_SIGNAL for d in drift)
    assert after[1]  # reference-gap windows closed after the split
    assert belt.resume(blob) == after


@pytest.mark.parametrize("part", ["monitor", "cameras", "product_mix", "causes"])
def test_each_part_of_the_snapshot_is_needed(
    part: str, straight: tuple[bytes, Outputs, Outputs], belt: Belt
) -> None:
    """Dropping any one part from the snapshot changes what follows (so each is restored)."""
    blob, _, after = straight
    data = json.loads(blob)
    if part == "monitor":
        cold = PartitionState(belt.reference, belt.settings)
        data["monitor"] = json.loads(cold.snapshot())["monitor"]
    else:
        data[part] = []
    assert belt.resume(json.dumps(data).encode()) != after


def test_the_snapshot_holds_each_camera_thumbnail_exactly(
    straight: tuple[bytes, Outputs, Outputs], belt: Belt
) -> None:
    blob, _, _ = straight
    data = json.loads(blob)
    assert [c["camera_id"] for c in data["cameras"]] == [c for _, c in CAMERAS]
    assert {(c["height"], c["width"]) for c in data["cameras"]} == {
        (30, 40)
    }  # 96x128, every 3rd pixel, cut to 30x40
    # one byte per pixel: 1,200 bytes, 1,600 characters of base64
    assert {len(base64.b64decode(c["luma"])) for c in data["cameras"]} == {30 * 40}
    restored = PartitionState.restore(blob, belt.reference, belt.settings)
    assert restored.snapshot() == blob


def test_a_damaged_thumbnail_is_refused(
    straight: tuple[bytes, Outputs, Outputs], belt: Belt
) -> None:
    data = json.loads(straight[0])
    data["cameras"][0]["height"] = 12
    with pytest.raises(ConfigError, match="damaged"):
        PartitionState.restore(json.dumps(data).encode(), belt.reference, belt.settings)


def test_a_snapshot_of_another_version_is_refused(
    straight: tuple[bytes, Outputs, Outputs], belt: Belt
) -> None:
    """Version 2 kept float32 thumbnails; it is not read (nothing was released)."""
    data = json.loads(straight[0])
    data["version"] = 2
    with pytest.raises(ConfigError, match="not a partition-state snapshot"):
        PartitionState.restore(json.dumps(data).encode(), belt.reference, belt.settings)
