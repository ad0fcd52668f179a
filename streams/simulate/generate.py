"""Turn a :class:`SimulationRequest` into a time-ordered stream of camera events with labels.

Each event has its own random stream derived from ``(seed, split, index)``, so a request always
gives the same events, byte for byte, and event ids are UUIDv5 of the request and the index.

Scenarios (production split):

- ``stationary``: only the regular shift schedule (day 06:00, evening 14:00, night 22:00 local)
  with its lighting; defect base rate ~2 % of units.
- ``demo``: like stationary, but from the run's midpoint on, the night bank's lamp on ``line-2``
  is failing (night-shift hours only: ~30 % of the light, 2900 K, flicker) and on ``line-3``
  the novel ``crack`` defect appears, adding ~2.5 % cracked units. The demo runs from 12:00 to
  12:00, so line-2's night shift starts normal (22:00-24:00) and the lamp fails at midnight.
- ``camera-faults``: like stationary, but from the run's midpoint on, line-1's camera freezes
  (it repeats its first frame after the midpoint), line-2's loses focus and line-3's gets a
  smudge on the lens (:mod:`streams.simulate.camera_faults`). Labels stay the units' truth.

>>> from datetime import timedelta
>>> req = SimulationRequest.build(split="lab", events=4, seed=3, duration=timedelta(hours=1))
>>> evs = list(generate(req))
>>> [e.event["captured_at"] < f.event["captured_at"] for e, f in zip(evs, evs[1:])]
[True, True, True]
>>> evs[0].event["event_id"] == list(generate(req))[0].event["event_id"]
True
"""

from __future__ import annotations

import base64
import io
import math
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from streams.simulate.camera_faults import CAMERA_FAULTS, apply_fault
from streams.simulate.classes import NOVEL_CLASSES, TRAINED_CLASSES
from streams.simulate.lighting import (
    SceneConditions,
    lab_conditions,
    production_conditions,
    shift_of,
)
from streams.simulate.render import VARIANTS, SceneObject, render_scene
from streams.simulate.request import SimulationRequest

__all__ = [
    "CRACK_RATE",
    "LAB_DEFECT_RATE",
    "PRODUCTION_CLASS_WEIGHTS",
    "PRODUCTION_DEFECT_RATE",
    "SimulatedEvent",
    "encode_jpeg",
    "generate",
    "sample_defects",
]

LAB_DEFECT_RATE = 0.5
PRODUCTION_DEFECT_RATE = 0.02
PRODUCTION_CLASS_WEIGHTS = (0.4, 0.3, 0.3)
"""Weights of scratch, dent, stain among production defects."""
CRACK_RATE = 0.025
"""Demo, line-3 after the midpoint: extra probability of a cracked unit."""

_SPLIT_CODE = {"lab": 1, "production": 2}
_NAMESPACE = uuid.UUID("6f1d4c52-58f4-4a8e-9d0e-6c1b1f5a7e21")


@dataclass(frozen=True, slots=True)
class SimulatedEvent:
    """One simulated unit: the wire event, its label, the frame and how it was made."""

    event: dict[str, Any]
    """Camera-event JSON (``schemas.events.CameraEvent``), image inline as base64 JPEG."""
    label: dict[str, Any]
    """Ground-truth JSON (``schemas.events.GroundTruth``)."""
    rgb: npt.NDArray[np.uint8]
    """The ``(240, 320, 3)`` frame before JPEG compression."""
    conditions: SceneConditions
    objects: tuple[SceneObject, ...]


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def encode_jpeg(rgb: npt.NDArray[np.uint8], quality: int) -> bytes:
    """Baseline JPEG bytes of an RGB frame."""
    buf = io.BytesIO()
    Image.fromarray(rgb, mode="RGB").save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def sample_defects(rng: np.random.Generator, *, split: str, crack_rate: float = 0.0) -> list[str]:
    """Defect classes of one unit: lab ~50 % defective (1-3 defects, trained classes evenly),
    production ~2 % (1-2 defects, weighted), plus a crack with probability ``crack_rate``."""
    draw = float(rng.random())
    if split == "lab":
        if draw >= LAB_DEFECT_RATE:
            return []
        count = int(rng.choice([1, 2, 3], p=[0.7, 0.25, 0.05]))
        return [TRAINED_CLASSES[int(i)] for i in rng.integers(0, len(TRAINED_CLASSES), count)]
    defects: list[str] = []
    if draw < PRODUCTION_DEFECT_RATE:
        count = 1 if rng.random() < 0.9 else 2
        picks = rng.choice(len(TRAINED_CLASSES), size=count, p=PRODUCTION_CLASS_WEIGHTS)
        defects = [TRAINED_CLASSES[int(i)] for i in picks]
    if crack_rate > 0.0 and rng.random() < crack_rate:
        defects.append(NOVEL_CLASSES[0])
    return defects


def _camera_id(line_id: str) -> str:
    suffix = line_id.removeprefix("line-")
    return f"cam-{suffix}a"


def _unit(
    request: SimulationRequest, rng: np.random.Generator, *, line_id: str, at: datetime, shift: str
) -> tuple[SceneConditions, list[str]]:
    """The lighting and the defects of the unit captured on ``line_id`` at ``at``; in the
    ``demo`` scenario, line-2's night lamp fails and line-3 starts cracking half-way through."""
    if request.split == "lab":
        return lab_conditions(rng, line_id=line_id, shift=shift), sample_defects(rng, split="lab")
    demo = request.scenario == "demo"
    midpoint = request.start + request.duration / 2
    conditions = production_conditions(
        rng,
        line_id=line_id,
        at=at,
        zone=request.zone,
        elapsed_days=(at - request.start).total_seconds() / 86400.0,
        failing_lamp=demo and line_id == "line-2" and shift == "night" and at >= midpoint,
    )
    crack = CRACK_RATE if demo and line_id == "line-3" and at >= midpoint else 0.0
    return conditions, sample_defects(rng, split="production", crack_rate=crack)


def generate(request: SimulationRequest) -> Iterator[SimulatedEvent]:
    """Yield ``request.events`` events in ``captured_at`` order, lines interleaved."""
    lines = request.line_ids
    zone = request.zone
    span_ms = max(int(request.duration.total_seconds() * 1000), 1)
    midpoint = request.start + request.duration / 2
    namespace = uuid.uuid5(_NAMESPACE, request.canonical())
    faults = request.scenario == "camera-faults"
    frozen: dict[str, npt.NDArray[np.uint8]] = {}
    previous_ms = -1
    for index in range(request.events):
        rng = np.random.default_rng([request.seed, _SPLIT_CODE[request.split], index])
        offset_ms = int((index + float(rng.random())) * span_ms / request.events)
        offset_ms = max(offset_ms, previous_ms + 1)
        previous_ms = offset_ms
        at = request.start + timedelta(milliseconds=offset_ms)
        line_id = lines[int(rng.integers(len(lines)))]
        shift = shift_of(at.astimezone(zone))
        conditions, defects = _unit(request, rng, line_id=line_id, at=at, shift=shift)
        variant = VARIANTS[int(rng.integers(len(VARIANTS)))]
        review_minutes = min(5.0 + math.exp(float(rng.normal(math.log(45.0), 0.9))), 720.0)
        scene_rng = np.random.default_rng(int(rng.integers(0, 2**63 - 1)))
        rgb, objects = render_scene(scene_rng, conditions, defects, variant=variant)
        fault = CAMERA_FAULTS.get(line_id) if faults and at >= midpoint else None
        if fault == "frozen":
            rgb = frozen.setdefault(line_id, rgb)
        elif fault is not None:
            rgb = apply_fault(fault, rgb)
        event_id = str(uuid.uuid5(namespace, str(index)))
        data = base64.b64encode(encode_jpeg(rgb, request.jpeg_quality)).decode("ascii")
        event = {
            "event_id": event_id,
            "camera_id": _camera_id(line_id),
            "line_id": line_id,
            "captured_at": _iso(at),
            "image": {"encoding": "jpeg", "data": data},
            "lighting": {
                "lux": conditions.sensor_lux,
                "colour_temp_k": conditions.sensor_colour_temp_k,
            },
            "product_variant": variant,
        }
        labelled_at = at + timedelta(milliseconds=int(review_minutes * 60_000))
        label = {
            "event_id": event_id,
            "objects": [o.as_dict() for o in objects],
            "source": "audit",
            "labelled_at": _iso(labelled_at),
        }
        yield SimulatedEvent(event, label, rgb, conditions, tuple(objects))
