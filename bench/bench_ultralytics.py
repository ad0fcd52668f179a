"""``linewatch detect`` vs Ultralytics ``predict``: the same ONNX model, frames and thresholds.

Prints, never asserts. Runs only where Ultralytics can be imported: by ``--ultralytics-python``
(default: this interpreter; Ultralytics pulls in torch, so keep it in a virtualenv of its own,
e.g. ``/work/venv-ultra``); otherwise it says so and exits 0.

Both sides, each in a child process of its own, alternating, ``--repeats`` times per thread count:

- the same YOLOv8n-class graph: ``bench/.cache/yolo-class-320-boxes.onnx``, built by
  ``bench/make_yolo_class_model.py --cls-bias-shift 6`` (random weights whose class bias is
  shifted so that ~100 anchors a frame score above 0.05 and NMS keeps a few boxes: a frame with
  no candidates would not measure the post-processing at all);
- the same JPEG frames (the simulator's, 320x240): linewatch reads them as camera events (JSON
  with base64 JPEG, what ``linewatch detect`` reads), Ultralytics as ``.jpg`` files;
- the same thresholds (score 0.05, IoU 0.5, at most 100 boxes), one frame per
  ``InferenceSession.run`` (the graph's static batch is 1), and the same onnxruntime session
  options (``--threads`` intra-op threads, no spinning, all graph optimisations; Ultralytics'
  own session is given these, and torch the same thread count).

Measured: CPU time of the child (all its threads, ``time.process_time``) per frame over the
frames after a warm-up, median of ``--repeats``, and how much of it was inside
``InferenceSession.run`` (the process's CPU while a run was going on, so linewatch's decode
thread, which overlaps the run, counts there too); wall time per frame; and whether both found
the same boxes, and each run's CPU ms per frame (the spread).

The ``linewatch`` side at ``n`` threads runs what ``linewatch detect --threads n`` runs by
default: ``--batch-size`` frames (default: the CLI's, ``LINEWATCH_INFERENCE__BATCH_FRAMES``'
default 8) decoded, then run one at a time through the static-batch graph, then post-processed
and written together; ``--batch-size 1`` measures one frame through every stage at a time
(Ultralytics ``predict`` stays at ``batch=1``: the graph takes one frame a run either way).
Threads as :func:`streams.inference.threads.detect_threads` splits them: at 1 thread decode and
model on one thread; at ``n > 1`` ``n`` frames in the model at once, 1 intra-op thread each
(their runs overlap, so its CPU is not split into "session.run" and "beside it"). At ``n > 1``
a third side, ``linewatch-intra-op``, gives the ``n`` threads to one run at a time as intra-op
threads, the next frame decoded meanwhile (``--in-flight 1``), as Ultralytics spends them.
The linewatch child runs :func:`streams.detect.detect_lines`, the loop of ``linewatch detect``
(parse, decode, pre-process, inference, NMS, one JSON line per frame).

Run: ``python bench/bench_ultralytics.py --ultralytics-python /work/venv-ultra/bin/python``
(``--repeats 5`` to beat the noise between child processes).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

MODEL = Path(__file__).parent / ".cache" / "yolo-class-320-boxes.onnx"
SCORE, IOU, MAX_DET = 0.05, 0.5, 100
WARMUP = 20


def _cli_batch() -> int:
    """``linewatch detect``'s default ``--batch-size`` (imported here: the Ultralytics child's
    interpreter need not have linewatch's dependencies)."""
    from streams.config_groups.frames import InferenceSettings

    return int(InferenceSettings.model_fields["batch_frames"].default)


SIDES = {
    "linewatch": "what `linewatch detect --threads {n}` runs by default: {split}",
    "ultralytics": "{n} intra-op thread(s), torch {n} thread(s)",
    "linewatch-intra-op": "`linewatch detect --threads {n} --in-flight 1`: {split}",
}
"""The sides measured at ``n`` threads (``linewatch-intra-op`` only where ``n > 1``)."""


def _split(side: str, threads: int) -> Any:
    """The intra-op threads x batches in flight of a linewatch side at ``threads``."""
    from streams.inference.threads import detect_threads

    return detect_threads(threads, 1 if side == "linewatch-intra-op" else None)


def _how(side: str, threads: int) -> str:
    if side == "ultralytics":
        return SIDES[side].format(n=threads)
    split = _split(side, threads)
    text = f"{split.intra_op} intra-op thread(s) x {max(split.in_flight, 1)} frame(s) in the model"
    text += " (decode on the model's thread)" if split.in_flight == 0 else " (decode overlaps)"
    return SIDES[side].format(n=threads, split=text)


def _write_frames(folder: Path, n: int) -> None:
    """``events.jsonl`` (camera events) and their images as ``.jpg`` files: the first
    :data:`WARMUP` in ``warm/``, the others in ``frames/``."""
    from streams.simulate import generate, parse_simulate_source

    request = parse_simulate_source(
        f"simulate:production?events={n}&seed=77&scenario=stationary&lines=3"
        "&start=2026-11-29T00:00:00Z&duration=24h"
    )
    (folder / "warm").mkdir()
    (folder / "frames").mkdir()
    with (folder / "events.jsonl").open("w") as out:
        for i, sim in enumerate(generate(request)):
            out.write(json.dumps(sim.event) + "\n")
            jpg = folder / ("warm" if i < WARMUP else "frames") / f"{i:05d}.jpg"
            jpg.write_bytes(base64.b64decode(sim.event["image"]["data"]))


def _time_session_runs() -> list[float]:
    """Make every onnxruntime ``InferenceSession.run`` of this process add its CPU time (all
    threads) to the list returned: both children call it, so both split the same way."""
    import onnxruntime as ort

    spent = [0.0]
    run = ort.InferenceSession.run

    def timed(self: Any, *args: Any, **kwargs: Any) -> Any:
        start = time.process_time()
        try:
            return run(self, *args, **kwargs)
        finally:
            spent[0] += time.process_time() - start

    ort.InferenceSession.run = timed
    return spent


def _child_linewatch(folder: Path, threads: int, side: str, batch: int) -> dict[str, Any]:
    """``linewatch detect``'s loop as ``linewatch detect --threads {threads} --batch-size
    {batch}`` runs it (``side`` ``linewatch``) or with ``--in-flight 1``
    (``linewatch-intra-op``)."""
    from streams.detect import detect_lines
    from streams.inference import Detector, ModelSpec

    spec = ModelSpec.for_onnx(MODEL).model_copy(
        update={
            "class_names": tuple(f"class{i}" for i in range(80)),
            "score_threshold": SCORE,
            "iou_threshold": IOU,
            "max_detections": MAX_DET,
        }
    )
    split = _split(side, threads)
    detector = Detector.load(spec, intra_op_num_threads=split.intra_op)
    in_flight = split.in_flight
    lines = (folder / "events.jsonl").read_bytes().splitlines()
    written: list[str] = []
    spent = _time_session_runs()
    detect_lines(lines[:WARMUP], detector, written.append, batch_size=batch, in_flight=in_flight)
    written.clear()
    spent[0] = 0.0
    start, wall = time.process_time(), time.perf_counter()
    detect_lines(lines[WARMUP:], detector, written.append, batch_size=batch, in_flight=in_flight)
    cpu, wall = time.process_time() - start, time.perf_counter() - wall
    boxes = [[d["box"] for d in json.loads(w)["detections"]] for w in written]
    return _result(cpu, wall, spent[0], boxes)


def _result(cpu: float, wall: float, run: float, boxes: list[Any]) -> dict[str, Any]:
    n = len(boxes)
    return {
        "cpu_ms": cpu * 1000 / n,
        "wall_ms": wall * 1000 / n,
        "run_ms": run * 1000 / n,
        "boxes": boxes,
    }


def _child_ultralytics(folder: Path, threads: int) -> dict[str, Any]:
    os.environ.setdefault("YOLO_OFFLINE", "1")
    import importlib

    import onnxruntime as ort

    torch = importlib.import_module("torch")  # neither is a dependency of linewatch
    yolo = importlib.import_module("ultralytics").YOLO

    torch.set_num_threads(threads)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.intra_op_num_threads = threads
    session = ort.InferenceSession

    def same_options(path: str, *_: Any, **__: Any) -> Any:
        return session(path, options, providers=["CPUExecutionProvider"])

    spent = _time_session_runs()
    ort.InferenceSession = same_options  # Ultralytics opens its session with these options
    model = yolo(str(MODEL), task="detect")
    kw = {"imgsz": 320, "conf": SCORE, "iou": IOU, "max_det": MAX_DET, "device": "cpu", "batch": 1}
    for _ in model.predict(str(folder / "warm"), stream=True, verbose=False, **kw):
        pass
    boxes = []
    spent[0] = 0.0
    start, wall = time.process_time(), time.perf_counter()
    for result in model.predict(str(folder / "frames"), stream=True, verbose=False, **kw):
        boxes.append(result.boxes.xyxy.tolist())
    cpu, wall = time.process_time() - start, time.perf_counter() - wall
    return _result(cpu, wall, spent[0], boxes)


def _run_child(python: str, side: str, folder: Path, threads: int, batch: int) -> dict[str, Any]:
    args = [python, __file__, "--child", side, "--dir", str(folder), "--threads", str(threads)]
    args += ["--batch-size", str(batch)]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    done = subprocess.run(args, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the {side} child failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _agreement(a: list[list[list[float]]], b: list[list[list[float]]]) -> str:
    """How many frames have the same number of boxes, and the largest corner difference."""
    same = sum(len(x) == len(y) for x, y in zip(a, b, strict=True))
    diffs = [
        abs(p - q)
        for x, y in zip(a, b, strict=True)
        if len(x) == len(y)
        for bx, by in zip(sorted(x), sorted(y), strict=True)
        for p, q in zip(bx, by, strict=True)
    ]
    boxes = sum(len(x) for x in a) / max(len(a), 1)
    return (
        f"{same}/{len(a)} frames with as many boxes ({boxes:.1f} a frame), largest corner "
        f"difference {max(diffs, default=0.0):.3f} px"
    )


def _compare(python: str, folder: Path, threads: int, args: argparse.Namespace) -> None:
    sides = ["linewatch", "ultralytics"] + (["linewatch-intra-op"] if threads > 1 else [])
    runs: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
    for _ in range(args.repeats):  # side by side, alternating
        for side in sides:
            interpreter = python if side == "ultralytics" else sys.executable
            runs[side].append(_run_child(interpreter, side, folder, threads, args.batch_size))
    cpu = {side: statistics.median(r["cpu_ms"] for r in rs) for side, rs in runs.items()}
    wall = {side: statistics.median(r["wall_ms"] for r in rs) for side, rs in runs.items()}
    run = {side: statistics.median(r["run_ms"] for r in rs) for side, rs in runs.items()}
    own = {
        side: statistics.median(r["cpu_ms"] - r["run_ms"] for r in rs) for side, rs in runs.items()
    }
    print(f"\n== {threads} thread(s), median of {args.repeats}")
    for side in sides:
        how = _how(side, threads)
        split = (  # runs overlapping on several threads: their CPU deltas count each other's
            "runs overlap, not split"
            if side == "linewatch" and threads > 1
            else f"{run[side]:5.2f} in session.run, {own[side]:4.2f} beside it"
        )
        spread = "/".join(f"{r['cpu_ms']:.2f}" for r in runs[side])
        print(
            f"  {side:<16} {cpu[side]:6.2f} CPU ms/frame ({split}), "
            f"{wall[side]:6.2f} wall ms/frame  [{how}]\n    CPU ms/frame by run: {spread}"
        )
    for side in sides:
        if side == "ultralytics":
            continue
        ahead = cpu["ultralytics"] / cpu[side] - 1.0
        ahead_wall = wall["ultralytics"] / wall[side] - 1.0
        print(
            f"  {side} ahead of ultralytics by {ahead:+.1%} in CPU time, {ahead_wall:+.1%} in "
            "wall time"
        )
        print("    boxes: " + _agreement(runs[side][0]["boxes"], runs["ultralytics"][0]["boxes"]))


def main(argv: list[str] | None = None) -> None:
    """Print the comparison (or, as a child, one side's JSON line)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--ultralytics-python", default=sys.executable)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="linewatch's frames per batch (default: linewatch detect's, 8)",
    )
    parser.add_argument("--child", choices=list(SIDES), help=argparse.SUPPRESS)
    parser.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.batch_size is None and args.child != "ultralytics":
        args.batch_size = _cli_batch()
    if args.child:
        threads = args.threads[0]
        if args.child == "ultralytics":
            result = _child_ultralytics(args.dir, threads)
        else:
            result = _child_linewatch(args.dir, threads, args.child, args.batch_size)
        print(json.dumps(result))
        return
    python = args.ultralytics_python
    probe = subprocess.run([python, "-c", "import ultralytics"], capture_output=True, check=False)
    if probe.returncode != 0:
        print(
            f"ultralytics is not importable by {python}: skipping (install it in a virtualenv "
            "of its own and pass --ultralytics-python)"
        )
        return
    if not MODEL.is_file():
        print(
            f"no {MODEL}: build it with `python bench/make_yolo_class_model.py "
            f"--cls-bias-shift 6 --out {MODEL}` (needs torch)"
        )
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _write_frames(folder, args.frames + WARMUP)
        print(
            f"linewatch detect vs Ultralytics predict: {MODEL.name}, {args.frames} frames "
            f"320x240 after {WARMUP} of warm-up, score {SCORE}, IoU {IOU}, one frame a run; "
            f"linewatch --batch-size {args.batch_size}, ultralytics batch=1"
        )
        for threads in args.threads:
            _compare(python, folder, threads, args)


if __name__ == "__main__":
    main()
