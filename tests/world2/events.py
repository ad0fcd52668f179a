"""Camera events (and their ground-truth labels) of the second world, as JSON lines.

The events follow the wire contract of :mod:`schemas.events`: inline base64 JPEG frames, the
camera's line, ``captured_at`` and the lighting readings. Frames captured from 22:00 to 06:00
UTC are lit by the night lamps (dim, warm). Lines default to ``press-a`` / ``press-b``: a
pipeline reading these needs them in its plant lines.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from schemas.events import utc_iso
from tests.world2.scene import Scene, random_scene

__all__ = ["LINES", "World2Event", "iter_events", "plant_lines", "write_events"]

LINES = ("press-a", "press-b")
START = datetime(2026, 11, 30, 18, 0, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class World2Event:
    """One event as written (``event``) with its ground truth (``label``) and scene."""

    event: dict[str, object]
    label: dict[str, object]
    scene: Scene


def plant_lines(lines: Sequence[str] = LINES) -> dict[str, dict[str, float]]:
    """The plant-lines setting for these lines: ``Settings(plant={"lines": plant_lines()})`` or
    ``LINEWATCH_PLANT__LINES=json.dumps(plant_lines())`` (one plate a second on each line).

    >>> plant_lines(("press-a",))
    {'press-a': {'takt_units_per_minute': 60.0}}
    """
    return {line: {"takt_units_per_minute": 60.0} for line in lines}


def _night(moment: datetime) -> bool:
    return moment.hour >= 22 or moment.hour < 6


def iter_events(
    n: int,
    *,
    seed: int = 11,
    lines: Sequence[str] = LINES,
    start: datetime = START,
    interval_s: float = 60.0,
    defect_rate: float = 0.1,
    novel_rate: float = 0.0,
) -> Iterator[World2Event]:
    """``n`` events round-robin over ``lines``, one every ``interval_s`` seconds from ``start``."""
    if start.tzinfo is None:
        raise ValueError("start must be an aware datetime")
    rng = np.random.default_rng(seed)
    for i in range(n):
        line = lines[i % len(lines)]
        at = start + timedelta(seconds=interval_s * i)
        scene = random_scene(rng, defect_rate=defect_rate, novel_rate=novel_rate, night=_night(at))
        event_id = str(uuid.UUID(bytes=rng.bytes(16), version=4))
        event: dict[str, object] = {
            "event_id": event_id,
            "camera_id": f"cam-{line}",
            "line_id": line,
            "captured_at": utc_iso(at),
            "image": {"encoding": "jpeg", "data": base64.b64encode(scene.jpeg()).decode("ascii")},
            "lighting": {"lux": scene.lux, "colour_temp_k": scene.colour_temp_k},
        }
        label: dict[str, object] = {
            "event_id": event_id,
            "objects": [{"class_name": d.class_name, "box": list(d.box)} for d in scene.defects],
            "source": "audit",
            "labelled_at": utc_iso(at + timedelta(hours=2)),
        }
        yield World2Event(event, label, scene)


def write_events(
    path: Path, n: int, *, labels_path: Path | None = None, **kwargs: object
) -> tuple[Path, Path | None]:
    """Write ``n`` events to ``path`` (JSON lines) and their labels to ``labels_path``; keyword
    arguments as :func:`iter_events`."""
    with path.open("w", encoding="utf-8") as events:
        labels = labels_path.open("w", encoding="utf-8") if labels_path else None
        try:
            for ev in iter_events(n, **kwargs):  # type: ignore[arg-type]
                events.write(json.dumps(ev.event) + "\n")
                if labels:
                    labels.write(json.dumps(ev.label) + "\n")
        finally:
            if labels:
                labels.close()
    return path, labels_path
