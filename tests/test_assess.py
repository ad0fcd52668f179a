"""Corruptions, novel inputs and the corruption suite (determinism, failure modes, storage)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from schemas.results import Detection
from streams.assess import CORRUPTIONS, NOVEL_INPUTS, apply_corruption, conditions, evaluate_suite
from streams.assess.suite import SuiteResult, run_corruption_suite
from streams.config import Settings
from streams.sinks import ClickHouseStore


@dataclass(frozen=True)
class _Spec:
    name: str = "dark-spot"
    version: str = "test"
    operating_threshold: float = 0.5
    class_names: tuple[str, ...] | None = ("scratch", "dent", "stain")


class DarkSpotDetector:
    """A deterministic stand-in: one 'scratch' box around unusually dark pixels.

    Confidence grows with the dark area, so dimming, noise and blur move it the way a real
    detector's confidence moves; it exists to test the suite's bookkeeping, not a model.
    """

    spec = _Spec()

    def detect(self, frames: Sequence[NDArray[np.uint8]]) -> list[list[Detection]]:
        out: list[list[Detection]] = []
        for rgb in frames:
            grey = rgb.astype(np.float32).mean(axis=2)
            dark = grey < np.median(grey) - 45
            ys, xs = np.nonzero(dark)
            if ys.size < 5:
                out.append([])
                continue
            conf = float(min(1.0, ys.size / 400.0))
            box = (float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1))
            out.append([Detection(class_name="scratch", confidence=conf, box=box)])
        return out


@pytest.fixture(scope="module")
def frame() -> NDArray[np.uint8]:
    rgb, _ = NOVEL_INPUTS["novel_crack"](np.random.default_rng(7))
    return rgb


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_corruption_is_pure_and_deterministic(name: str, frame: NDArray[np.uint8]) -> None:
    before = frame.copy()
    a = apply_corruption(name, frame, 3, np.random.default_rng(1))
    b = apply_corruption(name, frame, 3, np.random.default_rng(1))
    assert np.array_equal(frame, before)
    assert np.array_equal(a, b)
    assert a.shape == frame.shape and a.dtype == np.uint8
    assert not np.array_equal(a, frame)


def _distance(a: NDArray[np.uint8], b: NDArray[np.uint8]) -> float:
    return float(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean())


@pytest.mark.parametrize("name", ["gaussian_noise", "blur", "contrast", "jpeg", "occlusion"])
def test_higher_severity_changes_more(name: str, frame: NDArray[np.uint8]) -> None:
    d = [
        _distance(apply_corruption(name, frame, s, np.random.default_rng(2)), frame)
        for s in (1, 3, 5)
    ]
    assert d[0] < d[1] < d[2]


def test_unknown_corruption_and_severity_are_refused(frame: NDArray[np.uint8]) -> None:
    with pytest.raises(ValueError, match="unknown corruption"):
        apply_corruption("rain", frame, 1, np.random.default_rng(0))
    with pytest.raises(ValueError, match="severity"):
        apply_corruption("blur", frame, 9, np.random.default_rng(0))


def test_novel_inputs() -> None:
    crack, objs = NOVEL_INPUTS["novel_crack"](np.random.default_rng(3))
    assert [o.class_name for o in objs] == ["crack"]
    belt, none = NOVEL_INPUTS["empty_belt"](np.random.default_rng(3))
    assert none == [] and belt.shape == crack.shape
    # no bright metal part on the empty belt
    assert belt.astype(np.float32).mean(axis=2).max() < crack.astype(np.float32).mean(axis=2).max()
    obj, none = NOVEL_INPUTS["foreign_object"](np.random.default_rng(3))
    assert none == [] and not np.array_equal(obj, belt)


def _comparable(result: SuiteResult) -> list[tuple[object, ...]]:
    return [tuple(r.model_dump().values()) for r in result.results]


def test_suite_is_deterministic_by_seed() -> None:
    def run(seed: int, batch_size: int = 32) -> SuiteResult:
        return evaluate_suite(
            DarkSpotDetector(),
            threshold=0.5,
            review_band=(0.15, 0.5),
            frames=6,
            severities=(1, 5),
            seed=seed,
            batch_size=batch_size,
        )

    a = run(seed=3)
    b = run(seed=3, batch_size=4)
    c = run(seed=4)
    assert _comparable(a) == _comparable(b)
    assert [r.model_dump() for r in a.frames] == [r.model_dump() for r in b.frames]
    assert a.run.run_id == b.run.run_id != c.run.run_id
    assert _comparable(a) != _comparable(c)
    conds = conditions((1, 5))
    assert len(a.results) == len(conds) == 1 + 2 * len(CORRUPTIONS) + len(NOVEL_INPUTS)
    for r in a.results:
        assert r.fail_safe + r.fail_silent <= r.frames
        assert r.recalled_objects <= r.defect_objects
        if r.kind == "novel":
            assert r.recall is None and r.frames == 2
            assert r.fail_safe + r.fail_silent == r.frames  # novel input is never "correct"


def test_failure_modes_of_a_blind_and_a_trigger_happy_model() -> None:
    class Blind(DarkSpotDetector):
        def detect(self, frames: Sequence[NDArray[np.uint8]]) -> list[list[Detection]]:
            return [[] for _ in frames]

    class Alarmist(DarkSpotDetector):
        def detect(self, frames: Sequence[NDArray[np.uint8]]) -> list[list[Detection]]:
            return [
                [Detection(class_name="dent", confidence=0.99, box=(0, 0, 5, 5))] for _ in frames
            ]

    def run(detector: DarkSpotDetector) -> SuiteResult:
        return evaluate_suite(
            detector, threshold=0.5, review_band=(0.15, 0.5), frames=6, severities=(1,), seed=1
        )

    blind = {r.corruption: r for r in run(Blind()).results}
    loud = {r.corruption: r for r in run(Alarmist()).results}
    for name in NOVEL_INPUTS:
        assert (blind[name].fail_safe, blind[name].fail_silent) == (2, 0)
        assert (loud[name].fail_safe, loud[name].fail_silent) == (0, 2)
    clean_blind, clean_loud = blind["clean"], loud["clean"]
    assert clean_blind.recall == 0.0 and clean_blind.fail_silent == 0
    assert clean_blind.fail_safe == clean_blind.defective_frames
    assert clean_loud.flagged_good_frames == clean_loud.good_frames
    assert clean_loud.fail_silent == clean_loud.frames  # wrong box on defects, alarms on good
    assert loud["novel_crack"].caught_frames == 2  # the unit is pulled, for the wrong reason


def test_suite_writes_tables_and_views(tmp_path: Path) -> None:
    settings = Settings(
        store={"dsn": f"chdb://{tmp_path / 'store'}"}, inference={"operating_threshold": 0.5}
    )
    with ClickHouseStore.open(settings.store.dsn) as store:
        res = run_corruption_suite(
            store,
            settings,
            detector=DarkSpotDetector(),
            frames=6,
            seed=2,
            severities=(2,),
        )
        n = store.query("SELECT count() FROM v_corruption_robustness").result_rows[0][0]
        assert n == len(res.results)
        (frames, tp, fn) = store.query("SELECT frames, tp, fn FROM v_lab_rates").result_rows[0]
        clean = next(r for r in res.results if r.corruption == "clean")
        assert frames == 6 and tp == clean.caught_frames and tp + fn == clean.defective_frames
        again = run_corruption_suite(
            store,
            settings,
            detector=DarkSpotDetector(),
            frames=6,
            seed=2,
            severities=(2,),
        )
        assert again.run.run_id == res.run.run_id
        total = store.query("SELECT count() FROM lab_eval").result_rows[0][0]
        assert total == len(res.frames)  # the repeat wrote nothing new
