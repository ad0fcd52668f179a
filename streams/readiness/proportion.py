"""A measured proportion with its sample count and 95 % Wilson interval.

>>> p = Proportion(3, 4)
>>> p.value, p.fmt()
(0.75, '75.0% [30.1–95.4] n=4')
>>> Proportion(0, 0).fmt()
'no data'
"""

from __future__ import annotations

from dataclasses import dataclass

from streams.readiness.stats import wilson_interval

__all__ = ["NO_DATA", "Proportion"]

NO_DATA = "no data"


@dataclass(frozen=True)
class Proportion:
    """``k`` of ``n``; ``value``/``lo``/``hi`` are ``None`` when ``n == 0`` (never 0 or NaN)."""

    k: int
    n: int

    @property
    def value(self) -> float | None:
        return None if self.n <= 0 else self.k / self.n

    @property
    def interval(self) -> tuple[float, float] | None:
        return wilson_interval(self.k, self.n)

    @property
    def lo(self) -> float | None:
        iv = self.interval
        return None if iv is None else iv[0]

    @property
    def hi(self) -> float | None:
        iv = self.interval
        return None if iv is None else iv[1]

    def __add__(self, other: Proportion) -> Proportion:
        return Proportion(self.k + other.k, self.n + other.n)

    def fmt(self, digits: int = 1) -> str:
        """``'12.5% [3.5–36.0] n=8'``, or ``'no data'``."""
        if self.n <= 0:
            return NO_DATA
        lo, hi = self.interval or (0.0, 0.0)
        v = self.k / self.n
        return f"{100 * v:.{digits}f}% [{100 * lo:.{digits}f}–{100 * hi:.{digits}f}] n={self.n}"

    def as_dict(self) -> dict[str, float | int | None]:
        """For JSON: value, interval, counts (``value`` null when there is no data)."""
        return {"value": self.value, "lo": self.lo, "hi": self.hi, "k": self.k, "n": self.n}
