"""The second synthetic world (tests/world2): its detector truly detects, its writers and events
follow the formats they claim."""

from __future__ import annotations

import ast
import csv
import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import onnx
from PIL import Image

from schemas.events import CameraEvent, GroundTruth
from streams.evaluation.ap import evaluate_detections
from streams.evaluation.boxes import PredictedBox, TruthBox
from streams.inference.detector import Detector
from streams.inference.spec import ModelSpec
from tests.world2 import CLASSES, IMGSZ, NOVEL_CLASS, LabSample, expected_lab_images


def _detect(model: Path, samples: list[LabSample]) -> list[list[PredictedBox]]:
    spec = ModelSpec(name="plates", onnx=model, class_names=CLASSES)
    detector = Detector.load(spec)
    frames = [np.asarray(Image.open(io.BytesIO(s.data)).convert("RGB")) for s in samples]
    return [
        [PredictedBox(d.class_name, d.confidence, d.box) for d in found]
        for found in detector.detect(frames)
    ]


def test_detector_finds_the_worlds_defects_imperfectly(
    world2_model: Path, world2_lab: list[LabSample]
) -> None:
    predictions = _detect(world2_model, world2_lab)
    truths = [[TruthBox(d.class_name, d.box) for d in s.scene.defects] for s in world2_lab]
    ev = evaluate_detections(predictions, truths, CLASSES)
    for name in CLASSES:
        c = ev.per_class[name]
        assert c.n_truth >= 10, (name, c)
        assert 0.5 < c.ap < 1.0, (name, c)  # detects, and not perfectly
        assert 0.5 < c.recall <= 1.0 and 0.5 < c.precision <= 1.0, (name, c)
    rates = [r for c in ev.per_class.values() for r in (c.recall, c.precision)]
    assert min(rates) < 1.0  # imperfect somewhere
    scores = [p.confidence for ps in predictions for p in ps if p.confidence >= 0.5]
    assert np.std(scores) > 0.05  # scores vary with how visible a defect is


def test_detector_is_an_ultralytics_style_export(world2_model: Path) -> None:
    model = onnx.load(str(world2_model))
    props = {p.key: p.value for p in model.metadata_props}
    assert ast.literal_eval(props["names"]) == dict(enumerate(CLASSES))
    assert ast.literal_eval(props["imgsz"]) == [IMGSZ, IMGSZ]
    assert props["task"] == "detect" and int(props["stride"]) > 0
    (inp,) = model.graph.input
    assert inp.name == "images"
    assert [d.dim_value for d in inp.type.tensor_type.shape.dim] == [1, 3, IMGSZ, IMGSZ]
    (out,) = model.graph.output
    dims = [d.dim_value for d in out.type.tensor_type.shape.dim]
    assert dims[:2] == [1, 4 + len(CLASSES)] and dims[2] > 100


def test_lab_set_has_both_classes_good_units_and_the_novel_class(
    world2_lab: list[LabSample],
) -> None:
    seen = {d.class_name for s in world2_lab for d in s.scene.defects}
    assert seen == {*CLASSES, NOVEL_CLASS}
    assert any(not s.scene.defects for s in world2_lab)
    assert len({s.scene.lux for s in world2_lab}) > 10  # lighting varies


def test_writers_describe_the_same_boxes(
    world2_lab: list[LabSample], world2_coco: Path, world2_yolo: Path, world2_voc: Path
) -> None:
    expected = {i.file_name: i for i in expected_lab_images(world2_lab)}
    n_boxes = sum(len(i.boxes) for i in expected.values())
    coco = json.loads((world2_coco / "annotations.json").read_text())
    assert len(coco["images"]) == len(expected) and len(coco["annotations"]) == n_boxes
    assert {c["name"] for c in coco["categories"]} == {*CLASSES, NOVEL_CLASS}
    first = coco["annotations"][0]
    image = next(i for i in coco["images"] if i["id"] == first["image_id"])
    x, y, w, h = first["bbox"]
    assert expected[image["file_name"]].boxes[0].box == (x, y, x + w, y + h)
    assert image["lux"] == expected[image["file_name"]].lux

    yolo_lines = [
        line for f in (world2_yolo / "labels").glob("*.txt") for line in f.read_text().splitlines()
    ]
    assert len(yolo_lines) == n_boxes
    assert "names:" in (world2_yolo / "data.yaml").read_text()
    assert len(list((world2_yolo / "images").glob("*.jpg"))) == len(expected)

    voc_boxes = 0
    for xml in (world2_voc / "Annotations").glob("*.xml"):
        root = ET.parse(xml).getroot()
        name = root.findtext("filename")
        assert name in expected
        objs = root.findall("object")
        voc_boxes += len(objs)
        assert [o.findtext("name") for o in objs] == [b.class_name for b in expected[name].boxes]
    assert voc_boxes == n_boxes
    with (world2_voc / "lighting.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert {r["file_name"] for r in rows} == set(expected)


def test_events_follow_the_wire_contract(world2_events: tuple[Path, Path]) -> None:
    events_path, labels_path = world2_events
    events = [
        CameraEvent.model_validate_json(line) for line in events_path.read_text().splitlines()
    ]
    labels = [
        GroundTruth.model_validate_json(line) for line in labels_path.read_text().splitlines()
    ]
    assert [e.event_id for e in events] == [lb.event_id for lb in labels]
    assert len({e.event_id for e in events}) == len(events) == 120
    assert {e.line_id for e in events} == {"press-a", "press-b"}
    night = [e.lighting.lux or 0.0 for e in events if e.lighting and e.captured_at.hour >= 22]
    day = [e.lighting.lux or 0.0 for e in events if e.lighting and e.captured_at.hour < 22]
    assert night and day and max(night) < min(day)
    assert any(lb.objects for lb in labels) and any(not lb.objects for lb in labels)


def test_the_world_is_not_the_simulator() -> None:
    for path in (Path(__file__).parent / "world2").glob("*.py"):
        tree = ast.parse(path.read_text())
        imported = [
            node.module if isinstance(node, ast.ImportFrom) else alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import | ast.ImportFrom)
            for alias in node.names
        ]
        assert not any(m and m.startswith("streams.simulate") for m in imported), path
