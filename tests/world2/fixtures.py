"""Session-wide pytest fixtures of the second world (built once per test session, read-only).

Registered in ``tests/conftest.py`` (``pytest_plugins``). Tests must not modify the files these
return: copy a folder to ``tmp_path`` before breaking it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.world2.detector import build_detector
from tests.world2.events import write_events
from tests.world2.labset import LabSample, make_lab_set, write_coco, write_voc, write_yolo

__all__ = [
    "world2_coco",
    "world2_events",
    "world2_lab",
    "world2_model",
    "world2_model_bare",
    "world2_voc",
    "world2_yolo",
]


@pytest.fixture(scope="session")
def world2_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``plates.onnx``: the world's detector with Ultralytics metadata (no spec file beside it)."""
    return build_detector(tmp_path_factory.mktemp("world2-model") / "plates.onnx")


@pytest.fixture(scope="session")
def world2_model_bare(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same detector with no metadata at all (as a non-Ultralytics export)."""
    return build_detector(tmp_path_factory.mktemp("world2-bare") / "plates.onnx", metadata={})


@pytest.fixture(scope="session")
def world2_lab() -> list[LabSample]:
    """36 labelled lab plates (day and night light), some with a scratch (the novel class)."""
    return make_lab_set(36, seed=7, novel_rate=0.15)


@pytest.fixture(scope="session")
def world2_coco(tmp_path_factory: pytest.TempPathFactory, world2_lab: list[LabSample]) -> Path:
    """The lab set as a COCO folder; returns the folder (``annotations.json`` + ``images/``)."""
    root = tmp_path_factory.mktemp("world2-coco")
    write_coco(root, world2_lab)
    return root


@pytest.fixture(scope="session")
def world2_yolo(tmp_path_factory: pytest.TempPathFactory, world2_lab: list[LabSample]) -> Path:
    """The lab set as an Ultralytics YOLO folder (``images/``, ``labels/``, ``data.yaml``)."""
    return write_yolo(tmp_path_factory.mktemp("world2-yolo"), world2_lab)


@pytest.fixture(scope="session")
def world2_voc(tmp_path_factory: pytest.TempPathFactory, world2_lab: list[LabSample]) -> Path:
    """The lab set as a Pascal VOC folder (``Annotations/``, ``JPEGImages/``)."""
    return write_voc(tmp_path_factory.mktemp("world2-voc"), world2_lab)


@pytest.fixture(scope="session")
def world2_events(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """120 camera events on lines press-a / press-b over 2 h across 22:00 (day, then night
    lamps), 10 % defective, and their labels: ``(events.jsonl, labels.jsonl)``."""
    folder = tmp_path_factory.mktemp("world2-events")
    events, labels = write_events(
        folder / "events.jsonl",
        120,
        labels_path=folder / "labels.jsonl",
        start=datetime(2026, 11, 30, 21, 0, tzinfo=UTC),
    )
    assert labels is not None
    return events, labels
