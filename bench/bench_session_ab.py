"""Why ``session.run`` measured slower in linewatch's child than in Ultralytics' (an A/B).

``bench/bench_ultralytics.py`` runs each side in a child process of its own, and at 1 thread
linewatch's ``session.run`` of the same graph measured about 1 CPU ms a frame more than
Ultralytics'. This bench takes the candidate causes one at a time, on the same ONNX file
(``bench/.cache/yolo-class-320-boxes.onnx``) and the same JPEG frames:

1. **options**: linewatch's session (``Detector.load``, 1 intra-op thread) and the one
   Ultralytics ``predict`` opened (in a child of ``--ultralytics-python``), printed side by side:
   intra/inter-op threads, spinning, execution mode, optimisation level, memory pattern, CPU
   arena, denormals, providers;
2. **tensors**: the input linewatch builds for each frame (decode, letterbox, scale) and the one
   Ultralytics passed to ``session.run`` for the same frame: shape, dtype, contiguity, 64-byte
   alignment, pad colour, largest difference;
3. **same process**: one session fed (a) linewatch's and (b) Ultralytics' tensors, alternating
   rounds; CPU ms per run (median) and the outputs' largest difference;
4. **process**: the same session (same options, same tensor) run in a tight loop in fresh child
   processes: of this interpreter, of the Ultralytics interpreter, and of the Ultralytics
   interpreter after ``import torch`` (what Ultralytics' child does before its session runs),
   alternating, ``--repeats`` times.

Every run here has 1 intra-op thread and runs on the calling thread; CPU time is
``time.process_time`` (all threads of the process). Prints, never asserts.

Run: ``PYTHONPATH=. python bench/bench_session_ab.py --ultralytics-python
/work/venv-ultra/bin/python`` (skips, saying so, where Ultralytics cannot be imported).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

MODEL = Path(__file__).parent / ".cache" / "yolo-class-320-boxes.onnx"
TIGHT_RUNS = 100
CONFIG_KEYS = (
    "session.intra_op.allow_spinning",
    "session.inter_op.allow_spinning",
    "session.set_denormal_as_zero",
)


def session_options(session: Any) -> dict[str, Any]:
    """What a session was opened with (``-``: a config entry left at onnxruntime's default)."""
    opts = session.get_session_options()
    shown: dict[str, Any] = {
        "intra_op_num_threads": opts.intra_op_num_threads,
        "inter_op_num_threads": opts.inter_op_num_threads,
        "execution_mode": str(opts.execution_mode).split(".")[-1],
        "graph_optimization_level": str(opts.graph_optimization_level).split(".")[-1],
        "enable_mem_pattern": opts.enable_mem_pattern,
        "enable_cpu_mem_arena": opts.enable_cpu_mem_arena,
    }
    for key in CONFIG_KEYS:
        try:
            shown[key] = opts.get_session_config_entry(key)
        except Exception:  # onnxruntime raises its own type for an entry never set
            shown[key] = "-"
    shown["providers"] = ",".join(session.get_providers())
    return shown


def tensor_facts(t: np.ndarray[Any, Any]) -> dict[str, Any]:
    """Layout and values of one input tensor (``pad``: the top-left pixel, a letterbox bar)."""
    tiny = np.finfo(np.float32).tiny
    return {
        "shape": "x".join(map(str, t.shape)),
        "dtype": str(t.dtype),
        "C-contiguous": bool(t.flags["C_CONTIGUOUS"]),
        "address % 64": t.ctypes.data % 64,
        "pad": ",".join(f"{v:.6f}" for v in t[0, :, 0, 0]),
        "mean": round(float(t.mean()), 6),
        "subnormals": int(np.count_nonzero((t != 0) & (np.abs(t) < tiny))),
    }


def _plain_session(import_torch: bool, session_class: Any = None) -> Any:
    """linewatch's session options (``streams.inference.session.open_session``), 1 thread."""
    if import_torch:
        __import__("torch").set_num_threads(1)
    import onnxruntime as ort

    session_class = session_class or ort.InferenceSession
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.intra_op_num_threads = 1
    return session_class(str(MODEL), options, providers=["CPUExecutionProvider"])


def _child_tight(folder: Path, import_torch: bool) -> dict[str, Any]:
    """One tensor, ``TIGHT_RUNS`` runs in 5 rounds: median CPU ms per run."""
    session = _plain_session(import_torch)
    tensor = np.load(folder / "linewatch.npy", mmap_mode="r")[:1].copy()
    name = session.get_inputs()[0].name
    for _ in range(10):
        session.run(None, {name: tensor})
    rounds = []
    for _ in range(5):
        start = time.process_time()
        for _ in range(TIGHT_RUNS // 5):
            session.run(None, {name: tensor})
        rounds.append((time.process_time() - start) * 1000 / (TIGHT_RUNS // 5))
    return {"ms": statistics.median(rounds), "options": session_options(session)}


def _child_ultralytics(folder: Path) -> dict[str, Any]:
    """Ultralytics ``predict`` on ``frames/`` with linewatch's options; saves the inputs it ran."""
    os.environ.setdefault("YOLO_OFFLINE", "1")
    import onnxruntime as ort

    torch = __import__("torch")
    yolo = __import__("ultralytics").YOLO
    torch.set_num_threads(1)
    made: list[Any] = []
    inputs: list[np.ndarray[Any, Any]] = []
    session_class, run = ort.InferenceSession, ort.InferenceSession.run

    def opened(path: str, *_: Any, **__: Any) -> Any:
        made.append(_plain_session(False, session_class))
        return made[-1]

    def kept(self: Any, names: Any, feed: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        inputs.extend(feed.values())
        return run(self, names, feed, *args, **kwargs)

    session_class.run = kept
    ort.InferenceSession = opened
    model = yolo(str(MODEL), task="detect")
    kw = {"imgsz": 320, "conf": 0.05, "iou": 0.5, "max_det": 100, "device": "cpu", "batch": 1}
    for _ in model.predict(str(folder / "frames"), stream=True, verbose=False, **kw):
        pass
    facts = tensor_facts(inputs[0])  # as handed to session.run, before any copy
    np.save(folder / "ultralytics.npy", np.concatenate([np.asarray(t) for t in inputs]))
    return {"options": session_options(made[0]), "tensor": facts}


def _linewatch_inputs(folder: Path) -> tuple[Any, list[np.ndarray[Any, Any]], dict[str, Any]]:
    """linewatch's detector (1 intra-op thread) and its input tensor of each frame."""
    from streams.describe import FrameDescriber
    from streams.inference import Detector, ModelSpec
    from streams.ingest import RawRecord

    spec = ModelSpec.for_onnx(MODEL).model_copy(
        update={"class_names": tuple(f"class{i}" for i in range(80))}
    )
    detector = Detector.load(spec, intra_op_num_threads=1)
    describer = FrameDescriber(detector, operating_threshold=0.5, review_band=(0.0, 0.0))
    tensors: list[np.ndarray[Any, Any]] = []
    for line in (folder / "events.jsonl").read_bytes().splitlines():
        decoded = describer.decode([RawRecord(line, "bench", datetime.now(UTC))])
        tensor, _ = detector.preprocess([decoded.accepted[0].frame.rgb], reuse=True)
        if not tensors:
            facts = tensor_facts(tensor)  # the reused tensor detect_lines hands to session.run
        tensors.append(tensor.copy())
    np.save(folder / "linewatch.npy", np.concatenate(tensors))
    return detector, tensors, facts


def _write_frames(folder: Path, n: int) -> None:
    """``events.jsonl`` and ``frames/*.jpg``: the same ``n`` simulated frames."""
    import base64

    from streams.simulate import generate, parse_simulate_source

    request = parse_simulate_source(
        f"simulate:production?events={n}&seed=77&scenario=stationary&lines=3"
        "&start=2026-11-29T00:00:00Z&duration=24h"
    )
    (folder / "frames").mkdir()
    with (folder / "events.jsonl").open("w") as out:
        for i, sim in enumerate(generate(request)):
            out.write(json.dumps(sim.event) + "\n")
            jpg = base64.b64decode(sim.event["image"]["data"])
            (folder / "frames" / f"{i:05d}.jpg").write_bytes(jpg)


def _run_child(python: str, mode: str, folder: Path, extra: tuple[str, ...] = ()) -> Any:
    args = [python, __file__, "--child", mode, "--dir", str(folder), *extra]
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the {mode} child failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _side_by_side(title: str, left: dict[str, Any], right: dict[str, Any]) -> None:
    print(f"\n== {title}\n  {'':34} {'linewatch':>22} {'ultralytics':>22}")
    for key, mine in left.items():
        same = "" if mine == right.get(key) else "   <- differs"
        print(f"  {key:34} {mine!s:>22} {right.get(key)!s:>22}{same}")


def _same_process(detector: Any, a: list[Any], b: list[Any], rounds: int) -> None:
    """One session, (a) and (b) alternating: median CPU ms per run, outputs' largest difference."""
    times: dict[str, list[float]] = {"linewatch": [], "ultralytics": []}
    for tensor in a[:5] + b[:5]:
        detector.run_raw(tensor)
    for i in range(rounds):  # who goes first alternates too
        for side, tensors in (("linewatch", a), ("ultralytics", b))[:: 1 if i % 2 else -1]:
            start = time.process_time()
            for tensor in tensors:
                detector.run_raw(tensor)
            times[side].append((time.process_time() - start) * 1000 / len(tensors))
    gap = max(
        float(np.abs(x - y).max())
        for ta, tb in zip(a, b, strict=True)
        for x, y in zip(detector.run_raw(ta), detector.run_raw(tb), strict=True)
    )
    print(f"\n== same process, one session, {len(a)} frames x {rounds} rounds, alternating")
    for side, ms in times.items():
        spread = "/".join(f"{t:.2f}" for t in ms)
        print(f"  {side:<12} tensors: {statistics.median(ms):6.2f} CPU ms/run  ({spread})")
    print(f"  largest output difference between the two inputs: {gap:.3g}")


def _processes(python: str, folder: Path, repeats: int) -> None:
    """The tight loop in fresh children: this interpreter, Ultralytics', Ultralytics' + torch."""
    sides = {
        "this interpreter": (sys.executable, ()),
        "ultralytics interpreter": (python, ()),
        "ultralytics interpreter, torch imported": (python, ("--import-torch",)),
    }
    ms: dict[str, list[float]] = {side: [] for side in sides}
    for _ in range(repeats):
        for side, (interpreter, extra) in sides.items():
            ms[side].append(_run_child(interpreter, "tight", folder, extra)["ms"])
    print(f"\n== process: one tensor, {TIGHT_RUNS} runs a child, {repeats} children a side")
    for side, values in ms.items():
        spread = "/".join(f"{v:.2f}" for v in values)
        print(f"  {side:<40} {statistics.median(values):6.2f} CPU ms/run  ({spread})")


def main(argv: list[str] | None = None) -> None:
    """Print the four comparisons (or, as a child, one JSON line)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--ultralytics-python", default=sys.executable)
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--child", choices=["ultralytics", "tight"], help=argparse.SUPPRESS)
    parser.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--import-torch", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child = _child_ultralytics(args.dir) if args.child == "ultralytics" else None
        print(json.dumps(child or _child_tight(args.dir, args.import_torch)))
        return
    python = args.ultralytics_python
    probe = subprocess.run([python, "-c", "import ultralytics"], capture_output=True, check=False)
    if probe.returncode != 0 or not MODEL.is_file():
        print(f"skipping: ultralytics not importable by {python}, or no {MODEL}")
        return
    print(f"session.run A/B: {MODEL.name}, {args.frames} frames 320x240, 1 intra-op thread")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _write_frames(folder, args.frames)
        detector, mine, facts = _linewatch_inputs(folder)
        theirs = _run_child(python, "ultralytics", folder)
        _side_by_side("session options", session_options(detector._session), theirs["options"])
        _side_by_side("input tensor, first frame", facts, theirs["tensor"])
        loaded = np.load(folder / "ultralytics.npy")
        other = [np.ascontiguousarray(loaded[i : i + 1]) for i in range(len(loaded))]
        diff = max(float(np.abs(x - y).max()) for x, y in zip(mine, other, strict=True))
        print(f"  largest input difference over {len(mine)} frames: {diff:.3g}")
        _same_process(detector, mine, other, args.rounds)
        _processes(python, folder, args.repeats)


if __name__ == "__main__":
    main()
