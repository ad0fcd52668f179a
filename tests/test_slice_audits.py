"""Where decisions are made (issue 21): ``linewatch estimate`` (table and JSON), the HTML report
and Grafana show per slice the label-free estimate beside the realized design-weighted figure,
their intervals, the labels used (designed; without a design, apart) and the next audit. On a
real chDB store: a lab calibration, frames, a score plan and labels, written here."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from streams.cli import app
from streams.config import Settings
from streams.readiness.audit_plan import Budget
from streams.readiness.audits import plan_audit
from streams.readiness.metrics import compute_metrics, parse_by
from streams.readiness.samples import event_uuid, sample_label_line
from streams.report.metrics_sections import audits_section
from streams.sinks import ClickHouseStore
from tests.test_estimation import _write_lab
from tests.test_readiness_store import BOX, OTHER, add_frame, ingest_labels

GRAFANA = Path(__file__).parents[1] / "deploy" / "grafana" / "dashboards" / "linewatch.json"
ENV = {"LINEWATCH_INFERENCE__OPERATING_THRESHOLD": "0.5", "LINEWATCH_ESTIMATION": '{"draws": 10}'}


@pytest.fixture
def dsn(tmp_path: Path) -> str:
    return f"chdb://{tmp_path / 'store'}"


@pytest.fixture
def store(dsn: str) -> Iterator[ClickHouseStore]:
    with ClickHouseStore.open(dsn) as s:
        s.apply_schema()
        yield s


def audited_store(store: ClickHouseStore, dsn: str) -> int:
    """A lab calibration, 166 frames of one slice, a 20 % score plan whose units come back
    labelled, and one label without a design (a complaint); returns the planned units."""
    _write_lab(store, np.random.default_rng(0), n=300)
    n = 0
    for score, count in ((0.9, 6), (0.45, 10), (0.35, 20), (0.2, 20), (0.05, 110)):
        for _ in range(count):
            add_frame(store, 500 + n, [("dent", score, OTHER)])
            n += 1
    settings = Settings(store={"dsn": dsn}, inference={"operating_threshold": 0.5})
    plan = plan_audit(store, settings, 0.5, Budget(fraction=0.2), seed=1)
    lines: list[str] = []
    for u in plan.units:
        truth = [("dent", BOX)] if u.stratum.band != "passed" and len(lines) % 3 == 0 else []
        lines.append(sample_label_line(u.event_id, truth))
    chosen = {u.event_id for u in plan.units}
    complaint = next(event_uuid(500 + i) for i in range(n) if event_uuid(500 + i) not in chosen)
    lines.append(sample_label_line(complaint, [("dent", BOX)]))  # no audit, no plan
    ingest_labels(store, lines)
    return len(plan.units)


def test_estimate_shows_the_estimate_beside_the_design_weighted_figure(
    store: ClickHouseStore, dsn: str
) -> None:
    planned = audited_store(store, dsn)
    # metrics reconciles the labels (estimate reads reconciled outcomes, as metrics does)
    settings = Settings(store={"dsn": dsn}, inference={"operating_threshold": 0.5})
    m = compute_metrics(store, settings, by=parse_by("line,shift,lighting"))
    store.close()
    args = ["estimate", "--store", dsn, "--window-frames", "20"]
    res = CliRunner().invoke(app, [*args, "--format", "json"], env=ENV)
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    (row,) = data["slices"]
    assert (row["line_id"], row["shift"], row["lighting"]) == ("line-1", "day", "normal")
    est = row["estimated"]
    assert est["frames"] > 0 and est["recall"]["value"] is not None
    realized = row["realized"]
    assert realized["source"] == "difference"  # sampled labels and a lab calibration
    diff = m.slices[0].difference
    assert diff is not None
    # the same figures metrics computes (recall = 1 - FNR, the interval mirrored)
    assert realized["recall"]["value"] == pytest.approx(1 - (diff.fnr.value or 0))
    assert realized["recall"]["lo"] == pytest.approx(1 - (diff.fnr.hi or 0))
    assert realized["fpr"] == pytest.approx(diff.fpr.as_dict())
    assert row["labels"] == planned and row["undesigned_labels"] == 1  # the complaint: apart
    assert row["next_audit"]["units"] > 0 and row["recommendation"].startswith("label ")
    (nxt,) = data["audit_next"]
    assert nxt["band"] in ("flagged", "uncertain", "passed") and nxt["width"] > 0
    # the table: estimate beside realized, labels, and what to audit next
    res = CliRunner().invoke(app, args, env=ENV)
    assert res.exit_code == 0, res.output
    said = " ".join(res.output.split())
    assert "label-free estimate vs realized" in said and "audit next: line-1/day/normal" in said
    assert "difference" in said and "no design" in said
    # Grafana's panel reads what estimate wrote: the latest row per slice
    with ClickHouseStore.open(dsn) as st:
        rows = st.query(_panel_sql("audit_figures")).result_rows
    assert len(rows) == 1
    assert rows[0][:3] == ("line-1", "day", "normal")
    got = dict(zip(_panel_columns("audit_figures"), rows[0], strict=True))
    assert got["designed_labels"] == planned and got["labels_without_design"] == 1
    assert got["realized_by"] == "difference" and str(got["next_audit"]).startswith("label ")
    assert got["recall"] == pytest.approx(round(realized["recall"]["value"], 3))


def test_report_audits_section_shows_estimate_realized_and_next(
    store: ClickHouseStore, dsn: str
) -> None:
    audited_store(store, dsn)
    settings = Settings(
        store={"dsn": dsn}, inference={"operating_threshold": 0.5}, estimation={"draws": 10}
    )
    m = compute_metrics(store, settings, by=parse_by("line,shift,lighting"))
    section = audits_section(m)
    assert section is not None
    head, (row,) = section["head"], section["rows"]
    cells = dict(zip(head, row, strict=True))
    assert cells["from"] == "difference" and cells["without design"] == "1"
    assert cells["est. recall"] not in ("–", "unknown") and cells["recall"] != "–"
    assert section["next"] and section["next"][0].startswith("line-1/day/normal: label ")
    assert m.as_dict()["audit_next"][0]["recommendation"].startswith("label ")


def _panel() -> dict[str, object]:
    dash = json.loads(GRAFANA.read_text())
    (panel,) = [p for p in dash["panels"] if "audit_figures" in json.dumps(p.get("targets", []))]
    return dict(panel)


def _panel_sql(table: str) -> str:
    targets = _panel()["targets"]
    assert isinstance(targets, list)
    sql = str(targets[0]["rawSql"])
    assert table in sql
    sql = re.sub(r"\$__timeFilter\((\w+)\)", r"\1 >= '2000-01-01'", sql)
    return sql.replace("${line:singlequote}", "'line-1', 'line-2'")


def _panel_columns(table: str) -> list[str]:
    select = _panel_sql(table).split("FROM linewatch")[0]
    return ["line_id", "shift", "lighting", *re.findall(r"\) AS (\w+)", select)]
