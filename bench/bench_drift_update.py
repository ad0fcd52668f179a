"""Per-frame CPU time of ``DriftMonitor.observe``: this tree against git revisions, side by side.

Run: ``.venv/bin/python bench/bench_drift_update.py [REV ...] [--frames N] [--rounds R]``, e.g.
``bench/bench_drift_update.py 455f0d3^`` (the monitor before the CUSUM arithmetic was shared).
Each revision's ``streams`` and ``schemas`` are taken with ``git archive`` into a temporary
directory and imported in this process after this tree's (``sys.modules`` cleared between
them); the rounds then alternate between the trees, each feeding the same frames (15 signals,
3 lines, 2 lighting buckets, 2 shifts; a brightness/sharpness/review-band shift halfway, NaNs and
missing signals now and then) to a fresh monitor, timed with ``time.process_time`` (the garbage
collector paused). Prints per tree the median and min over the rounds, its ratio to this tree,
and whether its drift events, gap records and final snapshot equal this tree's (detector labels
compared without the module path: they resolve the class through the last ``streams.drift``
imported). Never asserts.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["main"]

ROOT = Path(__file__).resolve().parent.parent
T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)


def _rows(rng: np.random.Generator, n: int, shift: float = 0.0) -> list[dict[str, float]]:
    out = []
    for _ in range(n):
        defect = rng.random() < 0.03
        out.append(
            {
                "brightness": 0.5 + 0.05 * (rng.standard_normal() + shift),
                "contrast": 0.2 + 0.02 * rng.standard_normal(),
                "sharpness": 0.1 + 0.01 * (rng.standard_normal() - shift),
                "colour_cast": 0.01 * rng.standard_normal(),
                "est_colour_temp_k": 6500 + 200 * rng.standard_normal(),
                "clipped_high": max(0.0, 0.01 * rng.standard_normal()),
                "clipped_low": 0.0,
                "max_confidence": 0.85 + 0.05 * rng.random() if defect else 0.05 * rng.random(),
                "detections_per_frame": float(rng.integers(1, 3)) if defect else 0.0,
                "predicted_defective": 1.0 if defect else 0.0,
                "review_band": 1.0 if rng.random() < 0.05 + 0.1 * (shift > 0) else 0.0,
                "frame_change": 0.02 + 0.005 * rng.standard_normal(),
                "repeated_frame": 1.0 if rng.random() < 0.01 else 0.0,
                "static_share": max(0.0, 0.05 + 0.02 * rng.standard_normal()),
                "detail_ratio": 0.5 + 0.05 * rng.standard_normal(),
            }
        )
    return out


def _frames(n: int) -> list[tuple[tuple[str, str, str], str, datetime, dict[str, float]]]:
    rng = np.random.default_rng(11)
    data = _rows(rng, n // 2) + _rows(rng, n - n // 2, shift=1.2)
    out = []
    for i, row in enumerate(data):
        lighting = "dim" if rng.random() < (0.1 if i < n * 0.6 else 0.5) else "normal"
        shift = "day" if (i // 4000) % 2 == 0 else "night"
        signals = dict(row, contrast=float("nan")) if i % 97 == 0 else row
        if i % 89 == 0:
            signals = {k: v for k, v in signals.items() if k != "colour_cast"}
        key = (f"line-{1 + i % 3}", lighting, shift)
        out.append((key, f"ev-{i}", T0 + timedelta(seconds=i), signals))
    return out


def _load(tree: Path) -> tuple[Callable[..., Any], Any]:
    """(a fresh-monitor factory, SliceKey) of the tree's code, imported anew."""
    for name in list(sys.modules):
        if name.split(".")[0] in {"streams", "schemas"}:
            del sys.modules[name]
    sys.path.insert(0, str(tree))
    try:
        drift = importlib.import_module("streams.drift")
        config = importlib.import_module("streams.config")
        slice_key = importlib.import_module("streams.slicing").SliceKey
        reference = drift.ReferenceProfile.fit(_rows(np.random.default_rng(0), 5000))
        settings = config.Settings(drift={"gap_window_events": 200})
    finally:
        sys.path.remove(str(tree))
    return (lambda: drift.DriftMonitor(reference, settings)), slice_key


def _archive(rev: str, into: Path) -> Path:
    data = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "streams", "schemas"],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=BytesIO(data)) as tar:
        tar.extractall(into, filter="data")
    return into


def _run(make: Callable[..., Any], frames: list[Any]) -> tuple[float, list[str], str]:
    monitor = make()
    observe = monitor.observe
    got = []
    gc.collect()
    gc.disable()  # the collector's pauses depend on what the other trees left alive
    t = time.process_time()
    for key, event_id, at, signals in frames:
        got.append(observe(key, event_id, at, signals))
    spent = (time.process_time() - t) / len(frames) * 1e6
    gc.enable()
    records = [r.model_dump_json() for batch in got for r in batch]
    snapshot = json.dumps(json.loads(monitor.snapshot()), sort_keys=True)
    return spent, records, snapshot


def _unlabelled(texts: list[str]) -> list[str]:
    return [t.replace("streams.drift.detectors.", "streams.drift.") for t in texts]


def main() -> None:
    """Measure and print (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("revs", nargs="*", help="git revisions to compare with this tree")
    parser.add_argument("--frames", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        trees = [("this tree", ROOT)]
        trees += [(rev, _archive(rev, Path(tmp) / f"rev{i}")) for i, rev in enumerate(args.revs)]
        loaded = {name: _load(path) for name, path in trees}
        plain = _frames(args.frames)
        frames = {
            name: [(slice_key(*k), e, at, s) for k, e, at, s in plain]
            for name, (_make, slice_key) in loaded.items()
        }
        times: dict[str, list[float]] = {name: [] for name, _ in trees}
        outputs: dict[str, tuple[list[str], str]] = {}
        for r in range(args.rounds):
            for name, _ in trees if r % 2 == 0 else trees[::-1]:
                spent, records, snapshot = _run(loaded[name][0], frames[name])
                times[name].append(spent)
                outputs.setdefault(name, (_unlabelled(records), _unlabelled([snapshot])[0]))
    base = statistics.median(times["this tree"])
    for name, _ in trees:
        median = statistics.median(times[name])
        same = outputs[name] == outputs["this tree"]
        print(
            f"{name:>12}: median {median:6.2f} us/frame CPU (min {min(times[name]):6.2f}), "
            f"{median / base:.3f}x this tree; events, gaps and snapshot identical: {same}"
        )


if __name__ == "__main__":
    main()
