"""Output decoders against known graph outputs, and output-format inference."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from schemas.results import Detection
from streams.errors import ModelFormatError
from streams.inference import Detector, ModelSpec
from streams.inference.decoders import (
    BoxesScoresLabelsDecoder,
    OutputInfo,
    YoloV5Decoder,
    YoloV8Decoder,
    infer_format,
    make_decoder,
)
from tests.onnx_graphs import constant_detector

SIZE = 320


def _frame(w: int = SIZE, h: int = SIZE) -> np.ndarray:
    return np.zeros((h, w, 3), np.uint8)


def _as_tuples(dets: Sequence[Detection]) -> list[tuple[str, float, list[float]]]:
    return [(d.class_name, round(d.confidence, 4), [round(v, 3) for v in d.box]) for d in dets]


def yolov8_output() -> np.ndarray:
    """[4+3, 10]: two overlapping class-1 boxes, a same-box class-2, a weak one, a class-0."""
    out = np.zeros((7, 10), np.float32)
    out[:4, 0], out[5, 0] = [100, 100, 40, 40], 0.9
    out[:4, 1], out[5, 1] = [102, 100, 40, 40], 0.8  # IoU with 0 ~ 0.9 -> suppressed
    out[:4, 2], out[6, 2] = [100, 100, 40, 40], 0.7  # other class -> kept
    out[:4, 3], out[4, 3] = [10, 10, 4, 4], 0.01  # below score_threshold
    out[:4, 4], out[4, 4] = [200, 50, 20, 30], 0.6
    out[4:, 4] += [0.0, 0.3, 0.1]  # class 0 still the best of anchor 4
    return out


YOLOV8_EXPECTED = [
    ("scratch", 0.9, [80.0, 80.0, 120.0, 120.0]),
    ("stain", 0.7, [80.0, 80.0, 120.0, 120.0]),
    ("dent", 0.6, [190.0, 35.0, 210.0, 65.0]),
]


def _spec(path: Path, onnx: Path, **kw: Any) -> ModelSpec:
    return ModelSpec(name=path.stem, onnx=onnx, **kw)


def test_yolov8_decoded_through_a_graph(tmp_path: Path) -> None:
    onnx = constant_detector(
        tmp_path / "v8.onnx", {"output0": yolov8_output()}, input_shape=("batch", 3, SIZE, SIZE)
    )
    det = Detector.load(_spec(tmp_path / "v8", onnx, class_names=("dent", "scratch", "stain")))
    assert det.spec.output_format == "yolov8"
    results = det.detect([_frame(), _frame()])
    assert [_as_tuples(r) for r in results] == [YOLOV8_EXPECTED, YOLOV8_EXPECTED]


def test_yolov8_boxes_map_back_to_non_square_frames(tmp_path: Path) -> None:
    onnx = constant_detector(
        tmp_path / "v8.onnx", {"output0": yolov8_output()}, input_shape=(1, 3, SIZE, SIZE)
    )
    det = Detector.load(ModelSpec.for_onnx(onnx))
    wide, tall = det.detect([_frame(640, 480), _frame(160, 320)])
    # 640x480 -> scale 0.5, pad_y 40; 160x320 -> scale 1, pad_x 80
    assert _as_tuples(wide)[0] == ("class_1", 0.9, [160.0, 80.0, 240.0, 160.0])
    assert _as_tuples(tall)[0] == ("class_1", 0.9, [0.0, 80.0, 40.0, 120.0])
    assert _as_tuples(tall)[2] == ("class_0", 0.6, [110.0, 35.0, 130.0, 65.0])


def test_yolov5_score_is_objectness_times_class(tmp_path: Path) -> None:
    out = np.zeros((10, 8), np.float32)
    out[0] = [50, 60, 20, 10, 0.9, 0.1, 0.9, 0.0]  # 0.81, class 1
    out[1] = [150, 60, 20, 10, 0.5, 1.0, 0.0, 0.0]  # 0.5, class 0
    out[2] = [250, 60, 20, 10, 0.04, 0.0, 0.0, 1.0]  # objectness below threshold
    out[3] = [250, 160, 20, 10, 0.9, 0.05, 0.02, 0.01]  # 0.045 below threshold
    onnx = constant_detector(
        tmp_path / "v5.onnx", {"output": out}, input_shape=("batch", 3, SIZE, SIZE)
    )
    det = Detector.load(ModelSpec.for_onnx(onnx))
    assert det.spec.output_format == "yolov5"
    assert det.spec.class_names == ("class_0", "class_1", "class_2")
    [dets] = det.detect([_frame()])
    assert _as_tuples(dets) == [
        ("class_1", 0.81, [40.0, 55.0, 60.0, 65.0]),
        ("class_0", 0.5, [140.0, 55.0, 160.0, 65.0]),
    ]


@pytest.mark.parametrize("units", ["pixels", "normalized"])
def test_boxes_scores_labels_with_num_detections(tmp_path: Path, units: str) -> None:
    boxes = np.array(
        [[10, 20, 110, 220], [0, 0, 32, 32], [5, 5, 6, 6], [0, 0, 320, 320]], np.float32
    )
    if units == "normalized":
        boxes = (boxes / SIZE).astype(np.float32)
    outputs: dict[str, np.ndarray] = {
        "det_boxes": boxes,
        "det_scores": np.array([0.95, 0.3, 0.01, 0.99], np.float32),
        "det_labels": np.array([2, 0, 1, 1], np.int64),
        "num_dets": np.array([3], np.int32).reshape(()),  # the 4th row is padding
    }
    onnx = constant_detector(tmp_path / "bsl.onnx", outputs, input_shape=(1, 3, SIZE, SIZE))
    spec = _spec(tmp_path / "bsl", onnx, box_units=units, class_names=("a", "b", "c"))
    det = Detector.load(spec)
    assert det.spec.output_format == "boxes_scores_labels"
    [dets] = det.detect([_frame(640, 640)])  # scale 0.5
    assert _as_tuples(dets) == [
        ("c", 0.95, [20.0, 40.0, 220.0, 440.0]),
        ("a", 0.3, [0.0, 0.0, 64.0, 64.0]),
    ]


def test_boxes_scores_labels_found_by_order(tmp_path: Path) -> None:
    outputs = {
        "o1": np.array([[10, 10, 20, 20]], np.float32),
        "o2": np.array([0.8], np.float32),
        "o3": np.array([4.0], np.float32),  # float labels are rounded
    }
    onnx = constant_detector(tmp_path / "ord.onnx", outputs, input_shape=(1, 3, SIZE, SIZE))
    det = Detector.load(ModelSpec.for_onnx(onnx))
    assert det.spec.class_names is None
    [dets] = det.detect([_frame()])
    assert _as_tuples(dets) == [("class_4", 0.8, [10.0, 10.0, 20.0, 20.0])]


# --- format inference -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shapes", "n_names", "expected"),
    [
        ([(1, 84, 8400)], None, "yolov8"),
        ([(1, 7, 2100)], 3, "yolov8"),
        ([(1, 25200, 85)], None, "yolov5"),
        ([(1, 10, 8)], 3, "yolov5"),
        ([(1, 7, 6)], 3, "yolov8"),  # shape alone says yolov5, the class count disagrees
        ([("b", 100, 4), ("b", 100), ("b", 100), ("b",)], None, "boxes_scores_labels"),
        ([("b", 100, 4), ("b", 100), ("b", 100)], 2, "boxes_scores_labels"),
    ],
)
def test_infer_format(shapes: list[tuple[Any, ...]], n_names: int | None, expected: str) -> None:
    infos = [OutputInfo(f"out{i}", tuple(s)) for i, s in enumerate(shapes)]
    assert infer_format(infos, n_names) == expected


@pytest.mark.parametrize(
    ("shapes", "n_names", "message"),
    [
        ([(1, 7, 7)], None, "square"),
        ([(1, 7, 8)], 3, "fits both yolov8 and yolov5"),
        ([(1, 3, 64, 64)], None, "match no supported detector format"),
        ([(1, 4, 4), (1, 4)], None, "match no supported detector format"),
        ([(1, "a", "n")], None, "symbolic"),
    ],
)
def test_infer_format_refuses_ambiguous_or_unknown(
    shapes: list[tuple[Any, ...]], n_names: int | None, message: str
) -> None:
    infos = [OutputInfo(f"out{i}", tuple(s)) for i, s in enumerate(shapes)]
    with pytest.raises(ModelFormatError, match=message) as info:
        infer_format(infos, n_names)
    assert "out0" in str(info.value)


def test_ambiguous_graph_asks_to_set_output_format(tmp_path: Path) -> None:
    onnx = constant_detector(
        tmp_path / "sq.onnx", {"out": np.zeros((9, 9), np.float32)}, input_shape=(1, 3, 32, 32)
    )
    with pytest.raises(ModelFormatError, match="set output_format"):
        Detector.load(onnx)
    det = Detector.load(_spec(tmp_path / "sq", onnx, output_format="yolov5"))
    assert det.spec.class_names == ("class_0", "class_1", "class_2", "class_3")


def test_class_count_must_match_class_names(tmp_path: Path) -> None:
    onnx = constant_detector(
        tmp_path / "v8.onnx", {"output0": yolov8_output()}, input_shape=(1, 3, SIZE, SIZE)
    )
    with pytest.raises(ModelFormatError, match="3 classes but the model spec lists 2"):
        Detector.load(_spec(tmp_path / "v8", onnx, class_names=("a", "b")))


def test_make_decoder_picks_class_count_from_shape() -> None:
    infos = [OutputInfo("o", (1, 84, 8400))]
    dec = make_decoder("yolov8", infos, class_names=None, box_units="pixels", input_size=(640, 640))
    assert isinstance(dec, YoloV8Decoder) and dec.num_classes == 80
    infos = [OutputInfo("o", (1, 8400, 85))]
    dec = make_decoder("yolov5", infos, class_names=None, box_units="pixels", input_size=(640, 640))
    assert isinstance(dec, YoloV5Decoder) and dec.num_classes == 80


def test_decoders_drop_everything_below_threshold() -> None:
    out = np.full((2, 6, 50), 0.04, np.float32)
    assert all(len(c.scores) == 0 for c in YoloV8Decoder(2)([out], 0.05))
    assert all(len(c.scores) == 50 for c in YoloV8Decoder(2)([out], 0.03))
    dec = BoxesScoresLabelsDecoder(0, 1, 2, None, "pixels", (10, 10))
    cands = dec([np.zeros((1, 3, 4)), np.array([[0.5, 0.01, 0.2]]), np.array([[1, 2, 3]])], 0.1)
    assert cands[0].labels.tolist() == [1, 3]
