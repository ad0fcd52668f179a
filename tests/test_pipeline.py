"""The pipeline stage composition and the embedded runner, against real stores (chDB, HTTP)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from streams.config import Settings
from streams.features import CameraHealth
from streams.inference import Detector
from streams.ingest import RawRecord
from streams.ingest.sources import open_source, read_records
from streams.pipeline import MonitoringPipeline
from streams.runners.embedded import run_embedded
from streams.runners.reference import load_reference
from streams.sinks import ClickHouseStore


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector.load(None)


def _pipeline(settings: Settings, detector: Detector) -> MonitoringPipeline:
    return MonitoringPipeline(settings, detector, load_reference(settings))


def _bad_lines(good_line: bytes) -> list[bytes]:
    good = json.loads(good_line)
    unknown_line = dict(good, event_id="00000000-0000-4000-8000-000000000001", line_id="line-99")
    bad_image = dict(
        good,
        event_id="00000000-0000-4000-8000-000000000002",
        image={"encoding": "jpeg", "data": base64.b64encode(b"no jpeg here").decode()},
    )
    naive = dict(
        good, event_id="00000000-0000-4000-8000-000000000003", captured_at="2026-11-29T06:00:00"
    )
    return [
        b"this is not json",
        json.dumps({"event_id": "nope"}).encode(),
        json.dumps(unknown_line).encode(),
        json.dumps(bad_image).encode(),
        json.dumps(naive).encode(),
    ]


def _count(store: ClickHouseStore, table: str) -> int:
    return int(store.query(f"SELECT count() FROM linewatch.{table}").result_rows[0][0])


def test_bad_records_become_dead_letters_with_reasons(
    production_events: tuple[Path, Path],
    settings_factory: Callable[..., Settings],
    detector: Detector,
) -> None:
    events_path, _ = production_events
    good = events_path.read_bytes().splitlines()[:3]
    lines = good + _bad_lines(good[0])
    now = datetime.now(UTC)
    batch = [RawRecord(p, f"test:{i}", now) for i, p in enumerate(lines, 1)]
    out = _pipeline(settings_factory(), detector).process(batch)
    assert len(out.frames) == 3
    reasons = sorted(d.reason for d in out.dead_letters)
    assert reasons == [
        "image_undecodable",
        "not_json",
        "schema_invalid",
        "schema_invalid",
        "unknown_line",
    ]
    # the good events become frames in input order, each naming the record it came from
    assert [f.event_id for f in out.frames] == [json.loads(g)["event_id"] for g in good]
    assert [f.source for f in out.frames] == ["test:1", "test:2", "test:3"]
    assert len(out.frames) + len(out.dead_letters) == len(lines)
    naive = next(d for d in out.dead_letters if d.source == "test:8")
    assert "timezone" in naive.detail


def test_a_frame_failing_in_its_statistics_or_camera_health_is_its_own_dead_letter(
    production_events: tuple[Path, Path],
    settings_factory: Callable[..., Settings],
    detector: Detector,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Statistics and camera health run for the whole batch before the rows and drift: a frame
    they fail on is still dead-lettered in its place, the others are monitored as usual."""
    events_path, _ = production_events
    lines = events_path.read_bytes().splitlines()[:4]
    poisoned = json.loads(lines[1])["event_id"]
    observe = CameraHealth.observe

    def failing(self: CameraHealth, camera_id: str, rgb: NDArray[np.uint8], **kw: Any) -> Any:
        if rgb is poisoned_rgb[0]:
            raise RuntimeError("camera health broke")
        return observe(self, camera_id, rgb, **kw)

    pipeline = _pipeline(settings_factory(), detector)
    prepared = pipeline.prepare(
        [RawRecord(p, f"test:{i}", datetime.now(UTC)) for i, p in enumerate(lines, 1)]
    )
    poisoned_rgb = [
        a.frame.rgb for a in prepared.accepted if str(a.frame.event.event_id) == poisoned
    ]
    monkeypatch.setattr(CameraHealth, "observe", failing)
    out = pipeline.complete(prepared)
    assert [e.raw.source for e in out.events] == ["test:1", "test:2", "test:3", "test:4"]
    letter = out.events[1].dead_letter
    assert letter is not None and letter.reason == "event_unprocessable"
    assert "camera health broke" in letter.detail
    assert [f.source for f in out.frames] == ["test:1", "test:3", "test:4"]
    assert all(
        e.frame is not None and e.dead_letter is None for i, e in enumerate(out.events) if i != 1
    )


def test_embedded_run_accounts_for_every_line_and_replays_idempotently(
    production_events: tuple[Path, Path],
    settings_factory: Callable[..., Settings],
    detector: Detector,
    tmp_path: Path,
    store_dsn: str,
) -> None:
    events_path, labels_path = production_events
    good = events_path.read_bytes().splitlines()
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_bytes(b"\n".join(good + _bad_lines(good[0])) + b"\n")
    settings = settings_factory(store={"dsn": store_dsn}, checkpoint={"flush_rows": 50})
    total_lines = len(good) + 5

    def run_once() -> tuple[int, int, int, int]:
        with ClickHouseStore.open(settings.store.dsn) as store:
            store.apply_schema()
            opened = open_source(str(mixed))
            summary = run_embedded(
                opened.events,
                _pipeline(settings, detector),
                store,
                labels=lambda: read_records(str(labels_path)),
            )
            assert summary.records_read == total_lines
            return (
                _count(store, "frames"),
                _count(store, "dead_letters"),
                _count(store, "detections"),
                _count(store, "labels"),
            )

    frames, dead, detections, labels = run_once()
    assert frames == len(good)
    assert frames + dead == total_lines
    assert labels == len(good)
    assert (frames, dead, detections, labels) == run_once()


def test_embedded_run_end_to_end_checked_by_sql(
    settings_factory: Callable[..., Settings], detector: Detector, store_dsn: str
) -> None:
    settings = settings_factory(store={"dsn": store_dsn})
    source = (
        "simulate:production?events=90&seed=9&scenario=stationary&lines=3"
        "&start=2026-11-29T21:00:00Z&duration=2h"
    )
    with ClickHouseStore.open(settings.store.dsn) as store:
        store.apply_schema()
        opened = open_source(source)
        run_embedded(
            opened.events, _pipeline(settings, detector), store, labels=lambda: opened.labels
        )
        rows = store.query(
            "SELECT line_id, shift, count() FROM linewatch.frames "
            "GROUP BY line_id, shift ORDER BY line_id, shift"
        ).result_rows
        lines = {r[0] for r in rows}
        shifts = {r[1] for r in rows}
        assert lines == {"line-1", "line-2", "line-3"}
        assert shifts == {"evening", "night"}  # 21:00-23:00 UTC spans the 22:00 change
        assert sum(r[2] for r in rows) == 90
        orphans = store.query(
            "SELECT count() FROM linewatch.detections WHERE event_id NOT IN "
            "(SELECT event_id FROM linewatch.frames)"
        ).result_rows[0][0]
        assert orphans == 0


@pytest.mark.slow
def test_stationary_production_day_raises_no_drift_alarm(
    settings_factory: Callable[..., Settings], detector: Detector
) -> None:
    """A stationary day (shift lighting only) through the full pipeline: no alarm.

    1,800 frames x 15 detectors at the default budget (1 false alarm per line-week at 1 frame/s:
    1.1e-7 per slice-signal update) expect ~0.003 false alarms; a miscalibrated detector (or a
    simulator whose slices are not stationary) fires several.
    """
    settings = settings_factory()
    pipeline = _pipeline(settings, detector)
    source = open_source(
        "simulate:production?events=1800&seed=31&scenario=stationary&lines=3"
        "&start=2026-11-29T00:00:00Z&duration=24h"
    )
    drift = []
    batch: list[RawRecord] = []
    for raw in source.events:
        batch.append(raw)
        if len(batch) == 32:
            drift.extend(pipeline.process(batch).drift_events)
            batch = []
    drift.extend(pipeline.process(batch).drift_events)
    assert [(d.line_id, d.shift, d.signal, d.detected_at) for d in drift] == []


@pytest.mark.slow
def test_demo_lamp_failure_is_detected_within_200_events_of_the_affected_slice(
    settings_factory: Callable[..., Settings], detector: Detector
) -> None:
    """line-2's night lamp fails at midnight: the lighting mix of (line-2, night) alarms fast."""
    settings = settings_factory()
    pipeline = _pipeline(settings, detector)
    source = open_source(
        "simulate:production?events=1500&seed=41&scenario=demo&lines=3"
        "&start=2026-11-28T12:00:00Z&duration=24h"
    )
    failure = datetime(2026, 11, 29, 0, 0, tzinfo=UTC)
    affected = 0  # line-2 night frames since the lamp failed
    detected_after: int | None = None
    causes: list[str] = []
    for raw in source.events:
        out = pipeline.process([raw])
        frame = out.frames[0]
        if frame.line_id == "line-2" and frame.shift == "night" and frame.captured_at >= failure:
            affected += 1
        for d in out.drift_events:
            if d.line_id == "line-2" and d.detected_at >= failure:
                causes.append(d.cause)
            if d.line_id == "line-2" and d.signal == "lighting_mix" and detected_after is None:
                assert d.detected_at >= failure, "alarm before the lamp failed"
                detected_after = affected
    assert detected_after is not None, "the lamp failure was never detected"
    assert 0 < detected_after < 200
    # every alarm of line-2 after the failure is attributed to the lamp, not the model
    assert causes and set(causes) == {"lighting"}, causes
