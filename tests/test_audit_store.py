"""Audit designs on real chDB stores: labels that say how they were chosen, ``audit plan``, and
design-weighted metrics beside today's figures (issue 21). Frames are built by hand here."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from schemas.events import GroundTruth
from streams.cli import app
from streams.cli.schema_export import export_json_schemas
from streams.config import Settings
from streams.errors import ConfigError
from streams.readiness.audit_plan import Budget
from streams.readiness.audits import plan_audit
from streams.readiness.labels import LABEL_INVALID, label_records
from streams.readiness.metrics import compute_metrics, parse_by
from streams.readiness.samples import T0, event_uuid, sample_label_line
from streams.report.metrics_sections import audits_section
from streams.report.render import SECTIONS
from streams.sinks import ClickHouseStore
from streams.sinks.audits import design_outcomes
from tests.test_readiness_store import BOX, OTHER, add_frame, build_hand_case, ingest_labels


@pytest.fixture
def dsn(tmp_path: Path) -> str:
    return f"chdb://{tmp_path / 'store'}"


@pytest.fixture
def store(dsn: str) -> Iterator[ClickHouseStore]:
    with ClickHouseStore.open(dsn) as s:
        s.apply_schema()
        yield s


@pytest.fixture
def settings(dsn: str) -> Settings:
    return Settings(store={"dsn": dsn}, inference={"operating_threshold": 0.5})


def with_audit(line: str, audit: object) -> str:
    data = json.loads(line)
    data["audit"] = audit
    return json.dumps(data)


def test_label_audit_is_stored_and_a_bad_one_is_a_dead_letter(store: ClickHouseStore) -> None:
    good = with_audit(
        sample_label_line(event_uuid(1)), {"policy": "flagged+2%", "inclusion_probability": 0.02}
    )
    bad = {
        "zero": {"policy": "p", "inclusion_probability": 0},
        "above one": {"policy": "p", "inclusion_probability": 1.5},
        "no policy": {"policy": "", "inclusion_probability": 0.5},
        "long policy": {"policy": "x" * 65, "inclusion_probability": 0.5},
        "unknown field": {"policy": "p", "inclusion_probability": 0.5, "weight": 2},
    }
    lines = [good, sample_label_line(event_uuid(2))]
    lines += [
        with_audit(sample_label_line(event_uuid(3 + i)), a) for i, a in enumerate(bad.values())
    ]
    records, dead = label_records(lines)
    assert [(r.audit_policy, r.inclusion_probability) for r in records] == [
        ("flagged+2%", 0.02),
        ("", 0.0),
    ]
    assert len(dead) == len(bad) and {d.reason for d in dead} == {LABEL_INVALID}
    assert all("audit." in d.detail for d in dead), [d.detail for d in dead]
    store.insert(records)
    rows = store.query(
        "SELECT event_id, audit_policy, inclusion_probability FROM linewatch.labels ORDER BY "
        "inclusion_probability DESC"
    ).result_rows
    assert rows == [(event_uuid(1), "flagged+2%", 0.02), (event_uuid(2), "", 0.0)]
    schema = export_json_schemas()["ground-truth.schema.json"]
    properties = schema["properties"]
    assert isinstance(properties, dict) and "audit" in properties
    assert GroundTruth.model_validate_json(good).audit is not None


def test_fully_labelled_store_keeps_its_figures(store: ClickHouseStore, settings: Settings) -> None:
    build_hand_case(store)
    ingest_labels(store, [sample_label_line(event_uuid(9), [("dent", BOX)])])  # the last one
    m = compute_metrics(store, settings, by=parse_by("line,shift,lighting"))
    o = m.overall
    assert (o.frames, o.tp, o.fp, o.fn, o.tn) == (10, 2, 1, 3, 4)
    for s in [o, *m.slices]:
        d = s.design
        assert d is not None and d.census and d.undesigned == 0 and d.labels == s.frames
        for design, plain in ((d.fnr, 1 - (s.recall.value or 0)), (d.fpr, s.fpr.value)):
            if plain is None or (design is d.fnr and s.recall.value is None):
                assert design.value is None
                continue
            assert design.value == pytest.approx(plain)
            assert design.lo == design.hi == design.value  # a census has no sampling error
        assert (d.naive_fpr, d.naive_fnr is None) == (s.fpr.value, s.recall.value is None)
    data = m.as_dict()
    assert data["overall"]["design"]["fpr"]["value"] == pytest.approx(1 / 5)
    assert data["audit_next"] == []  # nothing left to audit


def test_labels_without_design_are_shown_apart(store: ClickHouseStore, settings: Settings) -> None:
    build_hand_case(store)  # frame 9 of line-1/day/normal has no label: no census there
    m = compute_metrics(store, settings, by=parse_by("line,shift,lighting"))
    by_key = {tuple(s.key.values()): s for s in m.slices}
    line1 = by_key[("line-1", "day", "normal")].design
    assert line1 is not None and line1.undesigned == 7 and line1.labels == 0
    assert line1.fnr.value is None and line1.fpr.value is None
    assert line1.naive_fnr == pytest.approx(1 / 3)  # today's figure, shown beside
    line2 = by_key[("line-2", "night", "dim")].design
    assert line2 is not None and line2.census and line2.fnr.value == 1.0


def frames_for_plan(store: ClickHouseStore) -> None:
    """60 frames of one slice: 6 flagged, 14 in the review band, 40 passed."""
    for n in range(60):
        score = 0.8 if n < 6 else (0.3 if n < 20 else 0.05)
        add_frame(store, 100 + n, [("dent", score, OTHER)])


def test_audit_plan_stores_units_and_labels_join_it(
    store: ClickHouseStore, settings: Settings
) -> None:
    frames_for_plan(store)
    plan = plan_audit(store, settings, 0.5, Budget(fraction=0.2), seed=3)
    assert len(plan.units) == 12
    bands = Counter(u.stratum.band for u in plan.units)
    assert set(bands) == {"flagged", "uncertain", "passed"}  # every stratum gets its floor
    sizes = {"flagged": 6, "uncertain": 14, "passed": 40}
    for u in plan.units:
        assert u.inclusion_probability == pytest.approx(
            bands[u.stratum.band] / sizes[u.stratum.band]
        )
    stored = store.query("SELECT count(), uniqExact(plan_id) FROM linewatch.audit_units")
    assert stored.result_rows == [(12, 1)]
    # a plan over the same frames again would give units two probabilities
    with pytest.raises(ConfigError, match="planned already"):
        plan_audit(store, settings, 0.5, Budget(fraction=0.2), since=T0)
    # labels come back for the planned units without their own audit: the plan is joined
    ingest_labels(store, [sample_label_line(u.event_id) for u in plan.units])
    m = compute_metrics(store, settings, by=parse_by("line,shift,lighting"))
    outcomes = design_outcomes(store, 0.5, 0.15)
    assert {o.policy for o in outcomes} == {f"plan:{plan.plan_id}"}
    design = m.slices[0].design
    assert design is not None and design.labels == 12 and design.undesigned == 0
    assert design.fpr.value == pytest.approx(6 / 60)  # every flagged unit is good here
    assert m.audit_next() and m.audit_next()[0]["band"] in sizes
    # the report's section: one row per slice, design-weighted FPR beside the naive one
    section = audits_section(m)
    assert section is not None and "audits" in SECTIONS
    (row,) = section["rows"]
    assert row[:5] == ["line-1", "day", "normal", "12", "0"]
    assert row[7].startswith("10.0%") and row[8] == f"{bands['flagged'] / 12:.1%}"


def test_audit_plan_command(dsn: str, store: ClickHouseStore, tmp_path: Path) -> None:
    frames_for_plan(store)
    out = tmp_path / "plan.jsonl"
    args = ["audit", "plan", "--budget", "10/day", "--store", dsn, "--out", str(out)]
    res = CliRunner().invoke(app, [*args, "--format", "json", "--seed", "1"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["selected"] == 10 and len(summary["strata"]) == 3
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(lines) == 10
    assert lines[0]["audit"]["policy"] == f"plan:{summary['plan_id']}"
    # the line's audit block is a valid GroundTruth.audit: a reviewer copies it into the label
    label = with_audit(sample_label_line(lines[0]["event_id"]), lines[0]["audit"])
    assert label_records([label])[1] == []
    res = CliRunner().invoke(app, ["audit", "plan", "--budget", "1/week", "--store", dsn])
    assert isinstance(res.exception, ConfigError) and "--budget" in str(res.exception)


def test_labels_with_their_own_audit_are_weighted(
    store: ClickHouseStore, settings: Settings
) -> None:
    """Every flagged unit (p = 1) plus 10 of 100 passed ones (p = 0.1), one of them a miss."""
    lines = []
    for n in range(6):  # flagged: 3 defects found, 3 good units flagged
        eid = add_frame(store, 200 + n, [("dent", 0.9, BOX)])
        truth = [("dent", BOX)] if n < 3 else []
        lines.append(
            with_audit(
                sample_label_line(eid, truth), {"policy": "all-flagged", "inclusion_probability": 1}
            )
        )
    for n in range(100):
        eid = add_frame(store, 300 + n, [("dent", 0.05, OTHER)])
        if n < 10:
            truth = [("dent", BOX)] if n == 0 else []
            audit = {"policy": "10%-passed", "inclusion_probability": 0.1}
            lines.append(with_audit(sample_label_line(eid, truth), audit))
    ingest_labels(store, lines)
    m = compute_metrics(store, settings, by=parse_by("line,shift,lighting"))
    (s,) = m.slices
    assert (s.tp, s.fp, s.fn, s.tn) == (3, 3, 1, 9)  # today's figures: the labelled frames
    d = s.design
    assert d is not None and d.labels == 16 and d.undesigned == 0 and not d.census
    assert d.fnr.value == pytest.approx(10 / 13)  # 1 + 90 x 1/10 misses against 3 found
    assert d.fpr.value == pytest.approx(3 / 93)  # 9 + 90 x 9/10 good units passed
    assert d.naive_fnr == pytest.approx(1 / 4) and d.naive_fpr == pytest.approx(3 / 12)
    assert d.fnr.lo is not None and d.fnr.hi is not None and d.fnr.lo < 10 / 13 < d.fnr.hi
    assert d.next_audit is not None and d.next_audit.band == "passed"


def test_a_lab_calibration_plans_by_score_and_metrics_add_the_difference_estimator(
    store: ClickHouseStore, settings: Settings
) -> None:
    """With a lab calibration (assessment rows written here), ``audit plan`` gives each unit its
    own probability by score, and ``metrics`` shows the difference estimator for the slice."""
    import numpy as np

    from tests.test_estimation import _write_lab

    _write_lab(store, np.random.default_rng(0), n=300)
    lines: list[str] = []
    n = 0
    for score, count in ((0.9, 6), (0.45, 10), (0.35, 20), (0.2, 20), (0.05, 110)):
        for _ in range(count):
            add_frame(store, 500 + n, [("dent", score, OTHER)])
            n += 1
    plan = plan_audit(store, settings, 0.5, Budget(fraction=0.2), seed=1)
    assert plan.method == "score" and len(plan.units) == 34
    assert max(u.inclusion_probability for u in plan.units if u.stratum.band != "passed") > 0.5
    by_score = {u.event_id: u.inclusion_probability for u in plan.units}
    assert len({round(p, 6) for p in by_score.values()}) > 2  # not one probability per band
    for u in plan.units:
        truth = [("dent", BOX)] if u.stratum.band != "passed" and len(lines) % 3 == 0 else []
        lines.append(sample_label_line(u.event_id, truth))
    ingest_labels(store, lines)
    m = compute_metrics(store, settings, by=parse_by("line,shift,lighting"))
    diff = m.slices[0].difference
    assert diff is not None and diff.labels == 34
    assert diff.fnr.value is not None and diff.fnr.lo is not None and diff.fnr.hi is not None
    assert diff.fnr.lo <= diff.fnr.value < diff.fnr.hi  # no miss seen among passed: not zero-width
    assert "design_difference" in m.slices[0].as_dict()
    from streams.cli.audit import design_table

    table = design_table(m)
    assert table is not None
    assert "FNR (difference)" in [str(c.header) for c in table.columns]
