"""What an exporter wrote into an ONNX model's ``metadata_props``: class names, size, stride, task.

Ultralytics (YOLOv8 / YOLO11 ``model.export(format="onnx")``) writes ``names`` (a Python dict
literal, ``"{0: 'burr', 1: 'chip'}"``), ``imgsz`` (``"[640, 640]"``, height then width),
``stride`` (``"32"``), ``task`` (``"detect"``), ``batch`` and a few descriptive keys; the YOLOv5
repository's ``export.py`` writes ``stride`` and ``names`` only. :func:`read_export_metadata`
reads them (strictly: a value it cannot parse is an error naming the key), so a bare ``.onnx``
needs no spec file.

>>> meta = read_export_metadata({"names": "{0: 'burr', 1: 'chip'}", "imgsz": "[160, 192]",
...                              "stride": "32", "task": "detect", "author": "Ultralytics"})
>>> meta.names, meta.input_size, meta.stride, meta.task
(('burr', 'chip'), (192, 160), 32, 'detect')
>>> read_export_metadata({}).names is None
True
>>> read_export_metadata({"names": "['a', 'b']"}).names
('a', 'b')
>>> read_export_metadata({"names": "{0: 'a', 2: 'c'}"})  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
streams.errors.ModelFormatError: ONNX metadata 'names' must number the classes 0..1, ...
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass, field

from streams.errors import ModelFormatError

__all__ = ["DETECT_TASK", "ExportMetadata", "read_export_metadata"]

DETECT_TASK = "detect"
_DESCRIPTIVE = ("author", "description", "version", "date", "license", "docs")
_ABOUT_CHARS = 200
_NAME_CHARS = 100


def _shown_text(value: str) -> str:
    """A descriptive value fit for a terminal and a report: control characters (escape
    sequences, newlines) replaced by U+FFFD and at most 200 characters.

    >>> _shown_text("Ultralytics\x1b[2J YOLOv8" + "!" * 300)[:25]
    'Ultralytics\ufffd[2J YOLOv8!!!'
    >>> len(_shown_text("x" * 500))
    200
    """
    text = "".join(c if c.isprintable() else "\ufffd" for c in value)
    return text if len(text) <= _ABOUT_CHARS else text[: _ABOUT_CHARS - 1] + "…"


@dataclass(frozen=True, slots=True)
class ExportMetadata:
    """The parts of an export's metadata linewatch uses; ``None`` where the model does not say.

    ``input_size`` is ``(W, H)`` like :attr:`ModelSpec.input_size` (Ultralytics writes ``imgsz``
    as ``[H, W]``). ``about`` keeps the descriptive keys (author, description, exporter version,
    date, licence) for the model card.
    """

    names: tuple[str, ...] | None = None
    input_size: tuple[int, int] | None = None
    stride: int | None = None
    task: str | None = None
    about: dict[str, str] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        """Whether the model carries none of names, size, stride and task."""
        return (
            self.names is None
            and self.input_size is None
            and self.stride is None
            and (self.task is None)
        )


def _literal(props: Mapping[str, str], key: str) -> object:
    try:
        return ast.literal_eval(props[key].strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError) as exc:
        raise ModelFormatError(
            f"ONNX metadata {key!r} is not a Python literal ({props[key][:80]!r}); re-export the "
            "model or write a spec with `linewatch model init`"
        ) from exc


def _names(props: Mapping[str, str]) -> tuple[str, ...] | None:
    if "names" not in props:
        return None
    value = _literal(props, "names")
    if isinstance(value, dict):
        if sorted(value) != list(range(len(value))):
            raise ModelFormatError(
                f"ONNX metadata 'names' must number the classes 0..{len(value) - 1}, got keys "
                f"{sorted(value, key=str)[:10]}; write a spec with `linewatch model init "
                "--classes`"
            )
        names = [value[i] for i in range(len(value))]
    elif isinstance(value, list | tuple):
        names = list(value)
    else:
        raise ModelFormatError(
            f"ONNX metadata 'names' must be a dict or list of class names, got "
            f"{type(value).__name__}; write a spec with `linewatch model init --classes`"
        )
    if not names or not all(isinstance(n, str) and n.strip() for n in names):
        raise ModelFormatError(
            "ONNX metadata 'names' must hold non-empty class names; write a spec with "
            "`linewatch model init --classes`"
        )
    odd = [n for n in names if not n.isprintable() or len(n) > _NAME_CHARS]
    if odd:
        raise ModelFormatError(
            f"ONNX metadata 'names' holds a class name with control characters or over "
            f"{_NAME_CHARS} characters ({_shown_text(repr(odd[0]))}); write a spec with "
            "`linewatch model init --classes`"
        )
    if len(set(names)) != len(names):
        raise ModelFormatError(f"ONNX metadata 'names' repeats a class name: {names[:20]}")
    return tuple(str(n) for n in names)


def _imgsz(props: Mapping[str, str]) -> tuple[int, int] | None:
    if "imgsz" not in props:
        return None
    value = _literal(props, "imgsz")
    if isinstance(value, int):
        value = [value, value]
    if (
        not isinstance(value, list | tuple)
        or len(value) != 2
        or not all(isinstance(v, int) and v > 0 for v in value)
    ):
        raise ModelFormatError(
            f"ONNX metadata 'imgsz' must be [height, width] in pixels, got {props['imgsz']!r}"
        )
    h, w = value
    return int(w), int(h)


def _stride(props: Mapping[str, str]) -> int | None:
    if "stride" not in props:
        return None
    value = _literal(props, "stride")
    if isinstance(value, list | tuple) and value and all(isinstance(v, int) for v in value):
        value = max(value)  # per-level strides: the input must be a multiple of the largest
    if not isinstance(value, int) or value <= 0:
        raise ModelFormatError(
            f"ONNX metadata 'stride' must be a positive integer, got {props['stride']!r}"
        )
    return value


def read_export_metadata(props: Mapping[str, str]) -> ExportMetadata:
    """Parse an ONNX model's ``metadata_props`` (as onnxruntime's ``custom_metadata_map``).

    Raises :class:`~streams.errors.ModelFormatError` when a key linewatch reads is present but
    malformed (class names with control characters included); unknown keys are ignored, and
    descriptive ones are cleaned for printing (:func:`_shown_text`).
    """
    task = props.get("task")
    return ExportMetadata(
        names=_names(props),
        input_size=_imgsz(props),
        stride=_stride(props),
        task=_shown_text(task.strip()) if task is not None else None,
        about={k: _shown_text(props[k]) for k in _DESCRIPTIVE if props.get(k)},
    )
