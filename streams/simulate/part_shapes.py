"""The outlines of the simulated parts (``bracket-a``, ``plate-b``): masks in part coordinates."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

__all__ = ["erode", "part_mask"]

F32 = npt.NDArray[np.float32]


def _rounded_rect(u: F32, v: F32, a: float, b: float, r: float) -> npt.NDArray[np.bool_]:
    au, av = np.abs(u), np.abs(v)
    inside = (au <= a) & (av <= b)
    cu = np.maximum(au - (a - r), 0.0)
    cv = np.maximum(av - (b - r), 0.0)
    return inside & (cu * cu + cv * cv <= r * r)  # type: ignore[no-any-return]


def _holes(u: F32, v: F32, centres: Sequence[tuple[float, float, float]]) -> npt.NDArray[np.bool_]:
    out = np.zeros(u.shape, dtype=bool)
    for hu, hv, hr in centres:
        out |= (u - hu) ** 2 + (v - hv) ** 2 <= hr * hr
    return out


def part_mask(variant: str, u: F32, v: F32) -> npt.NDArray[np.bool_]:
    """The part ``variant`` at the part-centred coordinates ``u``, ``v`` (pixels, rotated)."""
    if variant == "plate-b":
        body = _rounded_rect(u, v, 76.0, 50.0, 11.0)
        slot = _rounded_rect(u, v, 20.0, 4.5, 4.5)
        holes = _holes(u, v, [(-60, -34, 5.5), (60, -34, 5.5), (-60, 34, 5.5), (60, 34, 5.5)])
        return body & ~slot & ~holes
    arm1 = _rounded_rect(u + 0.0, v + 28.0, 74.0, 21.0, 5.0)
    arm2 = _rounded_rect(u + 54.0, v - 0.0, 21.0, 49.0, 5.0)
    holes = _holes(u, v, [(28, -28, 6.5), (56, -28, 6.5), (-54, 26, 6.5)])
    return (arm1 | arm2) & ~holes


def erode(mask: npt.NDArray[np.bool_], px: int) -> npt.NDArray[np.bool_]:
    """``mask`` shrunk by ``px`` pixels on each side (a cross-shaped erosion)."""
    out = mask.copy()
    out[px:] &= mask[:-px]
    out[:-px] &= mask[px:]
    out[:, px:] &= mask[:, :-px]
    out[:, :-px] &= mask[:, px:]
    return out
