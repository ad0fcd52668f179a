"""Lab reference profile: fit, PSI/KS, JSON, standardisation; and per-frame signals."""

from __future__ import annotations

import numpy as np
import pytest

from schemas.results import Detection
from streams.drift.reference import ReferenceProfile
from streams.drift.signals import (
    ALL_SIGNALS,
    CAMERA_SIGNALS,
    INPUT_SIGNALS,
    OUTPUT_SIGNALS,
    frame_signals,
)
from streams.errors import ConfigError
from streams.features import ImageStats


def _profile(seed: int = 0, n: int = 20_000) -> tuple[ReferenceProfile, np.ndarray]:
    rng = np.random.default_rng(seed)
    values = rng.normal(0.5, 0.05, n)
    binary = (rng.random(n) < 0.3).astype(float)
    rows = [{"brightness": float(v), "flag": float(b)} for v, b in zip(values, binary, strict=True)]
    return ReferenceProfile.fit(rows), values


def test_fit_moments_and_bins() -> None:
    ref, _ = _profile()
    b = ref["brightness"]
    assert b.mean == pytest.approx(0.5, abs=0.002)
    assert b.std == pytest.approx(0.05, rel=0.03)
    assert len(b.edges) == 9 and len(b.proportions) == 10
    assert all(p == pytest.approx(0.1, abs=0.002) for p in b.proportions)
    flag = ref["flag"]  # discrete: one bin per value
    assert flag.edges == (0.5,)
    assert flag.proportions[1] == pytest.approx(0.3, abs=0.01)
    assert ref.standardise("brightness", 0.55) == pytest.approx((0.55 - b.mean) / b.std)


def test_psi_identical_vs_shifted() -> None:
    ref, _ = _profile()
    rng = np.random.default_rng(99)
    same = rng.normal(0.5, 0.05, 5000)
    shifted = rng.normal(0.55, 0.05, 5000)  # +1 sd
    assert ref.psi("brightness", same) < 0.01
    assert ref.psi("brightness", shifted) > 0.25
    assert ref.psi("brightness", rng.normal(0.51, 0.05, 5000)) < ref.psi("brightness", shifted)
    assert ref.ks("brightness", same) < 0.03
    assert ref.ks("brightness", shifted) == pytest.approx(0.38, abs=0.04)  # Phi(.5)-Phi(-.5)
    assert ref.psi("brightness", []) == 0.0


def test_psi_is_finite_for_empty_bins() -> None:
    ref, _ = _profile()
    psi = ref.psi("brightness", [10.0] * 100)  # everything in the top bin
    assert np.isfinite(psi) and psi > 1.0
    assert ref.psi_counts("flag", [100, 0]) > 1.0


def test_std_is_floored_for_constant_signals() -> None:
    ref = ReferenceProfile.fit([{"clipped_low": 0.0}] * 100 + [{"k": 6500.0}] * 3)
    assert ref["clipped_low"].std > 0
    assert ref["k"].std == pytest.approx(6.5)


def test_json_round_trip_and_errors() -> None:
    ref, _ = _profile()
    again = ReferenceProfile.from_json(ref.to_json())
    assert again == ref and again.fingerprint() == ref.fingerprint()
    with pytest.raises(ConfigError, match="refit"):
        ReferenceProfile.from_json('{"format": "other"}')
    with pytest.raises(ConfigError, match="no signal"):
        ref["nope"]
    with pytest.raises(ConfigError, match="no rows"):
        ReferenceProfile.fit([])


def _stats() -> ImageStats:
    return ImageStats(0.5, 0.2, 0.1, 0.0, 6500.0, 0.01, 0.0)


def test_frame_signals() -> None:
    dets = [
        Detection(class_name="dent", confidence=0.7, box=(0, 0, 5, 5)),
        Detection(class_name="stain", confidence=0.6, box=(1, 1, 5, 5)),
        Detection(class_name="stain", confidence=0.2, box=(2, 2, 5, 5)),
    ]
    s = frame_signals(_stats(), dets, operating_threshold=0.6, review_band=(0.15, 0.5))
    assert tuple(s) == INPUT_SIGNALS + OUTPUT_SIGNALS
    assert ALL_SIGNALS == INPUT_SIGNALS + OUTPUT_SIGNALS + CAMERA_SIGNALS
    assert s["max_confidence"] == 0.7
    assert s["detections_per_frame"] == 2.0  # the 0.6 box counts (>= threshold)
    assert s["predicted_defective"] == 1.0
    assert s["review_band"] == 0.0
    assert s["clipped_high"] == 0.01
    empty = frame_signals(_stats(), [], operating_threshold=0.6, review_band=(0.15, 0.5))
    assert (empty["max_confidence"], empty["predicted_defective"], empty["review_band"]) == (
        0.0,
        0.0,
        0.0,
    )
    edge = [Detection(class_name="dent", confidence=0.5, box=(0, 0, 5, 5))]
    assert frame_signals(_stats(), edge, 0.6, (0.15, 0.5))["review_band"] == 0.0  # [low, high)
    edge = [Detection(class_name="dent", confidence=0.15, box=(0, 0, 5, 5))]
    assert frame_signals(_stats(), edge, 0.6, (0.15, 0.5))["review_band"] == 1.0
