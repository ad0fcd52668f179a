"""Pre-processing inside onnxruntime: the shipped graph behind a uint8 prefix, vs numpy.

Prints, never asserts. The prefix (Cast to float32, Mul by ``float32(1/255)``, Transpose
NHWC → NCHW; or Transpose first) is merged in front of the shipped graph with
``onnx.compose``, so Python only stacks the uint8 frames. The bench checks that both give
bit-identical outputs on every batch, then times, alternating, CPU ms per frame
(``time.process_time``, median of ``--repeats``): numpy pre-processing (``Detector.preprocess``
into the reused tensor) + ``session.run``, the prefixed graph on the stacked frames, and
``session.run`` alone. One intra-op thread each. Needs ``onnx`` (the dev extra).

Run: ``python bench/bench_input_prefix.py [--frames 400] [--repeats 5]``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import onnx
import onnxruntime as ort
from bench_pipeline import _records
from onnx import TensorProto, compose, helper

from streams.inference import Detector
from streams.ingest import IngestLimits, decode_frame, parse_event

BATCH = 8


def prefixed_session(detector: Detector, transpose_first: bool) -> ort.InferenceSession:
    """The detector's graph behind a uint8 NHWC input ``raw``."""
    model = onnx.load(str(detector.spec.onnx))
    w, h = detector.spec.input_size or (0, 0)
    scale = helper.make_tensor("k", TensorProto.FLOAT, [], [float(np.float32(detector.spec.scale))])
    cast = [helper.make_node("Cast", ["raw"], ["f"], to=TensorProto.FLOAT)]
    if transpose_first:
        nodes = [
            helper.make_node("Transpose", ["raw"], ["t"], perm=[0, 3, 1, 2]),
            helper.make_node("Cast", ["t"], ["f"], to=TensorProto.FLOAT),
            helper.make_node("Mul", ["f", "k"], ["images"]),
        ]
    else:
        nodes = [
            *cast,
            helper.make_node("Mul", ["f", "k"], ["fk"]),
            helper.make_node("Transpose", ["fk"], ["images"], perm=[0, 3, 1, 2]),
        ]
    prefix = helper.make_graph(
        nodes,
        "prefix",
        [helper.make_tensor_value_info("raw", TensorProto.UINT8, ["batch", h, w, 3])],
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["batch", 3, h, w])],
        [scale],
    )
    head = helper.make_model(prefix, opset_imports=model.opset_import, ir_version=model.ir_version)
    merged = compose.merge_models(head, model, io_map=[("images", detector.spec.input_name or "")])
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(merged.SerializeToString(), options, ["CPUExecutionProvider"])


def main(argv: list[str] | None = None) -> None:
    """Check the outputs are identical, then print CPU ms per frame of each path."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--frames", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    detector = Detector.load(None, intra_op_num_threads=1)
    limits = IngestLimits(max_image_bytes=1 << 24)
    frames = [
        decode_frame(parse_event(r.payload, limits), limits).rgb for r in _records(args.frames)
    ]
    batches = [frames[i : i + BATCH] for i in range(0, len(frames), BATCH)]
    paths: dict[str, Callable[[], object]] = {}

    def numpy_path() -> None:
        for batch in batches:
            detector.run_raw(detector.preprocess(batch, reuse=True)[0])

    paths["numpy pre-processing + session.run"] = numpy_path
    for first in (False, True):
        session = prefixed_session(detector, first)
        names = [o.name for o in session.get_outputs()]
        for batch in batches:
            ours = detector.run_raw(detector.preprocess(batch)[0])
            theirs = session.run(names, {"raw": np.stack(batch)})
            assert all(np.array_equal(a, b) for a, b in zip(ours, theirs, strict=True))
        buf = np.empty((BATCH, *frames[0].shape), np.uint8)

        def prefixed(
            session: ort.InferenceSession = session,
            names: list[str] = names,
            buf: np.ndarray = buf,
        ) -> None:
            for batch in batches:
                for j, frame in enumerate(batch):
                    buf[j] = frame
                session.run(names, {"raw": buf[: len(batch)]})

        order = "Transpose, Cast, Mul" if first else "Cast, Mul, Transpose"
        paths[f"prefixed graph ({order})"] = prefixed
    tensor = detector.preprocess(batches[0])[0]
    paths["session.run alone"] = lambda: [detector.run_raw(tensor) for _ in batches]
    print(f"outputs identical on {len(batches)}/{len(batches)} batches of {BATCH}, both prefixes")
    spent: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(args.repeats):
        for name, path in paths.items():
            start = time.process_time()
            path()
            spent[name].append((time.process_time() - start) * 1000.0 / len(frames))
    for name, ms in spent.items():
        print(f"  {name:<40} {statistics.median(ms):6.3f} CPU ms/frame")


if __name__ == "__main__":
    main()
