"""A Pascal VOC folder (CVAT, LabelImg, Roboflow) → labelled files.

Layout: ``Annotations/*.xml`` (or ``*.xml`` at the root, as LabelImg saves them beside the
images) and the images in ``JPEGImages/`` (or the root). Each XML names its image
(``<filename>``), its ``<size>`` and one ``<object>`` per box: ``<name>`` and ``<bndbox>`` with
``xmin ymin xmax ymax`` in pixels, read as written (the convention of CVAT, LabelImg and
datumaro; no 1-based shift). ``<difficult>`` boxes are kept as boxes. Strict: XML that does not
parse (with its line), a missing field, a non-number or an image file that is not there is a
problem naming the XML file and the element.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from pathlib import Path

from streams.lab.files import LabelledFile, Problems, RawBox, check_class_name, inside

__all__ = ["read_voc", "voc_annotation_dir"]


def voc_annotation_dir(root: Path) -> Path:
    """Where a VOC folder keeps its XML files."""
    return root / "Annotations" if (root / "Annotations").is_dir() else root


def _number(element: ET.Element, tag: str, where: str, problems: Problems) -> float | None:
    text = element.findtext(tag)
    try:
        value = float(text) if text is not None else math.nan
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        problems.add(f"{where}/{tag}", f"must be a number, got {text!r}")
        return None
    return value


def _size(root: ET.Element, where: str, problems: Problems) -> tuple[int | None, int | None]:
    size = root.find("size")
    if size is None:
        return None, None
    out: list[int | None] = []
    for tag in ("width", "height"):
        text = (size.findtext(tag) or "").strip()
        if not text.isdigit():
            problems.add(f"{where} <size>/{tag}", f"must be a whole number, got {text!r}")
            out.append(None)
        else:
            out.append(int(text) or None)  # LabelImg writes 0 when it did not know
    return out[0], out[1]


def _read_one(xml: Path, images: Path, problems: Problems) -> LabelledFile | None:
    try:
        root = ET.parse(xml).getroot()  # expat: no external entities, entity expansion capped
    except ET.ParseError as exc:
        line, column = exc.position
        problems.add(f"{xml} line {line} column {column}", f"not XML ({exc})")
        return None
    except OSError as exc:
        problems.add(str(xml), f"cannot read it ({exc})")
        return None
    if root.tag != "annotation":
        problems.add(str(xml), f"root element is <{root.tag}>, a VOC file has <annotation>")
        return None
    file_name = (root.findtext("filename") or "").strip()
    if not file_name:
        problems.add(f"{xml} <filename>", "missing; it names the image this file labels")
        return None
    path = inside(images, file_name)
    if path is None or not path.is_file():
        problems.add(f"{xml} <filename>", f"no image file {file_name!r} in {images}")
        return None
    width, height = _size(root, str(xml), problems)
    labelled = LabelledFile(file_name, path, str(xml), width=width, height=height)
    for i, obj in enumerate(root.findall("object")):
        where = f"{xml} <object>[{i}]"
        name = check_class_name(
            (obj.findtext("name") or "").strip() or None, f"{where}/name", problems
        )
        box = obj.find("bndbox")
        if box is None:
            problems.add(where, "has no <bndbox>")
            continue
        corners = [
            _number(box, tag, f"{where}/bndbox", problems)
            for tag in ("xmin", "ymin", "xmax", "ymax")
        ]
        if name is None or any(c is None for c in corners):
            continue
        x1, y1, x2, y2 = (float(c) for c in corners if c is not None)
        labelled.boxes.append(RawBox(name, (x1, y1, x2, y2), f"{where}/bndbox"))
    return labelled


def read_voc(
    root: Path, images: Path | None, problems: Problems
) -> tuple[tuple[str, ...], list[LabelledFile]]:
    """The classes (sorted: VOC lists none) and labelled images of a VOC folder at ``root``."""
    annotations = voc_annotation_dir(root)
    image_root = images or (root / "JPEGImages" if (root / "JPEGImages").is_dir() else root)
    xmls = sorted(annotations.glob("*.xml"))
    if not xmls:
        problems.add(str(annotations), "no *.xml annotation files")
        return (), []
    files = [f for f in (_read_one(x, image_root, problems) for x in xmls) if f is not None]
    classes = sorted({b.class_name for f in files for b in f.boxes})
    return tuple(classes), files
