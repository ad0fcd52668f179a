"""FrameDescriber, the one decode → batch → detect → describe path, as a plain stage."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from streams.describe import FrameDescriber, RejectedRecord
from streams.drift import frame_signals
from streams.features import compute_image_stats
from streams.inference import Detector, ModelSpec
from streams.ingest import IngestLimits, RawRecord
from tests.onnx_graphs import constant_detector
from tests.test_inference_decoders import yolov8_output

simulate = pytest.importorskip("streams.simulate")


@pytest.fixture(scope="module")
def detector(tmp_path_factory: pytest.TempPathFactory) -> Detector:
    onnx = constant_detector(
        tmp_path_factory.mktemp("model") / "d.onnx",
        {"output0": yolov8_output()},
        input_shape=("batch", 3, 320, 320),
    )
    return Detector.load(ModelSpec.for_onnx(onnx))


def _records(events: int) -> list[RawRecord]:
    request = simulate.parse_simulate_source(f"simulate:production?events={events}&seed=5")
    now = datetime.now(UTC)
    return [
        RawRecord(json.dumps(s.event).encode(), f"sim:{i}", now)
        for i, s in enumerate(simulate.generate(request), start=1)
    ]


def test_batches_describe_every_accepted_record_in_order(detector: Detector) -> None:
    records = _records(5)
    records.insert(2, RawRecord(b"not json", "bad:1", records[0].received_at))
    first_line = json.loads(records[0].payload)["line_id"]
    describer = FrameDescriber(
        detector,
        operating_threshold=0.5,
        review_band=(0.2, 0.5),
        limits=IngestLimits(max_image_bytes=1 << 22),
        known_lines=[first_line],
    )
    rejected: list[RejectedRecord] = []
    batches = list(describer.batches(records, batch_size=2, on_reject=rejected.append))
    accepted = [f.raw.source for batch in batches for f in batch]
    others = [
        r.raw.source for r in rejected if r.error.reason == "unknown_line"
    ]  # events of lines not in known_lines
    assert [r.error.reason for r in rejected if r.raw.source == "bad:1"] == ["not_json"]
    assert sorted(accepted + others + ["bad:1"]) == sorted(r.source for r in records)
    assert accepted == [r.source for r in records if r.source in set(accepted)]  # input order
    assert all(len(b) == 2 for b in batches[:-1]) and 1 <= len(batches[-1]) <= 2
    frame = batches[0][0]
    stats = compute_image_stats(frame.accepted.frame.rgb)
    assert frame.stats == stats
    assert frame.signals == frame_signals(stats, frame.detections, 0.5, (0.2, 0.5))
    assert frame.flagged == [d for d in frame.detections if d.confidence >= 0.5]
    assert frame.inference_ms > 0.0


def test_decode_keeps_rejections_with_their_reason(detector: Detector) -> None:
    describer = FrameDescriber(
        detector,
        operating_threshold=0.5,
        review_band=(0.2, 0.5),
        limits=IngestLimits(max_image_bytes=1 << 22),
    )
    good = _records(1)[0]
    bad = RawRecord(json.dumps({"event_id": "nope"}).encode(), "bad:2", good.received_at)
    decoded = describer.decode([bad, good])
    assert [a.raw.source for a in decoded.accepted] == [good.source]
    assert [(r.raw.source, r.error.reason) for r in decoded.rejected] == [
        ("bad:2", "schema_invalid")
    ]
    assert describer.describe([]) == []
