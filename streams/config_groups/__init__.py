"""The groups of linewatch's settings: one pydantic model per concern, read by
:class:`streams.config.Settings` from ``LINEWATCH_<GROUP>__<NAME>``.

Each group's fields carry their bounds, default and ``description`` (the text of
``docs/configuration.md``); checks across fields of a group are model validators here.

>>> KafkaSettings(bootstrap="k1:9092").topic_events
'camera-events'
>>> env_name("worker", "take_window_s")
'LINEWATCH_WORKER__TAKE_WINDOW_S'
"""

from __future__ import annotations

from pydantic import BaseModel

from streams.config_groups.base import ENV_PREFIX, NESTED_DELIMITER, env_name
from streams.config_groups.frames import InferenceSettings, IngestSettings
from streams.config_groups.judgement import DriftSettings, EstimationSettings, ReadinessCriteria
from streams.config_groups.plant import LineConfig, PlantSettings, ShiftStart
from streams.config_groups.transport import (
    CheckpointSettings,
    KafkaSettings,
    StoreSettings,
    WorkerSettings,
)

__all__ = [
    "ENV_PREFIX",
    "GROUPS",
    "NESTED_DELIMITER",
    "CheckpointSettings",
    "DriftSettings",
    "EstimationSettings",
    "InferenceSettings",
    "IngestSettings",
    "KafkaSettings",
    "LineConfig",
    "PlantSettings",
    "ReadinessCriteria",
    "ShiftStart",
    "StoreSettings",
    "WorkerSettings",
    "env_name",
]

GROUPS: dict[str, type[BaseModel]] = {
    "store": StoreSettings,
    "checkpoint": CheckpointSettings,
    "kafka": KafkaSettings,
    "worker": WorkerSettings,
    "inference": InferenceSettings,
    "ingest": IngestSettings,
    "plant": PlantSettings,
    "drift": DriftSettings,
    "readiness": ReadinessCriteria,
    "estimation": EstimationSettings,
}
"""Every group of :class:`Settings`, by its field name."""
