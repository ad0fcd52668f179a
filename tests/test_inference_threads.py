"""The default intra-op thread count comes from the cores the process may use (cgroup quota and
CPU affinity), less one for the decode thread."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from streams.inference import Detector
from streams.inference import threads as threads_mod
from streams.inference.threads import (
    cgroup_cpu_limit,
    default_intra_op_threads,
    detect_threads,
    usable_cores,
)


def _tree(tmp_path: Path, own: str, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    proc = tmp_path / "proc-self-cgroup"
    proc.write_text(own)
    return proc


def test_cgroup_v2_takes_the_tightest_quota_on_the_path(tmp_path: Path) -> None:
    proc = _tree(
        tmp_path,
        "0::/kubepods/pod1\n",
        {
            "cpu.max": "max 100000\n",
            "kubepods/cpu.max": "150000 100000\n",
            "kubepods/pod1/cpu.max": "400000 100000\n",
        },
    )
    assert cgroup_cpu_limit(tmp_path, proc) == 1.5


def test_cgroup_v1_quota_and_no_limit(tmp_path: Path) -> None:
    proc = _tree(
        tmp_path,
        "4:cpu,cpuacct:/docker/abc\n",
        {
            "cpu/docker/abc/cpu.cfs_quota_us": "50000\n",
            "cpu/docker/abc/cpu.cfs_period_us": "100000",
        },
    )
    assert cgroup_cpu_limit(tmp_path, proc) == 0.5
    unlimited = _tree(tmp_path / "u", "0::/\n", {"cpu.max": "max 100000\n"})
    assert cgroup_cpu_limit(tmp_path / "u", unlimited) is None


def test_usable_cores_is_capped_by_the_quota_and_the_default_leaves_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    affinity = len(os.sched_getaffinity(0))
    monkeypatch.setattr(threads_mod, "cgroup_cpu_limit", lambda: 0.3)
    assert usable_cores() == 1 and default_intra_op_threads() == 1
    monkeypatch.setattr(threads_mod, "cgroup_cpu_limit", lambda: None)
    assert usable_cores() == affinity
    assert default_intra_op_threads() == max(1, affinity - 1)


def test_detector_uses_the_default_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int | None] = []
    real = threads_mod.default_intra_op_threads
    import streams.inference.detector as detector_mod

    def spy() -> int:
        seen.append(real())
        return 1

    monkeypatch.setattr(detector_mod, "default_intra_op_threads", spy)
    Detector.load()
    assert len(seen) == 1
    Detector.load(intra_op_num_threads=2)
    assert len(seen) == 1  # an explicit count is not replaced


@pytest.mark.parametrize(
    ("budget", "in_flight", "split"),
    [
        (1, None, (1, 0)),  # one thread: decode and model on it
        (2, None, (1, 2)),  # the default: one intra-op thread per frame in flight
        (16, None, (1, 16)),
        (2, 1, (2, 1)),  # pure intra-op: one run at a time, decode overlapping it
        (8, 2, (4, 2)),
        (2, 3, (1, 3)),  # never under one intra-op thread
        (3, 0, (3, 0)),
    ],
)
def test_detect_threads_splits_the_budget(
    budget: int, in_flight: int | None, split: tuple[int, int]
) -> None:
    got = detect_threads(budget, in_flight)
    assert (got.intra_op, got.in_flight) == split


def test_detect_threads_refuses_an_empty_budget() -> None:
    with pytest.raises(ValueError, match="budget"):
        detect_threads(0)
    with pytest.raises(ValueError, match="in_flight"):
        detect_threads(2, -1)
