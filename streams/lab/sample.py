"""The in-memory form of an imported lab set, shared by the importers and every judgement.

The importers (COCO, YOLO, VOC) produce :class:`LabImage` values; the store keeps them under a
named, content-addressed lab set; lab mAP, the corruption suite, the reference profile and the
calibration behind the label-free estimates read them back as the same values.

>>> from streams.evaluation.boxes import TruthBox
>>> img = LabImage("ab12", "a.jpg", b"...", (TruthBox("burr", (1.0, 2.0, 5.0, 6.0)),), 64, 48)
>>> img.defective, img.classes
(True, ('burr',))
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from streams.evaluation.boxes import TruthBox

__all__ = ["LabImage", "LabSetInfo"]


@dataclass(frozen=True, slots=True)
class LabImage:
    """One labelled lab image.

    ``image_id`` is the sha256 (hex) of ``data``, the encoded JPEG or PNG bytes; ``boxes`` are
    ground truth in the image's own pixels, ``(x1, y1, x2, y2)``; an image with no box is a good
    unit. ``lux`` and ``colour_temp_k`` are the lighting metadata when the lab set has them.
    """

    image_id: str
    file_name: str
    data: bytes
    boxes: tuple[TruthBox, ...]
    width: int
    height: int
    lux: float | None = None
    colour_temp_k: float | None = None

    @property
    def defective(self) -> bool:
        """Whether the image shows at least one defect."""
        return bool(self.boxes)

    @property
    def classes(self) -> tuple[str, ...]:
        """The distinct classes of its boxes, sorted."""
        return tuple(sorted({b.class_name for b in self.boxes}))


@dataclass(frozen=True, slots=True)
class LabSetInfo:
    """A stored lab set: its name, content digest, source format, classes and size.

    ``novel_classes`` are lab classes the model was never trained on (``lab import --novel``):
    the corruption suite reports them as novel inputs, never as misses of a known class.
    ``classes`` are sorted by name; they are matched to the model's class names by name.
    ``imported_at`` is when this version was stored (``None`` before it is).
    """

    name: str
    digest: str
    source_format: str
    classes: tuple[str, ...]
    novel_classes: tuple[str, ...]
    images: int
    boxes: int
    imported_at: datetime | None = None
