"""COCO detection JSON (CVAT, Label Studio, Roboflow, pycocotools' format) → labelled files.

Read: ``categories`` (``id``, ``name``), ``images`` (``id``, ``file_name``, ``width``,
``height``, and optional ``lux`` / ``colour_temp_k`` lighting fields), ``annotations``
(``image_id``, ``category_id``, ``bbox`` as ``[x, y, width, height]`` in pixels). Strict: a
missing or mistyped field, an annotation naming an unknown image or category, or a crowd
annotation (``iscrowd: 1``, a region rather than a box) is a problem naming the JSON file and the
field (``annotations[12].bbox``). Images listed without annotations are good units.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from streams.lab.files import LabelledFile, Problems, RawBox, check_class_name, inside

__all__ = ["COCO_JSON_NAMES", "find_coco_json", "read_coco"]

COCO_JSON_NAMES = ("annotations.json", "_annotations.coco.json", "instances_default.json")
"""JSON names looked for in a COCO folder (Roboflow, CVAT), before any other single ``*.json``."""


def find_coco_json(folder: Path) -> Path | None:
    """The COCO JSON of a folder (or its ``annotations/`` sub-folder), ``None`` if none or many."""
    for where in (folder, folder / "annotations"):
        for name in COCO_JSON_NAMES:
            if (where / name).is_file():
                return where / name
    for where in (folder, folder / "annotations"):
        found = sorted(where.glob("*.json")) if where.is_dir() else []
        if len(found) == 1:
            return found[0]
    return None


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _list(doc: dict[str, Any], key: str, where: str, problems: Problems) -> list[Any]:
    value = doc.get(key)
    if not isinstance(value, list):
        problems.add(where, f"{key!r} must be a list, got {type(value).__name__}")
        return []
    return value


def _categories(doc: dict[str, Any], name: str, problems: Problems) -> dict[object, str]:
    out: dict[object, str] = {}
    for i, cat in enumerate(_list(doc, "categories", name, problems)):
        where = f"{name} categories[{i}]"
        if not isinstance(cat, dict) or not isinstance(cat.get("id"), int | str):
            problems.add(where, "must be an object with an 'id' and a 'name'")
            continue
        label = check_class_name(cat.get("name"), f"{where}.name", problems)
        if label is None:
            continue
        if cat["id"] in out:
            problems.add(f"{where}.id", f"category id {cat['id']!r} is used twice")
        elif label in out.values():
            problems.add(f"{where}.name", f"category name {label!r} is used twice")
        else:
            out[cat["id"]] = label
    return out


def _lighting(record: dict[str, Any], where: str, problems: Problems) -> tuple[float | None, ...]:
    out: list[float | None] = []
    for key, low, high in (("lux", 0.0, 200_000.0), ("colour_temp_k", 1000.0, 20_000.0)):
        value = record.get(key)
        if value is None:
            out.append(None)
        elif not _number(value) or not low <= value <= high:
            problems.add(f"{where}.{key}", f"must be a number in {low:g}..{high:g}, got {value!r}")
            out.append(None)
        else:
            out.append(float(value))
    return tuple(out)


def _image_path(name: str, images: Path, json_dir: Path, guess: bool) -> Path | None:
    """Where the image ``name`` is: in ``images``; when the folder was not given, also beside
    the JSON file or in its parent's ``images/``."""
    roots = [images] if not guess else [images, json_dir, json_dir.parent / "images"]
    for root in roots:
        path = inside(root, name)
        if path is not None and path.is_file():
            return path
    return None


def read_coco(
    json_path: Path, images: Path | None, problems: Problems
) -> tuple[tuple[str, ...], list[LabelledFile]]:
    """The classes (in category order) and labelled images of a COCO JSON file.

    ``images`` is the folder the ``file_name`` fields are relative to; ``None``: the JSON's
    ``images/`` sibling folder if there is one, else the JSON's folder.
    """
    doc = _load_json(json_path, problems)
    if doc is None:
        return (), []
    name = str(json_path)
    guess = images is None
    folder = images or (
        json_path.parent / "images" if (json_path.parent / "images").is_dir() else json_path.parent
    )
    categories = _categories(doc, name, problems)
    files: dict[object, LabelledFile] = {}
    rejected: set[object] = set()
    names: dict[str, str] = {}
    for i, record in enumerate(_list(doc, "images", name, problems)):
        where = f"{name} images[{i}]"
        if not isinstance(record, dict):
            problems.add(where, "must be an object")
            continue
        image_id = record.get("id")
        if not isinstance(image_id, int | str) or isinstance(image_id, bool):
            problems.add(f"{where}.id", f"must be an integer or a string, got {image_id!r}")
            continue
        if image_id in files:
            problems.add(f"{where}.id", f"image id {image_id!r} is used twice")
            continue
        rejected.add(image_id)  # until it is accepted below
        found = _image_file(record, where, (folder, json_path.parent, guess), names, problems)
        if found is not None:
            rejected.discard(image_id)
            files[image_id] = found
    _read_annotations(doc, name, files, rejected=rejected, categories=categories, problems=problems)
    return tuple(categories.values()), list(files.values())


def _load_json(json_path: Path, problems: Problems) -> dict[str, Any] | None:
    """The JSON object of ``json_path``; ``None`` (and a problem) when it is not one."""
    try:
        doc = json.loads(json_path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        problems.add(f"{json_path} line {exc.lineno} column {exc.colno}", f"not JSON ({exc.msg})")
        return None
    except (OSError, UnicodeDecodeError) as exc:
        problems.add(str(json_path), f"cannot read it ({exc})")
        return None
    if not isinstance(doc, dict):
        problems.add(str(json_path), f"must be a JSON object, got {type(doc).__name__}")
        return None
    return doc


def _image_file(
    record: dict[str, Any],
    where: str,
    roots: tuple[Path, Path, bool],
    names: dict[str, str],
    problems: Problems,
) -> LabelledFile | None:
    """The file of one ``images[]`` record, found under ``roots`` (the images folder, the
    JSON's folder, whether to guess); ``None`` (and a problem) when the record is not usable.
    ``names`` maps each file name listed so far to where."""
    folder, json_dir, guess = roots
    file_name = record.get("file_name")
    if not isinstance(file_name, str) or not file_name:
        problems.add(f"{where}.file_name", f"must be a file name, got {file_name!r}")
        return None
    width, height = record.get("width"), record.get("height")
    if not _positive_int(width) or not _positive_int(height):
        problems.add(where, f"width and height must be positive integers, got {width!r}x{height!r}")
        return None
    if file_name in names:
        problems.add(f"{where}.file_name", f"{file_name!r} is listed twice ({names[file_name]})")
        return None
    names[file_name] = where
    path = _image_path(file_name, folder, json_dir, guess)
    if path is None:
        problems.add(f"{where}.file_name", f"no image file {file_name!r} in {folder}")
        return None
    lux, colour = _lighting(record, where, problems)
    return LabelledFile(
        file_name, path, where, width=width, height=height, lux=lux, colour_temp_k=colour
    )


def _read_annotations(
    doc: dict[str, Any],
    name: str,
    files: dict[object, LabelledFile],
    *,
    rejected: set[object],
    categories: dict[object, str],
    problems: Problems,
) -> None:
    """Add each box of ``annotations[]`` to its image in ``files``; an annotation of an image
    in ``rejected`` is left out silently (the image was reported already)."""
    for i, ann in enumerate(_list(doc, "annotations", name, problems)):
        where = f"{name} annotations[{i}]"
        if not isinstance(ann, dict):
            problems.add(where, "must be an object")
            continue
        if ann.get("iscrowd", 0) not in (0, False):
            problems.add(f"{where}.iscrowd", "crowd regions are not boxes; remove them or set 0")
            continue
        target = files.get(ann.get("image_id"))
        if target is None:
            if ann.get("image_id") not in rejected:  # a bad image is reported once, above
                problems.add(f"{where}.image_id", f"no image with id {ann.get('image_id')!r}")
            continue
        label = categories.get(ann.get("category_id"))
        if label is None:
            problems.add(f"{where}.category_id", f"no category {ann.get('category_id')!r}")
            continue
        bbox = ann.get("bbox")
        if not isinstance(bbox, list) or len(bbox) != 4 or not all(_number(v) for v in bbox):
            problems.add(f"{where}.bbox", f"must be [x, y, width, height] numbers, got {bbox!r}")
            continue
        x, y, w, h = (float(v) for v in bbox)
        target.boxes.append(RawBox(label, (x, y, x + w, y + h), f"{where}.bbox"))
