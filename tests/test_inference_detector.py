"""Detector loading (spec, bare .onnx, shipped), errors, batching and the raw path."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import streams.inference.detector as detector_module
from streams.errors import ModelFormatError, ModelNotFound
from streams.inference import Detector, ModelSpec, load_spec
from tests.onnx_graphs import constant_detector
from tests.test_inference_decoders import yolov8_output


@pytest.fixture
def v8_onnx(tmp_path: Path) -> Path:
    return constant_detector(
        tmp_path / "det.onnx", {"output0": yolov8_output()}, input_shape=("batch", 3, 320, 320)
    )


def test_bare_onnx_without_names_says_to_run_model_init(v8_onnx: Path) -> None:
    with pytest.raises(ModelFormatError, match=r"no class names.*linewatch model init") as info:
        Detector.load(v8_onnx)
    assert "\n" not in str(info.value) and str(v8_onnx) in str(info.value)


def test_spec_of_an_onnx_gets_everything_else_from_the_graph(v8_onnx: Path) -> None:
    det = Detector.load(ModelSpec.for_onnx(v8_onnx))
    spec = det.spec
    assert (spec.name, spec.input_name, spec.input_size, spec.layout) == (
        "det",
        "images",
        (320, 320),
        "NCHW",
    )
    assert spec.class_names == ("class_0", "class_1", "class_2")
    assert spec.output_format == "yolov8"
    assert det.max_batch_size is None


def test_spec_file_with_relative_onnx(tmp_path: Path, v8_onnx: Path) -> None:
    sub = tmp_path / "specs"
    sub.mkdir()
    spec_path = sub / "m.json"
    spec_path.write_text(
        json.dumps(
            {
                "name": "defects",
                "version": 7,
                "onnx": "../det.onnx",
                "input_name": None,
                "input_size": [320, 320],
                "layout": "NCHW",
                "channel_order": "RGB",
                "scale": 1 / 255,
                "mean": [0, 0, 0],
                "std": [1, 1, 1],
                "letterbox": True,
                "pad_value": 114,
                "class_names": ["scratch", "dent", "stain"],
                "output_format": None,
                "score_threshold": 0.65,
                "iou_threshold": 0.5,
                "operating_threshold": 0.4,
                "max_detections": 1,
                "card": {"trained_on": "lab"},
            }
        )
    )
    det = Detector.load(spec_path)
    assert det.spec.onnx == v8_onnx.resolve()
    assert det.spec.version == "7" and det.spec.card == {"trained_on": "lab"}
    [dets] = det.detect([np.zeros((320, 320, 3), np.uint8)])
    assert [(d.class_name, round(d.confidence, 3)) for d in dets] == [("dent", 0.9)]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFound, match=r"nope\.onnx does not exist.*--model"):
        Detector.load(tmp_path / "nope.onnx")


def test_spec_pointing_at_missing_graph(tmp_path: Path) -> None:
    (tmp_path / "m.json").write_text(json.dumps({"name": "m", "onnx": "gone.onnx"}))
    with pytest.raises(ModelNotFound, match=r"gone\.onnx, which does not exist"):
        load_spec(tmp_path / "m.json")


def test_invalid_spec_names_the_key(tmp_path: Path, v8_onnx: Path) -> None:
    (tmp_path / "m.json").write_text(
        json.dumps({"name": "m", "onnx": "det.onnx", "score_treshold": 0.3, "layout": "CHW"})
    )
    with pytest.raises(ModelFormatError, match="score_treshold") as info:
        load_spec(tmp_path / "m.json")
    assert "layout" in str(info.value)


def test_shipped_model_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(detector_module, "shipped_spec_path", lambda: tmp_path / "x.json")
    with pytest.raises(ModelNotFound, match=r"shipped detector spec .* does not exist yet"):
        Detector.load(None)


def test_shipped_model_path_is_in_the_package() -> None:
    path = detector_module.shipped_spec_path()
    assert path.parts[-3:] == ("streams", "models", "linewatch-defects.json")


@pytest.mark.parametrize(
    ("content", "found"),
    [
        (b"", "an empty file"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 20, "a PNG image"),
        (b"PK\x03\x04" + b"\0" * 20, "a ZIP archive"),
        (b'{"name": "m"}', "JSON text"),
        (b"hello world, not a model", "text starting 'hello world"),
    ],
)
def test_not_onnx(tmp_path: Path, content: bytes, found: str) -> None:
    path = tmp_path / "model.onnx"
    path.write_bytes(content)
    with pytest.raises(ModelFormatError, match="is not an ONNX model") as info:
        Detector.load(path)
    assert found in str(info.value)


def test_unknown_output_format_lists_outputs(tmp_path: Path) -> None:
    onnx = constant_detector(
        tmp_path / "seg.onnx",
        {"masks": np.zeros((2, 8, 8), np.float32), "logits": np.zeros((5,), np.float32)},
        input_shape=(1, 3, 32, 32),
    )
    with pytest.raises(ModelFormatError) as info:
        Detector.load(onnx)
    message = str(info.value)
    assert "masks [1, 2, 8, 8]" in message and "logits [1, 5]" in message
    assert "supported formats: yolov8" in message


def test_static_batch_of_one_is_run_in_chunks(tmp_path: Path) -> None:
    onnx = constant_detector(
        tmp_path / "b1.onnx", {"output0": yolov8_output()}, input_shape=(1, 3, 320, 320)
    )
    det = Detector.load(ModelSpec.for_onnx(onnx))
    assert det.max_batch_size == 1
    results = det.detect([np.zeros((320, 320, 3), np.uint8)] * 5)
    assert len(results) == 5 and all(len(r) == 3 for r in results)
    assert det.detect([]) == []


def test_static_batch_of_two_is_padded(tmp_path: Path) -> None:
    onnx = constant_detector(
        tmp_path / "b2.onnx",
        {"output0": yolov8_output()},
        input_shape=(2, 3, 320, 320),
        output_shapes={"output0": (2, 7, 10)},
    )
    det = Detector.load(ModelSpec.for_onnx(onnx))
    assert det.max_batch_size == 2
    assert [len(r) for r in det.detect([np.zeros((64, 64, 3), np.uint8)] * 3)] == [3, 3, 3]


def test_symbolic_output_dims_are_probed(tmp_path: Path) -> None:
    onnx = constant_detector(
        tmp_path / "sym.onnx",
        {"output0": yolov8_output()},
        input_shape=("batch", 3, 320, 320),
        output_shapes={"output0": ("batch", "ch", "anchors")},
    )
    det = Detector.load(ModelSpec.for_onnx(onnx))
    assert det.spec.output_format == "yolov8" and len(det.spec.class_names or ()) == 3


def test_dynamic_input_needs_input_size(tmp_path: Path) -> None:
    onnx = constant_detector(
        tmp_path / "dyn.onnx", {"output0": yolov8_output()}, input_shape=("batch", 3, "h", "w")
    )
    with pytest.raises(ModelFormatError, match="set input_size"):
        Detector.load(onnx)
    spec = load_spec(onnx).model_copy(update={"input_size": (96, 64)})
    det = Detector.load(spec)
    assert det.preprocess([np.zeros((10, 10, 3), np.uint8)])[0].shape == (1, 3, 64, 96)


def test_run_raw_sees_the_preprocessed_frame(tmp_path: Path) -> None:
    onnx = constant_detector(
        tmp_path / "echo.onnx",
        {"output0": yolov8_output()},
        input_shape=("batch", 64, 64, 3),
        echo_input=True,
    )
    spec = load_spec(onnx).model_copy(
        update={
            "output_format": "yolov8",
            "channel_order": "BGR",
            "scale": 1.0,
            "mean": (10.0, 20.0, 30.0),
        }
    )
    det = Detector.load(spec)
    assert det.spec.layout == "NHWC"
    img = Image.new("RGB", (32, 16), (200, 100, 50))
    frame = np.asarray(img)
    tensor, transforms = det.preprocess([frame])
    _, echo = det.run_raw(tensor)
    assert echo.shape == (1, 64, 64, 3)
    # BGR order, minus the mean given in the model's (BGR) channel order
    assert echo[0, 32, 32].tolist() == [40.0, 80.0, 170.0]
    assert echo[0, 0, 0].tolist() == [104.0, 94.0, 84.0]  # pad 114 minus mean
    assert transforms[0].pad_y == 16


def _pixel_detector(path: Path, batch: int | str) -> Path:
    """A yolov8 graph ``[B, 4+2, 32]`` read off the input's first 192 values (3x8x8), so each
    frame has detections of its own: boxes 0..16 px (centre, size), scores 0..1."""
    from onnx import TensorProto, helper, numpy_helper

    from tests.onnx_graphs import save_model

    scale = np.ones((1, 6, 1), np.float32)
    scale[0, :4] = 16.0  # the input is pixel / 255 in 0..1
    graph = helper.make_graph(
        [
            helper.make_node("Reshape", ["images", "shape"], ["flat"]),
            helper.make_node("Mul", ["flat", "scale"], ["output0"]),
        ],
        "pixel_detector",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [batch, 3, 8, 8])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [batch, 6, 32])],
        initializer=[
            numpy_helper.from_array(np.array([-1, 6, 32], np.int64), "shape"),
            numpy_helper.from_array(scale, "scale"),
        ],
    )
    return save_model(graph, path)


@pytest.mark.parametrize("batch", [1, 2, 3, "batch"])
def test_a_batch_finds_what_each_frame_finds_alone(tmp_path: Path, batch: int | str) -> None:
    """Static batches (run chunk by chunk, the last one padded) and a dynamic one: each frame's
    detections are those of the frame run on its own, in input order."""
    rng = np.random.default_rng(3)
    spec = ModelSpec.for_onnx(_pixel_detector(tmp_path / "px.onnx", batch)).model_copy(
        update={"class_names": ("a", "b"), "score_threshold": 0.5, "letterbox": False}
    )
    det = Detector.load(spec)
    frames = [rng.integers(0, 256, (8, 8, 3), dtype=np.uint8) for _ in range(7)]
    alone = [det.detect([frame])[0] for frame in frames]
    assert sum(map(len, alone)) > 7 and len({str(a) for a in alone}) == 7  # frames differ
    assert det.detect(frames) == alone
    assert det.detect(frames[2:4]) == alone[2:4] and det.detect(frames[5:]) == alone[5:]
