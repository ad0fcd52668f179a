"""Event identity (replay = no-op, conflict = dead letter) and many-partition inserts, on chDB."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from schemas.records import DetectionRecord, FrameRecord, content_hash
from streams.config import Settings
from streams.config_groups import CheckpointSettings
from streams.errors import StoreWriteError
from streams.inference import Detector
from streams.ingest.sources import open_source
from streams.pipeline import MonitoringPipeline
from streams.runners.checkpoint import Checkpoint
from streams.runners.embedded import run_embedded
from streams.runners.reference import load_reference
from streams.runners.write_behind import EventRows
from streams.sinks import ClickHouseStore
from streams.sinks.frames_journal import JOURNAL_FILE, journal_of
from tests.test_store_samples import detection, frame


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ClickHouseStore]:
    with ClickHouseStore.open(f"chdb://{tmp_path / 'store'}") as s:
        s.apply_schema()
        yield s


def count(store: ClickHouseStore, sql: str) -> int:
    return int(store.query(sql).result_rows[0][0])


def hashed(i: int, content: bytes, source: str, **update: object) -> FrameRecord:
    return frame(i).model_copy(
        update={"content_hash": content_hash(content), "source": source, **update}
    )


def conflicts(store: ClickHouseStore) -> list[tuple[str, str]]:
    return [
        (str(r[0]), str(r[1]))
        for r in store.query(
            "SELECT source, detail FROM linewatch.dead_letters "
            "WHERE reason = 'event_id_conflict' ORDER BY source"
        ).result_rows
    ]


@pytest.mark.parametrize("interleaved", [True, False])
def test_conflict_in_one_batch_is_a_dead_letter_and_keeps_its_detections_out(
    store: ClickHouseStore, interleaved: bool
) -> None:
    first = hashed(1, b"A", "file:a.jsonl:1")
    other = hashed(1, b"B", "file:b.jsonl:9", line_id="line-2", camera_id="cam-z")
    replay = hashed(1, b"A", "file:a.jsonl:1")
    mine = [detection(1, 0)]
    theirs = [detection(1, k).model_copy(update={"line_id": "line-2"}) for k in (0, 1)]
    if interleaved:
        batch = [first, *mine, other, *theirs, replay]
    else:  # the pipeline's order: every frame, then every detection
        batch = [first, other, replay, *mine, *theirs]
    result = store.write(batch)
    assert result.written["frames"] == 1
    assert result.written["detections"] == 1  # the first frame's; not the other's two
    assert result.skipped["frames"] == 1  # the replay
    assert result.written["dead_letters"] == 1
    ((source, detail),) = conflicts(store)
    assert source == "file:b.jsonl:9"
    assert "file:a.jsonl:1" in detail and "evt-000001" in detail
    assert count(store, "SELECT count() FROM linewatch.frames") == 1
    assert store.query("SELECT line_id FROM linewatch.frames").result_rows == [("line-1",)]


def test_conflict_across_runs_replay_silent_and_counts_exact(store: ClickHouseStore) -> None:
    stored = [hashed(i, f"A{i}".encode(), f"file:a:{i}") for i in range(5)]
    assert store.insert([*stored, detection(2, 0)]) == 6
    # a later run: a replay of event 1, a conflict on event 2 (other line, other time), a new one
    later = [
        hashed(1, b"A1", "kafka:camera-events:0:17"),
        hashed(
            2,
            b"X",
            "kafka:camera-events:1:5",
            line_id="line-9",
            captured_at=frame(2).captured_at + dt.timedelta(days=40),
        ),
        detection(2, 1),
        hashed(7, b"A7", "file:a:7"),
    ]
    checkpoint = Checkpoint(store, CheckpointSettings())
    checkpoint.add([EventRows(None, later)], events=3)
    stats = checkpoint.flush().stats
    assert stats.rows == 2  # event 7 and the conflict's dead letter
    assert stats.written["frames"] == 1
    assert stats.skipped["frames"] == 1
    assert [d.reason for d in stats.conflicts] == ["event_id_conflict"]
    ((source, detail),) = conflicts(store)
    assert source == "kafka:camera-events:1:5" and "file:a:2" in detail
    # the conflicting frame's detection was not stored under the first frame
    assert (
        count(store, "SELECT count() FROM linewatch.detections WHERE event_id = 'evt-000002'") == 1
    )
    # the same conflict again: reported again, stored once; the same known_new path too
    again = store.write(later, known_new=True)
    assert (again.rows, len(again.conflicts)) == (0, 1)
    assert len(conflicts(store)) == 1
    assert count(store, "SELECT count() FROM linewatch.frames") == 6


def test_unknown_content_hash_never_conflicts(store: ClickHouseStore) -> None:
    assert store.insert([frame(1)]) == 1  # content_hash "" (written before hashes existed)
    result = store.write([hashed(1, b"anything", "file:x:1")])
    assert (result.rows, result.skipped["frames"], result.conflicts) == (0, 1, [])


def test_backfill_spanning_three_years_is_one_insert(store: ClickHouseStore) -> None:
    start = dt.datetime(2023, 1, 1, 12, tzinfo=dt.UTC)
    days = 3 * 365
    rows: list[FrameRecord | DetectionRecord] = []
    for i in range(days):
        at = start + dt.timedelta(days=i)
        rows.append(frame(i).model_copy(update={"captured_at": at}))
        rows.append(detection(i, 0).model_copy(update={"captured_at": at}))
    assert store.insert(rows) == 2 * days  # 1,095 daily partitions in one insert
    months = count(store, "SELECT uniqExact(toYYYYMM(captured_at)) FROM linewatch.frames")
    assert months == 36
    assert store.insert(rows) == 0


def test_insert_touching_more_partitions_than_clickhouse_allows_by_default(
    store: ClickHouseStore,
) -> None:
    # 130 partitions in one block (one frame a month; daily or monthly partitions alike):
    # ClickHouse's default limit is 100
    start = dt.datetime(2015, 1, 15, tzinfo=dt.UTC)
    rows = [
        frame(i).model_copy(update={"captured_at": start + dt.timedelta(days=31 * i)})
        for i in range(130)
    ]
    with pytest.raises(Exception, match="Too many partitions"):
        store._client.insert(  # the bare driver, with ClickHouse's defaults
            "linewatch.frames",
            [[getattr(r, c) for c in FrameRecord.model_fields] for r in rows],
            column_names=list(FrameRecord.model_fields),
        )
    assert store.insert(rows) == 130


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector.load(None)


def test_embedded_run_reports_conflicts_and_what_was_written(
    production_events: tuple[Path, Path],
    settings_factory: Callable[..., Settings],
    detector: Detector,
    tmp_path: Path,
) -> None:
    events_path, _ = production_events
    good = events_path.read_bytes().splitlines()[:30]
    reused = json.loads(good[3])
    clash = json.loads(good[10])
    clash["event_id"] = reused["event_id"]  # another line/camera/time under the same id
    lines = [*good, good[5], json.dumps(clash).encode()]
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    settings = settings_factory(checkpoint={"flush_rows": 8})

    def run() -> tuple[int, int, dict[str, int], int, int]:
        with ClickHouseStore.open(settings.store.dsn) as store:
            store.apply_schema()
            pipeline = MonitoringPipeline(settings, detector, load_reference(settings))
            s = run_embedded(open_source(str(path)).events, pipeline, store)
            stored = count(store, "SELECT count() FROM linewatch.frames")
            dead = count(store, "SELECT count() FROM linewatch.dead_letters")
        return s.frames, s.replays, s.dead_letter_reasons, stored, dead

    frames, replays, reasons, stored, dead = run()
    assert (frames, replays, stored) == (30, 1, 30)
    assert reasons == {"event_id_conflict": 1} and dead == 1
    frames, replays, reasons, stored, dead = run()
    assert (frames, replays, stored) == (0, 32 - 1, 30)
    assert reasons == {"event_id_conflict": 1} and dead == 1


def _lose_key_rows(store: ClickHouseStore) -> None:
    store.command("TRUNCATE TABLE linewatch.event_keys")  # the view's part never landed


def _assert_not_written_twice(
    store: ClickHouseStore, frames: list[FrameRecord], **kw: bool
) -> None:
    again = store.write(frames, **kw)
    assert again.rows == 0
    assert count(store, "SELECT count() FROM linewatch.frames") == 5
    changed = hashed(2, b"other content", "file:b:2")
    assert store.write([changed]).rows == 1  # the conflict's dead letter, no frame
    assert count(store, "SELECT count() FROM linewatch.frames") == 5
    assert [source for source, _ in conflicts(store)] == ["file:b:2"]


@pytest.mark.parametrize("known_new", [False, True])
def test_frames_whose_key_row_was_lost_in_a_crash_are_not_written_twice(
    tmp_path: Path, known_new: bool
) -> None:
    """A kill between the frames part and its event_keys part leaves keyless frames; the killed
    process's journal holds their keys, and the next process settles them before its lookup."""
    frames = [hashed(i, f"content-{i}".encode(), f"file:a:{i}") for i in range(5)]
    dsn = f"chdb://{tmp_path / 'store'}"
    with ClickHouseStore.open(dsn) as store:
        store.apply_schema()
        assert store.write(frames).rows == 5
        journal = journal_of(store)
        assert journal is not None
        journal.recording(frames).__enter__()  # killed inside the insert: never cleared
        _lose_key_rows(store)
    with ClickHouseStore.open(dsn) as store:
        _assert_not_written_twice(store, frames, known_new=known_new)
        assert count(store, "SELECT count() FROM linewatch.event_keys") == 5  # settled
        assert (tmp_path / "store" / JOURNAL_FILE).read_bytes() == b""


def test_a_failed_frames_insert_is_settled_by_the_next_write(
    store: ClickHouseStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The frames part landed, the insert failed before its key rows: the retry finds them."""
    frames = [hashed(i, f"content-{i}".encode(), f"file:a:{i}") for i in range(5)]
    real = store.insert_block

    def fails_after_frames(table: str, *args: Any, **kwargs: Any) -> None:
        real(table, *args, **kwargs)
        if table == "frames":
            _lose_key_rows(store)
            raise StoreWriteError("the view's insert failed")

    monkeypatch.setattr(store, "insert_block", fails_after_frames)
    with pytest.raises(StoreWriteError):
        store.write(frames)
    monkeypatch.undo()
    _assert_not_written_twice(store, frames)


@pytest.mark.parametrize("known_new", [False, True])
def test_a_store_without_journal_finds_keyless_frames_in_frames(
    tmp_path: Path, known_new: bool
) -> None:
    """A store written before journals existed (no journal file) may hold keyless frames: its
    lookup reads frames by sort key too."""
    frames = [hashed(i, f"content-{i}".encode(), f"file:a:{i}") for i in range(5)]
    dsn = f"chdb://{tmp_path / 'store'}"
    with ClickHouseStore.open(dsn) as store:
        store.apply_schema()
        assert store.write(frames).rows == 5
        _lose_key_rows(store)
    (tmp_path / "store" / JOURNAL_FILE).unlink()
    with ClickHouseStore.open(dsn) as store:
        assert journal_of(store) is None  # frames, no journal: not journaled from birth
        _assert_not_written_twice(store, frames, known_new=known_new)


def test_the_lookup_of_a_journaled_store_reads_event_keys_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dsn = f"chdb://{tmp_path / 'store'}"
    sent: list[str] = []
    with ClickHouseStore.open(dsn) as store:
        store.apply_schema()
        store.write([hashed(0, b"x", "file:a:0")])
        real = store.query

        def spy(sql: str, *args: Any, **kwargs: Any) -> Any:
            sent.append(sql)
            return real(sql, *args, **kwargs)

        monkeypatch.setattr(store, "query", spy)
        store.write([hashed(1, b"y", "file:a:1")])
    lookups = [sql for sql in sent if "event_keys" in sql]
    assert len(lookups) == 1 and "linewatch.frames" not in lookups[0]


def test_a_journal_that_cannot_be_written_fails_the_write_as_a_retryable_store_error(
    tmp_path: Path,
) -> None:
    """A disk or permission problem on the journal is a failed write (retried after a back-off,
    the rows kept pending), not an OSError that escapes the runner."""
    from streams.sinks.frames_journal import FramesJournal

    path = tmp_path / JOURNAL_FILE
    path.write_bytes(b"")
    journal = FramesJournal(path)
    path.unlink()
    path.mkdir()  # the journal's place is now a directory: opening it for writing fails
    # the journal reads a frame's key alone
    at = dt.datetime(2026, 12, 7, tzinfo=dt.UTC)
    frame = cast(FrameRecord, SimpleNamespace(line_id="line-1", captured_at=at, event_id="e-1"))
    with pytest.raises(StoreWriteError, match="frames journal"), journal.recording([frame]):
        pass
