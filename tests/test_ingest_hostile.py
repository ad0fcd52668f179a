"""Hostile input, one stage at a time: each case ends as exactly one frame or one dead letter."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from schemas.records import DeadLetterRecord
from streams.config import Settings
from streams.errors import EventRejected, ModelError
from streams.inference import Detector, ModelSpec
from streams.ingest import (
    ImageRoot,
    IngestLimits,
    RawRecord,
    decode_frame,
    decode_image,
    parse_event,
)
from streams.readiness.labels import label_records
from tests.hostile_inputs import (
    HostileLine,
    event,
    hostile_events,
    hostile_labels,
    png_bomb,
    png_bytes,
    png_header_only,
)
from tests.onnx_graphs import constant_detector


def _outcome(payload: bytes, limits: IngestLimits) -> str | None:
    """``None`` if the line decodes to a frame, else its dead-letter reason."""
    try:
        frame = decode_frame(parse_event(payload, limits), limits)
    except EventRejected as exc:
        assert "root:" not in exc.detail
        return exc.reason
    assert frame.rgb.ndim == 3 and frame.rgb.shape[2] == 3
    return None


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[HostileLine]]:
    folder = tmp_path_factory.mktemp("frames")
    return folder, hostile_events(folder, huge_line_mb=8)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_every_hostile_event_gets_its_reason(cases: tuple[Path, list[HostileLine]]) -> None:
    folder, lines = cases
    limits = IngestLimits(image_roots=(ImageRoot.open(folder),))
    got = {c.name: _outcome(c.payload, limits) for c in lines}
    assert got == {c.name: c.reason for c in lines}


def test_file_uris_are_refused_until_roots_are_configured(
    cases: tuple[Path, list[HostileLine]],
) -> None:
    folder, _ = cases
    line = event({"uri": f"file://{folder.as_posix()}/good.png"})
    with pytest.raises(EventRejected, match="LINEWATCH_INGEST__IMAGE_ROOTS") as info:
        decode_frame(parse_event(line))
    assert info.value.reason == "image_uri_refused"
    limits = IngestLimits.from_settings(Settings(ingest={"image_roots": [str(folder)]}))
    assert decode_frame(parse_event(line, limits), limits).rgb.shape == (48, 64, 3)


def test_file_details_never_carry_the_size_or_bytes(cases: tuple[Path, list[HostileLine]]) -> None:
    folder, _ = cases
    limits = IngestLimits(image_roots=(ImageRoot.open(folder),))
    with pytest.raises(EventRejected) as info:
        decode_frame(parse_event(event({"uri": f"file://{folder}/big.png"}), limits), limits)
    assert str(5 * 1024 * 1024) not in info.value.detail
    text = folder / "notes.png"
    text.write_text("secret-token-42\n" * 10)
    with pytest.raises(EventRejected) as info:
        decode_frame(parse_event(event({"uri": f"file://{text}"}), limits), limits)
    assert info.value.reason == "image_undecodable"
    assert "secret" not in info.value.detail and "160" not in info.value.detail


def test_settings_roots_must_be_absolute() -> None:
    with pytest.raises(ValueError, match="absolute"):
        Settings(ingest={"image_roots": ["frames"]})


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_pixel_limit_is_read_from_the_header_before_decoding() -> None:
    with pytest.raises(EventRejected, match=r"12000x12000 = 144000000 pixels") as info:
        decode_image(png_header_only(12000, 12000), "png")
    assert info.value.reason == "image_too_large"
    with pytest.raises(EventRejected, match="decompression-bomb") as info:
        decode_image(png_bomb(), "png", IngestLimits(max_image_pixels=1 << 28))
    assert info.value.reason == "image_too_large"
    small = IngestLimits(max_image_pixels=64 * 48)
    assert decode_image(png_bytes(64, 48), "png", small).shape == (48, 64, 3)
    with pytest.raises(EventRejected, match="LINEWATCH_INGEST__MAX_IMAGE_PIXELS"):
        decode_image(png_bytes(65, 48), "png", small)


def test_minimum_frame_side_is_configurable() -> None:
    with pytest.raises(EventRejected, match="at least 8 pixels"):
        decode_image(png_bytes(1, 1), "png")
    assert decode_image(png_bytes(1, 1), "png", IngestLimits(min_image_side=1)).shape == (1, 1, 3)


@pytest.mark.parametrize(
    ("data", "encoding", "found"),
    [
        (b"", "png", "no bytes"),
        (png_bytes(16, 16, "GIF"), "png", "a GIF image"),
        (png_bytes(16, 16, "PNG"), "jpeg", "a PNG image"),
        (png_bytes(64, 64, "JPEG")[:200], "jpeg", "a JPEG image"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "png", "a PNG image"),
    ],
)
def test_every_codec_failure_is_undecodable_with_what_was_found(
    data: bytes, encoding: str, found: str
) -> None:
    with pytest.raises(EventRejected, match=found) as info:
        decode_image(data, encoding)
    assert info.value.reason == "image_undecodable"


def test_clock_window() -> None:
    now = datetime(2026, 11, 29, 12, tzinfo=UTC)
    limits = IngestLimits()

    def at(moment: datetime) -> bytes:
        return event(
            {"encoding": "png", "data": base64.b64encode(png_bytes(8, 8)).decode()},
            captured_at=moment.isoformat(),
        )

    assert parse_event(at(now + timedelta(hours=23)), limits, now=now)
    assert parse_event(at(datetime(2000, 1, 1, tzinfo=UTC)), limits, now=now)
    for bad in (now + timedelta(days=1, seconds=1), datetime(1999, 12, 31, 23, tzinfo=UTC)):
        with pytest.raises(EventRejected, match="LINEWATCH_INGEST__CAPTURED_AT") as info:
            parse_event(at(bad), limits, now=now)
        assert info.value.reason == "clock_out_of_range"
    wide = IngestLimits(captured_at_min=datetime(1990, 1, 1, tzinfo=UTC))
    assert parse_event(at(datetime(1995, 1, 1, tzinfo=UTC)), wide, now=now)


def test_dead_letter_keeps_a_prefix_its_length_and_hash() -> None:
    payload = b'{"junk": "' + "é".encode() * 100_000 + b'"}'
    dl = DeadLetterRecord.build(
        reason="not_json",
        detail="x",
        payload=payload,
        source="t:1",
        received_at=datetime.now(UTC),
    )
    assert len(dl.payload.encode()) <= 64 * 1024 + 3
    assert payload.decode().startswith(dl.payload.rstrip("\ufffd"))
    assert dl.payload_bytes == len(payload)
    assert dl.payload_sha256 == hashlib.sha256(payload).hexdigest()
    whole = DeadLetterRecord.build(
        reason="r", detail="", payload=b"{}", source="t:2", received_at=datetime.now(UTC)
    )
    assert (whole.payload, whole.payload_bytes) == ("{}", 2)


def test_hostile_labels_are_dead_letters() -> None:
    lines = hostile_labels(iter([str(i) for i in range(0)]))
    now = datetime.now(UTC)
    raws = [RawRecord(c.payload, f"labels:{i}", now) for i, c in enumerate(lines)]
    good, bad = label_records(raws, max_payload_bytes=1000)
    assert good == []
    assert [d.reason for d in bad] == [c.reason for c in lines]
    assert all(len(d.payload) <= 1000 for d in bad)


# --- model outputs ------------------------------------------------------------------------

SIZE = 64


def _v8(columns: list[tuple[list[float], float]]) -> np.ndarray:
    """[4+1, N]: cx, cy, w, h and one class score per anchor."""
    out = np.zeros((5, len(columns)), np.float32)
    for i, (box, score) in enumerate(columns):
        out[:4, i], out[4, i] = box, score
    return out


def _detector(tmp_path: Path, out: np.ndarray) -> Detector:
    onnx = constant_detector(
        tmp_path / "nan.onnx", {"output0": out}, input_shape=("batch", 3, SIZE, SIZE)
    )
    return Detector.load(
        ModelSpec(name="nan", onnx=onnx, class_names=("dent",), output_format="yolov8")
    )


def test_invalid_outputs_are_dropped_before_nms_and_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    nan = float("nan")
    det = _detector(
        tmp_path,
        _v8(
            [
                ([20, 20, 10, 10], 0.9),  # kept
                ([20.5, 20, 10, 10], 0.8),  # duplicate of the first: suppressed by NMS
                ([nan, nan, nan, nan], 0.95),  # NaN box
                ([40, 40, -10, 8], 0.7),  # inverted (negative width)
                ([40, 40, 8, 8], float("inf")),  # non-finite score
                ([40, 40, 8, 8], nan),  # NaN score
            ]
        ),
    )
    frames = [np.zeros((SIZE, SIZE, 3), np.uint8)] * 2
    with caplog.at_level("WARNING"):
        results, invalid = det.detect_counted(frames)
        det.detect_counted(frames)
    assert invalid == [4, 4]
    assert [[round(d.confidence, 2) for d in r] for r in results] == [[0.9], [0.9]]
    assert all(np.isfinite(d.box).all() for r in results for d in r)
    warnings = [r for r in caplog.records if "invalid outputs" in r.getMessage()]
    assert len(warnings) == 1  # once per run


def test_a_batch_of_only_invalid_outputs_is_an_error(tmp_path: Path) -> None:
    nan = float("nan")
    det = _detector(tmp_path, _v8([([nan, nan, nan, nan], 0.9), ([nan, 1, 2, 3], 0.5)]))
    with pytest.raises(
        ModelError, match=r"only invalid outputs \(.*\) for a whole batch of 3 frames"
    ):
        det.detect([np.zeros((SIZE, SIZE, 3), np.uint8)] * 3)


def test_nan_boxes_never_reach_the_store_rows(
    tmp_path: Path, production_events: tuple[Path, Path]
) -> None:
    from streams.pipeline import MonitoringPipeline
    from streams.runners.reference import load_reference

    det = _detector(tmp_path, _v8([([20, 20, 10, 10], 0.9), ([float("nan")] * 4, 0.9)]))
    settings = Settings(
        store={"dsn": f"chdb://{tmp_path / 's'}"}, inference={"operating_threshold": 0.5}
    )
    pipeline = MonitoringPipeline(settings, det, load_reference(settings))
    events_path, _ = production_events
    now = datetime.now(UTC)
    lines = events_path.read_bytes().splitlines()[:4]
    out = pipeline.process([RawRecord(p, f"t:{i}", now) for i, p in enumerate(lines)])
    assert [f.invalid_outputs for f in out.frames] == [1] * 4
    assert len(out.detections) == 4
    assert all(np.isfinite([d.x1, d.y1, d.x2, d.y2]).all() for d in out.detections)
    assert json.loads(out.detections[0].model_dump_json())["x1"] is not None


def test_open_walk_follows_no_symlink_swapped_in_after_the_check(tmp_path: Path) -> None:
    from streams.ingest.files import _open_under

    root = tmp_path / "root"
    (root / "cam").mkdir(parents=True)
    (root / "cam" / "f.png").write_bytes(png_bytes(16, 16))
    held = ImageRoot.open(root)
    os.close(_open_under(held.fd, ("cam", "f.png")))  # the checked path opens
    (root / "cam" / "f.png").unlink()
    (root / "cam").rmdir()
    (root / "cam").symlink_to("/etc")  # swapped after a check would have passed
    (root / "cam2").symlink_to("/etc/passwd")
    for parts in (("cam", "passwd"), ("cam2",)):
        with pytest.raises(OSError):
            os.close(_open_under(held.fd, parts))
    limits = IngestLimits(image_roots=(ImageRoot.open(root),))
    with pytest.raises(EventRejected, match="a directory") as info:
        decode_frame(parse_event(event({"uri": f"file://{root}"}), limits), limits)
    assert info.value.reason == "image_uri_refused"
