"""Inference for any ONNX object detector: spec, pre-processing, output decoders, NMS.

``Detector.load(model)`` takes a model spec (``.json``), a bare ``.onnx`` file or ``None`` (the
shipped detector); ``detector.detect(frames)`` returns per-frame
:class:`~schemas.results.Detection` lists with boxes in original-frame pixels.
"""

from __future__ import annotations

from streams.inference.decoders import Candidates, OutputInfo, infer_format
from streams.inference.detector import Detector, shipped_spec_path
from streams.inference.nms import box_iou, nms
from streams.inference.preprocess import LetterboxTransform, Preprocessor
from streams.inference.spec import OUTPUT_FORMATS, ModelSpec, OutputFormat, load_spec
from streams.inference.threshold import DEFAULT_OPERATING_THRESHOLD, operating_threshold

__all__ = [
    "DEFAULT_OPERATING_THRESHOLD",
    "OUTPUT_FORMATS",
    "Candidates",
    "Detector",
    "LetterboxTransform",
    "ModelSpec",
    "OutputFormat",
    "OutputInfo",
    "Preprocessor",
    "box_iou",
    "infer_format",
    "load_spec",
    "nms",
    "operating_threshold",
    "shipped_spec_path",
]
