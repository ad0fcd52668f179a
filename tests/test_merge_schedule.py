"""``530_fewer_small_merges.sql``: the tables a flush writes into merge their small parts in
fewer, larger merges; on a store holding data it changes no row, answer or write outcome."""

from __future__ import annotations

import shutil
from pathlib import Path

from streams.sinks import ClickHouseStore
from streams.sinks.migrations import default_schema_dir, load_migrations
from tests.test_storage_schema import DAILY_ANSWERS, _rows_over_days, every_view

MIGRATION = "530_fewer_small_merges.sql"
FLUSHED = ("frames", "detections", "event_keys", "frames_hourly")

HOURLY = (
    "SELECT line_id, shift, lighting, hour, countMerge(frames), sumMerge(flagged), "
    "round(avgMerge(brightness), 9) FROM linewatch.frames_hourly GROUP BY ALL ORDER BY ALL"
)


def _merge_base(store: ClickHouseStore) -> dict[str, bool]:
    """Whether each flushed table's definition sets ``merge_selector_base = 10``."""
    rows = store.query(
        "SELECT name, create_table_query FROM system.tables WHERE database = 'linewatch' "
        "AND name IN {names:Array(String)}",
        {"names": list(FLUSHED)},
    ).result_rows
    return {str(name): "merge_selector_base = 10" in str(query) for name, query in rows}


def _answers(store: ClickHouseStore) -> tuple[object, ...]:
    return (
        every_view(store),
        store.query(DAILY_ANSWERS).result_rows,
        store.query(HOURLY).result_rows,
        store.query("SELECT count() FROM linewatch.frames FINAL").result_rows,
        store.query("SELECT count() FROM linewatch.event_keys FINAL").result_rows,
    )


def test_a_new_store_merges_flushed_tables_with_base_10(tmp_path: Path) -> None:
    with ClickHouseStore.open(f"chdb://{tmp_path / 'store'}") as store:
        store.apply_schema()
        assert _merge_base(store) == dict.fromkeys(FLUSHED, True)


def test_530_on_a_populated_store_changes_no_answer_and_writes_stay_idempotent(
    tmp_path: Path,
) -> None:
    """A store written before 530 answers every view, the rollups and the counts the same
    once 530 is applied (and applied again, as an interrupted run would be); replays of its
    frames are still skipped, new frames still written."""
    before = tmp_path / "ddl-before-530"
    before.mkdir()
    for path in sorted(default_schema_dir().glob("*.sql")):
        if path.name < "530":
            shutil.copy(path, before / path.name)
    rows = _rows_over_days(0, 300)  # 7.7 days, 3 lines
    with ClickHouseStore.open(f"chdb://{tmp_path / 'store'}") as store:
        store.apply_schema(before)
        for start in range(0, 240, 40):
            store.insert(rows[start : start + 40])
        assert _merge_base(store) == dict.fromkeys(FLUSHED, False)
        old = _answers(store)
        applied = store.apply_schema()
        assert applied[0] == MIGRATION
        assert _merge_base(store) == dict.fromkeys(FLUSHED, True)
        assert _answers(store) == old
        (migration,) = [m for m in load_migrations() if m.name == MIGRATION]
        for statement in migration.statements:  # an interrupted run, repeated
            store.command(statement)
        assert _answers(store) == old
        replay = store.write(rows[:120])
        assert replay.written["frames"] == 0 and replay.skipped["frames"] == 120
        fresh = store.write(rows[200:])  # 40 stored already, 60 new
        assert fresh.written["frames"] == 60 and fresh.skipped["frames"] == 40
        count = store.query("SELECT count() FROM linewatch.frames FINAL").result_rows
        assert count == [(300,)]
