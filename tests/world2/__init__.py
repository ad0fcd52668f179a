"""The second synthetic world: a plant linewatch has never seen, built only inside ``tests/``.

Painted metal plates on a conveyor mat (:mod:`.scene`, not :mod:`streams.simulate`), a
hand-built Ultralytics-style YOLOv8 ONNX detector for its ``burr`` and ``chip`` defects
(:mod:`.detector`), its lab set written as COCO, YOLO and Pascal VOC (:mod:`.labset`) and its camera
events as JSON lines (:mod:`.events`). Session fixtures: :mod:`.fixtures`.

Tests of the real-data path (a plant's own model and lab set) use this world.
"""

from tests.world2.detector import IMGSZ, STRIDE, build_detector, ultralytics_metadata
from tests.world2.events import LINES, World2Event, iter_events, plant_lines, write_events
from tests.world2.labset import (
    LabSample,
    expected_lab_images,
    lab_classes,
    make_lab_set,
    write_coco,
    write_lighting_csv,
    write_voc,
    write_yolo,
)
from tests.world2.scene import (
    CLASSES,
    FRAME_SIZE,
    NOVEL_CLASS,
    Defect,
    Scene,
    random_scene,
    render_scene,
)

__all__ = [
    "CLASSES",
    "FRAME_SIZE",
    "IMGSZ",
    "LINES",
    "NOVEL_CLASS",
    "STRIDE",
    "Defect",
    "LabSample",
    "Scene",
    "World2Event",
    "build_detector",
    "expected_lab_images",
    "iter_events",
    "lab_classes",
    "make_lab_set",
    "plant_lines",
    "random_scene",
    "render_scene",
    "ultralytics_metadata",
    "write_coco",
    "write_events",
    "write_lighting_csv",
    "write_voc",
    "write_yolo",
]
