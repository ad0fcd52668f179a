"""Batched post-processing gives, per frame, what NMS and mapping one frame at a time give."""

from __future__ import annotations

import numpy as np
from pydantic import TypeAdapter

from schemas.results import Detection
from streams.inference.decoders import Candidates
from streams.inference.nms import nms, valid_boxes
from streams.inference.postprocess import batch_detections, to_frames
from streams.inference.preprocess import LetterboxTransform

_DETECTIONS = TypeAdapter(list[Detection])
NAMES = ("scratch", "dent", "stain")


def _candidates(rng: np.random.Generator, n: int) -> Candidates:
    xy = rng.uniform(0, 300, (n, 2)).astype(np.float32)
    wh = rng.uniform(-2, 80, (n, 2)).astype(np.float32)  # a few inverted boxes
    scores = rng.choice(np.linspace(0.05, 1.0, 20), n).astype(np.float32)  # ties
    labels = rng.integers(0, 4, n)  # class 3 has no name
    return Candidates(np.hstack([xy, xy + wh]), scores, labels, invalid=1, outputs=n + 1)


def _one_frame(cand: Candidates, t: LetterboxTransform, max_det: int) -> list[Detection]:
    ok = valid_boxes(cand.boxes, cand.scores)
    boxes, scores, labels = cand.boxes[ok], cand.scores[ok], cand.labels[ok]
    keep = nms(boxes, scores, labels, iou_threshold=0.5, max_detections=max_det)
    frame_boxes = t.to_frame(boxes[keep]).astype(np.float64).round(3).tolist()
    frame_scores = np.clip(scores[keep].astype(np.float64), 0.0, 1.0).round(6).tolist()
    rows = [
        {"class_name": NAMES[c] if c < len(NAMES) else f"class_{c}", "confidence": s, "box": b}
        for b, s, c in zip(frame_boxes, frame_scores, labels[keep].tolist(), strict=True)
    ]
    return _DETECTIONS.validate_python(rows)


def test_batch_equals_frame_by_frame() -> None:
    rng = np.random.default_rng(7)
    sizes = [(320, 240), (640, 480), (200, 320), (320, 320), (100, 90)]
    for trial in range(40):
        n_frames = int(rng.integers(1, 6))
        cands = [_candidates(rng, int(rng.choice([0, 1, 3, 40, 150]))) for _ in range(n_frames)]
        transforms = [
            LetterboxTransform.fit(
                frame_size=sizes[int(rng.integers(len(sizes)))],
                input_size=(320, 320),
                letterbox=bool(trial % 2),
            )
            for _ in range(n_frames)
        ]
        max_det = int(rng.choice([1, 5, 100]))
        found, counts = batch_detections(
            cands, transforms, NAMES, iou_threshold=0.5, max_detections=max_det
        )
        for cand, t, dets, (bad, total) in zip(cands, transforms, found, counts, strict=True):
            assert dets == _one_frame(cand, t, max_det)
            inverted = int(np.count_nonzero(~valid_boxes(cand.boxes, cand.scores)))
            assert (bad, total) == (1 + inverted, max(cand.outputs, 1 + inverted))


def test_static_batch_padding_rows_are_ignored() -> None:
    rng = np.random.default_rng(1)
    t = LetterboxTransform.fit(frame_size=(320, 240), input_size=(320, 320), letterbox=True)
    cands = [_candidates(rng, 30), _candidates(rng, 30)]  # the second is a padding row
    found, counts = batch_detections(cands, [t], NAMES, iou_threshold=0.5, max_detections=50)
    assert len(found) == len(counts) == 1
    assert found[0] == _one_frame(cands[0], t, 50)


def test_to_frames_equals_to_frame() -> None:
    rng = np.random.default_rng(3)
    transforms = [
        LetterboxTransform.fit(frame_size=(640, 480), input_size=(320, 320), letterbox=True),
        LetterboxTransform.fit(frame_size=(333, 251), input_size=(320, 256), letterbox=False),
    ]
    boxes = rng.uniform(-20, 340, (7, 4)).astype(np.float32)
    got = to_frames(boxes, transforms, [3, 4])
    want = np.vstack([transforms[0].to_frame(boxes[:3]), transforms[1].to_frame(boxes[3:])])
    assert got.tobytes() == want.tobytes()
