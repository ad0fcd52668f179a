"""The lab reference: per-signal distribution of the split the model was evaluated on.

>>> rows = [{"brightness": 0.4 + 0.01 * (i % 21)} for i in range(2000)]
>>> ref = ReferenceProfile.fit(rows)
>>> round(ref.psi("brightness", [r["brightness"] for r in rows]), 6)
0.0
>>> ReferenceProfile.from_json(ref.to_json()) == ref
True
>>> lab = ReferenceProfile.fit(rows, lab_set="bench")
>>> ReferenceProfile.from_json(lab.to_json()).lab_set, lab.fingerprint() != ref.fingerprint()
('bench', True)
"""

from __future__ import annotations

import json
import math
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from streams.errors import ConfigError

__all__ = ["PSI_EPSILON", "ReferenceProfile", "SignalReference"]

PSI_EPSILON = 1e-4
"""Smoothing of bin proportions in PSI: every proportion is at least this (then renormalised)."""

_FORMAT = "linewatch.reference/1"


@dataclass(frozen=True, slots=True)
class SignalReference:
    """One signal's reference distribution."""

    n: int
    mean: float
    std: float
    edges: tuple[float, ...]
    proportions: tuple[float, ...]
    quantiles: tuple[float, ...]
    """The 1st..99th percentiles: the 1st and 99th bound the lab range of the drift monitor's
    ``outside_lab_range`` gap; all of them give the scale of a variance-stabilised signal and
    the quantile function of a randomised-PIT one (:mod:`streams.drift.signals`), and are what
    ``linewatch drift calibrate`` bootstraps from; :meth:`ReferenceProfile.ks` reads them too."""


def _std_floor(mean: float) -> float:
    return 1e-3 * max(1.0, abs(mean))


def _smooth(props: Sequence[float]) -> list[float]:
    p = [max(x, PSI_EPSILON) for x in props]
    total = sum(p)
    return [x / total for x in p]


def _fit_signal(values: np.ndarray, bins: int) -> SignalReference:
    mean = float(values.mean())
    std = max(float(values.std(ddof=1)) if values.size > 1 else 0.0, _std_floor(mean))
    uniq = np.unique(values)
    if uniq.size <= bins:  # discrete signal: one bin per value, edges at the midpoints
        edges = ((uniq[:-1] + uniq[1:]) / 2.0).tolist()
    else:
        qs = np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1])
        edges = np.unique(qs).tolist()
    idx = np.searchsorted(np.asarray(edges), values, side="right")
    counts = np.bincount(idx, minlength=len(edges) + 1)
    props = (counts / values.size).tolist()
    quantiles = np.quantile(values, np.linspace(0.01, 0.99, 99)).tolist()
    return SignalReference(
        n=int(values.size),
        mean=mean,
        std=std,
        edges=tuple(float(e) for e in edges),
        proportions=tuple(float(p) for p in props),
        quantiles=tuple(float(q) for q in quantiles),
    )


@dataclass(frozen=True, slots=True)
class ReferenceProfile:
    """Per-signal mean, std (floored above zero), quantile bins with proportions.

    ``lab_set`` names the imported lab set the profile was fitted on (empty: lab events, e.g.
    the simulated lab); it is written to the JSON only when set.
    """

    signals: Mapping[str, SignalReference] = field(default_factory=dict)
    lab_set: str = ""

    @classmethod
    def fit(
        cls, rows: Iterable[Mapping[str, float]], bins: int = 10, *, lab_set: str = ""
    ) -> ReferenceProfile:
        """Fit from the lab split's per-frame signals (e.g. rows of :func:`frame_signals`)."""
        columns: dict[str, list[float]] = {}
        for row in rows:
            for name, value in row.items():
                if value is not None and not math.isnan(value):
                    columns.setdefault(name, []).append(float(value))
        if not columns:
            raise ConfigError("cannot fit a reference profile from no rows; pass the lab split")
        signals = {name: _fit_signal(np.asarray(v), bins) for name, v in columns.items()}
        return cls(signals, lab_set)

    def __getitem__(self, signal: str) -> SignalReference:
        try:
            return self.signals[signal]
        except KeyError:
            raise ConfigError(
                f"the reference profile has no signal {signal!r}; refit it with that signal"
            ) from None

    def standardise(self, signal: str, x: float) -> float:
        """``(x - mean) / std`` of the reference."""
        ref = self[signal]
        return (x - ref.mean) / ref.std

    def psi_counts(self, signal: str, counts: Sequence[int]) -> float:
        """Population stability index of a window given as counts per reference bin."""
        total = sum(counts)
        if total == 0:
            return 0.0
        q = _smooth(self[signal].proportions)
        p = _smooth([c / total for c in counts])
        return float(sum((pi - qi) * math.log(pi / qi) for pi, qi in zip(p, q, strict=True)))

    def psi(self, signal: str, values: Iterable[float]) -> float:
        """Population stability index of ``values`` against the reference (0 = identical).

        Rule of thumb: < 0.1 no shift, 0.1-0.25 moderate, > 0.25 large.
        """
        edges = self[signal].edges
        counts = [0] * (len(edges) + 1)
        for x in values:
            counts[bisect_right(edges, x)] += 1
        return self.psi_counts(signal, counts)

    def ks(self, signal: str, values: Iterable[float]) -> float:
        """Approximate Kolmogorov-Smirnov distance: the largest CDF gap at the reference's
        1st..99th percentiles (so it cannot see differences beyond the extreme percentiles)."""
        arr = np.sort(np.asarray(list(values), dtype=float))
        if arr.size == 0:
            return 0.0
        qs = np.asarray(self[signal].quantiles)
        window_cdf = np.searchsorted(arr, qs, side="right") / arr.size
        return float(np.max(np.abs(window_cdf - np.linspace(0.01, 0.99, 99))))

    def fingerprint(self) -> str:
        """A short hash of the profile, to check a snapshot belongs to this reference."""
        import hashlib

        return hashlib.blake2b(self.to_json().encode(), digest_size=8).hexdigest()

    def to_json(self) -> str:
        """Serialise (stable key order)."""
        data: dict[str, object] = {
            "format": _FORMAT,
            "signals": {
                name: {
                    "n": ref.n,
                    "mean": ref.mean,
                    "std": ref.std,
                    "edges": list(ref.edges),
                    "proportions": list(ref.proportions),
                    "quantiles": list(ref.quantiles),
                }
                for name, ref in self.signals.items()
            },
        }
        if self.lab_set:
            data["lab_set"] = self.lab_set
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ReferenceProfile:
        """Inverse of :meth:`to_json`."""
        try:
            data = json.loads(text)
            if data.get("format") != _FORMAT:
                raise ValueError(f"format is {data.get('format')!r}, expected {_FORMAT!r}")
            signals = {
                name: SignalReference(
                    n=int(v["n"]),
                    mean=float(v["mean"]),
                    std=float(v["std"]),
                    edges=tuple(float(e) for e in v["edges"]),
                    proportions=tuple(float(p) for p in v["proportions"]),
                    quantiles=tuple(float(q) for q in v["quantiles"]),
                )
                for name, v in data["signals"].items()
            }
            lab_set = str(data.get("lab_set", ""))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ConfigError(
                f"not a linewatch reference profile ({exc}); refit it from the lab split"
            ) from exc
        return cls(signals, lab_set)
