"""Opening an ONNX graph in onnxruntime, and reading what its exporter wrote in it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from streams.errors import ModelFormatError
from streams.inference.export_metadata import ExportMetadata, read_export_metadata

if TYPE_CHECKING:
    import onnxruntime as ort

__all__ = ["model_metadata", "open_session", "sniff"]


def sniff(path: Path) -> str:
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


def open_session(path: Path, threads: int | None, providers: Sequence[str]) -> ort.InferenceSession:
    """An onnxruntime session of ``path`` (all graph optimisations, no spinning threads)."""
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
                f"{path} is not an ONNX model: found {sniff(path)}; pass an .onnx file or a "
                "model spec (.json) pointing at one"
            ) from exc
        raise ModelFormatError(
            f"onnxruntime cannot load {path}: {text.splitlines()[0] if text else exc!r}; "
            "check the opset / operators are supported by the installed onnxruntime"
        ) from exc


def model_metadata(session: ort.InferenceSession) -> ExportMetadata:
    """The exporter's metadata of a loaded model (names, imgsz, stride, task)."""
    try:
        props = dict(session.get_modelmeta().custom_metadata_map)
    except Exception:  # onnxruntime raises its own (unexported) exception types
        props = {}
    return read_export_metadata(props)
