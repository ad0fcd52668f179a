"""Models as users export them: class names, size, stride and task from the ONNX metadata, no
spec file; ``linewatch model init`` for a model without them (tests/world2's detector)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from schemas.results import FrameDetections
from streams.cli.groups import CliGroups
from streams.cli.model import register
from streams.errors import ModelFormatError
from streams.inference import Detector, ModelSpec
from streams.inference.export_metadata import read_export_metadata
from tests.onnx_graphs import constant_detector
from tests.test_inference_decoders import yolov8_output
from tests.world2 import CLASSES, IMGSZ, STRIDE, write_events


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()
    register(app, CliGroups.attach(app))
    return app


@pytest.fixture(scope="module")
def events(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("w2-events") / "events.jsonl"
    write_events(path, 24, seed=3, defect_rate=0.8)
    return path


def _detect(app: typer.Typer, model: Path, events: Path, out: Path) -> list[FrameDetections]:
    result = CliRunner().invoke(
        app, ["detect", "--source", str(events), "--out", str(out), "--model", str(model)]
    )
    assert result.exit_code == 0, result.output
    return [FrameDetections.model_validate_json(x) for x in out.read_text().splitlines()]


def test_model_info_reads_ultralytics_metadata(app: typer.Typer, world2_model: Path) -> None:
    assert not world2_model.with_suffix(".json").exists()
    result = CliRunner().invoke(
        app, ["model", "info", "--model", str(world2_model), "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert info["classes"] == list(CLASSES)
    assert (info["input_size"], info["stride"]) == ([IMGSZ, IMGSZ], STRIDE)
    assert info["output_format"] == "yolov8"
    assert info["metadata"] == ["names", "imgsz", "stride", "task"]
    assert info["card"]["export"]["author"] == "Ultralytics"


def test_detect_with_a_bare_ultralytics_onnx_names_its_classes(
    app: typer.Typer, world2_model: Path, events: Path, tmp_path: Path
) -> None:
    rows = _detect(app, world2_model, events, tmp_path / "d.jsonl")
    assert len(rows) == 24
    found = {d.class_name for r in rows for d in r.detections if d.confidence >= 0.5}
    assert found == set(CLASSES)


def test_no_metadata_and_no_spec_is_one_line_saying_model_init(
    app: typer.Typer, world2_model_bare: Path
) -> None:
    result = CliRunner().invoke(app, ["model", "info", "--model", str(world2_model_bare)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:")
    assert f"linewatch model init {world2_model_bare}" in lines[0]


def test_model_init_writes_a_spec_that_detects_like_the_metadata(
    app: typer.Typer,
    world2_model: Path,
    world2_model_bare: Path,
    events: Path,
    tmp_path: Path,
) -> None:
    spec = tmp_path / "plates.json"
    runner = CliRunner()
    args = ["model", "init", str(world2_model_bare), "--classes", "burr,chip", "--out", str(spec)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    doc = json.loads(spec.read_text())
    assert doc["class_names"] == list(CLASSES) and doc["input_size"] == [IMGSZ, IMGSZ]
    assert doc["output_format"] == "yolov8" and doc["layout"] == "NCHW"
    assert Path(doc["onnx"]) == Path("..") / world2_model_bare.parent.name / "plates.onnx"
    again = runner.invoke(app, args)
    assert again.exit_code == 2 and "--force" in again.output
    from_spec = _detect(app, spec, events, tmp_path / "spec.jsonl")
    from_meta = _detect(app, world2_model, events, tmp_path / "meta.jsonl")
    assert [r.detections for r in from_spec] == [r.detections for r in from_meta]


def test_model_init_without_names_writes_placeholders_and_says_so(
    app: typer.Typer, world2_model_bare: Path, tmp_path: Path
) -> None:
    spec = tmp_path / "p.json"
    result = CliRunner().invoke(app, ["model", "init", str(world2_model_bare), "--out", str(spec)])
    assert result.exit_code == 0, result.output
    assert json.loads(spec.read_text())["class_names"] == ["class_0", "class_1"]
    assert "replace class_names" in result.output


def test_model_init_with_the_wrong_class_count_fails(
    app: typer.Typer, world2_model_bare: Path, tmp_path: Path
) -> None:
    spec = tmp_path / "p.json"
    result = CliRunner().invoke(
        app, ["model", "init", str(world2_model_bare), "--classes", "a,b,c", "--out", str(spec)]
    )
    assert result.exit_code == 2 and not spec.exists()


def test_dynamic_input_takes_imgsz_from_metadata(tmp_path: Path) -> None:
    onnx = constant_detector(
        tmp_path / "dyn.onnx",
        {"output0": yolov8_output()},
        input_shape=("batch", 3, "height", "width"),
        metadata={"names": "{0: 'dent', 1: 'scratch', 2: 'stain'}", "imgsz": "[320, 320]"},
    )
    det = Detector.load(onnx)
    assert det.spec.input_size == (320, 320)
    assert det.spec.class_names == ("dent", "scratch", "stain")
    [dets] = det.detect([np.zeros((240, 320, 3), np.uint8)])
    assert {d.class_name for d in dets} == {"scratch", "stain", "dent"}
    # the spec wins over the metadata
    spec = ModelSpec(name="d", onnx=onnx, class_names=("a", "b", "c"), input_size=(320, 320))
    assert Detector.load(spec).spec.class_names == ("a", "b", "c")


def test_metadata_errors_name_the_problem(tmp_path: Path) -> None:
    def load(meta: dict[str, str]) -> Detector:
        onnx = constant_detector(
            tmp_path / "m.onnx",
            {"output0": yolov8_output()},
            input_shape=(1, 3, 320, 320),
            metadata=meta,
        )
        return Detector.load(onnx)

    with pytest.raises(ModelFormatError, match="'segment' model"):
        load({"names": "{0: 'a', 1: 'b', 2: 'c'}", "task": "segment"})
    with pytest.raises(ModelFormatError, match=r"metadata 'names'.*model init --classes"):
        load({"names": "{0: 'a', 1: 'b'}"})  # the output has 3 classes
    with pytest.raises(ModelFormatError, match="'names' is not a Python literal"):
        load({"names": "{0: 'a', 1: "})
    with pytest.raises(ModelFormatError, match="not a multiple of its stride 128"):
        load({"names": "['a', 'b', 'c']", "stride": "128"})


def test_hostile_metadata_never_reaches_the_terminal(app: typer.Typer, tmp_path: Path) -> None:
    escape = "\x1b]0;pwned\x07\x1b[2J"
    onnx = constant_detector(
        tmp_path / "m.onnx",
        {"output0": yolov8_output()},
        input_shape=(1, 3, 320, 320),
        metadata={
            "names": "['a', 'b', 'c']",
            "author": f"evil{escape}\nforged line",
            "description": "d" * 5000,
        },
    )
    for fmt in ("text", "json"):
        result = CliRunner().invoke(app, ["model", "info", "--model", str(onnx), "--format", fmt])
        assert result.exit_code == 0, result.output
        assert "\x1b" not in result.output and "\x07" not in result.output
        assert "forged line" in result.output and "d" * 5000 not in result.output
        assert "\nforged line" not in result.output.replace("\\n", "")
    with pytest.raises(ModelFormatError, match="control characters"):
        read_export_metadata({"names": f"['a', 'b{escape}']"})
    with pytest.raises(ValueError, match="printable"):
        ModelSpec(name="m", onnx=onnx, class_names=("ok", "bad\nname"))


def test_yolov5_repository_metadata_has_stride_and_names_only() -> None:
    meta = read_export_metadata({"stride": "32", "names": "{0: 'burr', 1: 'chip'}"})
    assert (meta.names, meta.stride, meta.input_size, meta.task) == (CLASSES, 32, None, None)
    assert read_export_metadata({}).empty


def test_the_documented_spec_example_is_a_valid_spec() -> None:
    import re

    doc = (Path(__file__).parents[1] / "docs" / "models.md").read_text()
    block = re.search(r"```json\n(.*?)```", doc, re.S)
    assert block is not None
    spec = ModelSpec.model_validate(json.loads(block.group(1)))
    assert spec.class_names == ("burr", "chip") and spec.stride == 32
