"""A model spec resolved against its graph: input name, size, layout and the output decoder.

What the spec leaves open is filled in from the model's export metadata
(:mod:`streams.inference.export_metadata`), then from the graph; the spec always wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from streams.errors import ModelFormatError
from streams.inference.decoders import Decoder, OutputInfo, infer_format, make_decoder
from streams.inference.export_metadata import DETECT_TASK, ExportMetadata
from streams.inference.spec import ModelSpec

if TYPE_CHECKING:
    import onnxruntime as ort

__all__ = ["ORT_FLOAT_TYPES", "GraphInput", "resolve_decoder", "resolve_input"]

ORT_FLOAT_TYPES: dict[str, type[np.floating[Any]]] = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
}
"""The input element types a detector may take, as onnxruntime names them."""


@dataclass(frozen=True, slots=True)
class GraphInput:
    """The graph's image input as the detector feeds it."""

    name: str
    type: str
    layout: str
    size: tuple[int, int]
    static_batch: int | None


def _input_of(spec: ModelSpec, session: ort.InferenceSession) -> Any:
    inputs = session.get_inputs()
    by_name = {i.name: i for i in inputs}
    if spec.input_name is not None and spec.input_name not in by_name:
        raise ModelFormatError(
            f"model {spec.onnx} has no input {spec.input_name!r} (inputs: "
            f"{', '.join(by_name)}); fix input_name in the spec"
        )
    inp = by_name[spec.input_name] if spec.input_name is not None else inputs[0]
    if len(inp.shape) != 4:
        raise ModelFormatError(
            f"model input {inp.name} has shape {list(inp.shape)}; a detector takes one 4-D image "
            "batch (NCHW or NHWC)"
        )
    if inp.type not in ORT_FLOAT_TYPES:
        raise ModelFormatError(
            f"model input {inp.name} is {inp.type}; only float and float16 inputs are supported"
        )
    return inp


def resolve_input(
    spec: ModelSpec, session: ort.InferenceSession, meta: ExportMetadata
) -> GraphInput:
    """The image input: the spec's, else the metadata's, else the graph's; checked."""
    if meta.task is not None and meta.task != DETECT_TASK:
        raise ModelFormatError(
            f"model {spec.onnx} is an exported {meta.task!r} model (ONNX metadata task); "
            f"linewatch runs object detectors: export a {DETECT_TASK!r} model"
        )
    inp = _input_of(spec, session)
    shape = list(inp.shape)
    layout = spec.layout
    if layout is None:
        layout = "NHWC" if shape[3] == 3 and shape[1] != 3 else "NCHW"
    h_dim, w_dim, c_dim = (shape[2], shape[3], shape[1]) if layout == "NCHW" else shape[1:4]
    if isinstance(c_dim, int) and c_dim != 3:
        raise ModelFormatError(
            f"model input {inp.name} {shape} has {c_dim} channels in {layout} layout; "
            "expected 3 (fix layout in the spec)"
        )
    graph_size = (w_dim, h_dim) if isinstance(w_dim, int) and isinstance(h_dim, int) else None
    input_size = spec.input_size or graph_size or meta.input_size
    if input_size is None:
        raise ModelFormatError(
            f"model input {inp.name} {shape} has no static size and no imgsz metadata; set "
            "input_size [W, H] in the model spec (`linewatch model init` writes one)"
        )
    if graph_size is not None and tuple(input_size) != graph_size:
        raise ModelFormatError(
            f"spec input_size {list(input_size)} differs from the graph's {list(graph_size)}"
        )
    static_batch = shape[0] if isinstance(shape[0], int) and shape[0] > 0 else None
    width, height = input_size
    return GraphInput(inp.name, inp.type, layout, (width, height), static_batch)


def _probe_shapes(
    session: ort.InferenceSession, spec: ModelSpec, input_type: str, batch: int
) -> list[OutputInfo]:
    """Concrete output shapes, from one run on a blank batch (symbolic dims in the graph)."""
    w, h = spec.input_size or (0, 0)
    shape = (batch, 3, h, w) if spec.layout == "NCHW" else (batch, h, w, 3)
    blank = np.zeros(shape, dtype=ORT_FLOAT_TYPES[input_type])
    try:
        outs = session.run(None, {spec.input_name or "": blank})
    except Exception as exc:
        raise ModelFormatError(
            f"model {spec.onnx} fails on a blank {list(shape)} input ({exc}); check "
            "input_size and layout in the spec"
        ) from exc
    names = [o.name for o in session.get_outputs()]
    return [OutputInfo(n, tuple(np.asarray(o).shape)) for n, o in zip(names, outs, strict=True)]


def resolve_decoder(
    spec: ModelSpec,
    resolved: ModelSpec,
    session: ort.InferenceSession,
    graph: GraphInput,
    meta: ExportMetadata,
) -> tuple[str, Decoder]:
    """The output format (the spec's, else inferred from the output shapes) and its decoder.

    ``spec`` is the spec as given, ``resolved`` the one with the graph's input filled in.
    """
    infos = [OutputInfo(o.name, tuple(o.shape)) for o in session.get_outputs()]
    if any(not isinstance(d, int) for o in infos for d in o.shape[1:]):
        infos = _probe_shapes(session, resolved, graph.type, graph.static_batch or 1)
    names = resolved.class_names
    try:
        fmt = spec.output_format or infer_format(infos, None if names is None else len(names))
        decoder = make_decoder(
            fmt,
            infos,
            class_names=names,
            box_units=spec.box_units,
            input_size=resolved.input_size or graph.size,
        )
    except ModelFormatError as exc:
        if spec.class_names is None and meta.names is not None:
            raise ModelFormatError(
                f"model {spec.onnx}: {exc} (class names from its ONNX metadata 'names'); "
                "write a spec with `linewatch model init --classes`"
            ) from exc
        raise ModelFormatError(f"model {spec.onnx}: {exc}") from exc
    return fmt, decoder
