"""Inference overhead: raw onnxruntime vs ``Detector.detect`` vs the full ``linewatch detect`` path.

Prints, never asserts. For each available model, on the same simulated frames:

- raw: ``session.run`` alone on ready input tensors (no decode, no pre/post-processing);
- detect: ``Detector.detect`` on decoded RGB frames (letterbox, normalise, run, decode, NMS,
  map boxes back, build ``Detection`` objects);
- full: what ``linewatch detect`` does per line (JSON parse + validation, base64 + JPEG decode,
  detect, serialise and write a JSON line).

Throughput is given as a ratio to raw (target: detect ≥ 0.90 for a 320x320 YOLO-class model).
Models: the shipped detector (``streams/models/linewatch-defects.json``),
``bench/.cache/yolo-class-320.onnx`` if it has been built, and a synthetic YOLOv8-shaped conv
net (≈1.7 GFLOP at 320x320, 80 classes, 2100 anchors) built here with ``onnx`` in two flavours:
"sparse" (few boxes above the score threshold, like a trained model on mostly good parts) and
"dense" (every anchor scores ~0.5: the worst case for NMS).

Accelerators: ``--providers cuda,tensorrt`` (or ``cuda``) runs every model through those
onnxruntime execution providers (CPU last, for the operators they lack) at batch 1, 8 and 32,
and adds the I/O-binding rows (below). Where onnxruntime here does not offer them (no GPU, or
the CPU-only onnxruntime wheel), the bench says so on one line and skips: it never measures the
CPU in their place. ``--providers cpu --io-binding`` runs the same code path on the CPU.

Every table gives frames/s and ms/frame (wall) and CPU ms/frame by stage: parse + JPEG decode,
pre-processing, ``session.run`` on host arrays (the copies to and from the device inside),
``session.run`` with I/O binding (``--io-binding``, on by default with an accelerator: the input
bound from the host array, the outputs left on the device; then the outputs copied back, timed
as a row of their own), post-processing (decode + NMS + map back), ``Detector.detect`` and the
whole ``linewatch detect`` path.

The YOLOv8n-class graph: ``bench/.cache/yolo-class-320-dynamic.onnx`` (``make_yolo_class_model.py
--dynamic-batch --out ...``: any batch size) when it exists, else ``yolo-class-320.onnx``, whose
static batch of 1 caps the batch (the table says so).

Run: ``python bench/bench_inference.py [--frames 96] [--batch 8] [--repeats 3]
[--providers cuda,tensorrt]``.
"""

from __future__ import annotations

import argparse
import io
import json
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from streams.detect import detect_lines
from streams.errors import ModelError
from streams.inference import Detector, ModelSpec
from streams.inference.detector import shipped_spec_path
from streams.ingest import IngestLimits, decode_frame, parse_event

YOLO_CLASS = Path(__file__).parent / ".cache" / "yolo-class-320.onnx"
YOLO_CLASS_DYNAMIC = Path(__file__).parent / ".cache" / "yolo-class-320-dynamic.onnx"
LIMITS = IngestLimits(max_image_bytes=1 << 24)


def _events(n: int) -> list[bytes]:
    """``n`` camera-event JSON lines with JPEG frames (simulator if present, else noise)."""
    try:
        from streams.simulate import generate, parse_simulate_source
    except ImportError:
        return _noise_events(n)
    request = parse_simulate_source(f"simulate:production?events={n}&seed=11&lines=3")
    return [json.dumps(sim.event).encode() for sim in generate(request)]


def _noise_events(n: int) -> list[bytes]:
    import base64
    import uuid

    from PIL import Image

    rng = np.random.default_rng(0)
    lines = []
    for _ in range(n):
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)).save(buf, "JPEG")
        event = {
            "event_id": str(uuid.uuid4()),
            "camera_id": "cam",
            "line_id": "line-1",
            "captured_at": "2026-11-29T06:00:00Z",
            "image": {"encoding": "jpeg", "data": base64.b64encode(buf.getvalue()).decode()},
        }
        lines.append(json.dumps(event).encode())
    return lines


# --- a synthetic YOLOv8-shaped model ------------------------------------------------------


def build_synthetic_yolo(path: Path, *, size: int = 320, classes: int = 80, dense: bool) -> Path:
    """A random-weight conv net with YOLOv8's output contract ``[B, 4+C, N]`` (strides 8/16/32)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(1)
    nodes: list[onnx.NodeProto] = []
    inits: list[onnx.TensorProto] = []
    counter = iter(range(10_000))

    def conv(x: str, cin: int, cout: int, k: int, stride: int, *, act: bool = True) -> str:
        i = next(counter)
        w = rng.normal(0, np.sqrt(2.0 / (cin * k * k)), (cout, cin, k, k)).astype(np.float32)
        inits.extend(
            [
                numpy_helper.from_array(w, f"w{i}"),
                numpy_helper.from_array(np.zeros(cout, np.float32), f"b{i}"),
            ]
        )
        nodes.append(
            helper.make_node(
                "Conv",
                [x, f"w{i}", f"b{i}"],
                [f"c{i}"],
                kernel_shape=[k, k],
                strides=[stride, stride],
                pads=[k // 2] * 4,
            )
        )
        if not act:
            return f"c{i}"
        nodes.append(helper.make_node("Sigmoid", [f"c{i}"], [f"s{i}"]))
        nodes.append(helper.make_node("Mul", [f"c{i}", f"s{i}"], [f"a{i}"]))  # SiLU
        return f"a{i}"

    x = conv("images", 3, 16, 3, 2)
    x = conv(x, 16, 32, 3, 2)
    for _ in range(3):
        x = conv(x, 32, 32, 3, 1)
    heads = []
    cin = 32
    for cout in (64, 128, 256):  # strides 8, 16, 32
        x = conv(x, cin, cout, 3, 2)
        for _ in range(3):
            x = conv(x, cout, cout, 3, 1)
        cin = cout
        heads.append((x, cout))
    flat = []
    # boxes: cx, cy anywhere in the input, w, h up to a fifth of it; class logits: sparse = a few
    # anchors above 0.05 (like a trained model on mostly good parts), dense = most anchors above
    box_scale = np.array([size, size, size / 5, size / 5], np.float32).reshape(1, 4, 1, 1)
    inits.append(numpy_helper.from_array(box_scale, "box_scale"))
    inits.append(numpy_helper.from_array(np.array(8.0, np.float32), "box_gain"))
    inits.append(numpy_helper.from_array(np.array([0, 0, -1], np.int64), "flat_shape"))
    gain, shift = (4.0, -1.0) if dense else (4.0, -9.0)
    inits.append(numpy_helper.from_array(np.array(gain, np.float32), "cls_gain"))
    inits.append(numpy_helper.from_array(np.array(shift, np.float32), "cls_shift"))
    for j, (h, ch) in enumerate(heads):
        box = conv(h, ch, 4, 1, 1, act=False)
        cls = conv(h, ch, classes, 1, 1, act=False)
        nodes += [
            helper.make_node("Mul", [cls, "cls_gain"], [f"cg{j}"]),
            helper.make_node("Add", [f"cg{j}", "cls_shift"], [f"cs{j}"]),
            helper.make_node("Sigmoid", [f"cs{j}"], [f"cp{j}"]),
            helper.make_node("Mul", [box, "box_gain"], [f"bg{j}"]),
            helper.make_node("Sigmoid", [f"bg{j}"], [f"bp{j}"]),
            helper.make_node("Mul", [f"bp{j}", "box_scale"], [f"bx{j}"]),
            helper.make_node("Concat", [f"bx{j}", f"cp{j}"], [f"hd{j}"], axis=1),
            helper.make_node("Reshape", [f"hd{j}", "flat_shape"], [f"fl{j}"]),
        ]
        flat.append(f"fl{j}")
    nodes.append(helper.make_node("Concat", flat, ["output0"], axis=2))
    n_anchors = sum((size // s) ** 2 for s in (8, 16, 32))
    graph = helper.make_graph(
        nodes,
        "synthetic_yolo",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["batch", 3, size, size])],
        [
            helper.make_tensor_value_info(
                "output0", TensorProto.FLOAT, ["batch", 4 + classes, n_anchors]
            )
        ],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


# --- measurement ----------------------------------------------------------------------------


def _timed(fn: Callable[[], object]) -> tuple[float, float]:
    """``(wall, cpu)`` seconds of one call (cpu: this process, all threads)."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def bench_model(
    label: str,
    model: str | Path | ModelSpec | None,
    *,
    lines: list[bytes],
    batch: int,
    repeats: int,
    threads: int | None,
    providers: Sequence[str] | None = None,
    io_binding: bool = False,
) -> None:
    """Print the stage table of one model on ``lines`` (see the module doc)."""
    try:
        detector = Detector.load(model, intra_op_num_threads=threads, providers=providers)
    except ModelError as exc:
        print(f"{label}: cannot load ({exc})")
        return
    spec = detector.spec
    frames = [decode_frame(parse_event(x, LIMITS), LIMITS).rgb for x in lines]
    asked = batch
    if detector.max_batch_size is not None:  # static batch dim: the graph's size it is
        batch = min(batch, detector.max_batch_size)
    chunks = [frames[i : i + batch] for i in range(0, len(frames), batch)]
    tensors = [detector.preprocess(c)[0] for c in chunks]

    # raw = the detector's own onnxruntime session (a second session would add a second
    # spinning thread pool and skew the comparison on small machines)
    session = detector._session
    feed = spec.input_name or session.get_inputs()[0].name
    session.run(None, {feed: tensors[0]})
    detector.detect(chunks[0])  # warm both up

    def raw() -> None:
        for t in tensors:
            session.run(None, {feed: t})

    def detect() -> None:
        for c in chunks:
            detector.detect(c)

    counts: list[int] = []

    def full() -> None:
        sink = io.StringIO()
        summary = detect_lines(lines, detector, sink.write, batch_size=batch, limits=LIMITS)
        counts.append(summary.accepted)

    outputs = [detector.run_raw(t) for t in tensors]
    transforms = [detector.preprocess(c)[1] for c in chunks]

    def parse_decode() -> None:
        for x in lines:
            decode_frame(parse_event(x, LIMITS), LIMITS)

    def pre() -> None:
        for c in chunks:
            detector.preprocess(c)

    def post() -> None:
        for o, t in zip(outputs, transforms, strict=True):
            detector.postprocess(o, t)

    stages: list[tuple[str, Callable[[], object]]] = [
        ("parse + JPEG decode", parse_decode),
        ("pre-processing", pre),
        ("session.run (host arrays)", raw),
    ]
    if io_binding:
        bound_run, copy_back = io_bound_runs(session, feed, tensors, _device_of(providers))
        stages += [
            ("session.run, I/O binding", bound_run),
            ("  outputs copied to the host", copy_back),
        ]
    stages += [
        ("post-processing (decode+NMS+map)", post),
        ("Detector.detect", detect),
        ("full linewatch detect", full),
    ]
    best: dict[str, tuple[float, float]] = {}
    for _ in range(repeats):  # interleaved, so drifting machine load hits all stages alike
        for name, fn in stages:
            wall, cpu = _timed(fn)
            old = best.get(name, (wall, cpu))
            best[name] = (min(old[0], wall), min(old[1], cpu))
    n = len(frames)
    boxes = sum(len(r) for r in detector.detect(frames)) / n
    capped = f" (asked {asked}: the graph's batch is static)" if batch != asked else ""
    print(
        f"\n{label}: {spec.name} ({spec.output_format}, input {spec.input_size}, "
        f"{len(spec.class_names or ())} classes), {n} frames, batch {batch}{capped}, "
        f"{boxes:.1f} boxes/frame kept, providers {', '.join(session.get_providers())}"
    )
    _print_stages(best, [name for name, _ in stages], n)


def _print_stages(best: dict[str, tuple[float, float]], names: list[str], n: int) -> None:
    """The stage table: frames/s, wall ms/frame and CPU ms/frame of each stage's best run."""
    print(f"  {'stage':<36}{'frames/s':>10}{'ms/frame':>10}{'cpu ms/fr':>11}")
    for name in names:
        wall, cpu = best[name]
        print(f"  {name:<36}{n / wall:>10.1f}{wall * 1000 / n:>10.3f}{cpu * 1000 / n:>11.3f}")
    raw = best["session.run (host arrays)"][0]
    detect, full = best["Detector.detect"][0], best["full linewatch detect"][0]
    print(
        f"  throughput / raw session.run's: Detector.detect {raw / detect:.3f}, "
        f"linewatch detect {raw / full:.3f}"
    )


def _device_of(providers: Sequence[str] | None) -> str:
    """Where I/O binding leaves the outputs: the accelerator's memory, else the host's."""
    accelerated = {"CUDAExecutionProvider", "TensorrtExecutionProvider"}
    return "cuda" if providers and accelerated & set(providers) else "cpu"


def io_bound_runs(
    session: ort.InferenceSession, feed: str, tensors: Sequence[Any], device: str
) -> tuple[Callable[[], None], Callable[[], None]]:
    """``(run, copy_back)``: ``run`` binds each host tensor as the input and runs with its
    outputs bound to ``device`` memory (no copy back); ``copy_back`` runs the same and copies
    the outputs to the host (``copy_back``'s time less ``run``'s is the copy)."""
    binding = session.io_binding()
    names = [o.name for o in session.get_outputs()]

    def run() -> None:
        for t in tensors:
            binding.bind_cpu_input(feed, t)
            for name in names:
                binding.bind_output(name, device)
            session.run_with_iobinding(binding)

    def copy_back() -> None:
        for t in tensors:
            binding.bind_cpu_input(feed, t)
            for name in names:
                binding.bind_output(name, device)
            session.run_with_iobinding(binding)
            binding.copy_outputs_to_cpu()

    return run, copy_back


PROVIDERS = {
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
    "cpu": "CPUExecutionProvider",
}
"""``--providers`` names → onnxruntime execution providers."""


def accelerator_providers(names: str) -> list[str] | None:
    """The onnxruntime providers for ``--providers`` (CPU appended), or ``None`` after saying
    plainly which are missing here."""
    wanted = [n.strip().lower() for n in names.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in PROVIDERS]
    if unknown:
        raise SystemExit(f"--providers: unknown {', '.join(unknown)}; use {', '.join(PROVIDERS)}")
    providers = [PROVIDERS[n] for n in wanted]
    available = ort.get_available_providers()
    missing = [p for p in providers if p not in available]
    if missing:
        print(
            f"no accelerator here: onnxruntime {ort.__version__} offers {', '.join(available)}; "
            f"{', '.join(missing)} not available, so the accelerator bench is skipped (it needs a "
            "GPU and the onnxruntime-gpu wheel)"
        )
        return None
    return (
        [*providers, "CPUExecutionProvider"]
        if "CPUExecutionProvider" not in providers
        else providers
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; prints a table per model."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=96)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="intra-op threads")
    parser.add_argument("--no-synthetic", action="store_true")
    parser.add_argument(
        "--providers", default=None, help="accelerators, e.g. cuda,tensorrt (batch 1, 8, 32)"
    )
    parser.add_argument(
        "--io-binding",
        action="store_true",
        help="add the I/O-binding rows (always with an accelerator in --providers)",
    )
    parser.add_argument("--batches", type=int, nargs="+", default=None, help="override")
    args = parser.parse_args(argv)
    providers = None
    batches = [args.batch]
    if args.providers:
        providers = accelerator_providers(args.providers)
        if providers is None:
            return 0
        batches = [1, 8, 32]
        args.io_binding = args.io_binding or _device_of(providers) != "cpu"
    batches = args.batches or batches
    lines = _events(args.frames)
    print(
        f"bench_inference: {len(lines)} events, onnxruntime {ort.__version__}, "
        f"threads {args.threads or 'default'}, providers {providers or 'CPU'}"
    )
    for batch in batches:
        _bench_all(args, lines, batch, providers)
    return 0


def _bench_all(
    args: argparse.Namespace, lines: list[bytes], batch: int, providers: list[str] | None
) -> None:
    common: dict[str, Any] = {
        "lines": lines,
        "batch": batch,
        "repeats": args.repeats,
        "threads": args.threads,
        "providers": providers,
        "io_binding": args.io_binding,
    }
    shipped = shipped_spec_path()
    if shipped.is_file():
        bench_model("shipped", None, **common)
    else:
        print(f"\nshipped: {shipped} not present, skipped")
    yolo = YOLO_CLASS_DYNAMIC if YOLO_CLASS_DYNAMIC.is_file() else YOLO_CLASS
    if yolo.is_file():
        bench_model(yolo.stem, ModelSpec.for_onnx(yolo), **common)
    else:
        print(
            f"yolo-class-320: neither {YOLO_CLASS_DYNAMIC} nor {YOLO_CLASS} present, skipped "
            "(bench/make_yolo_class_model.py builds them; it needs torch)"
        )
    if not args.no_synthetic:
        with tempfile.TemporaryDirectory() as tmp:
            for dense in (False, True):
                name = "dense" if dense else "sparse"
                path = build_synthetic_yolo(Path(tmp) / f"synthetic-{name}.onnx", dense=dense)
                bench_model(f"synthetic-yolo-320-{name}", ModelSpec.for_onnx(path), **common)


if __name__ == "__main__":
    raise SystemExit(main())
