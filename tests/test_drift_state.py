"""Partition snapshots are versioned JSON; pickles and older versions are refused unread."""

from __future__ import annotations

import json
import pickle
from datetime import timedelta

import numpy as np
import pytest

from streams.config import Settings
from streams.drift import DriftMonitor, ReferenceProfile
from streams.drift.partition_state import PartitionState
from streams.drift.state import VERSION
from streams.errors import ConfigError
from streams.slicing import SliceKey
from tests.test_drift_monitor import T0, Record, _rows

KEYS = [SliceKey("line-1", "normal", "day"), SliceKey("line-1", "dim", "day")]


@pytest.fixture(scope="module")
def reference() -> ReferenceProfile:
    return ReferenceProfile.fit(_rows(np.random.default_rng(0), 5000))


def _stream() -> list[dict[str, float]]:
    rng = np.random.default_rng(8)
    return list(_rows(rng, 1200)) + list(_rows(rng, 800, brightness_shift=-1.0))


def _feed(
    monitor: DriftMonitor, rows: list[dict[str, float]], start: int, stop: int
) -> list[Record]:
    out: list[Record] = []
    for i in range(start, stop):
        key = KEYS[i % 7 == 0]
        out.extend(monitor.observe(key, f"ev-{i}", T0 + timedelta(seconds=i), rows[i]))
    return out


def test_snapshot_is_versioned_json(reference: ReferenceProfile) -> None:
    settings = Settings(drift={"gap_window_events": 150})
    state = PartitionState(reference, settings)
    _feed(state.monitor, _stream(), 0, 300)
    data = json.loads(state.snapshot())
    assert data["version"] == VERSION == 3 and data["format"] == "linewatch.partition-state"
    assert set(data) == {"format", "version", "monitor", "cameras", "product_mix", "causes"}
    first = data["monitor"]["slices"][0]["detectors"][0]
    assert first["label"].startswith("streams.drift.GaussianCusum(")
    assert first["state"]["kind"] == "gaussian-cusum" and first["state"]["n"] > 0


def _ran() -> None:
    raise AssertionError("a snapshot pickle was unpickled")


class _Boom:
    def __reduce__(self) -> tuple[object, tuple[()]]:
        return (_ran, ())


def test_foreign_pickles_are_refused_without_running_them(reference: ReferenceProfile) -> None:
    evil = pickle.dumps({"format": "linewatch.drift-monitor/1", "x": _Boom()}, protocol=4)
    with pytest.raises(ConfigError, match="not a drift-monitor snapshot"):
        DriftMonitor.restore(evil, reference, Settings())
    with pytest.raises(ConfigError, match="not a partition-state snapshot"):
        PartitionState.restore(evil, reference, Settings())
    with pytest.raises(ConfigError, match="snapshot"):
        PartitionState.restore(b'{"version": 4}', reference, Settings())


def test_a_version_1_snapshot_is_refused(reference: ReferenceProfile) -> None:
    """Version 1 held the drift monitor alone; it is not read (nothing was released)."""
    monitor = DriftMonitor(reference, Settings())
    _feed(monitor, _stream(), 0, 100)
    old = json.loads(monitor.snapshot()) | {"format": "linewatch.drift-monitor", "version": 1}
    with pytest.raises(ConfigError, match="not a partition-state snapshot"):
        PartitionState.restore(json.dumps(old).encode(), reference, Settings())


def test_changed_detector_settings_start_cold(reference: ReferenceProfile) -> None:
    rows = _stream()
    monitor = DriftMonitor(reference, Settings(drift={"false_alarms_per_event": 1e-6}))
    _feed(monitor, rows, 0, 600)
    blob = monitor.snapshot()
    other = Settings(drift={"false_alarms_per_event": 1e-4})  # other thresholds: other detectors
    restored = DriftMonitor.restore(blob, reference, other)  # windows continue, detectors restart
    state = json.loads(restored.snapshot())
    assert all(d["state"]["n"] == 0 for s in state["slices"] for d in s["detectors"])
    assert state["slices"][0]["events"] > 0
