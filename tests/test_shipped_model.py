"""The shipped detector works in the lab: mAP@0.5 >= 0.90 on fresh simulated lab frames.

The frames use a seed that neither training (data seed 1000), threshold choice (2001) nor the
card's evaluation (3001) used. They go through the wire path (JPEG in a camera event) first.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
from PIL import Image

from streams.evaluation import PredictedBox, TruthBox, evaluate_detections
from streams.inference.decoders import YoloV8Decoder
from streams.inference.nms import nms
from streams.simulate import TRAINED_CLASSES, SimulationRequest, generate

MODELS = Path(__file__).resolve().parents[1] / "streams" / "models"
SPEC_PATH = MODELS / "linewatch-defects.json"
FRESH_SEED = 4242
FRAMES = 300


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SPEC_PATH.read_text())
    return data


@pytest.fixture(scope="module")
def session(spec: dict[str, Any]) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(
        str(MODELS / spec["onnx"]), opts, providers=["CPUExecutionProvider"]
    )


@pytest.fixture(scope="module")
def fresh_lab() -> tuple[list[np.ndarray], list[list[TruthBox]]]:
    req = SimulationRequest.build(split="lab", events=FRAMES, seed=FRESH_SEED, lines=1)
    frames, truths = [], []
    for sim in generate(req):
        jpeg = base64.b64decode(sim.event["image"]["data"])
        frames.append(np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB")))
        truths.append([TruthBox(o["class_name"], tuple(o["box"])) for o in sim.label["objects"]])
    return frames, truths


def test_spec_describes_the_graph(spec: dict[str, Any], session: ort.InferenceSession) -> None:
    assert spec["name"] == "linewatch-defects"
    assert spec["class_names"] == list(TRAINED_CLASSES)
    assert spec["output_format"] == "yolov8" and spec["layout"] == "NCHW"
    assert 0.05 <= spec["operating_threshold"] < 1.0
    assert (MODELS / spec["onnx"]).stat().st_size < 4 * 1024 * 1024
    card = spec["card"]
    assert card["eval_seed"] != FRESH_SEED and card["training_seed"] != FRESH_SEED
    assert card["lab_map50"] >= 0.9
    (inp,) = session.get_inputs()
    (out,) = session.get_outputs()
    w, h = spec["input_size"]
    assert inp.name == spec["input_name"] == "images" and out.name == "output0"
    assert inp.shape[1:] == [3, h, w] and not isinstance(inp.shape[0], int)  # dynamic batch
    y = session.run(None, {"images": np.zeros((2, 3, h, w), np.float32)})[0]
    assert y.shape[:2] == (2, 4 + len(TRAINED_CLASSES))
    assert np.all((y[:, 4:] >= 0) & (y[:, 4:] <= 1))


def _letterbox(frame: np.ndarray, size: tuple[int, int], pad: int) -> np.ndarray:
    # The simulator's frames are exactly the input size: the letterbox is the identity.
    assert frame.shape[1::-1] == size
    return frame


def test_lab_map50_on_a_fresh_seed(
    spec: dict[str, Any],
    session: ort.InferenceSession,
    fresh_lab: tuple[list[np.ndarray], list[list[TruthBox]]],
) -> None:
    frames, truths = fresh_lab
    size = tuple(spec["input_size"])
    preds: list[list[PredictedBox]] = []
    for k in range(0, len(frames), 50):
        batch = np.stack([_letterbox(f, size, spec["pad_value"]) for f in frames[k : k + 50]])
        x = np.ascontiguousarray(batch.transpose(0, 3, 1, 2), dtype=np.float32) * spec["scale"]
        raw = session.run(["output0"], {"images": x})[0]
        for cand in YoloV8Decoder(len(spec["class_names"]))([raw], spec["score_threshold"]):
            keep = nms(
                cand.boxes,
                cand.scores,
                cand.labels,
                iou_threshold=spec["iou_threshold"],
                max_detections=spec["max_detections"],
            )
            preds.append(
                [
                    PredictedBox(spec["class_names"][c], s, tuple(b))
                    for c, s, b in zip(
                        cand.labels[keep].tolist(),
                        cand.scores[keep].tolist(),
                        cand.boxes[keep].tolist(),
                        strict=True,
                    )
                ]
            )
    result = evaluate_detections(
        preds, truths, TRAINED_CLASSES, operating_threshold=spec["operating_threshold"]
    )
    assert all(c.n_truth >= 40 for c in result.per_class.values())
    assert result.map >= 0.90, result
    for name, c in result.per_class.items():
        assert c.recall >= 0.8, (name, c)
    good = [p for p, t in zip(preds, truths, strict=True) if not t]
    flagged = sum(any(d.confidence >= spec["operating_threshold"] for d in p) for p in good)
    assert flagged / len(good) < 0.1


def test_production_detector_reads_the_shipped_spec(
    fresh_lab: tuple[list[np.ndarray], list[list[TruthBox]]],
) -> None:
    inference = pytest.importorskip("streams.inference")
    detector = inference.Detector.load(None, intra_op_num_threads=1)
    frames, truths = fresh_lab
    detections = detector.detect(frames[:100])
    preds = [
        [PredictedBox(d.class_name, d.confidence, tuple(d.box)) for d in frame]
        for frame in detections
    ]
    result = evaluate_detections(preds, truths[:100], TRAINED_CLASSES)
    assert result.map >= 0.85, result
