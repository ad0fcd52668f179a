"""What a label file says, before any image is read: the common form of COCO, YOLO and VOC.

Each format's reader (:mod:`streams.lab.coco`, :mod:`streams.lab.yolo`, :mod:`streams.lab.voc`)
turns its files into :class:`LabelledFile` values and reports what is wrong in a
:class:`Problems` list, one line per problem naming the file and the line or field; nothing
raises until every file was read, so a user sees every bad file at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

__all__ = ["CLASS_NAME_MAX", "LabelledFile", "Problems", "RawBox", "check_class_name", "inside"]

CLASS_NAME_MAX = 64
"""Longest class name (as a ground-truth label's ``class_name``)."""


class Problems:
    """The problems found in a lab set, one line each: ``"<where>: <what>"``."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, where: str, what: str) -> None:
        """Record one problem at ``where`` (a file, with its line or field)."""
        self.lines.append(f"{where}: {what}")

    def __bool__(self) -> bool:
        return bool(self.lines)

    def __len__(self) -> int:
        return len(self.lines)


@dataclass(frozen=True, slots=True)
class RawBox:
    """One labelled box as its file states it: corners ``(x1, y1, x2, y2)`` in pixels, or in
    0..1 of the image's size when ``normalized`` (YOLO); ``where`` names its file and line/field."""

    class_name: str
    box: tuple[float, float, float, float]
    where: str
    normalized: bool = False


@dataclass(slots=True)
class LabelledFile:
    """One image of a lab set as its label file names it, before the image is read.

    ``file_name`` is the name recorded in the set (relative, ``/``-separated); ``path`` the file
    to read; ``where`` the label file and field that named it; ``width``/``height`` the size the
    labels declare (checked against the image), ``None`` when they do not say.
    """

    file_name: str
    path: Path
    where: str
    boxes: list[RawBox] = field(default_factory=list)
    width: int | None = None
    height: int | None = None
    lux: float | None = None
    colour_temp_k: float | None = None


def check_class_name(name: object, where: str, problems: Problems) -> str | None:
    """``name`` if it is a usable class name, else ``None`` with a problem recorded.

    >>> p = Problems()
    >>> check_class_name("burr", "x", p), check_class_name(" ", "y", p), len(p)
    ('burr', None, 1)
    """
    if (
        not isinstance(name, str)
        or not name.strip()
        or name != name.strip()
        or len(name) > CLASS_NAME_MAX
    ):
        problems.add(
            where,
            f"class name must be non-empty text without surrounding spaces, got {name!r}"
            + (f" (at most {CLASS_NAME_MAX} characters)" if isinstance(name, str) else ""),
        )
        return None
    return name


def inside(root: Path, name: str) -> Path | None:
    """``root / name`` when ``name`` is a relative path that stays inside ``root``, else ``None``.

    >>> inside(Path("/data"), "a/b.jpg"), inside(Path("/data"), "../x.jpg")
    (PosixPath('/data/a/b.jpg'), None)
    >>> inside(Path("/data"), "/etc/x.jpg") is None
    True
    """
    pure = PurePosixPath(name.replace("\\", "/"))
    if not name or pure.is_absolute() or ".." in pure.parts:
        return None
    return root.joinpath(*pure.parts)
