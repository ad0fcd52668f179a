"""How many onnxruntime intra-op threads a detector gets by default: from the cores this process
may really use, not the cores the machine has.

The cores a process may use are the fewer of its CPU affinity (``sched_getaffinity``: taskset,
cpusets) and its cgroup CPU quota rounded up (``cpu.max`` in cgroup v2, ``cpu.cfs_quota_us`` /
``cpu.cfs_period_us`` in v1: a container's ``--cpus`` / a Kubernetes CPU limit). onnxruntime's own
default counts the machine's physical cores, so a pod limited to 2 CPUs on a 64-core node would
start 32 threads that the quota then throttles.

The pipeline decodes the next batch's JPEGs on a thread of its own and does its per-frame work
(statistics, drift, rows) between inferences, so the default leaves one of those cores to it:
``max(1, usable_cores() - 1)``. Measured on a 2-core machine (``python bench/bench_pipeline.py``,
CPU time): one intra-op thread costs less CPU per frame than two, whose second competes with the
decode thread. ``LINEWATCH_INFERENCE__THREADS`` overrides it.

``linewatch detect`` reads the same number as a *budget*: the threads its model may use in all,
which :func:`detect_threads` splits into intra-op threads x frames in the model at once. Frames
of a batch-1 graph are independent, so one intra-op thread per frame in flight wastes nothing on
splitting each operator across threads (``bench/bench_ultralytics.py``, docs/scaling.md).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DetectThreads",
    "cgroup_cpu_limit",
    "default_intra_op_threads",
    "detect_threads",
    "usable_cores",
]

_CGROUP_ROOT = Path("/sys/fs/cgroup")


def _v2_limit(root: Path, own: str) -> float | None:
    """The tightest ``cpu.max`` quota on the path from this process's cgroup up to the root."""
    limit: float | None = None
    here = (root / own.lstrip("/")).resolve()
    while True:
        try:
            quota, period = (root / here.relative_to(root) / "cpu.max").read_text().split()[:2]
        except (OSError, ValueError):
            quota, period = "max", "1"
        if quota != "max" and float(period) > 0:
            cpus = float(quota) / float(period)
            limit = cpus if limit is None else min(limit, cpus)
        if here == root or root not in here.parents:
            return limit
        here = here.parent


def _v1_limit(root: Path, own: str) -> float | None:
    folder = root / "cpu" / own.lstrip("/")
    try:
        quota = int((folder / "cpu.cfs_quota_us").read_text())
        period = int((folder / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return quota / period if quota > 0 and period > 0 else None


def cgroup_cpu_limit(root: Path = _CGROUP_ROOT, proc_cgroup: Path | None = None) -> float | None:
    """CPUs this process's cgroup may use (``2.5`` for a 250000/100000 quota); ``None``: no limit.

    Reads cgroup v2 (``0::/path``) and v1 (``N:cpu,...:/path``) entries of
    ``/proc/self/cgroup``; on a hybrid host the tighter of the two counts.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     root = Path(tmp); (root / "pod").mkdir()
    ...     _ = (root / "cpu.max").write_text("max 100000\\n")
    ...     _ = (root / "pod" / "cpu.max").write_text("250000 100000\\n")
    ...     own = root / "self"; _ = own.write_text("0::/pod\\n")
    ...     cgroup_cpu_limit(root, own)
    2.5
    """
    try:
        lines = (proc_cgroup or Path("/proc/self/cgroup")).read_text().splitlines()
    except OSError:
        lines = []
    limits: list[float] = []
    for line in lines:
        if line.count(":") < 2:
            continue
        _, controllers, own = line.split(":", 2)
        found = None
        if controllers == "":  # cgroup v2: the unified hierarchy
            found = _v2_limit(root, own)
        elif "cpu" in controllers.split(","):
            found = _v1_limit(root, own)
        if found is not None:
            limits.append(found)
    return min(limits) if limits else None


def usable_cores() -> int:
    """The cores this process may run on: its affinity, capped by its cgroup quota (rounded up)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        cores = os.cpu_count() or 1
    limit = cgroup_cpu_limit()
    if limit is not None:
        cores = min(cores, max(1, math.ceil(limit)))
    return max(1, cores)


def default_intra_op_threads() -> int:
    """``max(1, usable_cores() - 1)``: one core is left to the decode thread and the pipeline."""
    return max(1, usable_cores() - 1)


@dataclass(frozen=True, slots=True)
class DetectThreads:
    """How ``linewatch detect`` runs its model: ``intra_op`` onnxruntime threads per run and
    ``in_flight`` batches in the model at once (0: decode and model on the calling thread)."""

    intra_op: int
    in_flight: int


def detect_threads(budget: int, in_flight: int | None = None) -> DetectThreads:
    """Split ``budget`` model threads into intra-op threads x batches in flight.

    By default (``in_flight=None``) a budget of 1 runs decode and model on one thread, and a
    budget of N > 1 keeps N batches in the model at once, one intra-op thread each (the calling
    thread decodes the next batches meanwhile). A given ``in_flight`` k > 0 gets
    ``budget // k`` intra-op threads each (at least 1); ``in_flight=0`` gives the whole budget
    to one run at a time, decoded on the same thread.

    >>> detect_threads(1), detect_threads(4)
    (DetectThreads(intra_op=1, in_flight=0), DetectThreads(intra_op=1, in_flight=4))
    >>> detect_threads(2, in_flight=1), detect_threads(3, in_flight=0)
    (DetectThreads(intra_op=2, in_flight=1), DetectThreads(intra_op=3, in_flight=0))
    """
    if budget < 1:
        raise ValueError(f"the thread budget must be 1 or more, got {budget}")
    if in_flight is None:
        return DetectThreads(1, 0 if budget == 1 else budget)
    if in_flight < 0:
        raise ValueError(f"in_flight must be 0 or more, got {in_flight}")
    return DetectThreads(budget if in_flight == 0 else max(1, budget // in_flight), in_flight)
