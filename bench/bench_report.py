"""Readiness metrics and report on a big store: synthetic rows straight into the tables.

This benchmarks ``reconcile`` + ``compute_metrics`` + ``render_report`` (the views, the
Python around them, the plots), not the pipeline: frames, detections, labels, drift events,
reference-gap windows and a lab split are generated with numpy and bulk-inserted in big
batches with the bare driver. Times are printed, never asserted.

    .venv/bin/python bench/bench_report.py --frames 1000000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from schemas.records import stable_id
from streams.config import Settings
from streams.readiness.metrics import compute_metrics
from streams.readiness.reconcile import reconcile
from streams.readiness.records import AssessmentRunRecord, CorruptionResultRecord, LabEvalRecord
from streams.report import compute_verdict, render_report
from streams.sinks import ClickHouseStore

LINES = np.array(["line-1", "line-2", "line-3"])
SHIFTS = np.array(["day", "evening", "night"])
LIGHTING = np.array(["dark", "dim", "normal", "bright"])
CLASSES = np.array(["scratch", "dent", "stain", "crack"])
T0 = datetime(2026, 11, 1, tzinfo=UTC)
BATCH = 200_000


def _uuid_strings(n0: int, n: int) -> np.ndarray:
    ids = np.arange(n0, n0 + n)
    return np.char.add("00000000-0000-4000-8000-", np.char.zfill(ids.astype(str), 12))


def _frames_batch(rng: np.random.Generator, n0: int, n: int, span_s: float) -> pd.DataFrame:
    line = rng.integers(0, 3, n)
    at = pd.to_datetime(T0) + pd.to_timedelta(np.sort(rng.uniform(0, span_s, n)) + n0, unit="s")
    conf = np.clip(rng.beta(0.6, 4.0, n), 0, 1)
    latency = rng.lognormal(np.log(60), 0.35, n)
    return pd.DataFrame(
        {
            "event_id": _uuid_strings(n0, n),
            "line_id": LINES[line],
            "camera_id": np.char.add("cam-", LINES[line]),
            "captured_at": at,
            "shift": SHIFTS[rng.integers(0, 3, n)],
            "lighting": LIGHTING[rng.choice(4, n, p=[0.05, 0.2, 0.6, 0.15])],
            "product_variant": "bracket-a",
            "sensor_lux": rng.normal(600, 80, n),
            "sensor_colour_temp_k": rng.normal(4800, 300, n),
            "brightness": rng.normal(0.5, 0.05, n),
            "contrast": rng.normal(0.2, 0.02, n),
            "sharpness": rng.normal(0.1, 0.01, n),
            "colour_cast": rng.normal(0.0, 0.01, n),
            "est_colour_temp_k": rng.normal(5000, 200, n),
            "clipped_high": np.zeros(n),
            "clipped_low": np.zeros(n),
            "model_name": "bench",
            "model_version": "1",
            "detection_count": (conf >= 0.05).astype(np.uint32),
            "max_confidence": conf,
            "predicted_defective": (conf >= 0.5).astype(np.uint8),
            "decode_ms": rng.uniform(1, 3, n),
            "inference_ms": latency * 0.7,
            "monitor_ms": rng.uniform(0.2, 1, n),
            "latency_ms": latency,
            "source": "bench",
            "ingested_at": at + pd.to_timedelta(1, unit="s"),
        }
    )


def _detections_of(frames: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    d = frames[frames["max_confidence"] >= 0.05]
    n = len(d)
    x = rng.uniform(20, 250, n)
    y = rng.uniform(20, 180, n)
    return pd.DataFrame(
        {
            "event_id": d["event_id"].to_numpy(),
            "det_index": np.zeros(n, dtype=np.uint32),
            "line_id": d["line_id"].to_numpy(),
            "captured_at": d["captured_at"].to_numpy(),
            "class_name": CLASSES[rng.integers(0, 3, n)],
            "confidence": d["max_confidence"].to_numpy(),
            "x1": x.astype(np.float32),
            "y1": y.astype(np.float32),
            "x2": (x + 30).astype(np.float32),
            "y2": (y + 30).astype(np.float32),
        }
    )


def _labels_of(
    frames: pd.DataFrame, dets: pd.DataFrame, rng: np.random.Generator, share: float
) -> pd.DataFrame:
    picked = frames[rng.random(len(frames)) < share]
    n = len(picked)
    box_of = dets.set_index("event_id")[["class_name", "x1", "y1", "x2", "y2"]]
    defective = (rng.random(n) < 0.02) | (picked["max_confidence"].to_numpy() >= 0.5) & (
        rng.random(n) < 0.6
    )
    classes: list[list[str]] = []
    boxes: list[list[list[float]]] = []
    for eid, bad in zip(picked["event_id"].to_numpy(), defective, strict=True):
        if not bad:
            classes.append([])
            boxes.append([])
        elif eid in box_of.index and rng.random() < 0.8:
            row = box_of.loc[eid]
            classes.append([str(row["class_name"])])
            boxes.append(
                [[float(row["x1"]) + 2, float(row["y1"]), float(row["x2"]) + 2, float(row["y2"])]]
            )
        else:
            classes.append([str(CLASSES[rng.integers(0, 4)])])
            boxes.append([[100.0, 100.0, 130.0, 125.0]])
    at = pd.to_datetime(picked["captured_at"]) + pd.to_timedelta(rng.uniform(60, 7200, n), unit="s")
    return pd.DataFrame(
        {
            "label_id": [
                stable_id(e, "audit", str(t)) for e, t in zip(picked["event_id"], at, strict=True)
            ],
            "event_id": picked["event_id"].to_numpy(),
            "source": "audit",
            "labelled_at": at,
            "object_count": np.array([len(c) for c in classes], dtype=np.uint32),
            "class_names": classes,
            "boxes": boxes,
            "ingested_at": at,
        }
    )


def _monitor_rows(rng: np.random.Generator, days: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    n = 600
    at = pd.to_datetime(T0) + pd.to_timedelta(rng.uniform(0, days * 86400, n), unit="s")
    common = {
        "line_id": LINES[rng.integers(0, 3, n)],
        "shift": SHIFTS[rng.integers(0, 3, n)],
        "lighting": LIGHTING[rng.integers(0, 4, n)],
        "signal": np.array(["brightness", "contrast", "max_confidence", "colour_cast"])[
            rng.integers(0, 4, n)
        ],
    }
    drift = pd.DataFrame(
        {
            "drift_id": [f"d{i}" for i in range(n)],
            **common,
            "detector": "cusum",
            "detected_at": at,
            "trigger_event_id": [f"e{i}" for i in range(n)],
            "statistic": rng.uniform(5, 20, n),
            "threshold": 5.0,
            "events_in_slice": rng.integers(100, 10000, n).astype(np.uint64),
            "before_mean": 0.5,
            "before_std": 0.1,
            "after_mean": 0.4,
            "after_std": 0.1,
        }
    )
    m = 8000
    start = pd.to_datetime(T0) + pd.to_timedelta(rng.uniform(0, days * 86400, m), unit="s")
    gap = pd.DataFrame(
        {
            "gap_id": [f"g{i}" for i in range(m)],
            "line_id": LINES[rng.integers(0, 3, m)],
            "shift": SHIFTS[rng.integers(0, 3, m)],
            "lighting": LIGHTING[rng.integers(0, 4, m)],
            "signal": np.array(["brightness", "contrast", "max_confidence"])[rng.integers(0, 3, m)],
            "metric": "psi",
            "window_start": start,
            "window_end": start + pd.to_timedelta(600, unit="s"),
            "window_events": np.full(m, 200, dtype=np.uint32),
            "distance": rng.gamma(1.5, 0.06, m),
            "reference_mean": 0.5,
            "window_mean": 0.45,
        }
    )
    return drift, gap


def _lab_rows(rng: np.random.Generator) -> list[object]:
    run_id = "bench-run"
    now = datetime.now(UTC)
    rows: list[object] = [
        AssessmentRunRecord(
            run_id=run_id,
            suite="corruptions",
            seed=0,
            frames=120,
            conditions=25,
            model_name="bench",
            model_version="1",
            threshold=0.5,
            review_low=0.15,
            review_high=0.5,
            started_at=now,
            finished_at=now,
            elapsed_s=1.0,
        )
    ]
    names = ["clean"] + [f"c{k}" for k in range(7)]
    for ci, name in enumerate(names):
        for sev in (0,) if name == "clean" else (1, 3, 5):
            caught = 0
            for i in range(120):
                bad = i % 2 == 0
                conf = float(np.clip(rng.normal(0.8 - 0.1 * sev if bad else 0.1, 0.15), 0, 1))
                caught += bad and conf >= 0.5
                box = [50.0, 50.0, 80.0, 80.0]
                rows.append(
                    LabEvalRecord(
                        row_id=stable_id(run_id, name, sev, i),
                        run_id=run_id,
                        corruption=name,
                        severity=sev,
                        frame_index=i,
                        scene_id=str(i),
                        gt_classes=["dent"] if bad else [],
                        gt_boxes=[box] if bad else [],
                        det_classes=["dent"],
                        det_confidences=[conf],
                        det_boxes=[box],
                        max_confidence=conf,
                        threshold=0.5,
                        gt_defective=bad,
                        pred_defective=conf >= 0.5,
                        outcome=("TP" if conf >= 0.5 else "FN")
                        if bad
                        else ("FP" if conf >= 0.5 else "TN"),
                        failure_mode="correct",
                    )
                )
            rows.append(
                CorruptionResultRecord(
                    result_id=stable_id(run_id, name, sev),
                    run_id=run_id,
                    kind="clean" if name == "clean" else "corruption",
                    corruption=name,
                    severity=sev,
                    frames=120,
                    defect_objects=60,
                    recalled_objects=caught,
                    recall=caught / 60,
                    defective_frames=60,
                    caught_frames=caught,
                    good_frames=60,
                    flagged_good_frames=1,
                    mean_top_confidence=0.5,
                    fail_safe=60 - caught,
                    fail_silent=1,
                    in_review_band=10,
                )
            )
        del ci
    return rows


def fill(store: ClickHouseStore, frames: int, labelled: float, seed: int) -> dict[str, int]:
    rng = np.random.default_rng(seed)
    client = store._client  # bulk load with the bare driver: not what is being measured
    span_days = 30.0
    counts = {"frames": 0, "detections": 0, "labels": 0}
    for n0 in range(0, frames, BATCH):
        n = min(BATCH, frames - n0)
        f = _frames_batch(rng, n0, n, span_days * 86400 * n / frames)
        d = _detections_of(f, rng)
        lab = _labels_of(f, d, rng, labelled)
        client.insert_df("linewatch.frames", f)
        client.insert_df("linewatch.detections", d)
        client.insert_df("linewatch.labels", lab)
        counts["frames"] += len(f)
        counts["detections"] += len(d)
        counts["labels"] += len(lab)
    drift, gap = _monitor_rows(rng, span_days)
    client.insert_df("linewatch.drift_events", drift)
    client.insert_df("linewatch.reference_gap", gap)
    store.insert(_lab_rows(rng))  # type: ignore[arg-type]
    return counts


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--frames", type=int, default=1_000_000)
    parser.add_argument("--labelled", type=float, default=0.05, help="share of frames labelled")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, default=None, help="store directory to keep")
    args = parser.parse_args(argv)
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-report-"))
    settings = Settings(
        store={"dsn": f"chdb://{folder / 'store'}"}, inference={"operating_threshold": 0.5}
    )
    with ClickHouseStore.open(settings.store.dsn) as store:
        store.apply_schema()
        t = time.perf_counter()
        counts = fill(store, args.frames, args.labelled, args.seed)
        t_fill = time.perf_counter() - t
        t = time.perf_counter()
        summary = reconcile(store, settings)
        t_reconcile = time.perf_counter() - t
        t = time.perf_counter()
        metrics = compute_metrics(store, settings, reconcile_first=False)
        t_metrics = time.perf_counter() - t
        t = time.perf_counter()
        verdict = compute_verdict(store, settings, metrics=metrics)
        html = render_report(store, settings, metrics=metrics, verdict=verdict)
        t_report = time.perf_counter() - t
        t = time.perf_counter()
        reconcile(store, settings)  # nothing pending: the cost of the incremental check
        t_recheck = time.perf_counter() - t
    out = folder / "report.html"
    out.write_text(html)
    total = t_reconcile + t_metrics + t_report
    print(
        f"store: {counts['frames']:,} frames, {counts['detections']:,} detections, "
        f"{counts['labels']:,} labels (bulk load {t_fill:.1f} s, not measured below)"
    )
    print(
        f"reconcile {summary.reconciled:,} labelled frames : {t_reconcile:8.2f} s "
        f"({summary.reconciled / max(t_reconcile, 1e-9):,.0f} frames/s)"
    )
    print(f"reconcile again (nothing pending)   : {t_recheck:8.2f} s")
    print(f"compute_metrics (all views)         : {t_metrics:8.2f} s")
    print(
        f"verdict + render_report             : {t_report:8.2f} s ({len(html) / 1e6:.1f} MB HTML)"
    )
    print(f"total metrics + report              : {total:8.2f} s for {counts['frames']:,} frames")
    print(f"ratio report / metrics              : {t_report / max(t_metrics, 1e-9):8.2f}")
    print(f"verdict: {verdict.status}; report: {out}")


if __name__ == "__main__":
    main()
