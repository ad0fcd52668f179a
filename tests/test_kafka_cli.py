"""``linewatch topics create`` and ``linewatch produce`` through the CLI, against the broker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from streams.cli import app
from streams.config import Settings
from streams.kafka.config import MAX_MESSAGE_BYTES

pytestmark = pytest.mark.kafka


def _env(s: Settings) -> dict[str, str]:
    return {
        "LINEWATCH_KAFKA__BOOTSTRAP": s.kafka.bootstrap,
        "LINEWATCH_KAFKA__TOPIC_EVENTS": s.kafka.topic_events,
        "LINEWATCH_KAFKA__TOPIC_LABELS": s.kafka.topic_labels,
        "LINEWATCH_KAFKA__TOPIC_DLQ": s.kafka.topic_dlq,
        "LINEWATCH_KAFKA__TOPIC_DRIFT": s.kafka.topic_drift,
    }


def test_topics_create_then_produce(kafka_settings: Settings, tmp_path: Path) -> None:
    runner = CliRunner()
    env = _env(kafka_settings)
    first = runner.invoke(app, ["topics", "create", "--partitions", "2"], env=env)
    assert first.exit_code == 0, first.output
    assert first.output.count("created") == 4
    again = runner.invoke(app, ["topics", "create"], env=env)  # settings say 6 partitions
    assert again.exit_code == 0
    assert again.output.count("exists  ") == 4 and "only 2 workers" in again.output

    source = tmp_path / "events.jsonl"
    source.write_text('{"line_id": "line-1", "event_id": "a"}\nnot json\n')
    ok = runner.invoke(app, ["produce", "--source", str(source), "--rate", "100"], env=env)
    assert ok.exit_code == 0, ok.output
    assert "events: 2 sent, 0 failed (1 without line_id" in ok.output.replace("\n", " ")

    source.write_text(json.dumps({"line_id": "line-1", "pad": "x" * MAX_MESSAGE_BYTES}) + "\n")
    bad = runner.invoke(app, ["produce", "--source", str(source)], env=env)
    assert bad.exit_code == 1
    assert "0 sent, 1 failed" in bad.output
