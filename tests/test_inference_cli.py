"""``linewatch detect`` end to end on a small events file, and ``linewatch model info``."""

from __future__ import annotations

import base64
import io
import json
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import typer
from PIL import Image
from typer.testing import CliRunner

from schemas.results import FrameDetections
from streams.cli.groups import CliGroups
from streams.cli.model import register
from tests.onnx_graphs import constant_detector
from tests.test_inference_decoders import yolov8_output


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()
    register(app, CliGroups.attach(app))
    return app


@pytest.fixture
def model(tmp_path: Path) -> Path:
    constant_detector(
        tmp_path / "det.onnx", {"output0": yolov8_output()}, input_shape=("batch", 3, 320, 320)
    )
    spec = tmp_path / "det.json"
    spec.write_text(
        json.dumps(
            {
                "name": "tiny",
                "version": "1.2",
                "onnx": "det.onnx",
                "class_names": ["dent", "scratch", "stain"],
                "operating_threshold": 0.42,
                "card": {"owner": "qa"},
            }
        )
    )
    return spec


def _event(width: int, height: int, fmt: str = "png") -> dict[str, object]:
    rng = np.random.default_rng(width * height)
    pixels = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "PNG" if fmt == "png" else "JPEG")
    return {
        "event_id": str(uuid.uuid4()),
        "camera_id": "cam-1",
        "line_id": "line-1",
        "captured_at": "2026-11-29T06:00:00.123Z",
        "image": {"encoding": fmt, "data": base64.b64encode(buf.getvalue()).decode()},
    }


def _write_events(path: Path) -> list[dict[str, object]]:
    good = [_event(640, 480), _event(160, 320, "jpeg"), _event(320, 320)]
    undecodable = _event(8, 8)
    undecodable["image"] = {"encoding": "jpeg", "data": base64.b64encode(b"not a jpeg").decode()}
    lines = [
        json.dumps(good[0]),
        "{not json",
        json.dumps(good[1]),
        "",  # blank lines are skipped, not rejected
        json.dumps({"event_id": "x"}),
        json.dumps(undecodable),
        json.dumps(good[2]),
    ]
    path.write_text("\n".join(lines) + "\n")
    return good


def test_detect_end_to_end(app: typer.Typer, model: Path, tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    good = _write_events(events)
    out = tmp_path / "detections.jsonl"
    result = CliRunner().invoke(
        app,
        [
            "detect",
            "--source",
            str(events),
            "--out",
            str(out),
            "--model",
            str(model),
            "--batch-size",
            "2",
        ],
    )
    assert result.exit_code == 1, result.output
    stderr = result.stderr
    assert "line 2: rejected (not_json)" in stderr
    assert "line 5: rejected (schema_invalid)" in stderr
    assert "line 6: rejected (image_undecodable)" in stderr
    assert "line 4" not in stderr
    assert "3 accepted, 3 rejected" in stderr
    rows = [FrameDetections.model_validate_json(line) for line in out.read_text().splitlines()]
    assert [r.event_id for r in rows] == [e["event_id"] for e in good]
    assert all(r.inference_ms > 0 for r in rows)
    first = rows[0].detections
    assert [d.class_name for d in first] == ["scratch", "stain", "dent"]
    assert first[0].box == pytest.approx((160.0, 80.0, 240.0, 160.0))  # 640x480 frame


def test_detect_clean_input_exits_zero_and_reads_stdin(
    app: typer.Typer, model: Path, tmp_path: Path
) -> None:
    lines = "\n".join(json.dumps(_event(64, 48)) for _ in range(3)) + "\n"
    out = tmp_path / "d.jsonl"
    result = CliRunner().invoke(
        app, ["detect", "--source", "-", "--out", str(out), "--model", str(model)], input=lines
    )
    assert result.exit_code == 0, result.output
    assert len(out.read_text().splitlines()) == 3


def test_detect_missing_model_is_fatal(app: typer.Typer, tmp_path: Path) -> None:
    events = tmp_path / "e.jsonl"
    events.write_text(json.dumps(_event(8, 8)) + "\n")
    result = CliRunner().invoke(
        app,
        [
            "detect",
            "--source",
            str(events),
            "--out",
            str(tmp_path / "o.jsonl"),
            "--model",
            str(tmp_path / "missing.json"),
        ],
    )
    assert result.exit_code == 2
    assert "missing.json does not exist" in result.stderr


def test_model_info_json_and_text(app: typer.Typer, model: Path) -> None:
    result = CliRunner().invoke(app, ["model", "info", "--model", str(model), "--format", "json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["classes"] == ["dent", "scratch", "stain"]
    assert info["input_size"] == [320, 320]
    assert info["output_format"] == "yolov8"
    assert info["operating_threshold"] == 0.42
    assert (info["name"], info["version"], info["card"]) == ("tiny", "1.2", {"owner": "qa"})
    text = CliRunner().invoke(app, ["model", "info", "--model", str(model)])
    assert text.exit_code == 0
    assert "dent, scratch, stain" in text.stdout and "owner: qa" in text.stdout


@pytest.mark.parametrize(
    ("args", "env", "cores", "split"),
    [
        ([], {}, 1, (1, 0)),  # default budget: the usable cores
        ([], {}, 4, (1, 4)),
        ([], {"LINEWATCH_INFERENCE__THREADS": "2"}, 8, (1, 2)),  # the setting is the budget
        (["--threads", "3"], {"LINEWATCH_INFERENCE__THREADS": "2"}, 8, (1, 3)),
        (["--threads", "2", "--in-flight", "1"], {}, 8, (2, 1)),
        (["--threads", "4", "--in-flight", "0"], {}, 8, (4, 0)),
    ],
)
def test_detect_splits_its_thread_budget(  # noqa: PLR0917 (fixtures and cases)
    app: typer.Typer,
    model: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    env: dict[str, str],
    cores: int,
    split: tuple[int, int],
) -> None:
    import streams.cli.model as cli_model
    from streams.detect import detect_lines
    from streams.inference import Detector

    seen: dict[str, int | None] = {}
    load, detect = Detector.load, detect_lines

    def spy_load(*a: Any, **kw: Any) -> Any:
        seen["intra_op"] = kw["intra_op_num_threads"]
        return load(*a, **kw)

    def spy_detect(*a: Any, **kw: Any) -> Any:
        seen["in_flight"] = kw["in_flight"]
        return detect(*a, **kw)

    monkeypatch.setattr(Detector, "load", spy_load)
    monkeypatch.setattr(cli_model, "detect_lines", spy_detect)
    monkeypatch.setattr(cli_model, "usable_cores", lambda: cores)
    monkeypatch.delenv("LINEWATCH_INFERENCE__THREADS", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    lines = "\n".join(json.dumps(_event(64, 48)) for _ in range(5)) + "\n"
    out = tmp_path / "d.jsonl"
    result = CliRunner().invoke(
        app,
        ["detect", "--source", "-", "--out", str(out), "--model", str(model), *args],
        input=lines,
    )
    assert result.exit_code == 0, result.output
    assert (seen["intra_op"], seen["in_flight"]) == split
    assert len(out.read_text().splitlines()) == 5
