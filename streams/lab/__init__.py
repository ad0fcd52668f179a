"""A plant's own lab set: labelled images imported from COCO, YOLO or Pascal VOC."""

from streams.lab.sample import LabImage, LabSetInfo

__all__ = ["LabImage", "LabSetInfo"]
