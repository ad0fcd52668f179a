"""The detect path on simulated camera events (JPEG frames from :mod:`streams.simulate`)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from schemas.results import FrameDetections
from streams.detect import detect_lines
from streams.inference import Detector, ModelSpec
from tests.onnx_graphs import constant_detector
from tests.test_inference_decoders import yolov8_output

simulate = pytest.importorskip("streams.simulate")


def test_simulated_events_through_detect_lines(tmp_path: Path) -> None:
    request = simulate.parse_simulate_source("simulate:production?events=5&seed=3")
    sims = list(simulate.generate(request))
    onnx = constant_detector(
        tmp_path / "d.onnx", {"output0": yolov8_output()}, input_shape=("batch", 3, 320, 320)
    )
    detector = Detector.load(ModelSpec.for_onnx(onnx))
    lines = [json.dumps(s.event).encode() for s in sims]
    buf = io.StringIO()
    summary = detect_lines(lines, detector, buf.write, batch_size=2)
    assert (summary.accepted, summary.rejected) == (5, 0)
    rows = [FrameDetections.model_validate_json(x) for x in buf.getvalue().splitlines()]
    assert [r.event_id for r in rows] == [s.event["event_id"] for s in sims]
    h, w = sims[0].rgb.shape[:2]
    direct = detector.detect([s.rgb for s in sims])
    for row, expected in zip(rows, direct, strict=True):
        assert len(row.detections) == len(expected) == 3
        for got, want in zip(row.detections, expected, strict=True):
            assert got.class_name == want.class_name
            assert got.box == pytest.approx(want.box)  # geometry does not depend on pixels
            x1, y1, x2, y2 = got.box
            assert 0 <= x1 < x2 <= w and 0 <= y1 < y2 <= h


@pytest.mark.parametrize("in_flight", [0, 2, 3])
def test_detect_lines_with_several_batches_in_the_model_keeps_input_order(
    tmp_path: Path, in_flight: int
) -> None:
    request = simulate.parse_simulate_source("simulate:production?events=7&seed=5")
    good = [json.dumps(s.event).encode() for s in simulate.generate(request)]
    lines = [*good[:3], b"", b"{not json", *good[3:5], b'{"event_id": 1}', *good[5:]]
    onnx = constant_detector(
        tmp_path / "d.onnx", {"output0": yolov8_output()}, input_shape=("batch", 3, 320, 320)
    )
    detector = Detector.load(ModelSpec.for_onnx(onnx))
    outputs = []
    for flight in (1, in_flight):
        buf = io.StringIO()
        rejected: list[tuple[int, str]] = []
        done: list[int] = []
        summary = detect_lines(
            lines,
            detector,
            buf.write,
            batch_size=2,
            in_flight=flight,
            on_reject=lambda n, exc: rejected.append((n, exc.reason)),  # noqa: B023
            on_batch=done.append,
        )
        assert (summary.accepted, summary.rejected) == (7, 2)
        assert [n for n, _ in rejected] == [5, 8]
        assert done == sorted(done) and done[-1] == len(lines)
        ids = [json.loads(x)["event_id"] for x in buf.getvalue().splitlines()]
        assert ids == [json.loads(g)["event_id"] for g in good]
        outputs.append([json.loads(x)["detections"] for x in buf.getvalue().splitlines()])
    assert outputs[0] == outputs[1]
    with pytest.raises(ValueError, match="in_flight"):
        detect_lines(lines, detector, io.StringIO().write, batch_size=2, in_flight=-1)
