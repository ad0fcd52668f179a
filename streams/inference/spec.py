"""The model spec: everything needed to run an ONNX detector and read its outputs.

A spec is a JSON file next to (or pointing at) an ``.onnx`` graph (``linewatch model init``
writes one; ``docs/models.md`` shows the format); a bare ``.onnx`` path gets a default spec whose
unknowns (class names, input name and size, stride, output format) are filled in from the
exporter's metadata and the graph when :class:`~streams.inference.detector.Detector` loads it.

>>> spec = ModelSpec.model_validate({"name": "m", "onnx": "/models/m.onnx", "version": 3})
>>> spec.version, spec.input_size, spec.score_threshold, spec.letterbox
('3', None, 0.05, True)
>>> ModelSpec.model_validate({"name": "m", "onnx": "m.onnx", "score_treshold": 0.1})
... # doctest: +ELLIPSIS
Traceback (most recent call last):
...
pydantic_core._pydantic_core.ValidationError: ...
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from streams.errors import ModelFormatError, ModelNotFound

__all__ = ["OUTPUT_FORMATS", "BoxUnits", "ModelSpec", "OutputFormat", "load_spec", "spec_document"]

OutputFormat = Literal["yolov8", "yolov5", "boxes_scores_labels"]
BoxUnits = Literal["pixels", "normalized"]
OUTPUT_FORMATS: tuple[OutputFormat, ...] = ("yolov8", "yolov5", "boxes_scores_labels")


class ModelSpec(BaseModel):
    """How to feed an ONNX detector and how to read what it returns.

    ``None`` in ``input_name``, ``input_size``, ``layout``, ``stride``, ``class_names`` and
    ``output_format`` means "take it from the model": from the exporter's metadata (Ultralytics
    ``names``, ``imgsz``, ``stride``), else from the graph (the loaded :class:`Detector`'s
    ``spec`` has them filled in).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, description="Model name, shown in reports.")
    version: str = Field("0", description="Model version, shown in reports.")
    onnx: Path = Field(description="The ONNX graph; relative paths are relative to the spec file.")
    input_name: str | None = Field(None, description="Graph input to feed; None: the first.")
    input_size: tuple[int, int] | None = Field(
        None, description="[W, H] of the network input; None: the graph's static input shape."
    )
    layout: Literal["NCHW", "NHWC"] | None = Field(
        None, description="Input tensor layout; None: from the graph (NCHW if undecidable)."
    )
    channel_order: Literal["RGB", "BGR"] = "RGB"
    scale: float = Field(1.0 / 255.0, gt=0, description="Pixel values are multiplied by this…")
    mean: tuple[float, float, float] = Field(
        (0.0, 0.0, 0.0), description="…minus this (per channel, in channel_order)…"
    )
    std: tuple[float, float, float] = Field(
        (1.0, 1.0, 1.0), description="…divided by this (per channel, in channel_order)."
    )
    stride: int | None = Field(
        None,
        gt=0,
        description="Network stride: input sides are multiples of it; None: from "
        "the export's metadata, else unchecked.",
    )
    letterbox: bool = Field(True, description="Keep aspect ratio and pad; False: plain resize.")
    pad_value: int = Field(114, ge=0, le=255, description="Grey level of the letterbox padding.")
    class_names: tuple[str, ...] | None = Field(
        None, description="Name of each class index; None: class_<i>."
    )
    output_format: OutputFormat | None = Field(
        None, description="How to decode the outputs; None: inferred from their shapes."
    )
    box_units: BoxUnits = Field(
        "pixels", description="boxes_scores_labels only: boxes in input pixels or 0..1."
    )
    score_threshold: float = Field(0.05, ge=0, le=1, description="Drop boxes scoring below.")
    iou_threshold: float = Field(0.5, gt=0, le=1, description="NMS overlap threshold.")
    operating_threshold: float = Field(
        0.5, ge=0, le=1, description="Confidence at which the plant acts on a detection."
    )
    max_detections: int = Field(100, gt=0, description="Keep at most this many boxes per frame.")
    card: dict[str, Any] = Field(default_factory=dict, description="Free-form model card.")

    @field_validator("version", mode="before")
    @classmethod
    def _version_to_str(cls, value: object) -> object:
        return str(value) if isinstance(value, int | float) else value

    @field_validator("input_size")
    @classmethod
    def _positive_size(cls, value: tuple[int, int] | None) -> tuple[int, int] | None:
        if value is not None and min(value) <= 0:
            raise ValueError(f"input_size must be [W, H] with positive sides, got {list(value)}")
        return value

    @field_validator("std")
    @classmethod
    def _nonzero_std(cls, value: tuple[float, float, float]) -> tuple[float, float, float]:
        if any(s == 0 for s in value):
            raise ValueError("std must not contain 0")
        return value

    @field_validator("class_names")
    @classmethod
    def _distinct_names(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is not None:
            if not value:
                raise ValueError("class_names must not be empty (use null to infer)")
            if len(set(value)) != len(value):
                raise ValueError(f"class_names must be distinct, got {list(value)}")
            odd = [n for n in value if not n.strip() or not n.isprintable() or len(n) > 100]
            if odd:
                raise ValueError(
                    f"class names must be printable, non-blank and at most 100 characters, "
                    f"got {odd[0][:100]!r}"
                )
        return value

    @classmethod
    def for_onnx(cls, path: str | Path) -> ModelSpec:
        """The default spec of a bare ``.onnx`` file: everything else comes from the graph."""
        path = Path(path).resolve()
        return cls(name=path.stem, onnx=path)

    def class_name(self, index: int) -> str:
        """The name of class ``index`` (``class_<index>`` when unnamed or out of range)."""
        names = self.class_names
        if names is not None and 0 <= index < len(names):
            return names[index]
        return f"class_{index}"


def spec_document(spec: ModelSpec, spec_path: Path) -> dict[str, Any]:
    """``spec`` as the JSON object of a spec file at ``spec_path``: every field, with ``onnx``
    relative to the spec file's folder (as :func:`load_spec` reads it back).

    >>> spec = ModelSpec(name="m", onnx=Path("/models/m.onnx"))
    >>> doc = spec_document(spec, Path("/models/m.json"))
    >>> doc["onnx"], doc["class_names"], doc["score_threshold"]
    ('m.onnx', None, 0.05)
    """
    doc = spec.model_dump(mode="json")
    doc["onnx"] = Path(os.path.relpath(spec.onnx.resolve(), spec_path.resolve().parent)).as_posix()
    return doc


def load_spec(path: str | Path) -> ModelSpec:
    """Read a ``.json`` spec, or make the default spec of any other path (taken as ONNX).

    Raises :class:`ModelNotFound` when the file (or the spec's ``onnx``) is missing and
    :class:`ModelFormatError` when the spec is not valid.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelNotFound(
            f"model file {path} does not exist; pass --model with a model spec (.json) or an "
            ".onnx file, or set LINEWATCH_INFERENCE__MODEL"
        )
    if path.suffix.lower() != ".json":
        return ModelSpec.for_onnx(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFormatError(
            f"model spec {path} is not valid JSON ({exc}); fix the file"
        ) from exc
    if not isinstance(data, dict):
        raise ModelFormatError(
            f"model spec {path} must be a JSON object, got {type(data).__name__}"
        )
    if isinstance(data.get("onnx"), str):
        data["onnx"] = str((path.parent / data["onnx"]).resolve())
    try:
        spec = ModelSpec.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}"
            for err in exc.errors()[:8]
        )
        raise ModelFormatError(f"model spec {path} is invalid: {problems}") from exc
    if not spec.onnx.is_file():
        raise ModelNotFound(
            f"model spec {path} points at {spec.onnx}, which does not exist; fix its 'onnx' "
            "key (relative to the spec file) or restore the graph file"
        )
    return spec
