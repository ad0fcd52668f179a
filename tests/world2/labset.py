"""The second world's lab set, and writers for the formats plants hold it in.

:func:`make_lab_set` renders labelled plates; :func:`write_coco`, :func:`write_yolo` and
:func:`write_voc` save the same set as a COCO JSON folder, an Ultralytics YOLO folder and a Pascal
VOC folder, as CVAT / Label Studio / Roboflow / Ultralytics export them. Lighting metadata goes in
the COCO image records (``lux``, ``colour_temp_k``) and, for every format, in a ``lighting.csv``
sidecar (``file_name,lux,colour_temp_k``) at the set's root.

:func:`expected_lab_images` is what an importer must produce from any of the three.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np

from streams.evaluation.boxes import TruthBox
from streams.lab import LabImage
from tests.world2.scene import CLASSES, NOVEL_CLASS, Scene, random_scene

__all__ = [
    "LabSample",
    "expected_lab_images",
    "lab_classes",
    "make_lab_set",
    "write_coco",
    "write_lighting_csv",
    "write_voc",
    "write_yolo",
]


@dataclass(frozen=True, slots=True)
class LabSample:
    """One labelled lab image: its file name, JPEG bytes and the scene it shows."""

    file_name: str
    data: bytes
    scene: Scene

    @property
    def width(self) -> int:
        return int(self.scene.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.scene.pixels.shape[0])


def make_lab_set(n: int = 36, *, seed: int = 7, novel_rate: float = 0.0) -> list[LabSample]:
    """``n`` lab plates under day and night light, 70 % defective (1-3 burrs / chips), and with
    probability ``novel_rate`` a scratch (the novel class) as well."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        scene = random_scene(rng, novel_rate=novel_rate, night=i % 3 == 2)
        out.append(LabSample(f"plate_{i:04d}.jpg", scene.jpeg(), scene))
    return out


def lab_classes(samples: Sequence[LabSample]) -> tuple[str, ...]:
    """The set's classes in label-index order: the detector's, then the novel one if present."""
    novel = any(d.class_name == NOVEL_CLASS for s in samples for d in s.scene.defects)
    return (*CLASSES, NOVEL_CLASS) if novel else CLASSES


def expected_lab_images(samples: Sequence[LabSample]) -> list[LabImage]:
    """The :class:`LabImage` values an importer must give for ``samples`` (in file-name order)."""
    return [
        LabImage(
            image_id=hashlib.sha256(s.data).hexdigest(),
            file_name=s.file_name,
            data=s.data,
            boxes=tuple(
                TruthBox(d.class_name, tuple(float(v) for v in d.box))  # type: ignore[arg-type]
                for d in s.scene.defects
            ),
            width=s.width,
            height=s.height,
            lux=s.scene.lux,
            colour_temp_k=s.scene.colour_temp_k,
        )
        for s in sorted(samples, key=lambda s: s.file_name)
    ]


def _write_images(folder: Path, samples: Sequence[LabSample]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for s in samples:
        (folder / s.file_name).write_bytes(s.data)


def write_lighting_csv(path: Path, samples: Sequence[LabSample]) -> Path:
    """The lighting sidecar: one row per image, ``file_name,lux,colour_temp_k``."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file_name", "lux", "colour_temp_k"])
        for s in samples:
            writer.writerow([s.file_name, s.scene.lux, s.scene.colour_temp_k])
    return path


def write_coco(
    root: Path, samples: Sequence[LabSample], *, lighting: bool = True, sidecar: bool = False
) -> Path:
    """A COCO folder: ``annotations.json`` (categories from 1, ``bbox`` as ``[x, y, w, h]``)
    beside ``images/``; ``lighting`` puts ``lux`` / ``colour_temp_k`` in each image record,
    ``sidecar`` writes ``lighting.csv`` too. Returns the JSON file's path."""
    classes = lab_classes(samples)
    cat_id = {name: i + 1 for i, name in enumerate(classes)}
    images: list[dict[str, object]] = []
    annotations: list[dict[str, object]] = []
    for img_id, s in enumerate(samples, start=1):
        record: dict[str, object] = {
            "id": img_id,
            "file_name": s.file_name,
            "width": s.width,
            "height": s.height,
        }
        if lighting:
            record |= {"lux": s.scene.lux, "colour_temp_k": s.scene.colour_temp_k}
        images.append(record)
        for d in s.scene.defects:
            x1, y1, x2, y2 = d.box
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": img_id,
                    "category_id": cat_id[d.class_name],
                    "bbox": [x1, y1, x2 - x1, y2 - y1],
                    "area": (x2 - x1) * (y2 - y1),
                    "iscrowd": 0,
                    "segmentation": [],
                }
            )
    doc = {
        "info": {"description": "world2 plates lab set", "version": "1.0"},
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": [
            {"id": i, "name": name, "supercategory": "defect"} for name, i in cat_id.items()
        ],
    }
    root.mkdir(parents=True, exist_ok=True)
    _write_images(root / "images", samples)
    if sidecar:
        write_lighting_csv(root / "lighting.csv", samples)
    path = root / "annotations.json"
    path.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    return path


def write_yolo(root: Path, samples: Sequence[LabSample], *, sidecar: bool = True) -> Path:
    """An Ultralytics YOLO folder: ``images/``, ``labels/`` (one ``class cx cy w h`` line per box,
    normalised to 0..1; an empty file for a good unit) and ``data.yaml`` naming the classes;
    ``sidecar`` writes ``lighting.csv``. Returns ``root``."""
    classes = lab_classes(samples)
    _write_images(root / "images", samples)
    labels = root / "labels"
    labels.mkdir(parents=True, exist_ok=True)
    for s in samples:
        lines = []
        for d in s.scene.defects:
            x1, y1, x2, y2 = d.box
            cx, cy = (x1 + x2) / 2 / s.width, (y1 + y2) / 2 / s.height
            w, h = (x2 - x1) / s.width, (y2 - y1) / s.height
            lines.append(f"{classes.index(d.class_name)} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}\n")
        (labels / Path(s.file_name).with_suffix(".txt").name).write_text("".join(lines))
    names = "".join(f"  {i}: {name}\n" for i, name in enumerate(classes))
    (root / "data.yaml").write_text(
        f"# world2 plates\npath: .\ntrain: images\nval: images\nnc: {len(classes)}\n"
        f"names:\n{names}",
        encoding="utf-8",
    )
    if sidecar:
        write_lighting_csv(root / "lighting.csv", samples)
    return root


def write_voc(root: Path, samples: Sequence[LabSample], *, sidecar: bool = True) -> Path:
    """A Pascal VOC folder: ``Annotations/<stem>.xml`` (``bndbox`` corners in pixels, as CVAT and
    LabelImg write them) and ``JPEGImages/``; ``sidecar`` writes ``lighting.csv``. Returns
    ``root``."""
    _write_images(root / "JPEGImages", samples)
    ann = root / "Annotations"
    ann.mkdir(parents=True, exist_ok=True)
    for s in samples:
        objects = "".join(
            "  <object>\n"
            f"    <name>{escape(d.class_name)}</name>\n"
            "    <pose>Unspecified</pose>\n    <truncated>0</truncated>\n"
            "    <difficult>0</difficult>\n"
            "    <bndbox>\n"
            f"      <xmin>{d.box[0]}</xmin>\n      <ymin>{d.box[1]}</ymin>\n"
            f"      <xmax>{d.box[2]}</xmax>\n      <ymax>{d.box[3]}</ymax>\n"
            "    </bndbox>\n  </object>\n"
            for d in s.scene.defects
        )
        xml = (
            "<annotation>\n  <folder>JPEGImages</folder>\n"
            f"  <filename>{escape(s.file_name)}</filename>\n"
            f"  <size>\n    <width>{s.width}</width>\n    <height>{s.height}</height>\n"
            "    <depth>3</depth>\n  </size>\n  <segmented>0</segmented>\n"
            f"{objects}</annotation>\n"
        )
        (ann / Path(s.file_name).with_suffix(".xml").name).write_text(xml, encoding="utf-8")
    if sidecar:
        write_lighting_csv(root / "lighting.csv", samples)
    return root
