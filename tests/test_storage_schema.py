"""Store schema at scale: exact views before merges, the migration from the previous schema,
the label-coverage pre-filter (issue 13), on real chDB stores."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from schemas.records import content_hash
from streams.config import Settings
from streams.errors import StoreError
from streams.readiness.metrics import compute_metrics, parse_by, review_queue
from streams.readiness.reconcile import reconcile
from streams.sinks import ClickHouseStore
from streams.sinks.clickhouse import DAILY_PARTITION, REPARTITION_TABLES
from streams.sinks.migrations import default_schema_dir, load_migrations
from tests.test_readiness_store import build_hand_case

# what 060_readiness_views.sql computed, scanning every frame
OLD_LABEL_COVERAGE = """
SELECT
    (SELECT count() FROM linewatch.frames) AS frames,
    (SELECT uniqExact(event_id) FROM linewatch.labels) AS labelled_events,
    (SELECT uniqExact(event_id) FROM linewatch.labels
        WHERE event_id NOT IN (SELECT event_id FROM linewatch.frames)) AS labels_without_frames,
    (SELECT count() FROM linewatch.v_frame_outcomes) AS reconciled_frames
"""

# 071's v_latency_by_line: one quantileExact state per percentile (076 keeps one per column)
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
    return Settings(store=f"chdb://{tmp_path / 'store'}", operating_threshold=0.5)


def every_view(store: ClickHouseStore) -> dict[str, list[tuple[Any, ...]]]:
    names = [
        str(r[0])
        for r in store.query(
            "SELECT name FROM system.tables WHERE database = 'linewatch' AND engine = 'View' "
            "ORDER BY name"
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


def test_migration_from_the_previous_schema(tmp_path: Path, settings: Settings) -> None:
    previous = tmp_path / "ddl-060"
    previous.mkdir()
    for path in default_schema_dir().glob("*.sql"):
        if path.name < "070":
            shutil.copy(path, previous)
    dsn = f"chdb://{tmp_path / 'store'}"
    with ClickHouseStore.open(dsn) as store:
        store.apply_schema(previous)
        # rows written by the previous writer: no content_hash column yet
        build_hand_case_previous(store)
        newly = store.apply_schema()
        ours = [m.name for m in load_migrations() if "070" <= m.name < "080"]
        assert len(ours) >= 5 and [n for n in newly if n in ours] == ours
        keys = store.query("SELECT count(), countIf(content_hash = '') FROM event_keys").result_rows
        assert keys == [(10, 10)]
        frames = store.query("SELECT count() FROM frames").result_rows[0][0]
        assert frames == 10
        reconcile(store, settings)
        m = compute_metrics(store, settings, by=parse_by("line"))
        assert (m.overall.frames, m.overall.tp) == (9, 2)
        # an old frame replayed with a hash now: a replay, not a conflict
        from streams.readiness.samples import event_uuid

        (row,) = store.query(
            "SELECT * FROM frames WHERE event_id = {e:String}", {"e": event_uuid(0)}
        ).result_rows
        cols = store.query("SELECT * FROM frames LIMIT 0").column_names
        from schemas.records import FrameRecord

        old = FrameRecord.model_validate(dict(zip(cols, row, strict=True)))
        result = store.write([old.model_copy(update={"content_hash": content_hash(b"x")})])
        assert (result.rows, result.conflicts) == (0, [])


def build_hand_case_previous(store: ClickHouseStore) -> None:
    """The hand case, written the way the previous schema's writer did (no content_hash)."""

    class PreviousStore:
        def insert(self, records: list[Any]) -> int:
            by_table: dict[str, list[Any]] = {}
            for r in records:
                by_table.setdefault(r.__table__, []).append(r)
            for table, rows in by_table.items():
                present = {
                    str(r[0])
                    for r in store.query(
                        "SELECT name FROM system.columns WHERE database = 'linewatch' "
                        "AND table = {t:String}",
                        {"t": table},
                    ).result_rows
                }  # the columns of the previous schema only
                cols = [c for c in type(rows[0]).model_fields if c in present]
                store._client.insert(
                    f"linewatch.{table}", [[getattr(r, c) for c in cols] for r in rows], cols
                )
            return len(records)

    build_hand_case(PreviousStore())  # type: ignore[arg-type]


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
    for table in REPARTITION_TABLES:
        assert store.partition_key(table) == DAILY_PARTITION
    leftovers = store.query(
        "SELECT name FROM system.tables WHERE database = 'linewatch' AND name LIKE '%\\_\\_%'"
    ).result_rows
    assert leftovers == []


def test_repartition_an_existing_monthly_store_by_day(tmp_path: Path) -> None:
    from streams.readiness.samples import sample_detection, sample_frame

    ddl = tmp_path / "ddl"  # every file, from another directory: the store stays monthly
    shutil.copytree(default_schema_dir(), ddl)
    t0 = datetime(2026, 1, 30, 22, tzinfo=UTC)
    rows: list[Any] = []
    for i in range(12):  # 12 frames, one every 5 hours: 4 days over 2 months
        at = t0 + timedelta(hours=5 * i)
        rows.append(sample_frame(f"e{i}", line_id=f"line-{i % 2}", captured_at=at))
        rows.append(
            sample_detection(
                f"e{i}", 0, "dent", 0.7, (1, 2, 3, 4), line_id=f"line-{i % 2}", captured_at=at
            )
        )
    with ClickHouseStore.open(f"chdb://{tmp_path / 'store'}") as store:
        store.apply_schema(ddl)
        assert store.partition_key("frames") == "toYYYYMM(captured_at)"
        assert store.write(rows).rows == 24
        store.set_retention("frames", 400 * 86400)
        snapshot = "SELECT * FROM linewatch.{t} FINAL ORDER BY ALL"
        before = {t: store.query(snapshot.format(t=t)).result_rows for t in REPARTITION_TABLES}
        store.command(  # a copy left by an interrupted run is started over
            "CREATE TABLE linewatch.frames__daily (event_id String) ENGINE = MergeTree ORDER BY ()"
        )
        assert store.repartition_daily("frames") == "frames__monthly"
        assert store.repartition_daily("detections", drop_old=True) is None
        assert store.repartition_daily("frames") is None  # daily already
        for table in REPARTITION_TABLES:
            assert store.partition_key(table) == DAILY_PARTITION
            assert store.query(snapshot.format(t=table)).result_rows == before[table]
        days = store.query(
            "SELECT uniqExact(partition) FROM system.parts WHERE database = 'linewatch' "
            "AND table = 'frames' AND active"
        ).result_rows[0][0]
        assert days == 4
        assert "34560000" in store.retention()["frames"]  # the TTL came along
        kept = store.query("SELECT count() FROM linewatch.frames__monthly").result_rows
        assert kept == [(12,)]
        # replays are still found; a new frame still feeds event_keys and the rollups
        assert store.write(rows).rows == 0
        new = sample_frame("e-new", line_id="line-0", captured_at=t0 + timedelta(days=3))
        assert store.write([new]).rows == 1
        counts = store.query(
            "SELECT (SELECT count() FROM linewatch.event_keys FINAL), "
            "(SELECT countMerge(frames) FROM linewatch.frames_hourly)"
        ).result_rows
        assert counts == [(13, 13)]
        with pytest.raises(StoreError, match="cannot repartition"):
            store.repartition_daily("labels")
