"""The detector: any ONNX object detector behind one ``detect(frames)`` call, via onnxruntime."""

from __future__ import annotations

import importlib.resources
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from schemas.results import Detection
from streams.config import Settings
from streams.errors import ConfigError, ModelError, ModelFormatError, ModelNotFound
from streams.inference.decoders import Candidates, Decoder
from streams.inference.export_metadata import ExportMetadata
from streams.inference.graph import ORT_FLOAT_TYPES, resolve_decoder, resolve_input
from streams.inference.postprocess import batch_detections
from streams.inference.preprocess import LetterboxTransform, Preprocessor
from streams.inference.session import model_metadata, open_session
from streams.inference.spec import ModelSpec, load_spec
from streams.inference.threads import default_intra_op_threads

if TYPE_CHECKING:
    import onnxruntime as ort

__all__ = ["SHIPPED_SPEC", "Detector", "shipped_spec_path"]

log = logging.getLogger(__name__)

SHIPPED_SPEC = "linewatch-defects.json"


def shipped_spec_path() -> Path:
    """Where the shipped detector's spec lives (``streams/models/linewatch-defects.json``)."""
    return Path(str(importlib.resources.files("streams").joinpath("models", SHIPPED_SPEC)))


def _check_providers(providers: Sequence[str]) -> None:
    """Raise :class:`ConfigError` naming the providers this onnxruntime build lacks."""
    import onnxruntime as ort

    missing = [p for p in providers if p not in ort.get_available_providers()]
    if missing:  # onnxruntime would only warn and run on the CPU instead
        raise ConfigError(
            f"onnxruntime execution provider(s) {', '.join(missing)} not available here "
            f"(available: {', '.join(ort.get_available_providers())}); fix "
            "LINEWATCH_INFERENCE__PROVIDERS or install the onnxruntime build that has them"
        )


class Detector:
    """An ONNX detector with its spec: ``detect(frames)`` → boxes in frame pixels.

    Build it with :meth:`load`. ``spec`` is the *resolved* spec: what the spec left open is
    filled in from the model's export metadata (Ultralytics ``names``, ``imgsz``, ``stride``;
    :mod:`streams.inference.export_metadata`), then from the graph (input name/size, layout,
    output format). The spec always wins.
    """

    def __init__(
        self,
        spec: ModelSpec,
        session: ort.InferenceSession,
        decoder: Decoder,
        *,
        static_batch: int | None,
        input_dtype: npt.DTypeLike = np.float32,
        metadata: ExportMetadata | None = None,
    ) -> None:
        assert spec.input_size is not None and spec.input_name is not None
        self._spec = spec
        self._session = session
        self._decoder = decoder
        self._static_batch = static_batch
        self._input_name = spec.input_name
        self._output_names = [o.name for o in session.get_outputs()]
        self._preprocess = Preprocessor(
            input_size=spec.input_size,
            layout=spec.layout or "NCHW",
            channel_order=spec.channel_order,
            scale=spec.scale,
            mean=spec.mean,
            std=spec.std,
            letterbox=spec.letterbox,
            pad_value=spec.pad_value,
            dtype=input_dtype,
        )
        names = spec.class_names or ()
        self._names = list(names)
        self._metadata = metadata or ExportMetadata()
        self._warned_invalid = False
        self._buffers = threading.local()
        """Per thread, the last input tensor: :meth:`detect_counted` fills it again in place."""

    # --- construction ------------------------------------------------------------------
    @classmethod
    def load(
        cls,
        model: str | Path | ModelSpec | None = None,
        *,
        intra_op_num_threads: int | None = None,
        providers: Sequence[str] | None = None,
        settings: Settings | None = None,
    ) -> Detector:
        """Load a spec (``.json``), a bare ``.onnx`` file, or (``None``) the shipped detector.

        A bare ``.onnx`` file takes its class names from the export's metadata (Ultralytics
        ``names``); one without them raises :class:`ModelFormatError` saying to write a spec
        with ``linewatch model init``. A :class:`ModelSpec` passed in leaves unnamed classes
        ``class_<i>``.

        Threads and providers default to ``settings`` (``LINEWATCH_INFERENCE__THREADS`` /
        ``LINEWATCH_INFERENCE__PROVIDERS``) when given; threads not set anywhere are
        :func:`~streams.inference.threads.default_intra_op_threads` (the cores this process may
        use, less one for the decode thread), providers the CPU's;
        the settings are never read from the environment here: the entry point passes them.
        """
        if model is None:
            path = shipped_spec_path()
            if not path.is_file():
                raise ModelNotFound(
                    f"the shipped detector spec {path} does not exist yet (it is produced by "
                    "`make train`); pass --model with a model spec (.json) or an .onnx file, "
                    "or set LINEWATCH_INFERENCE__MODEL"
                )
            spec = load_spec(path)
        elif isinstance(model, ModelSpec):
            spec = model
            if not spec.onnx.is_file():
                raise ModelNotFound(f"model graph {spec.onnx} does not exist; fix the spec's onnx")
        else:
            spec = load_spec(model)
        bare = (
            not isinstance(model, ModelSpec)
            and model is not None
            and (Path(model).suffix.lower() != ".json")
        )
        if settings is not None:  # explicit arguments win over the settings
            if intra_op_num_threads is None:
                intra_op_num_threads = settings.inference.threads
            if providers is None and settings.inference.providers:
                providers = settings.inference.providers
        if providers:
            _check_providers(providers)
        if intra_op_num_threads is None:
            intra_op_num_threads = default_intra_op_threads()
        session = open_session(
            spec.onnx, intra_op_num_threads, providers or ["CPUExecutionProvider"]
        )
        return cls._from_session(spec, session, require_names=bare)

    @classmethod
    def _from_session(
        cls, spec: ModelSpec, session: ort.InferenceSession, *, require_names: bool = False
    ) -> Detector:
        meta = model_metadata(session)
        graph = resolve_input(spec, session, meta)
        stride = spec.stride or meta.stride
        if stride is not None and any(side % stride for side in graph.size):
            raise ModelFormatError(
                f"model {spec.onnx}: input size {list(graph.size)} is not a multiple of its "
                f"stride {stride}; fix input_size (or stride) in the spec"
            )
        resolved = spec.model_copy(
            update={
                "input_name": graph.name,
                "input_size": graph.size,
                "layout": graph.layout,
                "stride": stride,
                "class_names": spec.class_names or meta.names,
                "card": spec.card or ({"export": dict(meta.about)} if meta.about else {}),
            }
        )
        fmt, decoder = resolve_decoder(spec, resolved, session, graph, meta)
        class_names = resolved.class_names
        if class_names is None and require_names:
            raise ModelFormatError(
                f"model {spec.onnx} has no class names: no spec file and no exporter metadata "
                f"('names'); run `linewatch model init {spec.onnx} --classes NAME,...` and pass "
                "the spec it writes to --model"
            )
        if class_names is None and decoder.num_classes is not None:
            class_names = tuple(f"class_{i}" for i in range(decoder.num_classes))
        resolved = resolved.model_copy(update={"output_format": fmt, "class_names": class_names})
        return cls(
            resolved,
            session,
            decoder,
            static_batch=graph.static_batch,
            input_dtype=ORT_FLOAT_TYPES[graph.type],
            metadata=meta,
        )

    # --- use -------------------------------------------------------------------------------
    @property
    def spec(self) -> ModelSpec:
        """The resolved model spec."""
        return self._spec

    @property
    def export_metadata(self) -> ExportMetadata:
        """What the model's exporter wrote in its metadata (empty when nothing)."""
        return self._metadata

    @property
    def max_batch_size(self) -> int | None:
        """The graph's static batch size, or ``None`` when any batch size works."""
        return self._static_batch

    def preprocess(
        self, frames: Sequence[npt.NDArray[np.uint8]], *, reuse: bool = False
    ) -> tuple[npt.NDArray[np.floating[Any]], list[LetterboxTransform]]:
        """Frames → one input tensor (padded up to a static batch size) and their transforms.

        ``reuse=True`` fills this thread's input tensor of the last batch of the same shape
        instead of a new one: the tensor is valid until this thread's next ``reuse`` call
        (:meth:`detect_counted` runs each batch at once, so it reuses).
        """
        if not reuse:
            return self._preprocess(frames, batch_size=self._static_batch)
        tensor, transforms = self._preprocess(
            frames, batch_size=self._static_batch, out=getattr(self._buffers, "input", None)
        )
        self._buffers.input = tensor
        return tensor, transforms

    def run_raw(self, tensor: npt.NDArray[np.floating[Any]]) -> list[npt.NDArray[Any]]:
        """One onnxruntime run on a ready input tensor → all outputs, in graph order."""
        return list(self._session.run(self._output_names, {self._input_name: tensor}))

    def postprocess(
        self, outputs: Sequence[npt.NDArray[Any]], transforms: Sequence[LetterboxTransform]
    ) -> list[list[Detection]]:
        """Decode, NMS, keep the top ``max_detections``, map boxes back to each frame."""
        candidates = self._decoder(outputs, self._spec.score_threshold)
        return self._detections(candidates, transforms)[0]

    def _detections(
        self, candidates: Sequence[Candidates], transforms: Sequence[LetterboxTransform]
    ) -> tuple[list[list[Detection]], list[tuple[int, int]]]:
        """Detections per frame, and per frame (invalid outputs dropped, outputs given); the
        candidates of a static batch's padding rows, past ``transforms``, are ignored."""
        spec = self._spec
        return batch_detections(
            candidates,
            transforms,
            self._names,
            iou_threshold=spec.iou_threshold,
            max_detections=spec.max_detections,
        )

    def detect(self, frames: Sequence[npt.NDArray[np.uint8]]) -> list[list[Detection]]:
        """Detections of each RGB uint8 ``(H, W, 3)`` frame, boxes in that frame's pixels.

        All boxes scoring above ``spec.score_threshold`` after NMS, best first; the graph runs
        once per batch (in chunks of its static batch size if it has one). Invalid outputs are
        dropped (see :meth:`detect_counted`).
        """
        return self.detect_counted(frames)[0]

    def detect_counted(
        self, frames: Sequence[npt.NDArray[np.uint8]]
    ) -> tuple[list[list[Detection]], list[int]]:
        """:meth:`detect`, plus the invalid outputs dropped before NMS for each frame.

        The batch is pre-processed and run (chunk by chunk for a static batch size, the last
        chunk padded), then every chunk's outputs are decoded and post-processed together: the
        same numbers as chunk by chunk, with the post-processing code run back to back.

        Invalid: a non-finite box or score, or an inverted box (``x2 < x1`` or ``y2 < y1``).
        The first frame with any logs a warning (once per detector). A batch whose outputs are
        *all* invalid raises :class:`~streams.errors.ModelError`: the model or its spec is broken.
        """
        if len(frames) == 0:
            return [], []
        size = len(frames)
        step = self._static_batch or size
        starts = range(0, size, step)  # a static batch: its chunks one after the other
        runs: list[list[npt.NDArray[Any]]] = []
        transforms: list[LetterboxTransform] = []
        for start in starts:  # each chunk's tensor filled just before its run reads it
            tensor, chunk = self.preprocess(frames[start : start + step], reuse=True)
            runs.append(self.run_raw(tensor))
            transforms.extend(chunk)
        # decoded once every chunk has run: the decoder's code stays warm from one chunk to the
        # next (right after a run it is cold, and cost ~1.6x as much: bench_ultralytics, 1 thread)
        threshold = self._spec.score_threshold
        # (the last chunk's padding rows come last, past ``transforms``: ignored)
        candidates = [cand for outputs in runs for cand in self._decoder(outputs, threshold)]
        results, counts = self._detections(candidates, transforms)
        invalid = [bad for bad, _ in counts]
        total_bad, total = sum(invalid), sum(n for _, n in counts)
        if total_bad:
            s = self._spec
            if total_bad == total:
                raise ModelError(
                    f"model {s.name} v{s.version} gave only invalid outputs (non-finite or "
                    f"inverted boxes, non-finite scores) for a whole batch of {len(frames)} "
                    f"frames ({total_bad} outputs); check the model export and its spec "
                    f"(output_format {s.output_format}, box_units {s.box_units})"
                )
            if not self._warned_invalid:
                self._warned_invalid = True
                log.warning(
                    "model %s v%s gave %d invalid outputs (non-finite or inverted boxes, "
                    "non-finite scores) in a batch of %d frames; they are dropped before NMS and "
                    "counted per frame (frames.invalid_outputs). Shown once per run.",
                    s.name,
                    s.version,
                    total_bad,
                    len(frames),
                )
        return results, invalid[: len(results)]

    def __repr__(self) -> str:
        s = self._spec
        return (
            f"Detector({s.name} v{s.version}, {s.output_format}, input {s.input_size}, "
            f"{len(s.class_names or ())} classes)"
        )
