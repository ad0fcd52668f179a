"""linewatch's detectors are River detectors: River's own estimator checks pass on both."""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterator

import pytest
from river import base, checks, drift

from streams.drift.detectors import BernoulliCusum, GaussianCusum
from streams.drift.rate_cusum import RateCusum

ESTIMATOR_ONLY = {"check_tags"}
"""Checks of attributes only River *Estimators* have (``_tags``); River's detectors are not
Estimators and fail them too (see the last test)."""


def _models() -> Iterator[base.Base]:
    for cls in (GaussianCusum, BernoulliCusum, RateCusum):
        for params in cls._unit_test_params():
            yield cls(**params)
    # River's own detectors go through the same checks: the two sets must pass alike.
    yield drift.ADWIN()  # type: ignore[no-untyped-call]
    yield drift.PageHinkley()
    yield drift.binary.DDM()


def _checks() -> Iterator[tuple[base.Base, Callable[[base.Base], None]]]:
    for model in _models():
        # River's check_estimator (its skip hook exists on Estimators only). River has no
        # datasets for drift detectors; building that (empty) list needs scikit-learn,
        # which linewatch does not install, so the generator stops there.
        found = checks.yield_checks(model)  # type: ignore[arg-type]
        try:
            for check in found:
                if check.__name__ not in ESTIMATOR_ONLY:
                    yield model, check
        except ModuleNotFoundError as exc:
            assert exc.name == "sklearn", exc


@pytest.mark.parametrize(
    ("model", "check"),
    list(_checks()),
    ids=lambda v: v.__class__.__name__ if isinstance(v, base.Base) else v.__name__,
)
def test_river_estimator_checks(model: base.Base, check: Callable[[base.Base], None]) -> None:
    check(model.clone())


def test_all_of_rivers_general_checks_are_collected() -> None:
    names = {check.__name__ for _, check in _checks()}
    assert {"check_clone_is_idempotent", "check_repr_roundtrips_clone"} <= names
    assert "check_get_params_matches_signature" in names and len(names) >= 13
    with pytest.raises(AttributeError):
        # River's own detectors are not Estimators either
        checks.common.check_tags(drift.ADWIN())  # type: ignore[no-untyped-call]


@pytest.mark.parametrize("model", list(_models()), ids=lambda m: m.__class__.__name__)
def test_clone_is_independent(model: base.Base) -> None:
    # River's check_clone_is_independent is a dataset check (needs scikit-learn): the same
    # property here. Updating a clone leaves the original's state untouched, and the reverse.
    original = model.clone()
    binary = isinstance(original, base.BinaryDriftDetector)
    stream = [i % 2 for i in range(300)] if binary else [float(i % 7) for i in range(300)]
    before = pickle.dumps(original)
    twin = original.clone()
    for x in stream:
        twin.update(x)  # type: ignore[attr-defined]
    assert pickle.dumps(original) == before
    assert pickle.dumps(twin) != before
    for x in stream[:50]:
        original.update(x)  # type: ignore[attr-defined]
    assert pickle.dumps(original.clone()) == before


def test_river_base_types_and_read_only_flag() -> None:
    g, b = GaussianCusum(), BernoulliCusum()
    assert isinstance(g, base.DriftDetector) and isinstance(b, base.BinaryDriftDetector)
    with pytest.raises(AttributeError):
        g.drift_detected = True  # type: ignore[misc]
    assert g.h == pytest.approx(12.65, abs=0.01) and b.h == pytest.approx(14.51, abs=0.01)
    clone = GaussianCusum(k=1.0, h=7.0, warmup=12).clone()
    assert (clone.k, clone.h, clone.warmup) == (1.0, 7.0, 12)


def test_reset_after_alarm_and_state_roundtrip() -> None:
    det = GaussianCusum(h=3.0, warmup=10)
    for i in range(40):
        det.update(float(i % 2))
    twin = det.clone()
    twin.set_state(det.get_state())
    seq = [0.0, 1.0] * 5 + [9.0] * 5
    a, b = [], []
    for x in seq:
        det.update(x)
        twin.update(x)
        a.append(det.drift_detected)
        b.append(twin.drift_detected)
    assert a == b and any(a)
    det._reset()
    assert not det.drift_detected and det.n == 0
    bern = BernoulliCusum(h=3.0, warmup=10, min_count=1)
    for x in [True, False] * 10 + [True] * 20:
        bern.update(x)
        if bern.drift_detected:
            break
    assert bern.drift_detected and bern.direction == "up"
    bern.update(False)  # the next update starts a fresh baseline
    assert not bern.drift_detected and bern.n == 1
