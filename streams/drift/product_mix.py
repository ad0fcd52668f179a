"""Product-variant mix: per line and shift, one binary detector per variant watching its share.

A new product variant on a line (or one that stops) changes what the model sees without any
lighting or camera change; the drift events it raises have signal ``product_mix`` and lighting
``*`` (they concern the whole line-shift, like the lighting mix), and their cause is ``product``
(:mod:`streams.drift.cause`). Each detector is a clone of the line's binary prototype
(:class:`streams.drift.line_detectors.LinePrototypes`), so it has the same calibrated
threshold as every other binary detector of that line. A variant seen for the first time gets a
fresh detector (it learns its share during warm-up); the variants it displaces see their share
fall and alarm. Frames without a variant are not counted.

State is bounded: at most ``max_variants`` variants per line-shift (the least recently seen is
dropped) and ``max_groups`` line-shifts. It is part of the partition's snapshot
(:meth:`ProductMixWatch.snapshot`, :class:`~streams.drift.state.ProductMixSnapshot`): after a
worker restart or a rebalance the detectors continue where they stopped.

>>> from datetime import UTC, datetime, timedelta
>>> from streams.drift.detectors import BernoulliCusum
>>> watch = ProductMixWatch(lambda line: BernoulliCusum(h=8.0, warmup=30))
>>> t = datetime(2026, 1, 1, tzinfo=UTC)
>>> for i in range(400):
...     _ = watch.observe("line-1", "day", "bracket-a" if i % 2 else "bracket-b", f"e{i}", t)
>>> alarms = []
>>> for i in range(400, 600):
...     alarms += watch.observe("line-1", "day", "housing-c", f"e{i}", t + timedelta(seconds=i))
>>> sorted({a.detector.split(":")[0] for a in alarms})
['bernoulli-cusum[bracket-a]', 'bernoulli-cusum[bracket-b]']
>>> {a.signal for a in alarms}, {a.cause for a in alarms}
({'product_mix'}, {'product'})
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime

from river import base

from schemas.records import DriftEventRecord
from streams.drift.events import MIX_MARKER, drift_event
from streams.drift.line_detectors import load_detector, snapshot_detector
from streams.drift.spec import detector_label
from streams.drift.state import ProductMixSnapshot
from streams.slicing import SliceKey

__all__ = ["PRODUCT_MIX_SIGNAL", "ProductMixWatch"]

PRODUCT_MIX_SIGNAL = "product_mix"
"""Signal of product-variant mix drift events."""


Detector = base.DriftDetector | base.BinaryDriftDetector
"""A line's binary prototype, as :class:`~streams.drift.line_detectors.LineDetectors` types it."""


class _Group:
    __slots__ = ("detectors", "events")

    def __init__(self) -> None:
        self.detectors: OrderedDict[str, Detector] = OrderedDict()
        self.events = 0


class ProductMixWatch:
    """Watches the product-variant shares of every line and shift."""

    def __init__(
        self,
        prototype_of: Callable[[str], Detector],
        *,
        max_variants: int = 16,
        max_groups: int = 10_000,
    ) -> None:
        self._prototype_of = prototype_of
        self._max_variants = max_variants
        self._max_groups = max_groups
        self._groups: OrderedDict[tuple[str, str], _Group] = OrderedDict()

    def observe(
        self,
        line_id: str,
        shift: str,
        variant: str | None,
        event_id: str,
        captured_at: datetime,
    ) -> list[DriftEventRecord]:
        """Count one frame of ``variant``; return the mix alarms it raised."""
        if not variant:
            return []
        key = (line_id, shift)
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = _Group()
            if len(self._groups) > self._max_groups:
                self._groups.popitem(last=False)
        else:
            self._groups.move_to_end(key)
        if variant not in group.detectors:
            group.detectors[variant] = self._prototype_of(line_id).clone()
            if len(group.detectors) > self._max_variants:
                group.detectors.popitem(last=False)
        group.detectors.move_to_end(variant)
        group.events += 1
        out: list[DriftEventRecord] = []
        mix_key = SliceKey(line_id, MIX_MARKER, shift)
        for name, det in group.detectors.items():
            det.update(name == variant)
            if det.drift_detected:
                out.append(
                    drift_event(
                        mix_key,
                        PRODUCT_MIX_SIGNAL,
                        det,
                        event_id=event_id,
                        captured_at=captured_at,
                        events=group.events,
                        suffix=f"[{name}]",
                    )
                )
        return out

    def snapshot(self) -> list[dict[str, object]]:
        """Every line-shift's detectors as plain dicts with :class:`ProductMixSnapshot`'s field
        names, least recently seen first (groups and variants alike)."""
        out: list[dict[str, object]] = []
        for (line_id, shift), group in self._groups.items():
            label = detector_label(self._prototype_of(line_id))
            variants = [
                {"variant": name, "detector": snapshot_detector(det, label)}
                for name, det in group.detectors.items()
            ]
            out.append(
                {"line_id": line_id, "shift": shift, "events": group.events, "variants": variants}
            )
        return out

    def load(self, groups: list[ProductMixSnapshot]) -> int:
        """Put :meth:`snapshot`'s state into this (fresh) watch; returns how many detectors
        start cold (their class or parameters changed, or River keeps no typed state)."""
        cold = 0
        for snap in groups:
            prototype = self._prototype_of(snap.line_id)
            label = detector_label(prototype)
            group = self._groups[(snap.line_id, snap.shift)] = _Group()
            group.events = snap.events
            for v in snap.variants:
                det = group.detectors[v.variant] = prototype.clone()
                cold += not load_detector(det, v.detector, label)
        return cold
