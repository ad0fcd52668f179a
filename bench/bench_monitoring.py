"""Per-frame cost of image statistics + slice assignment + drift monitoring (all signals).

Run: ``.venv/bin/python bench/bench_monitoring.py``. Prints milliseconds of CPU time per frame
(``time.process_time``, best of 3, so other jobs on a shared machine do not count; never
asserts: timings depend on the machine). Store writes are not included.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np

from schemas.events import CameraEvent
from schemas.results import Detection
from streams.config import Settings
from streams.drift import DriftMonitor, ReferenceProfile, frame_signals
from streams.drift.detectors import GaussianCusum
from streams.features import CameraHealth, compute_image_stats
from streams.slicing import Slicer

__all__ = ["main"]


def _best_per_call(fn: Callable[[int], object], n: int, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        t = time.process_time()
        for i in range(n):
            fn(i)
        best = min(best, (time.process_time() - t) / n)
    return best * 1e3


def main() -> None:
    """Measure and print the per-frame costs (ms)."""
    rng = np.random.default_rng(0)
    frames = [
        np.clip(rng.normal(128, 40, size=(240, 320, 3)), 0, 255).astype(np.uint8) for _ in range(16)
    ]
    settings = Settings(plant={"timezone": "Europe/Berlin"})
    slicer = Slicer(settings)
    t0 = datetime(2026, 3, 2, 5, 0, tzinfo=UTC)
    events = [
        CameraEvent.model_validate(
            {
                "event_id": str(uuid.UUID(int=i + 1)),
                "camera_id": "cam-1",
                "line_id": f"line-{1 + i % 3}",
                "captured_at": (t0 + timedelta(seconds=i)).isoformat(),
                "image": {"encoding": "jpeg", "data": "/9j/"},
            }
        )
        for i in range(64)
    ]
    dets = [
        [Detection(class_name="dent", confidence=float(c), box=(0, 0, 5, 5))]
        for c in (0.1, 0.3, 0.8)
    ]
    stats = [compute_image_stats(f) for f in frames]
    health = CameraHealth()

    def camera(i: int) -> dict[str, float | None]:
        s = stats[i % 16]
        return health.observe(
            f"cam-{i % 4}", frames[i % 16], sharpness=s.sharpness, contrast=s.contrast
        )

    def with_camera(i: int) -> dict[str, float]:
        out = frame_signals(stats[i % 16], dets[i % 3], 0.6, settings.inference.review_band)
        out.update({k: v for k, v in camera(i).items() if v is not None})
        return out

    for i in range(8):
        camera(i)  # every camera has a previous frame
    lab = [with_camera(i) for i in range(64)]
    reference = ReferenceProfile.fit(lab * 20)
    monitor = DriftMonitor(reference, settings)
    n = 3000

    stats_ms = _best_per_call(lambda i: compute_image_stats(frames[i % 16]), n)
    slice_ms = _best_per_call(lambda i: slicer.assign(events[i % 64], stats[i % 16]), n)
    signals_ms = _best_per_call(
        lambda i: frame_signals(stats[i % 16], dets[i % 3], 0.6, settings.inference.review_band), n
    )
    camera_ms = _best_per_call(camera, n)
    signals = [with_camera(i) for i in range(64)]
    keys = [slicer.assign(events[i % 64], stats[i % 16]) for i in range(64)]

    def drift(i: int) -> None:
        monitor.observe(keys[i % 64], f"e{i}", t0 + timedelta(seconds=i), signals[i % 64])

    # warm the slices past their warm-up so the CUSUMs are running
    for i in range(2000):
        drift(i)
    drift_ms = _best_per_call(lambda i: drift(i + 2000), n)

    det = GaussianCusum()
    xs = rng.standard_normal(n).tolist()
    cusum_us = _best_per_call(lambda i: det.update(xs[i]), n) * 1e3
    try:
        from river.drift import PageHinkley

        ph_update: Callable[[float], None] = PageHinkley().update
        ph_us = _best_per_call(lambda i: ph_update(xs[i]), n) * 1e3
    except ImportError:  # pragma: no cover
        ph_us = float("nan")

    total = stats_ms + slice_ms + signals_ms + camera_ms + drift_ms
    print(f"image statistics (320x240):        {stats_ms:.4f} ms/frame")
    print(f"camera health (320x240):           {camera_ms:.4f} ms/frame")
    print(f"slice assignment:                  {slice_ms:.4f} ms/frame")
    print(f"frame_signals:                     {signals_ms:.4f} ms/frame")
    print(f"drift monitor ({len(signals[0])} signals + mix): {drift_ms:.4f} ms/frame")
    print(f"total stats+slice+signals+camera+drift: {total:.4f} ms/frame  (budget 0.5)")
    print(
        f"GaussianCusum.update:              {cusum_us:.2f} us;  river PageHinkley: {ph_us:.2f} us"
    )


if __name__ == "__main__":
    main()
