"""Pipeline overhead: monitoring cost per frame and pipeline throughput vs raw onnxruntime.

Prints, never asserts. For each available model (the shipped detector, and
``bench/.cache/yolo-class-320.onnx`` when ``bench/make_yolo_class_model.py`` has built it):

- raw: ``session.run`` alone on ready input tensors of the same frames (no decode, no
  pre/post-processing) — the ceiling;
- pipeline: ``run_embedded`` — what ``linewatch run`` does: JSON parse and JPEG decode (of the
  next batch, overlapping inference), pre-processing, inference, NMS, statistics, slicing,
  drift, row building and the batched writes into an embedded chDB store;
- monitoring ms/frame: everything but image decode and inference (statistics + slice + drift +
  rows + store), on one core;
- the stage table: CPU ms per frame of each stage, one after the other on the same frames,
  batch by batch as ``MonitoringPipeline.process`` goes (a batch is parsed, decoded, run and
  described, then dropped) (``time.process_time``, so the onnxruntime threads' CPU counts and
  another process's does not; median of ``--repeats``), and the pipeline's own overhead per
  frame beside ``session.run``: every stage but ``session.run``. Micro-batches are the
  runners' (``frames_per_run``): a graph with a static batch of 1 gets ``--batch`` frames a
  micro-batch, run through ``session.run`` one at a time; "slice + drift + rows" is the whole
  ``process`` less the other stages, with the ``session.run`` calls of that same pass.

Run: ``python bench/bench_pipeline.py [--frames 600] [--stages-only] [--models shipped]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import TypeAdapter

from schemas.results import Detection
from streams.config import Settings
from streams.features import compute_image_stats
from streams.features.camera_health import CameraHealth
from streams.inference import Detector, ModelSpec
from streams.inference.nms import nms, valid_boxes
from streams.inference.preprocess import LetterboxTransform
from streams.ingest import IngestLimits, RawRecord, decode_frame, parse_event
from streams.ingest.sources import open_source
from streams.pipeline import MonitoringPipeline
from streams.runners.batch_assembler import frames_per_run
from streams.runners.checkpoint import Checkpoint
from streams.runners.embedded import run_embedded
from streams.runners.reference import build_reference
from streams.runners.runtime import build_runtime
from streams.runners.write_behind import EventRows
from streams.simulate import generate, parse_simulate_source

YOLO_CLASS = Path(__file__).parent / ".cache" / "yolo-class-320.onnx"
YOLO_CLASS_BOXES = Path(__file__).parent / ".cache" / "yolo-class-320-boxes.onnx"
"""The same graph with its class bias shifted (``make_yolo_class_model.py --cls-bias-shift 6``):
~100 candidates a frame above the score threshold, so NMS and detections have work to do."""


def _records(n: int) -> list[RawRecord]:
    request = parse_simulate_source(
        f"simulate:production?events={n}&seed=77&scenario=stationary&lines=3"
        "&start=2026-11-29T00:00:00Z&duration=24h"
    )
    now = datetime.now(UTC)
    return [
        RawRecord(json.dumps(sim.event).encode(), f"bench:{i}", now)
        for i, sim in enumerate(generate(request))
    ]


def _raw_fps(detector: Detector, records: list[RawRecord], batch: int) -> float:
    limits = IngestLimits(max_image_bytes=1 << 24)
    frames = [decode_frame(parse_event(r.payload, limits), limits).rgb for r in records]
    tensors = [detector.preprocess(frames[i : i + batch])[0] for i in range(0, len(frames), batch)]
    detector.run_raw(tensors[0])  # warm-up
    start = time.perf_counter()
    for tensor in tensors:
        detector.run_raw(tensor)
    return len(frames) / (time.perf_counter() - start)


def _pipeline_fps(
    detector: Detector, records: list[RawRecord], settings: Settings, batch: int
) -> tuple[float, float, float]:
    """(frames/s of ``run_embedded``, monitoring ms/frame, store ms/frame) on fresh stores."""
    lab = open_source("simulate:lab?events=200&seed=3")
    reference = build_reference(lab.events, detector, settings)
    settings = settings.replace(inference={"batch_frames": batch})
    with tempfile.TemporaryDirectory() as tmp:
        # 1) the cost breakdown: stages one after the other, the store timed on its own
        at = settings.replace(store={"dsn": f"chdb://{tmp}/breakdown"})
        with build_runtime(at, detector=detector, reference=reference) as rt:
            pipeline = rt.pipeline
            writer = Checkpoint(rt.store, settings.checkpoint)
            monitor_ms: list[float] = []
            store_s = 0.0
            for i in range(0, len(records), batch):
                out = pipeline.process(records[i : i + batch])
                monitor_ms.extend(f.monitor_ms for f in out.frames)
                t = time.perf_counter()
                writer.add(EventRows.of(out), len(out.events))
                if writer.due():
                    writer.flush()
                store_s += time.perf_counter() - t
            t = time.perf_counter()
            writer.flush()
            store_s += time.perf_counter() - t
        # 2) throughput: what `linewatch run` does (decode of the next batch overlaps inference)
        at = settings.replace(store={"dsn": f"chdb://{tmp}/run"})
        with build_runtime(at, detector=detector, reference=reference) as rt:
            summary = run_embedded(records, rt.pipeline, rt.store)
    n = len(records)
    return summary.frames_per_s, statistics.fmean(monitor_ms), store_s * 1000.0 / n


_DETECTIONS = TypeAdapter(list[Detection])


def frame_by_frame(
    detector: Detector, outputs: Sequence[Any], transforms: Sequence[LetterboxTransform]
) -> list[list[Detection]]:
    """The post-processing as it was before the batched pass: NMS, mapping and rounding one
    frame at a time (the reference the bench checks :meth:`Detector.postprocess` against)."""
    spec = detector.spec
    names = list(spec.class_names or ())
    results: list[list[Detection]] = []
    for cand, t in zip(detector._decoder(outputs, spec.score_threshold), transforms, strict=False):
        ok = valid_boxes(cand.boxes, cand.scores)
        boxes, scores, labels = cand.boxes[ok], cand.scores[ok], cand.labels[ok]
        keep = nms(
            boxes,
            scores,
            labels,
            iou_threshold=spec.iou_threshold,
            max_detections=spec.max_detections,
        )
        frame_boxes = t.to_frame(boxes[keep]).astype(np.float64).round(3).tolist()
        frame_scores = np.clip(scores[keep].astype(np.float64), 0.0, 1.0).round(6).tolist()
        rows = [
            {
                "class_name": names[c] if 0 <= c < len(names) else f"class_{c}",
                "confidence": s,
                "box": b,
            }
            for b, s, c in zip(frame_boxes, frame_scores, labels[keep].tolist(), strict=True)
        ]
        results.append(_DETECTIONS.validate_python(rows))
    return results


def check_postprocess(
    detector: Detector, frames: Sequence[Any], batch: int, repeats: int
) -> tuple[int, int, float, float]:
    """(frames whose detections differ, frames, CPU ms/frame batched, frame by frame)."""
    runs = []
    for i in range(0, len(frames), batch):
        tensor, transforms = detector.preprocess(frames[i : i + batch])
        runs.append((detector.run_raw(tensor), transforms))
    differ = 0
    for outputs, transforms in runs:
        new = detector.postprocess(outputs, transforms)
        old = frame_by_frame(detector, outputs, transforms)
        differ += sum(a != b for a, b in zip(new, old, strict=True))
    timings = []
    for path in (detector.postprocess, lambda o, t: frame_by_frame(detector, o, t)):
        spent = []
        for _ in range(repeats):
            start = time.process_time()
            for outputs, transforms in runs:
                path(outputs, transforms)
            spent.append((time.process_time() - start) * 1000.0 / len(frames))
        timings.append(statistics.median(spent))
    return differ, len(frames), timings[0], timings[1]


STAGES = (
    "parse + validate (JSON, schema, base64)",
    "JPEG decode",
    "pre-processing",
    "session.run",
    "decode outputs + NMS + detections",
    "image statistics + camera health",
    "slice + drift + rows (the rest of process)",
    "store flush",
)
WRITES = "store writes"
"""Not a stage: how many writes the store flush row took (the flush is a fixed cost per write,
and the write-behind's latency budget sets how many frames one holds)."""


def _stage_ms(
    detector: Detector, records: list[RawRecord], settings: Settings, batch: int
) -> dict[str, float]:
    """CPU ms per frame of each stage, run one after the other on the same frames."""
    limits = IngestLimits.from_settings(settings)
    n = len(records)
    spent = dict.fromkeys(STAGES, 0.0)
    clock = time.process_time

    def timed(stage: str, start: float) -> float:
        now = clock()
        spent[stage] += now - start
        return now

    health = CameraHealth()
    # batch by batch, as MonitoringPipeline.process goes: a batch's frames are decoded, run and
    # described, then dropped (so their memory is reused, as in a long run)
    for i in range(0, n, batch):
        t = clock()
        events = [parse_event(r.payload, limits, now=r.received_at) for r in records[i : i + batch]]
        t = timed(STAGES[0], t)
        frames = [decode_frame(e, limits).rgb for e in events]
        t = timed(STAGES[1], t)
        step = detector.max_batch_size or len(frames)  # as Detector.detect_counted chunks
        for j in range(0, len(frames), step):
            tensor, transforms = detector.preprocess(frames[j : j + step], reuse=True)
            t = timed(STAGES[2], t)
            outputs = detector.run_raw(tensor)
            t = timed(STAGES[3], t)
            detector.postprocess(outputs, transforms)
            t = timed(STAGES[4], t)
        for event, rgb in zip(events, frames, strict=True):
            stats = compute_image_stats(rgb)
            health.observe(event.camera_id, rgb, sharpness=stats.sharpness, contrast=stats.contrast)
        timed(STAGES[5], t)
    # the whole of MonitoringPipeline.process, then the store; the rest is what neither of the
    # stages above measured (slicing, drift, product mix, row building)
    lab = open_source("simulate:lab?events=200&seed=3")
    reference = build_reference(lab.events, detector, settings)
    with tempfile.TemporaryDirectory() as tmp:
        at = settings.replace(store={"dsn": f"chdb://{tmp}/s"})
        rt = build_runtime(at, detector=detector, reference=reference)
        writer = Checkpoint(rt.store, settings.checkpoint)
        whole, flush, run, writes = _whole_pass(detector, rt.pipeline, writer, records, batch)
        rt.close()
    # session.run of this pass is taken out of it, not the first pass's: a large model's run
    # varies from pass to pass by more than the stages around it cost
    spent[STAGES[6]] = max(0.0, whole - run - sum(spent[s] for s in (*STAGES[:3], *STAGES[4:6])))
    spent[STAGES[7]] = flush
    return {**{stage: seconds * 1000.0 / n for stage, seconds in spent.items()}, WRITES: writes}


def _whole_pass(
    detector: Detector,
    pipeline: MonitoringPipeline,
    writer: Checkpoint,
    records: list[RawRecord],
    batch: int,
) -> tuple[float, float, float, int]:
    """CPU seconds of ``pipeline.process`` on every batch, of the store's writes, and of the
    ``session.run`` calls inside the first; the number of writes."""
    clock = time.process_time
    own = vars(detector).get("run_raw")  # a wrapper set on the instance, put back after
    real_run = detector.run_raw
    run = 0.0

    def timed_run(tensor: Any) -> list[Any]:
        nonlocal run
        start = clock()
        try:
            return real_run(tensor)
        finally:
            run += clock() - start

    detector.run_raw = timed_run  # type: ignore[method-assign]
    whole = flush = 0.0
    writes = 0
    try:
        for i in range(0, len(records), batch):
            t = clock()
            out = pipeline.process(records[i : i + batch])
            u = clock()
            writer.add(EventRows.of(out), len(out.events))
            if writer.due():
                writes += 1
                writer.flush()
            whole += u - t
            flush += clock() - u
        writes += writer.pending_events > 0
        t = clock()
        writer.flush()
        flush += clock() - t
    finally:
        if own is None:
            del detector.run_raw
        else:
            detector.run_raw = own  # type: ignore[method-assign]
    return whole, flush, run, writes


def print_stage_table(runs: list[dict[str, float]], frames: int) -> None:
    """The stage table (medians over runs) and the own overhead beside ``session.run``."""
    median = {s: statistics.median(r[s] for r in runs) for s in STAGES}
    print(f"  stage (CPU ms/frame, median of {len(runs)})")
    for stage in STAGES:
        print(f"    {stage:<44} {median[stage]:7.3f}")
    total = sum(median.values())
    run = median["session.run"]
    print(f"    {'total':<44} {total:7.3f}")
    print(
        f"  own overhead per frame {total - run:7.3f} ms beside session.run {run:.3f} ms "
        f"(CPU ms, median of {len(runs)})"
    )
    writes = statistics.median(r[WRITES] for r in runs)
    per_write = statistics.median(r["store flush"] * frames / max(1, r[WRITES]) for r in runs)
    print(
        f"  store flush: {writes:.0f} writes of {frames / max(1, writes):.0f} frames on average, "
        f"{per_write:.1f} CPU ms per write (medians; the latency budget sets frames per write)"
    )


def main(argv: list[str] | None = None) -> None:
    """Print the pipeline benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--frames", type=int, default=600)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3, help="alternating runs of each path")
    parser.add_argument(
        "--stages-only", action="store_true", help="print only the stage table (CPU time)"
    )
    parser.add_argument(
        "--models",
        choices=["all", "shipped", "yolo-class", "yolo-class-boxes"],
        default="all",
        help="which to run",
    )
    args = parser.parse_args(argv)
    records = _records(args.frames)
    models: list[tuple[str, str | None]] = []
    if args.models in ("all", "shipped"):
        models.append(("shipped linewatch-defects", None))
    for name, path, label, how in (
        ("yolo-class", YOLO_CLASS, "random weights, YOLOv8 head init", ""),
        (
            "yolo-class-boxes",
            YOLO_CLASS_BOXES,
            "class bias +6: ~100 boxes a frame",
            " --cls-bias-shift 6 --out " + str(YOLO_CLASS_BOXES),
        ),
    ):
        if args.models in ("all", name) and path.is_file():
            models.append((f"YOLO-class 320x320 ({label})", str(path)))
        elif args.models in ("all", name):
            print(f"(no {path}: run bench/make_yolo_class_model.py{how} to add it)")
    print(f"pipeline benchmark: {len(records)} frames of 320x240 JPEG, batch {args.batch}")
    for label, model in models:
        settings = Settings(inference={"model": model}, drift={"reference": None})
        # the YOLO-class graph has no class names (no metadata): a spec of it names them class_<i>
        detector = Detector.load(ModelSpec.for_onnx(model) if model else None, settings=settings)
        # a micro-batch as the runners take it (a static-batch graph runs it in chunks)
        batch = frames_per_run(args.batch, detector.max_batch_size)
        chunks = (
            f", session.run {detector.max_batch_size} at a time" if detector.max_batch_size else ""
        )
        print(f"\n== {label} (micro-batch {batch}{chunks})")
        print_stage_table(
            [_stage_ms(detector, records, settings, batch) for _ in range(args.repeats)],
            len(records),
        )
        limits = IngestLimits(max_image_bytes=1 << 24)
        frames = [decode_frame(parse_event(r.payload, limits), limits).rgb for r in records]
        differ, n, new_ms, old_ms = check_postprocess(
            detector, frames, detector.max_batch_size or batch, args.repeats
        )
        print(
            f"  detections vs the frame-by-frame path: {n - differ}/{n} frames identical; "
            f"post-processing {new_ms:.3f} ms/frame batched vs {old_ms:.3f} frame by frame"
        )
        if args.stages_only:
            continue
        # raw and pipeline alternate, args.repeats times each; medians absorb machine noise
        raws, runs = [], []
        for _ in range(args.repeats):
            raws.append(_raw_fps(detector, records, detector.max_batch_size or batch))
            runs.append(_pipeline_fps(detector, records, settings, batch))
        raw = statistics.median(raws)
        fps = statistics.median(r[0] for r in runs)
        monitor_ms = statistics.median(r[1] for r in runs)
        store_ms = statistics.median(r[2] for r in runs)
        print(f"  raw onnxruntime        {raw:8.1f} frames/s  (median of {args.repeats})")
        print(f"  linewatch pipeline     {fps:8.1f} frames/s  -> {fps / raw:6.1%} of raw")
        print(
            f"  monitoring per frame   {monitor_ms + store_ms:8.3f} ms "
            f"(stats+slice+drift+rows {monitor_ms:.3f} ms, store {store_ms:.3f} ms)"
        )


if __name__ == "__main__":
    main()
