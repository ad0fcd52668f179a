"""An Ultralytics / Darknet YOLO folder → labelled files.

Layout (as Ultralytics, Roboflow and CVAT export it): ``images/`` (any sub-folders, e.g.
``train/``, ``val/``), ``labels/`` mirroring it with one ``<image stem>.txt`` per image, and the
class names in ``data.yaml`` (``names:`` as a list or an index → name mapping; any other
``*.yaml`` with ``names`` if there is exactly one) or else ``classes.txt`` / ``obj.names`` (one
name per line). A label line is ``class cx cy w h``, all but the class in 0..1 of the image's size.
An image without a label file is a good unit (as in Ultralytics). Strict: a line with another
number of values (segment polygons), a class index without a name, a value that is not a number,
or a label file without its image is a problem naming the file and the line.
"""

from __future__ import annotations

import math
from pathlib import Path

import yaml

from streams.lab.files import LabelledFile, Problems, RawBox, check_class_name

__all__ = ["IMAGE_SUFFIXES", "find_yolo_names", "read_yolo"]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
_NAME_FILES = ("classes.txt", "obj.names")


def find_yolo_names(root: Path) -> Path | None:
    """The file naming the classes of a YOLO folder, ``None`` if it has none."""
    if (root / "data.yaml").is_file():
        return root / "data.yaml"
    yamls = sorted([*root.glob("*.yaml"), *root.glob("*.yml")])
    if len(yamls) == 1:
        return yamls[0]
    for name in _NAME_FILES:
        if (root / name).is_file():
            return root / name
    return None


def _names_from_yaml(path: Path, problems: Problems) -> tuple[str, ...]:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path} line {mark.line + 1}" if mark is not None else str(path)
        problems.add(where, f"not YAML ({getattr(exc, 'problem', None) or exc})")
        return ()
    except (OSError, UnicodeDecodeError) as exc:
        problems.add(str(path), f"cannot read it ({exc})")
        return ()
    names = doc.get("names") if isinstance(doc, dict) else None
    if isinstance(names, dict):
        if set(names) != set(range(len(names))):
            problems.add(f"{path} names", f"must number the classes 0..{len(names) - 1}")
            return ()
        names = [names[i] for i in range(len(names))]
    if not isinstance(names, list) or not names:
        problems.add(f"{path} names", "must list the class names (a list or 0: name mapping)")
        return ()
    checked = [check_class_name(n, f"{path} names[{i}]", problems) for i, n in enumerate(names)]
    if len(set(checked)) != len(checked):
        problems.add(f"{path} names", f"a class name is repeated: {names}")
    return tuple(n for n in checked if n is not None)


def _names_from_lines(path: Path, problems: Problems) -> tuple[str, ...]:
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        problems.add(str(path), f"cannot read it ({exc})")
        return ()
    names = [line.strip() for line in lines if line.strip()]
    return tuple(
        n for i, n in enumerate(names) if check_class_name(n, f"{path} line {i + 1}", problems)
    )


def _boxes(path: Path, names: tuple[str, ...], problems: Problems) -> list[RawBox]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        problems.add(str(path), f"cannot read it ({exc})")
        return []
    boxes = []
    for number, line in enumerate(text.splitlines(), start=1):
        where = f"{path} line {number}"
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 5:
            problems.add(
                where,
                f"{len(fields)} values; a box line is 'class cx cy w h' (segment polygons and "
                "keypoints are not boxes)",
            )
            continue
        try:
            index = int(fields[0])
            cx, cy, w, h = (float(v) for v in fields[1:])
        except ValueError:
            problems.add(where, f"not 'class cx cy w h' numbers: {line.strip()[:80]!r}")
            continue
        if not 0 <= index < len(names):
            problems.add(where, f"class {index} has no name (names: 0..{len(names) - 1})")
            continue
        if not all(math.isfinite(v) for v in (cx, cy, w, h)):
            problems.add(where, f"non-finite value in {line.strip()[:80]!r}")
            continue
        half_w, half_h = w / 2, h / 2
        boxes.append(
            RawBox(names[index], (cx - half_w, cy - half_h, cx + half_w, cy + half_h), where, True)
        )
    return boxes


def read_yolo(
    root: Path, images: Path | None, problems: Problems
) -> tuple[tuple[str, ...], list[LabelledFile]]:
    """The classes (in index order) and labelled images of a YOLO folder at ``root``.

    ``images`` replaces ``root / "images"`` as the image folder; labels are always read from
    ``root / "labels"``.
    """
    names_file = find_yolo_names(root)
    if names_file is None:
        problems.add(
            str(root), "no data.yaml (or classes.txt) naming the classes; add one with 'names:'"
        )
        return (), []
    if names_file.suffix in (".yaml", ".yml"):
        names = _names_from_yaml(names_file, problems)
    else:
        names = _names_from_lines(names_file, problems)
    image_root = images or root / "images"
    label_root = root / "labels"
    if not image_root.is_dir():
        problems.add(str(image_root), "no such folder; a YOLO set keeps its images in images/")
        return names, []
    if not label_root.is_dir():
        problems.add(str(label_root), "no such folder; a YOLO set keeps its label files in labels/")
        return names, []
    files: list[LabelledFile] = []
    seen: set[Path] = set()
    for path in sorted(p for p in image_root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES):
        rel = path.relative_to(image_root)
        label = (label_root / rel).with_suffix(".txt")
        seen.add(label)
        boxes = _boxes(label, names, problems) if label.is_file() else []
        files.append(LabelledFile(rel.as_posix(), path, str(label), boxes))
    for label in sorted(label_root.rglob("*.txt")):
        if label not in seen:
            problems.add(
                str(label),
                f"no image for this label file in {image_root} (looked for "
                f"{label.relative_to(label_root).with_suffix('').as_posix()}"
                f"{{{','.join(IMAGE_SUFFIXES)}}})",
            )
    return names, files
