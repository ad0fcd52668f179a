"""Store schema at scale: exact views before merges, the label-coverage pre-filter, the
rollups, retention and daily partitions (issue 13), on real chDB stores."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from streams.config import Settings
from streams.errors import StoreError
from streams.readiness.metrics import compute_metrics, parse_by, review_queue
from streams.readiness.reconcile import reconcile
from streams.sinks import ClickHouseStore
from tests.test_readiness_store import build_hand_case

# v_label_coverage's first definition (before the schema was squashed into 002_baseline.sql;
# tests/data/schema_chain_0/060_readiness_views.sql), scanning every frame
OLD_LABEL_COVERAGE = """
SELECT
    (SELECT count() FROM linewatch.frames) AS frames,
    (SELECT uniqExact(event_id) FROM linewatch.labels) AS labelled_events,
    (SELECT uniqExact(event_id) FROM linewatch.labels
        WHERE event_id NOT IN (SELECT event_id FROM linewatch.frames)) AS labels_without_frames,
    (SELECT count() FROM linewatch.v_frame_outcomes) AS reconciled_frames
"""

# v_latency_by_line with one quantileExact state per percentile (the baseline keeps one per
# column; tests/data/schema_chain_0/071_exact_views.sql)
OLD_LATENCY = """
SELECT line_id, count() AS frames, quantileExact(0.5)(latency_ms) AS p50_ms,
    quantileExact(0.95)(latency_ms) AS p95_ms, quantileExact(0.99)(latency_ms) AS p99_ms,
    max(latency_ms) AS max_ms, quantileExact(0.5)(inference_ms) AS inference_p50_ms,
    quantileExact(0.99)(inference_ms) AS inference_p99_ms
FROM linewatch.frames FINAL GROUP BY line_id ORDER BY line_id
"""

DUPLICATED = ("frames", "detections", "labels", "frame_outcomes", "drift_events", "reference_gap")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ClickHouseStore]:
    with ClickHouseStore.open(f"chdb://{tmp_path / 'store'}") as s:
        s.apply_schema()
        yield s


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        store={"dsn": f"chdb://{tmp_path / 'store'}"}, inference={"operating_threshold": 0.5}
    )


def every_view(store: ClickHouseStore) -> dict[str, list[tuple[Any, ...]]]:
    """The rows of every ``v_*`` view. ``frames_daily`` (a view over ``frames_hourly`` since
    ``410_daily_rollup_from_hourly.sql``) is a rollup: it counts what the writer inserted, as
    the hourly table does (``test_rollups_equal_the_raw_aggregates``)."""
    names = [
        str(r[0])
        for r in store.query(
            "SELECT name FROM system.tables WHERE database = 'linewatch' AND engine = 'View' "
            "AND name != 'frames_daily' ORDER BY name"
        ).result_rows
    ]
    out: dict[str, list[tuple[Any, ...]]] = {}
    for name in names:
        source = f"linewatch.{name}"
        if name == "v_review_queue":
            source += "(review_low = 0.1, review_high = 0.95)"
        rows = store.query(f"SELECT * FROM {source}").result_rows
        out[name] = sorted(rows, key=repr)
    return out


def test_every_view_is_exact_with_duplicates_awaiting_a_merge(
    store: ClickHouseStore, settings: Settings
) -> None:
    build_hand_case(store)
    reconcile(store, settings)
    before = every_view(store)
    assert len(before) >= 15
    metrics_before = compute_metrics(store, settings, by=parse_by("line,shift,lighting"))
    queue_before = review_queue(store, settings)
    for table in DUPLICATED:
        store.command(f"SYSTEM STOP MERGES linewatch.{table}")
        # every row once more, past the writer's lookup and its dedup token
        store.command(
            f"INSERT INTO linewatch.{table} SELECT * FROM linewatch.{table} "
            "SETTINGS insert_deduplicate = 0"
        )
    raw = store.query("SELECT count() FROM linewatch.frames").result_rows[0][0]
    final = store.query("SELECT count() FROM linewatch.frames FINAL").result_rows[0][0]
    assert raw == 2 * final  # the duplicates are there, unmerged
    assert every_view(store) == before
    again = compute_metrics(store, settings, by=parse_by("line,shift,lighting"))
    assert again == metrics_before
    assert review_queue(store, settings) == queue_before
    assert reconcile(store, settings).reconciled == 0


def test_label_coverage_prefilter_gives_the_rows_of_the_full_scan(
    store: ClickHouseStore, settings: Settings
) -> None:
    build_hand_case(store)
    # labels for frames that never arrived
    from streams.readiness.labels import label_records
    from streams.readiness.samples import event_uuid, sample_label_line

    good, _ = label_records([sample_label_line(event_uuid(100 + n), []) for n in range(3)])
    store.insert(good)
    for _ in range(2):  # before reconcile (nothing paired yet) and after
        new = store.query("SELECT * FROM linewatch.v_label_coverage").result_rows
        assert new == store.query(OLD_LABEL_COVERAGE).result_rows
        reconcile(store, settings)
    new = store.query("SELECT * FROM linewatch.v_label_coverage").result_rows
    old = store.query(OLD_LABEL_COVERAGE).result_rows
    assert new == old
    assert new[0][2] == 3  # labels_without_frames
    assert reconcile(store, settings).labels_without_frames == 3


def test_latency_view_gives_the_values_of_one_state_per_percentile(
    store: ClickHouseStore,
) -> None:
    from streams.readiness.samples import sample_frame

    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    frames = [
        sample_frame(
            f"e{i}", line_id=f"line-{i % 3}", captured_at=t0 + timedelta(seconds=i)
        ).model_copy(update={"latency_ms": (i * 37) % 101 + 0.25, "inference_ms": (i * 11) % 23})
        for i in range(300)
    ]
    store.write(frames)
    store.write(frames[:50])  # replays: skipped, and FINAL would hide them anyway
    new = store.query("SELECT * FROM linewatch.v_latency_by_line ORDER BY line_id")
    old = store.query(OLD_LATENCY)
    assert new == old
    assert len(new.result_rows) == 3 and new.result_rows[0][1] == 100


def test_rollups_equal_the_raw_aggregates(store: ClickHouseStore) -> None:
    from tests.test_store_samples import frame

    rows = [
        frame(i, line=f"line-{i % 3}").model_copy(
            update={"captured_at": frame(0).captured_at + timedelta(minutes=7 * i)}
        )
        for i in range(300)
    ]
    for start in range(0, 300, 64):
        store.insert(rows[start : start + 64])
    store.insert(rows[:100])  # a replay adds nothing to the rollups either
    for table, period in (("frames_hourly", "toStartOfHour"), ("frames_daily", "toStartOfDay")):
        rollup = store.query(
            f"SELECT line_id, shift, lighting, toDateTime(hour), countMerge(frames), "
            f"sumMerge(flagged), round(avgMerge(brightness), 9) FROM linewatch.{table} "
            "GROUP BY ALL ORDER BY ALL"
        ).result_rows
        raw = store.query(
            f"SELECT line_id, shift, lighting, toDateTime({period}(captured_at)) AS p, count(), "
            "sum(predicted_defective), round(avg(brightness), 9) FROM linewatch.frames FINAL "
            "GROUP BY ALL ORDER BY ALL"
        ).result_rows
        assert rollup == raw and len(raw) > 3, table


def test_retention_drops_expired_parts(store: ClickHouseStore) -> None:
    from tests.test_store_samples import frame

    old = [frame(i) for i in range(5)]  # captured in 2024
    fresh = [frame(9).model_copy(update={"captured_at": datetime.now(UTC)})]
    store.insert(old)
    store.insert(fresh)
    store.set_retention("frames", 3600)
    assert "toIntervalSecond(3600)" in store.retention()["frames"]
    store.command("OPTIMIZE TABLE linewatch.frames FINAL")
    ids = store.query("SELECT event_id FROM linewatch.frames").result_rows
    assert ids == [("evt-000009",)]
    store.set_retention("frames", 0)
    assert "frames" not in store.retention()
    with pytest.raises(StoreError, match="choose one of"):
        store.set_retention("schema_migrations", 10)


def test_grafana_panel_queries_run_and_rollup_panels_match_raw(store: ClickHouseStore) -> None:
    import json
    import re

    from tests.test_store_samples import frame

    store.insert([frame(i, line=f"line-{i % 2}") for i in range(40)])
    dashboard = json.loads(
        (Path(__file__).parents[1] / "deploy/grafana/dashboards/linewatch.json").read_text()
    )
    sqls: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("rawSql", "query") and isinstance(value, str) and "SELECT" in value:
                    sqls.append(value)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(dashboard)
    assert any("frames_hourly" in sql for sql in sqls)
    for panel in sqls:
        sql = re.sub(r"\$__timeInterval\((\w+)\)", r"toStartOfHour(\1)", panel)
        sql = re.sub(r"\$__timeFilter\((\w+)\)", r"\1 >= '2000-01-01'", sql)
        sql = sql.replace("${line:singlequote}", "'line-0', 'line-1'")
        store.query(sql)  # every panel's query runs against the current schema
    rollup = store.query(
        "SELECT line_id, countMerge(frames) FROM linewatch.frames_hourly GROUP BY line_id "
        "ORDER BY line_id"
    ).result_rows
    assert rollup == [("line-0", 20), ("line-1", 20)]


def test_a_new_store_partitions_raw_tables_by_day(store: ClickHouseStore) -> None:
    from streams.readiness.samples import sample_frame

    keys = store.query(
        "SELECT name, partition_key FROM system.tables WHERE database = 'linewatch' "
        "AND name IN ('frames', 'detections') ORDER BY name"
    ).result_rows
    assert keys == [(t, "toYYYYMMDD(captured_at)") for t in ("detections", "frames")]
    t0 = datetime(2026, 1, 31, 22, tzinfo=UTC)
    store.write(
        [sample_frame(f"e{i}", captured_at=t0 + timedelta(hours=5 * i)) for i in range(4)]
    )  # 20 hours over two days and two months
    days = store.query(
        "SELECT groupArray(partition) FROM (SELECT DISTINCT partition FROM system.parts "
        "WHERE database = 'linewatch' AND table = 'frames' AND active ORDER BY partition)"
    ).result_rows
    assert days == [(["20260131", "20260201"],)]


DAILY_ANSWERS = (
    "SELECT line_id, shift, lighting, toDateTime(hour) AS day, countMerge(frames), "
    "sumMerge(flagged), round(avgMerge(brightness), 9), round(avgMerge(max_confidence), 9), "
    "arrayMap(q -> round(q, 3), quantilesTDigestMerge(0.5, 0.95, 0.99)(latency_ms)) "
    "FROM linewatch.frames_daily GROUP BY ALL ORDER BY ALL"
)


def _rows_over_days(first: int, count: int) -> list[Any]:
    from tests.test_store_samples import frame

    return [
        frame(i, line=f"line-{i % 3}").model_copy(
            update={
                "captured_at": frame(0).captured_at + timedelta(minutes=37 * i),
                "latency_ms": float((i * 13) % 50),
            }
        )
        for i in range(first, first + count)
    ]


def test_410_gives_a_store_of_the_previous_schema_the_same_daily_answers(
    tmp_path: Path,
) -> None:
    """A store built before ``410_daily_rollup_from_hourly.sql`` (daily table fed by its own
    materialized view) answers the daily roll-up queries the same once 410 made
    ``frames_daily`` a view over ``frames_hourly``; a repeated run of 410 changes nothing."""
    from streams.sinks.migrations import default_schema_dir, load_migrations

    before = tmp_path / "ddl-before-410"
    before.mkdir()
    for path in sorted(default_schema_dir().glob("*.sql")):
        if path.name < "410":
            shutil.copy(path, before / path.name)
    with ClickHouseStore.open(f"chdb://{tmp_path / 'store'}") as store:
        store.apply_schema(before)
        rows = _rows_over_days(0, 240)  # 6 days, 3 lines
        for start in range(0, len(rows), 50):
            store.insert(rows[start : start + 50])
        old = store.query(DAILY_ANSWERS).result_rows
        assert len(old) >= 18
        applied = store.apply_schema()
        assert applied[0] == "410_daily_rollup_from_hourly.sql"
        assert all(name >= "410" for name in applied)
        objects = dict(
            store.query(
                "SELECT name, engine FROM system.tables WHERE database = 'linewatch' "
                "AND name LIKE 'frames_daily%'"
            ).result_rows
        )
        assert objects == {"frames_daily": "View"}  # the table and its view are gone
        assert store.query(DAILY_ANSWERS).result_rows == old
        (migration,) = [m for m in load_migrations() if m.name.startswith("410_")]
        for statement in migration.statements:  # an interrupted run, repeated
            store.command(statement)
        assert store.query(DAILY_ANSWERS).result_rows == old
        store.insert(_rows_over_days(240, 60))  # later frames reach the daily answers
        raw = store.query(
            "SELECT line_id, shift, lighting, toDateTime(toStartOfDay(captured_at)), count(), "
            "sum(predicted_defective) FROM linewatch.frames FINAL GROUP BY ALL ORDER BY ALL"
        ).result_rows
        daily = [r[:6] for r in store.query(DAILY_ANSWERS).result_rows]
        assert daily == raw and len(raw) > len(old)
