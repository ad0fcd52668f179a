"""Reference gap: every ``drift.gap_window_events`` events of a slice, its distance to the lab.

Each slice keeps one open :class:`GapWindow`: per signal, the frames in each of the reference's
quantile bins, their sum and how many fell outside the lab's 1st-99th percentile range.
:class:`ReferenceGaps` fills it frame by frame and, when it is full, closes it into two
:class:`~schemas.records.ReferenceGapRecord` per signal (``psi`` and ``outside_lab_range``) and
opens the next. A window is part of its slice's snapshot (:meth:`GapWindow.snapshot`, the
``counts`` .. ``gap_first`` fields of :class:`~streams.drift.state.SliceSnapshot`).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import NamedTuple

from schemas.records import ReferenceGapRecord, stable_id
from streams.drift.reference import ReferenceProfile
from streams.drift.state import SliceSnapshot
from streams.errors import ConfigError
from streams.slicing import SliceKey

__all__ = ["OUTSIDE_LAB_RANGE", "GapSignal", "GapWindow", "ReferenceGaps"]

OUTSIDE_LAB_RANGE = "outside_lab_range"
"""Gap metric: share of a window outside the lab's 1st-99th percentile range."""

_NONE: Sequence[ReferenceGapRecord] = ()


class GapSignal(NamedTuple):
    """One signal as the gap windows bin it: the lab's quantile edges and central range."""

    name: str
    edges: tuple[float, ...]
    low: float
    """The lab's 1st percentile."""
    high: float
    """The lab's 99th percentile."""


class GapWindow:
    """One slice's open window (its fields are :class:`SliceSnapshot`'s gap fields)."""

    __slots__ = ("counts", "first", "n", "outside", "start", "sums")

    def __init__(self, signals: Sequence[GapSignal], now: datetime) -> None:
        self.counts: list[list[int]] = [[0] * (len(s.edges) + 1) for s in signals]
        self.sums: list[float] = [0.0] * len(signals)
        self.outside: list[int] = [0] * len(signals)
        self.n = 0
        self.start = now
        self.first = ""

    def snapshot(self) -> dict[str, object]:
        """The window as plain dict fields of a :class:`SliceSnapshot`."""
        return {
            "counts": self.counts,
            "sums": self.sums,
            "outside": self.outside,
            "gap_n": self.n,
            "gap_start": self.start.isoformat(),
            "gap_first": self.first,
        }


class ReferenceGaps:
    """Fills and closes the gap windows of a monitor's slices against one lab reference."""

    def __init__(self, reference: ReferenceProfile, window_events: int) -> None:
        self._reference = reference
        self._size = window_events
        self.signals = [
            GapSignal(name, ref.edges, ref.quantiles[0], ref.quantiles[-1])
            for name, ref in reference.signals.items()
        ]

    def open(self, now: datetime) -> GapWindow:
        """An empty window."""
        return GapWindow(self.signals, now)

    def restore(self, snap: SliceSnapshot) -> GapWindow:
        """The window a slice's snapshot holds."""
        window = GapWindow(self.signals, snap.gap_start)
        if len(snap.counts) != len(window.counts):
            raise ConfigError("the drift snapshot does not match the reference's signals")
        window.counts, window.sums, window.outside = snap.counts, snap.sums, snap.outside
        window.n, window.first = snap.gap_n, snap.gap_first
        return window

    def add(
        self,
        key: SliceKey,
        window: GapWindow,
        event_id: str,
        captured_at: datetime,
        values: Sequence[float | None],
    ) -> Sequence[ReferenceGapRecord]:
        """Count one frame, its ``values`` in the order of :attr:`signals` (None or NaN: the
        signal is missing and skipped); the records of the window it fills."""
        if window.n == 0:
            window.start = captured_at
            window.first = event_id
        window.n += 1
        counts, sums, outside = window.counts, window.sums, window.outside
        for i, (x, (_name, edges, low, high)) in enumerate(zip(values, self.signals, strict=True)):
            if x is not None and x == x:  # noqa: PLR0124 - fast NaN test
                counts[i][bisect_right(edges, x)] += 1
                sums[i] += x
                if x < low or x > high:
                    outside[i] += 1
        if window.n >= self._size:
            return self._close(key, window, captured_at)
        return _NONE

    def _close(
        self, key: SliceKey, window: GapWindow, captured_at: datetime
    ) -> list[ReferenceGapRecord]:
        """Per signal, two distances of the closed window to the lab reference.

        ``psi``: population stability index over the reference's quantile bins (also large for
        a window *narrower* than the lab set); ``outside_lab_range``: the share of the window's
        frames outside the lab's 1st-99th percentile range — conditions the model was never
        evaluated in (about 0.02 for lab-like data).
        """
        out = []
        ref = self._reference
        for i, signal in enumerate(self.signals):
            name = signal.name
            counts = window.counts[i]
            total = sum(counts)
            if total:
                common = {
                    "line_id": key.line_id,
                    "shift": key.shift,
                    "lighting": key.lighting,
                    "signal": name,
                    "window_start": window.start.astimezone(UTC),
                    "window_end": captured_at.astimezone(UTC),
                    "window_events": total,
                    "reference_mean": ref[name].mean,
                    "window_mean": window.sums[i] / total,
                }
                for metric, distance in (
                    ("psi", ref.psi_counts(name, counts)),
                    (OUTSIDE_LAB_RANGE, window.outside[i] / total),
                ):
                    gap_id = stable_id(
                        key.line_id, key.lighting, key.shift, name, metric, window.first
                    )
                    out.append(
                        ReferenceGapRecord(
                            gap_id=gap_id, metric=metric, distance=distance, **common
                        )
                    )
            window.counts[i] = [0] * len(counts)
            window.sums[i] = 0.0
            window.outside[i] = 0
        window.n = 0
        return out
