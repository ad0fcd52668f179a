"""The baseline DDL creates exactly the schema the squashed migration chain ended with.

``tests/data/schema_chain_0/`` holds the 22 DDL files (001..101) that ``schemas/clickhouse/``
had before they were squashed into ``002_baseline.sql``; a store built by that chain, with its
raw tables then rebuilt with daily partitions (what ``apply_schema`` did to every new store),
must hold the same objects, columns and DDL as a store built by the shipped files.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

from streams.sinks import ClickHouseStore
from streams.sinks.migrations import default_schema_dir, load_migrations

CHAIN = Path(__file__).parent / "data" / "schema_chain_0"

DAILY = {"frames", "detections"}
"""The raw tables the old chain created monthly and ``apply_schema`` rebuilt daily."""

KNOWN_CHANGES: dict[str, list[tuple[str, str]]] = {
    # 070 created event_keys_mv while frames.source was LowCardinality(String); 073 made it a
    # String but left the view, whose stored header kept the old type (and a toString that
    # has nothing left to convert). The baseline creates the view over today's column.
    "event_keys_mv": [
        ("`source` LowCardinality(String)) AS", "`source` String) AS"),
        ("toString(source) AS source FROM", "source FROM"),
    ],
    # 045 sorted the snapshots by offset too, so ReplacingMergeTree never replaced one; the
    # baseline sorts by partition (offset stays the version): merges keep the latest per partition.
    "monitor_snapshots": [
        ("ORDER BY (group_id, topic, partition, offset)", "ORDER BY (group_id, topic, partition)")
    ],
}
"""Differences between the chain's store and the baseline's, other than daily partitions:
``(chain text, baseline text)`` per object, each of which must occur in the chain's DDL."""


def _repartition_daily(store: ClickHouseStore, table: str) -> None:
    """What ``apply_schema`` did to the empty raw tables of a store the chain created."""
    (engine,) = store.query(
        "SELECT engine_full FROM system.tables WHERE database = 'linewatch' AND name = {t:String}",
        {"t": table},
    ).result_rows[0]
    daily = str(engine).replace(
        "PARTITION BY toYYYYMM(captured_at)", "PARTITION BY toYYYYMMDD(captured_at)"
    )
    assert daily != engine, engine
    store.command(f"CREATE TABLE linewatch.{table}__daily AS linewatch.{table} ENGINE = {daily}")
    store.command(f"EXCHANGE TABLES linewatch.{table} AND linewatch.{table}__daily")
    store.command(f"DROP TABLE linewatch.{table}__daily")


def _settings_sorted(ddl: str) -> str:
    """``ddl`` with the items of its trailing SETTINGS clause sorted (their order means nothing:
    the chain added ``ttl_only_drop_parts`` after the default ``index_granularity``)."""
    head, sep, settings = ddl.rpartition(" SETTINGS ")
    if not sep:
        return ddl
    return f"{head}{sep}{', '.join(sorted(settings.split(', ')))}"


def schema_of(store: ClickHouseStore) -> dict[str, Any]:
    """Every object of database ``linewatch``: engine, normalised DDL, and columns."""
    out: dict[str, Any] = {}
    for name, engine, query in store.query(
        "SELECT name, engine, create_table_query FROM system.tables "
        "WHERE database = 'linewatch' ORDER BY name"
    ).result_rows:
        ddl = re.sub(r" UUID '[0-9a-f-]+'", "", str(query))
        out[str(name)] = {"engine": engine, "ddl": _settings_sorted(ddl), "columns": []}
    for row in store.query(
        "SELECT table, name, position, type, default_kind, default_expression, "
        "compression_codec, is_in_partition_key, is_in_sorting_key, is_in_primary_key "
        "FROM system.columns WHERE database = 'linewatch' ORDER BY table, position"
    ).result_rows:
        out[str(row[0])]["columns"].append(tuple(row[1:]))
    return out


def _baseline_only(tmp_path: Path) -> Path:
    """A DDL folder with the ledger and the baseline alone (later migrations, 110 on, change
    the schema further and are not the chain's)."""
    folder = tmp_path / "baseline-ddl"
    folder.mkdir(exist_ok=True)
    for name in ("001_schema_migrations.sql", "002_baseline.sql"):
        shutil.copy(default_schema_dir() / name, folder / name)
    return folder


def chain_schema(path: Path) -> dict[str, Any]:
    """The schema of a store built by the old chain, then repartitioned as new stores were."""
    with ClickHouseStore.open(f"chdb://{path}") as store:
        names = store.apply_schema(CHAIN)
        assert len(names) == 22 and names[-1] == "101_frames_invalid_outputs.sql"
        for table in sorted(DAILY):
            _repartition_daily(store, table)
        return schema_of(store)


def test_the_baseline_builds_the_schema_of_the_squashed_chain(tmp_path: Path) -> None:
    expected = chain_schema(tmp_path / "chain")
    for name, changes in KNOWN_CHANGES.items():
        for chain_text, baseline_text in changes:
            assert chain_text in expected[name]["ddl"], (name, chain_text)
            expected[name]["ddl"] = expected[name]["ddl"].replace(chain_text, baseline_text)
    expected["event_keys_mv"]["columns"] = [
        ("source", *c[1:2], "String", *c[3:]) if c[0] == "source" else c
        for c in expected["event_keys_mv"]["columns"]
    ]
    expected["monitor_snapshots"]["columns"] = [
        (*c[:-2], 0, 0) if c[0] == "offset" else c  # no longer in the sorting / primary key
        for c in expected["monitor_snapshots"]["columns"]
    ]
    with ClickHouseStore.open(f"chdb://{tmp_path / 'baseline'}") as store:
        store.apply_schema(_baseline_only(tmp_path))
        got = schema_of(store)
    assert sorted(got) == sorted(expected)
    assert len(got) == 37
    for name in expected:
        assert got[name] == expected[name], name
    for table in DAILY:
        assert "PARTITION BY toYYYYMMDD(captured_at)" in got[table]["ddl"]


def test_the_shipped_files_are_the_ledger_and_the_baseline() -> None:
    names = [m.name for m in load_migrations()]
    assert names[:2] == ["001_schema_migrations.sql", "002_baseline.sql"]
    assert all(n < "110" for n in names[:2])  # later migrations continue from 110
    ledger = (default_schema_dir() / "001_schema_migrations.sql").read_bytes()
    assert ledger == (CHAIN / "001_schema_migrations.sql").read_bytes()


def test_a_store_of_the_old_chain_takes_the_baseline_as_a_no_op(tmp_path: Path) -> None:
    """A developer's store built before the squash: ``schema apply`` records the baseline and
    changes nothing (every statement is ``IF NOT EXISTS``); its raw tables stay monthly."""
    with ClickHouseStore.open(f"chdb://{tmp_path / 'old'}") as store:
        store.apply_schema(CHAIN)
        before = schema_of(store)
        assert store.apply_schema(_baseline_only(tmp_path)) == ["002_baseline.sql"]
        assert schema_of(store) == before
        assert "PARTITION BY toYYYYMM(captured_at)" in before["frames"]["ddl"]
