"""The second world's detector: an Ultralytics-style YOLOv8 ONNX graph built by hand, no torch.

Fixed weights that respond to each class's look (:mod:`tests.world2.scene`), on a grid of 8 px
cells of a 160x160 input (``images``, 1x3x160x160, RGB 0..1, letterboxed as Ultralytics does):

1. two contrast features per pixel, each divided by the local brightness so they hold across
   lighting: *warmth* (``r - b`` above its 31 px neighbourhood) for ``burr``, and *dark and cool*
   (``-(lum + r - b)`` above the neighbourhood) for ``chip``;
2. the class score of a cell is ``sigmoid(25 * (max feature in the cell - threshold))``: faint
   defects score low or are missed, plate edges and mat texture give low-scoring false boxes;
3. the box of a cell is the centroid and 4 sigma extent of the class's soft mask
   (``sigmoid(40 * (feature - threshold))``) over a 40 px window around the cell; each anchor
   carries the box of its higher-scoring class.

Output ``output0`` is ``[1, 6, 400]``: ``cx, cy, w, h`` in input pixels, then the ``burr`` and
``chip`` scores, as a YOLOv8 export. Metadata as Ultralytics writes it: ``names``
(``"{0: 'burr', 1: 'chip'}"``), ``imgsz`` (``"[160, 160]"``), ``stride``, ``task``, ``batch``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from tests.onnx_graphs import IR_VERSION, OPSET
from tests.world2.scene import CLASSES

__all__ = ["IMGSZ", "STRIDE", "THRESHOLDS", "build_detector", "ultralytics_metadata"]

IMGSZ = 160
STRIDE = 8
THRESHOLDS = (0.3, 0.21)
"""Feature level at which ``burr`` / ``chip`` score 0.5."""
_NEIGHBOURHOOD = 31
_FEATURES = ((1.0, 0.0, -1.0), (1 / 3, 1 / 3, 1 / 3), (-0.5, -0.5, 1.0))
_CLASS_WEIGHTS = ((1.0, 0.0, 0.0), (0.0, -0.25, 2.0))
_WINDOW = 40


def ultralytics_metadata(names: tuple[str, ...] = CLASSES) -> dict[str, str]:
    """The metadata_props an Ultralytics ``export(format="onnx")`` writes for a detector."""
    return {
        "description": "Ultralytics YOLOv8n model trained on plates.yaml",
        "author": "Ultralytics",
        "version": "8.3.0",
        "license": "AGPL-3.0 License (https://ultralytics.com/license)",
        "docs": "https://docs.ultralytics.com",
        "stride": str(STRIDE),
        "task": "detect",
        "batch": "1",
        "imgsz": f"[{IMGSZ}, {IMGSZ}]",
        "names": repr(dict(enumerate(names))),
    }


def _const(name: str, value: object) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(value, np.float32), name)


def build_detector(path: Path, *, metadata: dict[str, str] | None = None) -> Path:
    """Write the world's detector to ``path``; ``metadata`` replaces the Ultralytics props
    (``{}`` writes none: a model without metadata)."""
    s, n = IMGSZ, IMGSZ // STRIDE
    yy, xx = np.mgrid[0:s, 0:s].astype(np.float32) + 0.5
    pad_n, pad_w = _NEIGHBOURHOOD // 2, (_WINDOW - STRIDE) // 2
    init = [
        # rows: warmth r - b, luminance (r + g + b) / 3, blueness b - (r + g) / 2
        _const("w_feat", np.array(_FEATURES, np.float32)[..., None, None]),
        # burr: warmer than the neighbourhood; chip: bluer and darker than it
        _const("w_class", np.array(_CLASS_WEIGHTS, np.float32)[..., None, None]),
        _const("eps_lum", 0.25),
        _const("thr", np.array(THRESHOLDS, np.float32).reshape(1, 2, 1, 1)),
        _const("k_score", 25.0),
        _const("k_mask", 40.0),
        _const("xs", xx[None, None]),
        _const("ys", yy[None, None]),
        _const("tiny", 1e-6),
        _const("sixteen", 16.0),
        _const("min_var", 0.25),
        numpy_helper.from_array(np.array([1, 6, n * n], np.int64), "out_shape"),
    ]

    def avg(x: str, out: str, k: int, pad: int) -> list[onnx.NodeProto]:
        """Separable mean over k x k, borders averaging only the pixels inside."""
        return [
            helper.make_node(
                "AveragePool",
                [x],
                [f"{out}_row"],
                kernel_shape=[1, k],
                pads=[0, pad, 0, pad],
                count_include_pad=0,
            ),
            helper.make_node(
                "AveragePool",
                [f"{out}_row"],
                [out],
                kernel_shape=[k, 1],
                pads=[pad, 0, pad, 0],
                count_include_pad=0,
            ),
        ]

    def window(x: str, out: str) -> onnx.NodeProto:
        return helper.make_node(
            "AveragePool",
            [x],
            [out],
            kernel_shape=[_WINDOW, _WINDOW],
            strides=[STRIDE, STRIDE],
            pads=[pad_w] * 4,
            count_include_pad=1,
        )

    nodes = [
        helper.make_node("Conv", ["images", "w_feat"], ["feat"]),
        *avg("feat", "feat_smooth", 3, 1),  # a 3 px blur: sensor noise is not a defect
        *avg("feat", "feat_mean", _NEIGHBOURHOOD, pad_n),
        helper.make_node("Sub", ["feat_smooth", "feat_mean"], ["feat_hp"]),
        helper.make_node("Conv", ["feat_hp", "w_class"], ["raw"]),
        # local brightness: the luminance channel of the neighbourhood mean
        helper.make_node("Split", ["feat_mean"], ["warm_mean", "lum_mean", "blue_mean"], axis=1),
        helper.make_node("Add", ["lum_mean", "eps_lum"], ["norm"]),
        helper.make_node("Div", ["raw", "norm"], ["f"]),  # [1, 2, S, S]
        helper.make_node("Sub", ["f", "thr"], ["f_thr"]),
        # scores
        helper.make_node(
            "MaxPool",
            ["f_thr"],
            ["cell_max"],
            kernel_shape=[STRIDE, STRIDE],
            strides=[STRIDE, STRIDE],
        ),
        helper.make_node("Mul", ["cell_max", "k_score"], ["score_logit"]),
        helper.make_node("Sigmoid", ["score_logit"], ["scores"]),  # [1, 2, n, n]
        # boxes from the soft mask's moments
        helper.make_node("Mul", ["f_thr", "k_mask"], ["mask_logit"]),
        helper.make_node("Sigmoid", ["mask_logit"], ["mask"]),
        helper.make_node("Mul", ["mask", "xs"], ["mx"]),
        helper.make_node("Mul", ["mx", "xs"], ["mxx"]),
        helper.make_node("Mul", ["mask", "ys"], ["my"]),
        helper.make_node("Mul", ["my", "ys"], ["myy"]),
    ]
    for m in ("mask", "mx", "mxx", "my", "myy"):
        nodes.append(window(m, f"{m}_w"))
    nodes += [
        helper.make_node("Add", ["mask_w", "tiny"], ["m0"]),
        helper.make_node("Div", ["mx_w", "m0"], ["cx"]),
        helper.make_node("Div", ["my_w", "m0"], ["cy"]),
        helper.make_node("Div", ["mxx_w", "m0"], ["ex2"]),
        helper.make_node("Div", ["myy_w", "m0"], ["ey2"]),
        helper.make_node("Mul", ["cx", "cx"], ["cx2"]),
        helper.make_node("Mul", ["cy", "cy"], ["cy2"]),
        helper.make_node("Sub", ["ex2", "cx2"], ["vx_raw"]),
        helper.make_node("Sub", ["ey2", "cy2"], ["vy_raw"]),
        helper.make_node("Max", ["vx_raw", "min_var"], ["vx"]),
        helper.make_node("Max", ["vy_raw", "min_var"], ["vy"]),
        helper.make_node("Mul", ["vx", "sixteen"], ["vx16"]),
        helper.make_node("Mul", ["vy", "sixteen"], ["vy16"]),
        helper.make_node("Sqrt", ["vx16"], ["bw"]),
        helper.make_node("Sqrt", ["vy16"], ["bh"]),
        # each anchor carries the box of its higher-scoring class
        helper.make_node("Split", ["scores"], ["s_burr", "s_chip"], axis=1),
        helper.make_node("Greater", ["s_burr", "s_chip"], ["pick_burr"]),
    ]
    picked = []
    for q in ("cx", "cy", "bw", "bh"):
        nodes += [
            helper.make_node("Split", [q], [f"{q}_burr", f"{q}_chip"], axis=1),
            helper.make_node("Where", ["pick_burr", f"{q}_burr", f"{q}_chip"], [f"{q}_pick"]),
        ]
        picked.append(f"{q}_pick")
    nodes += [
        helper.make_node("Concat", [*picked, "scores"], ["grid_out"], axis=1),  # [1, 6, n, n]
        helper.make_node("Reshape", ["grid_out", "out_shape"], ["output0"]),
    ]
    graph = helper.make_graph(
        nodes,
        "main_graph",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, s, s])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 4 + len(CLASSES), n * n])],
        initializer=init,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="pytorch"
    )
    model.ir_version = IR_VERSION
    props = ultralytics_metadata() if metadata is None else metadata
    helper.set_model_props(model, props)
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path
