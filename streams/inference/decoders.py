"""Raw network outputs → candidate boxes (before NMS), one decoder per output format.

Formats (``B`` batch, ``N`` boxes/anchors, ``C`` classes):

- ``yolov8`` (also YOLOv11): one output ``[B, 4+C, N]``: ``cx, cy, w, h`` then class scores.
- ``yolov5``: one output ``[B, N, 5+C]``: ``cx, cy, w, h, objectness`` then class
  probabilities; score = objectness × class probability.
- ``boxes_scores_labels``: already decoded: boxes ``[B, N, 4]`` (xyxy, input pixels or 0..1),
  scores ``[B, N]``, labels ``[B, N]``, optional ``num_detections [B]``; found by output name
  (``box``, ``score``/``conf``, ``label``/``class``, ``num``) or else by order.

>>> infer_format([OutputInfo("output0", (1, 84, 8400))], None)
'yolov8'
>>> infer_format([OutputInfo("output", (1, 25200, 85))], None)
'yolov5'
>>> infer_format([OutputInfo("o", (1, 7, 7))], None)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
streams.errors.ModelFormatError: cannot tell the output format: output o [1, 7, 7] is square...
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from streams.errors import ModelFormatError
from streams.inference.spec import BoxUnits, OutputFormat

__all__ = [
    "BoxesScoresLabelsDecoder",
    "Candidates",
    "Decoder",
    "OutputInfo",
    "YoloV5Decoder",
    "YoloV8Decoder",
    "describe_outputs",
    "infer_format",
    "make_decoder",
]

SUPPORTED = (
    "supported formats: yolov8 (one output [B, 4+C, N]), yolov5 (one output [B, N, 5+C]), "
    "boxes_scores_labels (boxes [B, N, 4], scores [B, N], labels [B, N], optional "
    "num_detections [B])"
)

Dim = int | str | None


@dataclass(frozen=True, slots=True)
class OutputInfo:
    """Name and shape of one graph output (symbolic dims as strings or None)."""

    name: str
    shape: tuple[Dim, ...]


@dataclass(frozen=True, slots=True)
class Candidates:
    """Boxes of one image before NMS: xyxy in input pixels, score, class index.

    Rows of the output with a non-finite box or score are never candidates: ``invalid`` counts
    them, out of ``outputs`` rows the model gave for this image.
    """

    boxes: npt.NDArray[np.float32]
    scores: npt.NDArray[np.float32]
    labels: npt.NDArray[np.int64]
    invalid: int = 0
    outputs: int = 0

    @classmethod
    def empty(cls, invalid: int = 0, outputs: int = 0) -> Candidates:
        """No boxes."""
        return cls(
            np.empty((0, 4), np.float32),
            np.empty(0, np.float32),
            np.empty(0, np.int64),
            invalid,
            outputs,
        )


class Decoder(Protocol):
    """Turns the outputs of one batch into per-image candidates scoring above a threshold."""

    @property
    def num_classes(self) -> int | None:
        """Classes the output encodes (``None`` when the shape does not say)."""

    def __call__(
        self, outputs: Sequence[npt.NDArray[np.generic]], score_threshold: float
    ) -> list[Candidates]: ...


def describe_outputs(outputs: Sequence[OutputInfo]) -> str:
    """``name [d0, d1, ...]`` of every output, for error messages."""
    return ", ".join(f"{o.name} [{', '.join(str(d) for d in o.shape)}]" for o in outputs)


def _xywh_to_xyxy(xywh: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """``[K, 4]`` centre/size → corners."""
    half = xywh[:, 2:4] * np.float32(0.5)
    return np.concatenate([xywh[:, 0:2] - half, xywh[:, 0:2] + half], axis=1)


@dataclass(frozen=True, slots=True)
class YoloV8Decoder:
    """``[B, 4+C, N]``: box centre/size, then one score per class (no objectness)."""

    num_classes: int

    def __call__(
        self, outputs: Sequence[npt.NDArray[np.generic]], score_threshold: float
    ) -> list[Candidates]:
        """Per-image candidates of the first output."""
        out = np.asarray(outputs[0], dtype=np.float32)
        if out.ndim != 3 or out.shape[1] != 4 + self.num_classes:
            raise ModelFormatError(
                f"yolov8 output should be [B, {4 + self.num_classes}, N], got {list(out.shape)}"
            )
        cls = out[:, 4:, :]
        best = cls.max(axis=1)  # [B, N]; NaN if any class score is NaN
        # [B, N]: box and every class score finite
        finite = np.asarray(np.isfinite(out).all(axis=1), dtype=np.bool_)
        n = out.shape[2]
        result = []
        for b in range(out.shape[0]):
            invalid = n - int(np.count_nonzero(finite[b]))
            above = best[b] > score_threshold
            keep = np.flatnonzero(above & finite[b] if invalid else above)
            if keep.size == 0:
                result.append(Candidates.empty(invalid, n))
                continue
            if keep.size * 8 > out.shape[2]:  # many candidates: one pass beats a gather
                labels = cls[b].argmax(axis=0)[keep].astype(np.int64)
            else:
                labels = cls[b][:, keep].argmax(axis=0).astype(np.int64)
            boxes = _xywh_to_xyxy(np.ascontiguousarray(out[b, :4][:, keep].T))
            result.append(Candidates(boxes, best[b, keep], labels, invalid, n))
        return result


@dataclass(frozen=True, slots=True)
class YoloV5Decoder:
    """``[B, N, 5+C]``: box centre/size, objectness, one probability per class."""

    num_classes: int

    def __call__(
        self, outputs: Sequence[npt.NDArray[np.generic]], score_threshold: float
    ) -> list[Candidates]:
        """Per-image candidates of the first output; score = objectness × class probability."""
        out = np.asarray(outputs[0], dtype=np.float32)
        if out.ndim != 3 or out.shape[2] != 5 + self.num_classes:
            raise ModelFormatError(
                f"yolov5 output should be [B, N, {5 + self.num_classes}], got {list(out.shape)}"
            )
        # [B, N]: box, objectness and class scores finite
        finite = np.asarray(np.isfinite(out).all(axis=2), dtype=np.bool_)
        n = out.shape[1]
        result = []
        for b in range(out.shape[0]):
            invalid = n - int(np.count_nonzero(finite[b]))
            above = out[b, :, 4] > score_threshold  # obj * p <= obj when p <= 1
            rows = out[b][above & finite[b] if invalid else above]
            cls = rows[:, 5:] * rows[:, 4:5]
            labels = cls.argmax(axis=1)
            scores = np.take_along_axis(cls, labels[:, None], axis=1)[:, 0]
            keep = scores > score_threshold
            result.append(
                Candidates(
                    _xywh_to_xyxy(rows[keep, :4]),
                    scores[keep],
                    labels[keep].astype(np.int64),
                    invalid,
                    n,
                )
            )
        return result


@dataclass(frozen=True, slots=True)
class BoxesScoresLabelsDecoder:
    """Already-decoded outputs; ``indices`` maps boxes/scores/labels/num_detections to outputs."""

    boxes: int
    scores: int
    labels: int
    num_detections: int | None
    box_units: BoxUnits
    input_size: tuple[int, int]
    num_classes: int | None = None

    def __call__(
        self, outputs: Sequence[npt.NDArray[np.generic]], score_threshold: float
    ) -> list[Candidates]:
        """Per-image candidates: the first ``num_detections`` rows scoring above the threshold."""
        boxes = np.asarray(outputs[self.boxes], dtype=np.float32)
        scores = np.asarray(outputs[self.scores], dtype=np.float32)
        labels = np.asarray(outputs[self.labels])
        if scores.ndim == 3:
            scores = scores[..., 0]
        if labels.ndim == 3:
            labels = labels[..., 0]
        counts = None
        if self.num_detections is not None:
            counts = np.asarray(outputs[self.num_detections]).reshape(boxes.shape[0], -1)[:, 0]
        if self.box_units == "normalized":
            w, h = self.input_size
            boxes = boxes * np.array([w, h, w, h], dtype=np.float32)
        result = []
        rows = boxes.shape[1]
        for b in range(boxes.shape[0]):
            n = rows
            if counts is not None:  # a count outside [0, rows] (or NaN) is clamped into it
                n = int(np.clip(np.nan_to_num(float(counts[b]), nan=rows), 0, rows))
            finite = np.isfinite(boxes[b, :n]).all(axis=1) & np.isfinite(scores[b, :n])
            finite &= np.isfinite(labels[b, :n].astype(np.float64))
            invalid = n - int(np.count_nonzero(finite))
            keep = np.flatnonzero((scores[b, :n] > score_threshold) & finite)
            result.append(
                Candidates(
                    boxes[b, keep],
                    scores[b, keep],
                    np.rint(labels[b, keep]).astype(np.int64),
                    invalid,
                    n,
                )
            )
        return result


def _int_dims(info: OutputInfo) -> tuple[int, ...] | None:
    dims = info.shape[1:]
    if all(isinstance(d, int) for d in dims):
        return tuple(d for d in dims if isinstance(d, int))
    return None


def _bsl_roles(outputs: Sequence[OutputInfo]) -> dict[str, int] | None:
    """Output index of boxes/scores/labels(/num_detections), by name, else by order."""
    if len(outputs) not in (3, 4):
        return None
    by_name: dict[str, int] = {}
    for i, o in enumerate(outputs):
        n = o.name.lower()
        role = (
            "num_detections"
            if "num" in n or "count" in n
            else "boxes"
            if "box" in n
            else "scores"
            if "score" in n or "conf" in n
            else "labels"
            if "label" in n or "class" in n
            else None
        )
        if role is not None and role not in by_name:
            by_name[role] = i
    if len(by_name) == len(outputs) and {"boxes", "scores", "labels"} <= by_name.keys():
        roles = by_name
    else:
        order = ("boxes", "scores", "labels", "num_detections")
        roles = {role: i for i, role in enumerate(order[: len(outputs)])}

    def rank_ok(role: str, rank: int, last: int | None) -> bool:
        shape = outputs[roles[role]].shape
        if len(shape) == rank + 1 and shape[-1] == 1:
            return True  # e.g. scores [B, N, 1]
        return len(shape) == rank and (
            last is None or not isinstance(shape[-1], int) or shape[-1] == last
        )

    ok = rank_ok("boxes", 3, 4) and rank_ok("scores", 2, None) and rank_ok("labels", 2, None)
    if "num_detections" in roles:
        ok = ok and rank_ok("num_detections", 1, None)
    return roles if ok else None


def infer_format(outputs: Sequence[OutputInfo], num_class_names: int | None) -> OutputFormat:
    """The output format implied by the output shapes; :class:`ModelFormatError` if unclear."""
    found = describe_outputs(outputs)
    if len(outputs) == 1 and len(outputs[0].shape) == 3:
        dims = _int_dims(outputs[0])
        if dims is None:
            raise ModelFormatError(
                f"cannot tell the output format: output {found} has symbolic dimensions; set "
                f"output_format in the model spec ({SUPPORTED})"
            )
        a, b = dims
        if num_class_names is not None:
            v8, v5 = a == 4 + num_class_names, b == 5 + num_class_names
            if v8 and not v5:
                return "yolov8"
            if v5 and not v8:
                return "yolov5"
            if v8 and v5:
                raise ModelFormatError(
                    f"cannot tell the output format: output {found} fits both yolov8 and "
                    f"yolov5 with {num_class_names} classes; set output_format in the model spec"
                )
            # fits neither with the given class count: fall through, the count check explains
        if a == b:
            raise ModelFormatError(
                f"cannot tell the output format: output {found} is square, so it could be "
                f"yolov8 [B, 4+C, N] or yolov5 [B, N, 5+C]; set output_format in the model spec"
            )
        if a < b and a >= 5:
            return "yolov8"
        if b < a and b >= 6:
            return "yolov5"
    elif _bsl_roles(outputs) is not None:
        return "boxes_scores_labels"
    raise ModelFormatError(
        f"the model's outputs match no supported detector format; outputs found: {found}; "
        f"{SUPPORTED}. Set output_format in the model spec if the shapes are symbolic"
    )


def _class_count_error(fmt: str, n_shape: int, info: OutputInfo, n_names: int) -> ModelFormatError:
    return ModelFormatError(
        f"output {describe_outputs([info])} read as {fmt} has {n_shape} classes but the model "
        f"spec lists {n_names} class_names; fix class_names (or output_format) in the spec"
    )


def make_decoder(
    fmt: OutputFormat,
    outputs: Sequence[OutputInfo],
    *,
    class_names: Sequence[str] | None,
    box_units: BoxUnits,
    input_size: tuple[int, int],
) -> Decoder:
    """The decoder of ``fmt`` for these outputs, after checking shapes and class count."""
    n_names = None if class_names is None else len(class_names)
    if fmt in ("yolov8", "yolov5"):
        info = outputs[0]
        dims = _int_dims(info) if len(info.shape) == 3 else None
        if dims is None:
            raise ModelFormatError(
                f"{fmt} needs a 3-D output with static dimensions, found "
                f"{describe_outputs(outputs)}; {SUPPORTED}"
            )
        n_cls = dims[0] - 4 if fmt == "yolov8" else dims[1] - 5
        if n_cls < 1:
            raise ModelFormatError(
                f"output {describe_outputs([info])} cannot be {fmt}: it leaves {n_cls} classes; "
                f"{SUPPORTED}"
            )
        if n_names is not None and n_names != n_cls:
            raise _class_count_error(fmt, n_cls, info, n_names)
        return YoloV8Decoder(n_cls) if fmt == "yolov8" else YoloV5Decoder(n_cls)
    roles = _bsl_roles(outputs)
    if roles is None:
        raise ModelFormatError(
            f"outputs {describe_outputs(outputs)} are not boxes [B, N, 4], scores [B, N], labels "
            f"[B, N] (+ optional num_detections [B]); name them or order them that way"
        )
    return BoxesScoresLabelsDecoder(
        boxes=roles["boxes"],
        scores=roles["scores"],
        labels=roles["labels"],
        num_detections=roles.get("num_detections"),
        box_units=box_units,
        input_size=input_size,
        num_classes=n_names,
    )
