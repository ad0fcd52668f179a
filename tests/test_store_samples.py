"""Sample store rows of every record type, shared by the store and sink tests (and checked here)."""

from __future__ import annotations

import datetime as dt

from schemas.records import (
    DeadLetterRecord,
    DetectionRecord,
    DriftEventRecord,
    FrameRecord,
    LabelRecord,
    ReferenceGapRecord,
    StoreRecord,
)

T0 = dt.datetime(2024, 5, 1, 6, 0, 0, 123000, tzinfo=dt.UTC)
BERLIN = dt.timezone(dt.timedelta(hours=2))


def frame(i: int, *, line: str = "line-1", lux: float | None = 420.0) -> FrameRecord:
    return FrameRecord(
        event_id=f"evt-{i:06d}",
        line_id=line,
        camera_id="cam-a",
        captured_at=T0 + dt.timedelta(seconds=i),
        shift="day",
        lighting="dim",
        product_variant="v2",
        sensor_lux=lux,
        sensor_colour_temp_k=None,
        brightness=0.41 + i * 1e-4,
        contrast=0.2,
        sharpness=12.5,
        colour_cast=0.01,
        est_colour_temp_k=5100.0,
        clipped_high=0.0,
        clipped_low=0.003,
        model_name="linewatch-defects",
        model_version="1.0.0",
        detection_count=2,
        max_confidence=0.7,
        predicted_defective=i % 2 == 0,
        decode_ms=1.5,
        inference_ms=8.25,
        monitor_ms=0.1,
        latency_ms=11.0,
        source="simulate:production",
        # a non-UTC offset: must come back as the same instant in UTC
        ingested_at=(T0 + dt.timedelta(seconds=i, milliseconds=5)).astimezone(BERLIN),
    )


def detection(i: int, k: int) -> DetectionRecord:
    return DetectionRecord(
        event_id=f"evt-{i:06d}",
        det_index=k,
        line_id="line-1",
        captured_at=T0 + dt.timedelta(seconds=i),
        class_name=("scratch", "dent", "stain")[k % 3],
        confidence=0.7 - 0.1 * k,
        x1=10.5,
        y1=20.0,
        x2=64.25,
        y2=80.0,
    )


def drift(
    i: int, *, line: str = "line-1", minutes: int = 0, cause: str = "lighting"
) -> DriftEventRecord:
    return DriftEventRecord(
        drift_id=f"drift-{line}-{i}",
        line_id=line,
        shift="day",
        lighting="dim",
        signal="brightness",
        detector="page_hinkley",
        detected_at=T0 + dt.timedelta(minutes=minutes),
        trigger_event_id=f"evt-{i:06d}",
        statistic=9.5,
        threshold=5.0,
        events_in_slice=120 + i,
        before_mean=0.5,
        before_std=0.1,
        after_mean=0.3,
        after_std=0.12,
        cause=cause,
        evidence=f"{cause} signals moved",
    )


def gap(i: int) -> ReferenceGapRecord:
    return ReferenceGapRecord(
        gap_id=f"gap-{i}",
        line_id="line-2",
        shift="night",
        lighting="dark",
        signal="contrast",
        metric="psi",
        window_start=T0,
        window_end=T0 + dt.timedelta(minutes=10),
        window_events=200,
        distance=0.31,
        reference_mean=0.2,
        window_mean=0.15,
    )


def dead_letter(i: int) -> DeadLetterRecord:
    return DeadLetterRecord.build(
        reason="bad_json",
        detail="Expecting value: line 1 column 1",
        payload=f"not json {i} \u00e9'\"".encode(),
        source="kafka:camera-events/0",
        received_at=T0,
    )


def label(i: int) -> LabelRecord:
    return LabelRecord(
        label_id=f"lbl-{i}",
        event_id=f"evt-{i:06d}",
        source="qa-station",
        labelled_at=T0 + dt.timedelta(hours=1),
        object_count=2,
        class_names=["scratch", "crack"],
        boxes=[[1.0, 2.0, 30.5, 40.0], [5.0, 6.0, 7.0, 8.0]],
        ingested_at=T0 + dt.timedelta(hours=1, seconds=3),
    )


def one_of_each(i: int = 0) -> list[StoreRecord]:
    return [frame(i), detection(i, 0), drift(i), gap(i), dead_letter(i), label(i)]


def test_samples_cover_every_table_with_distinct_keys() -> None:
    rows = one_of_each(0) + one_of_each(1)
    tables = {r.__table__ for r in rows}
    assert tables == {
        "frames",
        "detections",
        "drift_events",
        "reference_gap",
        "dead_letters",
        "labels",
    }
    assert len({(r.__table__, r.key()) for r in rows}) == len(rows)
