"""Scene conditions: lighting by shift and time of day, lamp ageing, glare, camera noise.

The camera has a fixed exposure and a fixed white balance (5000 K), so the rendered frame gets
darker with lower illuminance and takes a colour cast when the colour temperature moves away
from 5000 K. ``lux`` and ``colour_temp_k`` are the *true* values; the sensor readings emitted in
events add a small measurement noise on top.

>>> import numpy as np
>>> c = lab_conditions(np.random.default_rng(0), line_id="line-1", shift="day")
>>> 520 <= c.lux <= 800 and 4500 <= c.colour_temp_k <= 6000
True
>>> kelvin_to_rgb_gain(5000.0)
(1.0, 1.0, 1.0)
>>> r, g, b = kelvin_to_rgb_gain(3000.0); r > 1.0 > b
True
>>> from datetime import UTC
>>> shift_of(datetime(2026, 11, 29, 23, 30, tzinfo=UTC))
'night'
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Literal

import numpy as np

__all__ = [
    "DAYLIGHT",
    "GLARE_PROBABILITY",
    "LAB_COLOUR_TEMP_K",
    "LAB_KELVIN_RANGE",
    "LAB_LUX",
    "LAB_LUX_RANGE",
    "SHIFTS",
    "Glare",
    "SceneConditions",
    "exposure_gain",
    "kelvin_to_rgb_gain",
    "lab_conditions",
    "line_ageing",
    "noise_sigma",
    "production_conditions",
    "shift_of",
]

Split = Literal["lab", "production"]

LAB_LUX = 650.0
"""Illuminance of the lab light box, and the lux at which the camera exposure was set."""
LAB_COLOUR_TEMP_K = 5000.0
"""Colour temperature of the lab light box, and the camera's fixed white balance."""
LAB_LUX_RANGE = (520.0, 800.0)
"""Illuminance settings of the lab light box across the evaluation set."""
LAB_KELVIN_RANGE = (4500.0, 6000.0)
"""Colour-temperature settings of the lab light box across the evaluation set."""

DAYLIGHT: dict[str, tuple[float, float]] = {"day": (220.0, 6000.0), "evening": (60.0, 4600.0)}
"""Skylight contribution per shift: (lux, kelvin). Constant within a shift: the roof glazing is
diffusing, so the hall's light changes at shift boundaries (lamp banks switch), not by the hour."""
GLARE_PROBABILITY = {"day": 0.06}
"""Chance of a glare patch (low sun through the side windows) per frame, per shift."""

SHIFTS: tuple[tuple[str, int], ...] = (("day", 6), ("evening", 14), ("night", 22))
"""Shift names and their local start hours (the defaults of ``Settings.shifts``)."""

_EXPOSURE = 1.08
_GAMMA = 0.8


@dataclass(frozen=True, slots=True)
class Glare:
    """An additive bright patch (sun through a window, a reflection of a lamp)."""

    x: float
    y: float
    rx: float
    ry: float
    strength: float


@dataclass(frozen=True, slots=True)
class SceneConditions:
    """Everything about a frame's capture except the part and its defects."""

    split: Split
    line_id: str
    shift: str
    lux: float
    colour_temp_k: float
    sensor_lux: float
    sensor_colour_temp_k: float
    lamp_ageing: float = 1.0
    failing_lamp: bool = False
    glare: tuple[Glare, ...] = field(default_factory=tuple)
    blur: float = 0.35
    """Weight of a [1, 2, 1] blur (0 = sharp, 1 = full 3-tap blur)."""

    @property
    def gain(self) -> float:
        """Exposure gain applied to scene reflectance."""
        return exposure_gain(self.lux)

    @property
    def noise(self) -> float:
        """Camera noise standard deviation in 0..1 pixel units."""
        return noise_sigma(self.lux)

    def as_dict(self) -> dict[str, object]:
        """JSON-friendly view, for logs and tests."""
        return {
            "split": self.split,
            "line_id": self.line_id,
            "shift": self.shift,
            "lux": round(self.lux, 1),
            "colour_temp_k": round(self.colour_temp_k),
            "lamp_ageing": round(self.lamp_ageing, 4),
            "failing_lamp": self.failing_lamp,
            "glare": len(self.glare),
        }


def exposure_gain(lux: float) -> float:
    """Fixed-exposure camera: pixel values scale like ``lux ** 0.8`` (1.08 at lab lux).

    >>> round(exposure_gain(LAB_LUX), 2)
    1.08
    """
    return float(_EXPOSURE * (max(lux, 1.0) / LAB_LUX) ** _GAMMA)


def noise_sigma(lux: float) -> float:
    """Sensor noise: a read-noise floor plus shot noise that grows as the scene gets darker."""
    return 0.006 + 0.010 * math.sqrt(LAB_LUX / max(lux, 1.0))


def _kelvin_rgb(kelvin: float) -> tuple[float, float, float]:
    # Tanner Helland's fit of the blackbody colour, in 0..1.
    t = kelvin / 100.0
    if t <= 66:
        r = 1.0
        g = (99.4708025861 * math.log(t) - 161.1195681661) / 255.0
    else:
        r = 329.698727446 * (t - 60) ** -0.1332047592 / 255.0
        g = 288.1221695283 * (t - 60) ** -0.0755148492 / 255.0
    if t >= 66:
        b = 1.0
    elif t <= 19:
        b = 0.0
    else:
        b = (138.5177312231 * math.log(t - 10) - 305.0447927307) / 255.0
    return (min(max(r, 0.0), 1.0), min(max(g, 0.0), 1.0), min(max(b, 0.0), 1.0))


def kelvin_to_rgb_gain(kelvin: float) -> tuple[float, float, float]:
    """Per-channel gain of light at ``kelvin`` seen by a camera white-balanced at 5000 K.

    Normalised to keep the luma constant, so only the colour changes, not the brightness.
    """
    r, g, b = _kelvin_rgb(kelvin)
    r0, g0, b0 = _kelvin_rgb(LAB_COLOUR_TEMP_K)
    gr, gg, gb = r / r0, g / g0, b / b0
    luma = 0.299 * gr + 0.587 * gg + 0.114 * gb
    return (round(gr / luma, 6), round(gg / luma, 6), round(gb / luma, 6))


def shift_of(local: datetime) -> str:
    """The shift of a local wall-clock time, per :data:`SHIFTS`."""
    hour = local.hour + local.minute / 60.0
    name = SHIFTS[-1][0]  # before the first start: the previous day's last shift
    for shift_name, start in SHIFTS:
        if hour >= start:
            name = shift_name
    return name


def _sensor(rng: np.random.Generator, lux: float, kelvin: float) -> tuple[float, float]:
    sensor_lux = round(max(lux * (1.0 + 0.015 * float(rng.standard_normal())), 0.0), 1)
    sensor_k = float(round(kelvin + 40.0 * float(rng.standard_normal())))
    return sensor_lux, min(max(sensor_k, 1000.0), 20_000.0)


def lab_conditions(rng: np.random.Generator, *, line_id: str, shift: str) -> SceneConditions:
    """The lab light box, set across the plant's daytime range: 520-800 lux, 4500-6000 K.

    The evaluation set was captured under controlled light at several settings that cover the
    day and evening shifts, but not the night bank (~500 lux, 4200 K) nor a failing lamp.
    """
    lux = float(rng.uniform(LAB_LUX_RANGE[0], LAB_LUX_RANGE[1]))
    kelvin = float(rng.uniform(LAB_KELVIN_RANGE[0], LAB_KELVIN_RANGE[1]))
    sensor_lux, sensor_k = _sensor(rng, lux, kelvin)
    blur = 0.3 + 0.1 * float(rng.random())
    return SceneConditions(
        split="lab",
        line_id=line_id,
        shift=shift,
        lux=lux,
        colour_temp_k=kelvin,
        sensor_lux=sensor_lux,
        sensor_colour_temp_k=sensor_k,
        blur=blur,
    )


def _mix_kelvin(parts: list[tuple[float, float]]) -> float:
    # Mix light sources in mired space, weighted by their illuminance.
    total = sum(lux for lux, _ in parts)
    mired = sum(lux * 1e6 / k for lux, k in parts) / total
    return 1e6 / mired


def line_ageing(line_id: str, elapsed_days: float) -> float:
    """Lamp output factor of a line: a per-line base (0.94..0.99) dimming ~0.3 % a day."""
    base = 0.94 + 0.01 * (sum(map(ord, line_id)) % 6)
    return base * (1.0 - 0.003 * max(elapsed_days, 0.0))


def _window_glare(rng: np.random.Generator, shift: str) -> tuple[Glare, ...]:
    """A glare patch of low sun through the side windows, drawn with the shift's probability
    (:data:`GLARE_PROBABILITY`); the draws are made whether or not it shines."""
    glare_draw = float(rng.random())
    geometry = rng.random(5)
    if glare_draw >= GLARE_PROBABILITY.get(shift, 0.0):
        return ()
    return (
        Glare(
            x=float(40 + 240 * geometry[0]),
            y=float(20 + 200 * geometry[1]),
            rx=float(25 + 50 * geometry[2]),
            ry=float(15 + 35 * geometry[3]),
            strength=float(0.25 + 0.35 * geometry[4]),
        ),
    )


def production_conditions(
    rng: np.random.Generator,
    *,
    line_id: str,
    at: datetime,
    zone: tzinfo,
    elapsed_days: float,
    failing_lamp: bool = False,
) -> SceneConditions:
    """Hall lighting on a production line at the aware time ``at`` (shifts in ``zone``).

    Lamps (4800 K; the night bank 4200 K at 92 % output) age per line; diffuse skylight adds a
    constant share per shift (:data:`DAYLIGHT`); low sun through the side windows causes glare
    patches during the day shift. Within a shift nothing else changes, so every slice (line x
    lighting x shift) of a ``stationary`` run is stationary. ``failing_lamp`` (the demo's line-2
    night) cuts the lamp to ~30 % with a warm 2900 K tint and flicker.
    """
    local = at.astimezone(zone)
    shift = shift_of(local)
    ageing = line_ageing(line_id, elapsed_days)
    if shift == "night":
        lamp_lux, lamp_k = 560.0 * 0.92 * ageing, 4200.0
    else:
        lamp_lux, lamp_k = 560.0 * ageing, 4800.0
    flicker = 0.02
    if failing_lamp:
        lamp_lux, lamp_k, flicker = lamp_lux * 0.30, 2900.0, 0.10
    parts = [(lamp_lux, lamp_k)]
    if shift in DAYLIGHT:
        parts.append(DAYLIGHT[shift])
    kelvin = _mix_kelvin(parts) + 60.0 * float(rng.standard_normal())
    lux = sum(p[0] for p in parts) * (1.0 + flicker * float(rng.standard_normal()))
    lux = max(lux, 5.0)
    glare = _window_glare(rng, shift)
    sensor_lux, sensor_k = _sensor(rng, lux, kelvin)
    blur = 0.3 + 0.2 * float(rng.random())
    return SceneConditions(
        split="production",
        line_id=line_id,
        shift=shift,
        lux=lux,
        colour_temp_k=kelvin,
        sensor_lux=sensor_lux,
        sensor_colour_temp_k=sensor_k,
        lamp_ageing=ageing,
        failing_lamp=failing_lamp,
        glare=glare,
        blur=blur,
    )
