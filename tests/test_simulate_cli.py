"""``linewatch simulate``: files, determinism, summary, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from schemas.events import CameraEvent, GroundTruth
from streams.cli import app


def _run(tmp: Path, name: str, *extra: str) -> tuple[int, str, Path, Path]:
    out, labels = tmp / f"{name}-events.jsonl", tmp / f"{name}-labels.jsonl"
    result = CliRunner().invoke(
        app,
        ["simulate", "--out", str(out), "--labels-out", str(labels), *extra],
    )
    return result.exit_code, result.output, out, labels


def test_writes_valid_events_and_labels_deterministically(tmp_path: Path) -> None:
    args = ("--split", "production", "--events", "60", "--seed", "4", "--scenario", "demo")
    code, output, out, labels = _run(tmp_path, "a", *args)
    assert code == 0, output
    events = out.read_text().splitlines()
    truths = labels.read_text().splitlines()
    assert len(events) == len(truths) == 60
    for ev, gt in zip(events, truths, strict=True):
        assert (
            CameraEvent.model_validate_json(ev).event_id
            == GroundTruth.model_validate_json(gt).event_id
        )
    assert "line-3" in output and "defective" in output
    assert "[bold]" not in output  # the total row is bold by style, not markup printed as text
    assert any(row.strip("│ ").startswith("all ") for row in output.splitlines()), output
    code, _, out2, labels2 = _run(tmp_path, "b", *args)
    assert code == 0
    assert out2.read_bytes() == out.read_bytes() and labels2.read_bytes() == labels.read_bytes()


def test_lab_split_line_ids_and_start(tmp_path: Path) -> None:
    code, output, out, _ = _run(
        tmp_path,
        "lab",
        *("--split", "lab", "--events", "10", "--lines", "cam-x,cam-y"),
        *("--start", "2026-12-01T08:00:00+01:00", "--duration", "1h"),
    )
    assert code == 0, output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert {r["line_id"] for r in rows} <= {"cam-x", "cam-y"}
    assert all("2026-12-01T07:" in r["captured_at"] for r in rows)


def test_bad_arguments_are_explained(tmp_path: Path) -> None:
    for extra, message in [
        (("--split", "lab", "--scenario", "demo"), "needs split 'production'"),
        (("--duration", "soon"), "cannot read duration"),
        (("--start", "2026-12-01T08:00:00"), "no timezone"),
        (("--timezone", "Mars/Base"), "timezone"),
        (("--split", "moon"), "moon"),
        (("--events", "0"), "greater than"),
    ]:
        code, output, _, _ = _run(tmp_path, "bad", *extra)
        assert code == 2, (extra, output)
        assert message in " ".join(output.split()), (extra, output)
