"""``linewatch metrics`` and ``linewatch report`` on real stores (embedded and over HTTP)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from streams.cli import app
from streams.sinks import ClickHouseStore
from tests.test_readiness_store import build_hand_case


@pytest.fixture
def dsn(store_dsn: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("LINEWATCH_INFERENCE__OPERATING_THRESHOLD", "0.5")
    dsn = store_dsn
    with ClickHouseStore.open(dsn) as store:
        store.apply_schema()
        build_hand_case(store)
    return dsn


def test_metrics_json_by_line(dsn: str) -> None:
    res = CliRunner().invoke(app, ["metrics", "--store", dsn, "--by", "line", "--format", "json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["overall"]["fp"] == 1 and data["overall"]["fpr"]["n"] == 5
    assert [s["line_id"] for s in data["slices"]] == ["line-1", "line-2"]
    assert data["slices"][1]["precision"]["value"] is None  # no data, not 0


def test_review_queue_and_report(dsn: str, tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["metrics", "--store", dsn, "--review-queue", "--format", "json"])
    assert res.exit_code == 0, res.output
    assert len(json.loads(res.stdout)) == 5
    out = tmp_path / "out" / "report.html"
    res = runner.invoke(app, ["report", "--store", dsn, "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "FAIL" in res.output and out.read_text().startswith("<!DOCTYPE html>")


def test_assess_rejects_unknown_suite(dsn: str) -> None:
    res = CliRunner().invoke(app, ["assess", "--store", dsn, "--suite", "weather"])
    assert res.exit_code != 0
