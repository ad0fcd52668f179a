"""Read a plant's lab set (COCO, YOLO or Pascal VOC) into :class:`LabImage` values, strictly.

:func:`read_lab_set` finds the format (or takes the one given), reads every label file, the
optional ``lighting.csv`` sidecar and every image, and returns the set only when nothing is
wrong; otherwise it raises :class:`~streams.errors.LabSetError` listing every problem, one line
per file naming the line or field. Images are read whole and decoded once (a truncated JPEG is a
problem, not a surprise at judgement time); ``image_id`` is the sha256 of their bytes.

Boxes are stored in the image's pixels, rounded to 1/100 pixel (so YOLO's normalised values, COCO's
``[x, y, w, h]`` and VOC's corners give the same numbers); a box may stick out of its image by
at most one pixel (it is clipped), more is a problem. :func:`lab_set_digest` hashes the images,
boxes and lighting (not the file names or the order): the same set in any format has the same
digest.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from PIL import Image, UnidentifiedImageError
from PIL.Image import DecompressionBombError

from streams.errors import LabSetError
from streams.evaluation.boxes import TruthBox
from streams.lab.coco import find_coco_json, read_coco
from streams.lab.files import LabelledFile, Problems, RawBox
from streams.lab.sample import LabImage
from streams.lab.voc import read_voc, voc_annotation_dir
from streams.lab.yolo import find_yolo_names, read_yolo

__all__ = [
    "LAB_FORMATS",
    "LIGHTING_SIDECAR",
    "LabFormat",
    "LabSetRead",
    "detect_format",
    "lab_set_digest",
    "read_lab_set",
]

LabFormat = Literal["coco", "yolo", "voc"]
LAB_FORMATS: tuple[LabFormat, ...] = ("coco", "yolo", "voc")
LIGHTING_SIDECAR = "lighting.csv"
"""Optional per-image lighting beside the labels: ``file_name,lux,colour_temp_k``."""
_EDGE_PX = 1.0
_ENCODINGS = {"JPEG": "jpeg", "PNG": "png"}


@dataclass(frozen=True, slots=True)
class LabSetRead:
    """A lab set read and checked: its format, classes, images (by file name) and digest."""

    source_format: LabFormat
    classes: tuple[str, ...]
    images: tuple[LabImage, ...]
    digest: str

    @property
    def boxes(self) -> int:
        """Boxes over all images."""
        return sum(len(i.boxes) for i in self.images)


def detect_format(path: Path) -> LabFormat:
    """The format of the lab set at ``path`` (a COCO JSON file, a YOLO ``data.yaml``, or a folder).

    Raises :class:`LabSetError` when the folder matches none or several formats.
    """
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix == ".json":
            return "coco"
        if suffix in (".yaml", ".yml"):
            return "yolo"
        raise LabSetError(
            f"cannot tell the format of {path}: pass a COCO .json, a YOLO data.yaml or a folder, "
            "or --format coco|yolo|voc",
            [],
        )
    if not path.is_dir():
        raise LabSetError(f"{path} does not exist; pass the lab set's folder or file", [])
    found: list[LabFormat] = []
    if (path / "labels").is_dir() and find_yolo_names(path) is not None:
        found.append("yolo")
    if (path / "Annotations").is_dir() or any(path.glob("*.xml")):
        found.append("voc")
    if not found and find_coco_json(path) is not None:
        found.append("coco")
    if len(found) != 1:
        what = "looks like " + " and ".join(found) if found else "matches no format"
        raise LabSetError(
            f"{path} {what}: pass --format coco|yolo|voc (COCO: a .json with images/; YOLO: "
            "images/, labels/ and data.yaml; VOC: Annotations/*.xml and JPEGImages/)",
            [],
        )
    return found[0]


def _float_or_none(
    text: str, where: str, low: float, high: float, problems: Problems
) -> float | None:
    if not text.strip():
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and low <= value <= high):
        problems.add(where, f"must be a number in {low:g}..{high:g}, got {text!r}")
        return None
    return value


def _read_sidecar(path: Path, problems: Problems) -> dict[str, tuple[float | None, float | None]]:
    """``file_name → (lux, colour_temp_k)`` from a ``lighting.csv``."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        problems.add(str(path), f"cannot read it ({exc})")
        return {}
    reader = csv.DictReader(io.StringIO(text))
    missing = {"file_name", "lux", "colour_temp_k"} - set(reader.fieldnames or ())
    if missing:
        problems.add(
            f"{path} line 1",
            f"needs the columns file_name,lux,colour_temp_k (missing {', '.join(sorted(missing))})",
        )
        return {}
    out: dict[str, tuple[float | None, float | None]] = {}
    for row in reader:
        where = f"{path} line {reader.line_num}"
        name = (row.get("file_name") or "").strip()
        if name in out:
            problems.add(where, f"{name!r} is listed twice")
            continue
        out[name] = (
            _float_or_none(row.get("lux") or "", f"{where} lux", 0.0, 200_000.0, problems),
            _float_or_none(
                row.get("colour_temp_k") or "", f"{where} colour_temp_k", 1000.0, 20_000.0, problems
            ),
        )
    return out


def _read_image(item: LabelledFile, problems: Problems) -> tuple[bytes, int, int] | None:
    try:
        data = item.path.read_bytes()
    except OSError as exc:
        problems.add(str(item.path), f"cannot read it ({exc.strerror}; named by {item.where})")
        return None
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt = img.format or ""
            width, height = img.size
            if fmt not in _ENCODINGS:
                problems.add(
                    str(item.path), f"is {fmt or 'not an image'}; lab images must be JPEG or PNG"
                )
                return None
            img.load()
    except (
        UnidentifiedImageError,
        DecompressionBombError,
        OSError,
        SyntaxError,
        ValueError,
    ) as exc:
        problems.add(str(item.path), f"is not a readable JPEG or PNG image ({exc})")
        return None
    if (
        item.width is not None
        and item.height is not None
        and (item.width, item.height) != (width, height)
    ):
        problems.add(
            item.where,
            f"says the image is {item.width}x{item.height} but {item.path.name} is "
            f"{width}x{height}",
        )
        return None
    return data, width, height


def _pixel_box(raw: RawBox, width: int, height: int, problems: Problems) -> TruthBox | None:
    x1, y1, x2, y2 = raw.box
    if raw.normalized:
        x1, x2, y1, y2 = x1 * width, x2 * width, y1 * height, y2 * height
    if not all(math.isfinite(v) for v in (x1, y1, x2, y2)):
        problems.add(raw.where, f"box {list(raw.box)} is not finite")
        return None
    if not (x2 > x1 and y2 > y1):
        problems.add(raw.where, f"box {list(raw.box)} is empty or inverted")
        return None
    if x1 < -_EDGE_PX or y1 < -_EDGE_PX or x2 > width + _EDGE_PX or y2 > height + _EDGE_PX:
        shown = [round(v, 2) for v in (x1, y1, x2, y2)]
        problems.add(raw.where, f"box {shown} lies outside the {width}x{height} image")
        return None
    corners = (
        round(min(max(x1, 0.0), width), 2),
        round(min(max(y1, 0.0), height), 2),
        round(min(max(x2, 0.0), width), 2),
        round(min(max(y2, 0.0), height), 2),
    )
    if not (corners[2] > corners[0] and corners[3] > corners[1]):
        problems.add(raw.where, f"box {list(raw.box)} has no area inside the image")
        return None
    return TruthBox(raw.class_name, corners)


def lab_set_digest(images: Sequence[LabImage]) -> str:
    """sha256 (hex) over the images' ids and sizes, their boxes and lighting, in id order.

    File names and the order of images or boxes do not change it.
    """
    rows = sorted(
        json.dumps(
            [
                img.image_id,
                img.width,
                img.height,
                img.lux,
                img.colour_temp_k,
                sorted([b.class_name, *b.box] for b in img.boxes),
            ],
            separators=(",", ":"),
        )
        for img in images
    )
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()


_READERS: dict[
    LabFormat, Callable[[Path, Path | None, Problems], tuple[tuple[str, ...], list[LabelledFile]]]
] = {
    "coco": read_coco,
    "yolo": read_yolo,
    "voc": read_voc,
}


def _label_root(path: Path, fmt: LabFormat) -> tuple[Path, Path]:
    """(what the reader takes, the folder the sidecar sits in)."""
    if fmt == "coco":
        json_path = path if path.is_file() else find_coco_json(path)
        if json_path is None:
            raise LabSetError(
                f"{path} has no COCO JSON (looked for annotations.json, _annotations.coco.json, "
                "instances_default.json or a single *.json, also in annotations/); pass the "
                ".json file itself",
                [],
            )
        return json_path, (path if path.is_dir() else json_path.parent)
    root = path.parent if path.is_file() else path
    if not root.is_dir():
        raise LabSetError(f"{path} is not a folder; a {fmt.upper()} set is a folder", [])
    if fmt == "voc" and not any(voc_annotation_dir(root).glob("*.xml")):
        raise LabSetError(f"{root} has no VOC annotations (Annotations/*.xml)", [])
    return root, root


def _lab_image(
    item: LabelledFile,
    image_id: str,
    read: tuple[bytes, int, int],
    sidecar: tuple[float | None, float | None] | None,
    problems: Problems,
) -> LabImage:
    """One image of the set: its ``read`` bytes and size, its boxes in pixels, and its
    lighting (the label file's, else the ``sidecar``'s)."""
    data, width, height = read
    boxes = [_pixel_box(b, width, height, problems) for b in item.boxes]
    lux, colour = item.lux, item.colour_temp_k
    if sidecar is not None:
        side_lux, side_colour = sidecar
        lux = lux if lux is not None else side_lux
        colour = colour if colour is not None else side_colour
    return LabImage(
        image_id=image_id,
        file_name=item.file_name,
        data=data,
        boxes=tuple(b for b in boxes if b is not None),
        width=width,
        height=height,
        lux=lux,
        colour_temp_k=colour,
    )


def read_lab_set(
    path: Path,
    fmt: LabFormat | None = None,
    *,
    images: Path | None = None,
    on_image: Callable[[int, int], None] | None = None,
) -> LabSetRead:
    """Read and check the lab set at ``path``; ``images`` overrides where its images are.

    ``on_image(done, total)`` is called as images are read (progress). Raises
    :class:`LabSetError` listing every problem when anything is wrong.
    """
    fmt = fmt or detect_format(path)
    target, folder = _label_root(path, fmt)
    if images is not None and not images.is_dir():
        raise LabSetError(f"--images {images} is not a folder", [])
    problems = Problems()
    classes, files = _READERS[fmt](target, images, problems)
    sidecar = folder / LIGHTING_SIDECAR
    lighting = _read_sidecar(sidecar, problems) if sidecar.is_file() else {}
    known = {f.file_name for f in files}
    for name in lighting if not problems else ():  # (a label problem would echo here)
        if name not in known:
            problems.add(str(sidecar), f"{name!r} is not an image of this set")
    out: list[LabImage] = []
    by_id: dict[str, str] = {}
    for done, item in enumerate(sorted(files, key=lambda f: f.file_name), start=1):
        read = _read_image(item, problems)
        if on_image is not None:
            on_image(done, len(files))
        if read is None:
            continue
        image_id = hashlib.sha256(read[0]).hexdigest()
        if image_id in by_id:
            problems.add(str(item.path), f"has the same bytes as {by_id[image_id]}; keep one")
            continue
        by_id[image_id] = item.file_name
        out.append(_lab_image(item, image_id, read, lighting.get(item.file_name), problems))
    if not files and not problems:
        problems.add(str(path), "the lab set has no images")
    if problems:
        raise LabSetError(
            f"lab set {path} ({fmt}) has {len(problems)} problem(s); nothing was imported:",
            problems.lines,
        )
    return LabSetRead(fmt, tuple(classes), tuple(out), lab_set_digest(out))
