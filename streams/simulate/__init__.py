"""Synthetic factory camera streams: parts on a conveyor, defects, shift lighting, drift.

The lab split is what the detector is trained on (balanced defects, a controlled light box); the
production split is what the line really looks like (~2 % defects, shift lighting, and in the
``demo`` scenario a failing lamp on line-2 at night and a novel ``crack`` defect on line-3).
See :mod:`streams.simulate.generate` for the scenarios and :mod:`streams.simulate.lighting`
for the lighting model.

>>> req = parse_simulate_source("simulate:lab?events=2&seed=1")
>>> [sorted(e.event) for e in generate(req)][0][:3]
['camera_id', 'captured_at', 'event_id']
"""

from __future__ import annotations

from streams.simulate.classes import ALL_CLASSES, NOVEL_CLASSES, TRAINED_CLASSES
from streams.simulate.generate import SimulatedEvent, encode_jpeg, generate, sample_defects
from streams.simulate.lighting import SceneConditions, lab_conditions, production_conditions
from streams.simulate.render import VARIANTS, SceneObject, render_scene
from streams.simulate.request import SimulationRequest, parse_duration, parse_simulate_source
from streams.simulate.textures import FRAME_HEIGHT, FRAME_WIDTH

__all__ = [
    "ALL_CLASSES",
    "FRAME_HEIGHT",
    "FRAME_WIDTH",
    "NOVEL_CLASSES",
    "TRAINED_CLASSES",
    "VARIANTS",
    "SceneConditions",
    "SceneObject",
    "SimulatedEvent",
    "SimulationRequest",
    "encode_jpeg",
    "generate",
    "lab_conditions",
    "parse_duration",
    "parse_simulate_source",
    "production_conditions",
    "render_scene",
    "sample_defects",
]
