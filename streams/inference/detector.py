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
from pydantic import TypeAdapter

from schemas.results import Detection
from streams.config import Settings
from streams.errors import ConfigError, ModelError, ModelFormatError, ModelNotFound
from streams.inference.decoders import Decoder, OutputInfo, infer_format, make_decoder
from streams.inference.export_metadata import DETECT_TASK, ExportMetadata, read_export_metadata
from streams.inference.nms import nms, valid_boxes
from streams.inference.preprocess import LetterboxTransform, Preprocessor
from streams.inference.spec import ModelSpec, load_spec
from streams.inference.threads import default_intra_op_threads

if TYPE_CHECKING:
    import onnxruntime as ort

__all__ = ["SHIPPED_SPEC", "Detector", "shipped_spec_path"]

log = logging.getLogger(__name__)

SHIPPED_SPEC = "linewatch-defects.json"

_DETECTIONS = TypeAdapter(list[Detection])

_ORT_FLOAT_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16}


def shipped_spec_path() -> Path:
    """Where the shipped detector's spec lives (``streams/models/linewatch-defects.json``)."""
    return Path(str(importlib.resources.files("streams").joinpath("models", SHIPPED_SPEC)))


def _sniff(path: Path) -> str:
    """A short description of what a file that is not ONNX looks like."""
    try:
        with path.open("rb") as fh:
            head = fh.read(64)
    except OSError as exc:
        return f"an unreadable file ({exc.strerror})"
    if not head:
        return "an empty file"
    signatures = {
        b"PK\x03\x04": "a ZIP archive (a PyTorch .pt checkpoint? export it to ONNX first)",
        b"\x89PNG": "a PNG image",
        b"\xff\xd8\xff": "a JPEG image",
        b"\x80": "a Python pickle (a PyTorch checkpoint? export it to ONNX first)",
        b"version https://git-lfs": "a Git LFS pointer (run `git lfs pull`)",
        b"\x89HDF": "an HDF5 file (a Keras model? convert it to ONNX first)",
    }
    for magic, what in signatures.items():
        if head.startswith(magic):
            return what
    text = head.lstrip()
    if text[:1] in (b"{", b"["):
        return "JSON text (a model spec? give it a .json suffix)"
    if all(32 <= c < 127 or c in (9, 10, 13) for c in head):
        return f"text starting {head[:32].decode('ascii', 'replace')!r}"
    return f"binary data starting {head[:8].hex(' ')}"


def _session(path: Path, threads: int | None, providers: Sequence[str]) -> ort.InferenceSession:
    import onnxruntime as ort  # only a loaded model needs it: store-only commands start without

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # No busy-waiting between runs: the pipeline's own work (decode, statistics, drift, store)
    # runs between inferences on the same few cores, and spinning ORT threads would steal them.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if threads is not None:
        options.intra_op_num_threads = threads
    try:
        return ort.InferenceSession(str(path), sess_options=options, providers=list(providers))
    except Exception as exc:  # onnxruntime raises its own (unexported) exception types
        text = str(exc)
        if "protobuf" in text.lower() or "parse" in text.lower() or path.stat().st_size == 0:
            raise ModelFormatError(
                f"{path} is not an ONNX model: found {_sniff(path)}; pass an .onnx file or a "
                "model spec (.json) pointing at one"
            ) from exc
        raise ModelFormatError(
            f"onnxruntime cannot load {path}: {text.splitlines()[0] if text else exc!r}; "
            "check the opset / operators are supported by the installed onnxruntime"
        ) from exc


def _model_metadata(session: ort.InferenceSession) -> ExportMetadata:
    """The exporter's metadata of a loaded model (names, imgsz, stride, task)."""
    try:
        props = dict(session.get_modelmeta().custom_metadata_map)
    except Exception:  # onnxruntime raises its own (unexported) exception types
        props = {}
    return read_export_metadata(props)


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
            import onnxruntime as ort

            missing = [p for p in providers if p not in ort.get_available_providers()]
            if missing:  # onnxruntime would only warn and run on the CPU instead
                raise ConfigError(
                    f"onnxruntime execution provider(s) {', '.join(missing)} not available here "
                    f"(available: {', '.join(ort.get_available_providers())}); fix "
                    "LINEWATCH_INFERENCE__PROVIDERS or install the onnxruntime build that has them"
                )
        if intra_op_num_threads is None:
            intra_op_num_threads = default_intra_op_threads()
        session = _session(spec.onnx, intra_op_num_threads, providers or ["CPUExecutionProvider"])
        return cls._from_session(spec, session, require_names=bare)

    @classmethod
    def _from_session(
        cls, spec: ModelSpec, session: ort.InferenceSession, *, require_names: bool = False
    ) -> Detector:
        meta = _model_metadata(session)
        if meta.task is not None and meta.task != DETECT_TASK:
            raise ModelFormatError(
                f"model {spec.onnx} is an exported {meta.task!r} model (ONNX metadata task); "
                f"linewatch runs object detectors: export a {DETECT_TASK!r} model"
            )
        inputs = session.get_inputs()
        by_name = {i.name: i for i in inputs}
        if spec.input_name is not None and spec.input_name not in by_name:
            raise ModelFormatError(
                f"model {spec.onnx} has no input {spec.input_name!r} (inputs: "
                f"{', '.join(by_name)}); fix input_name in the spec"
            )
        inp = by_name[spec.input_name] if spec.input_name is not None else inputs[0]
        shape = list(inp.shape)
        if len(shape) != 4:
            raise ModelFormatError(
                f"model input {inp.name} has shape {shape}; a detector takes one 4-D image "
                "batch (NCHW or NHWC)"
            )
        if inp.type not in _ORT_FLOAT_TYPES:
            raise ModelFormatError(
                f"model input {inp.name} is {inp.type}; only float and float16 inputs are supported"
            )
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
        stride = spec.stride or meta.stride
        if stride is not None and any(side % stride for side in input_size):
            raise ModelFormatError(
                f"model {spec.onnx}: input size {list(input_size)} is not a multiple of its "
                f"stride {stride}; fix input_size (or stride) in the spec"
            )
        static_batch = shape[0] if isinstance(shape[0], int) and shape[0] > 0 else None
        card = spec.card or ({"export": dict(meta.about)} if meta.about else {})
        resolved = spec.model_copy(
            update={
                "input_name": inp.name,
                "input_size": tuple(input_size),
                "layout": layout,
                "stride": stride,
                "class_names": spec.class_names or meta.names,
                "card": card,
            }
        )
        infos = [OutputInfo(o.name, tuple(o.shape)) for o in session.get_outputs()]
        if any(not isinstance(d, int) for o in infos for d in o.shape[1:]):
            infos = cls._probe_shapes(session, resolved, inp.type, static_batch or 1)
        names = resolved.class_names
        n_names = None if names is None else len(names)
        try:
            fmt = spec.output_format or infer_format(infos, n_names)
            decoder = make_decoder(
                fmt,
                infos,
                class_names=names,
                box_units=spec.box_units,
                input_size=resolved.input_size or input_size,
            )
        except ModelFormatError as exc:
            if spec.class_names is None and meta.names is not None:
                raise ModelFormatError(
                    f"model {spec.onnx}: {exc} (class names from its ONNX metadata 'names'); "
                    "write a spec with `linewatch model init --classes`"
                ) from exc
            raise ModelFormatError(f"model {spec.onnx}: {exc}") from exc
        class_names = names
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
            static_batch=static_batch,
            input_dtype=_ORT_FLOAT_TYPES[inp.type],
            metadata=meta,
        )

    @staticmethod
    def _probe_shapes(
        session: ort.InferenceSession, spec: ModelSpec, input_type: str, batch: int
    ) -> list[OutputInfo]:
        """Concrete output shapes, from one run on a blank batch (symbolic dims in the graph)."""
        w, h = spec.input_size or (0, 0)
        shape = (batch, 3, h, w) if spec.layout == "NCHW" else (batch, h, w, 3)
        blank = np.zeros(shape, dtype=_ORT_FLOAT_TYPES[input_type])
        try:
            outs = session.run(None, {spec.input_name or "": blank})
        except Exception as exc:
            raise ModelFormatError(
                f"model {spec.onnx} fails on a blank {list(shape)} input ({exc}); check "
                "input_size and layout in the spec"
            ) from exc
        names = [o.name for o in session.get_outputs()]
        return [OutputInfo(n, tuple(np.asarray(o).shape)) for n, o in zip(names, outs, strict=True)]

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
        return self._postprocess(outputs, transforms)[0]

    def _postprocess(
        self, outputs: Sequence[npt.NDArray[Any]], transforms: Sequence[LetterboxTransform]
    ) -> tuple[list[list[Detection]], list[tuple[int, int]]]:
        """Detections per frame, and per frame (invalid outputs dropped, outputs given)."""
        spec = self._spec
        candidates = self._decoder(outputs, spec.score_threshold)
        results: list[list[Detection]] = []
        counts: list[tuple[int, int]] = []
        for cand, transform in zip(candidates, transforms, strict=False):
            boxes, scores, labels = cand.boxes, cand.scores, cand.labels
            ok = valid_boxes(boxes, scores)  # non-finite rows are gone already; inverted ones
            invalid = cand.invalid
            if not ok.all():
                invalid += int(ok.size - np.count_nonzero(ok))
                boxes, scores, labels = boxes[ok], scores[ok], labels[ok]
            counts.append((invalid, max(cand.outputs, invalid)))
            keep = nms(
                boxes,
                scores,
                labels,
                iou_threshold=spec.iou_threshold,
                max_detections=spec.max_detections,
            )
            if keep.size == 0:
                results.append([])
                continue
            # float32 → float64 and rounded, so JSON shows 0.9, not 0.8999999761581421
            frame_boxes = transform.to_frame(boxes[keep]).astype(np.float64).round(3).tolist()
            frame_scores = np.clip(scores[keep].astype(np.float64), 0.0, 1.0).round(6).tolist()
            names = self._names
            n_names = len(names)
            rows = [
                {
                    "class_name": names[c] if 0 <= c < n_names else f"class_{c}",
                    "confidence": sc,
                    "box": bx,
                }
                for bx, sc, c in zip(frame_boxes, frame_scores, labels[keep].tolist(), strict=True)
            ]
            results.append(_DETECTIONS.validate_python(rows))  # one validation call per frame
        return results, counts

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

        Invalid: a non-finite box or score, or an inverted box (``x2 < x1`` or ``y2 < y1``).
        The first frame with any logs a warning (once per detector). A batch whose outputs are
        *all* invalid raises :class:`~streams.errors.ModelError`: the model or its spec is broken.
        """
        if len(frames) == 0:
            return [], []
        step = self._static_batch or len(frames)
        results: list[list[Detection]] = []
        counts: list[tuple[int, int]] = []
        for start in range(0, len(frames), step):
            chunk = frames[start : start + step]
            tensor, transforms = self.preprocess(chunk, reuse=True)
            found, chunk_counts = self._postprocess(self.run_raw(tensor), transforms)
            results.extend(found)
            counts.extend(chunk_counts)
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
