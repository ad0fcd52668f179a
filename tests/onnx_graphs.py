"""Hand-built ONNX graphs for tests: detectors whose outputs are known arrays.

``constant_detector`` makes a graph with one image input whose outputs are fixed per-image arrays
repeated along the input's batch dimension (``Tile`` by the input's batch size), so any batch
size gives a consistent batch of outputs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

__all__ = ["constant_detector", "save_model"]

OPSET = 17
IR_VERSION = 8

Dim = int | str


def save_model(
    graph: onnx.GraphProto, path: Path, metadata: Mapping[str, str] | None = None
) -> Path:
    """Check and write ``graph`` as a model of a widely supported opset / IR version, with
    ``metadata`` as its ``metadata_props`` (as an exporter writes them)."""
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    if metadata:
        helper.set_model_props(model, dict(metadata))
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def constant_detector(
    path: Path,
    outputs: Mapping[str, np.ndarray],
    *,
    input_shape: Sequence[Dim] = ("batch", 3, 64, 64),
    input_name: str = "images",
    output_shapes: Mapping[str, Sequence[Dim]] | None = None,
    echo_input: bool = False,
    metadata: Mapping[str, str] | None = None,
) -> Path:
    """A detector graph whose output ``name`` is ``outputs[name]`` for every image in the batch.

    ``outputs[name]`` is one image's output (no batch dim). Declared output shapes default to
    ``("batch", *array.shape)``; pass ``output_shapes`` to declare others (e.g. symbolic dims).
    ``echo_input`` adds a last output ``echo`` equal to the input (to inspect pre-processing).
    ``metadata`` becomes the model's ``metadata_props`` (e.g. Ultralytics ``names``, ``imgsz``).
    """
    nodes = [
        helper.make_node("Shape", [input_name], ["batch_dim"], start=0, end=1),
    ]
    initializers = []
    graph_outputs = []
    for name, array in outputs.items():
        per_image = np.asarray(array)
        const = numpy_helper.from_array(per_image[None, ...], name=f"{name}_const")
        ones = numpy_helper.from_array(np.ones(per_image.ndim, dtype=np.int64), f"{name}_ones")
        initializers += [const, ones]
        nodes += [
            helper.make_node("Concat", ["batch_dim", f"{name}_ones"], [f"{name}_reps"], axis=0),
            helper.make_node("Tile", [f"{name}_const", f"{name}_reps"], [name]),
        ]
        shape = (output_shapes or {}).get(name, ("batch", *per_image.shape))
        elem = helper.np_dtype_to_tensor_dtype(per_image.dtype)
        graph_outputs.append(helper.make_tensor_value_info(name, elem, list(shape)))
    if echo_input:
        nodes.append(helper.make_node("Identity", [input_name], ["echo"]))
        graph_outputs.append(
            helper.make_tensor_value_info("echo", TensorProto.FLOAT, list(input_shape))
        )
    graph = helper.make_graph(
        nodes,
        "constant_detector",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, list(input_shape))],
        graph_outputs,
        initializer=initializers,
    )
    return save_model(graph, path, metadata)
