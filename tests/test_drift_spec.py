"""LINEWATCH_DRIFT__DETECTOR / LINEWATCH_DRIFT__BINARY_DETECTOR: parsing and use by the monitor."""

from __future__ import annotations

import math
import subprocess
import sys
from datetime import timedelta

import numpy as np
import pytest
from river import drift

from schemas.records import DriftEventRecord
from streams.config import Settings
from streams.drift import DriftMonitor, ReferenceProfile
from streams.drift.spec import parse_detector_spec
from streams.errors import ConfigError
from tests.test_drift_monitor import KEY, T0, _rows


def test_valid_specs() -> None:
    spec = parse_detector_spec(" river.drift.PageHinkley(threshold=30, mode='up') ")
    det = spec.build()
    assert isinstance(det, drift.PageHinkley) and det.threshold == 30 and det.mode == "up"
    assert spec.label == "river.drift.PageHinkley(mode='up', threshold=30)"
    assert isinstance(parse_detector_spec("river.drift.ADWIN").build(), drift.ADWIN)
    binary = parse_detector_spec("river.drift.binary.HDDMW(drift_confidence=1e-6)", binary=True)
    assert isinstance(binary.build(), drift.binary.HDDMW)
    assert parse_detector_spec("cusum").is_cusum


@pytest.mark.parametrize(
    ("text", "binary", "message"),
    [
        ("river.drift.Nope()", False, "there is no 'Nope' in river.drift"),
        ("os.system('rm -rf /')", False, "'os.system' is not a class under river.drift"),
        ("__import__('os').system('x')", False, "is not a class under river.drift"),
        ("river.drift.binary.DDM()", False, "is not a continuous"),
        ("river.drift.ADWIN(delta=1/0)", False, "delta=1 / 0 is not a literal"),
        ("river.drift.ADWIN(delta=x)", False, "delta=x is not a literal"),
        ("river.drift.ADWIN(0.1)", False, "give arguments by keyword"),
        ("river.drift.ADWIN(deltaa=0.1)", False, "unexpected keyword argument 'deltaa'"),
        ("river.drift.KSWIN(alpha=2.0)", False, "alpha"),
        ("river.drift.datasets.Apple()", True, "not a class under river.drift"),
        ("river.drift.ADWIN(", False, "cannot parse"),
    ],
)
def test_bad_specs_are_one_clear_error(text: str, binary: bool, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("/", "/")):
        parse_detector_spec(text, binary=binary)


def test_settings_validate_and_cli_prints_one_error_line() -> None:
    with pytest.raises(ConfigError, match="unexpected keyword argument"):
        Settings(drift={"binary_detector": "river.drift.binary.DDM(x=1)"})
    proc = subprocess.run(
        [sys.executable, "-c", "from streams.cli import main; main()", "drift"],
        env={"LINEWATCH_DRIFT__DETECTOR": "river.drift.Nope", "PATH": ""},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    errors = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith("error: LINEWATCH_DRIFT__DETECTOR=")
    assert "is invalid: there is no" in errors[0]


def test_monitor_runs_any_river_detector_and_names_it() -> None:
    reference = ReferenceProfile.fit(_rows(np.random.default_rng(0), 3000))
    settings = Settings(
        drift={
            "detector": "river.drift.PageHinkley(threshold=25.0, min_instances=50)",
            "binary_detector": "river.drift.binary.DDM()",
        }
    )
    monitor = DriftMonitor(reference, settings)
    rng = np.random.default_rng(1)
    rows = list(_rows(rng, 600)) + list(_rows(rng, 400, brightness_shift=3.0))
    events = []
    for i, row in enumerate(rows):
        for rec in monitor.observe(KEY, f"ev-{i}", T0 + timedelta(seconds=i), row):
            if isinstance(rec, DriftEventRecord) and rec.signal == "brightness" and i >= 600:
                events.append(rec)
    assert events, "PageHinkley missed a 3-sd brightness shift"
    first = events[0]
    assert first.detector == "PageHinkley"
    assert first.detector_params.startswith("river.drift.PageHinkley(alpha=0.9999")
    assert "threshold=25" in first.detector_params and first.threshold == 25.0
    assert math.isnan(first.before_mean)  # River's detectors do not report a baseline
    # River detectors have no typed state: a restore keeps slices, restarts the detectors
    restored = DriftMonitor.restore(monitor.snapshot(), reference, settings)
    assert restored.slices() == [KEY]
