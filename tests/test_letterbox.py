"""Letterbox / resize geometry and the pre-processing tensor."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from streams.inference.preprocess import LetterboxTransform, Preprocessor


@pytest.mark.parametrize(
    ("frame", "expected_resized", "expected_pad"),
    [
        ((640, 480), (320, 240), (0, 40)),  # landscape: bars top and bottom
        ((480, 640), (240, 320), (40, 0)),  # portrait: bars left and right
        ((100, 300), (107, 320), (106, 0)),  # odd sizes: rounded, centred
        ((320, 320), (320, 320), (0, 0)),
    ],
)
def test_fit_keeps_aspect_and_centres(
    frame: tuple[int, int], expected_resized: tuple[int, int], expected_pad: tuple[int, int]
) -> None:
    t = LetterboxTransform.fit(frame_size=frame, input_size=(320, 320), letterbox=True)
    assert t.resized_size == expected_resized
    assert (t.pad_x, t.pad_y) == expected_pad
    assert t.scale_x == t.scale_y


@pytest.mark.parametrize("frame", [(640, 480), (480, 640), (1280, 200), (37, 91)])
@pytest.mark.parametrize("letterbox", [True, False])
def test_round_trip_frame_to_input_and_back(frame: tuple[int, int], letterbox: bool) -> None:
    fw, fh = frame
    rng = np.random.default_rng(fw * fh)
    xy = rng.uniform(0, 0.5, (50, 2)) * (fw, fh)
    wh = rng.uniform(0.01, 0.5, (50, 2)) * (fw, fh)
    boxes = np.concatenate([xy, xy + wh], axis=1).astype(np.float32)
    t = LetterboxTransform.fit(frame_size=frame, input_size=(320, 256), letterbox=letterbox)
    inside = t.to_input(boxes)
    assert inside[:, [0, 2]].min() >= t.pad_x - 1e-3
    assert inside[:, [0, 2]].max() <= t.pad_x + t.resized_size[0] + 1e-3
    np.testing.assert_allclose(t.to_frame(inside), boxes, rtol=1e-5, atol=1e-3)


def test_to_frame_clips_to_the_frame() -> None:
    t = LetterboxTransform.fit(frame_size=(640, 480), input_size=(320, 320), letterbox=True)
    out = t.to_frame(np.array([[-10.0, 0.0, 330.0, 320.0]], np.float32))  # into the pad bars
    assert out.tolist() == [[0.0, 0.0, 640.0, 480.0]]


def test_plain_resize_scales_axes_independently() -> None:
    t = LetterboxTransform.fit(frame_size=(640, 480), input_size=(320, 320), letterbox=False)
    assert (t.scale_x, t.scale_y, t.pad_x, t.pad_y) == (0.5, 320 / 480, 0, 0)


def test_preprocessor_pads_places_and_normalises() -> None:
    frame = np.zeros((20, 40, 3), np.uint8)
    frame[..., 0] = 200  # red
    frame[..., 2] = 50  # blue
    p = Preprocessor(input_size=(40, 40), mean=(0.5, 0.5, 0.5), std=(0.5, 0.25, 0.5))
    tensor, [t] = p([frame])
    assert tensor.shape == (1, 3, 40, 40) and tensor.dtype == np.float32
    assert (t.pad_x, t.pad_y) == (0, 10)
    pad = (114 / 255 - 0.5) / np.array([0.5, 0.25, 0.5])
    np.testing.assert_allclose(tensor[0, :, 0, 0], pad, rtol=1e-5)  # top bar
    np.testing.assert_allclose(tensor[0, :, 39, 39], pad, rtol=1e-5)  # bottom bar
    content = (np.array([200, 0, 50]) / 255 - 0.5) / np.array([0.5, 0.25, 0.5])
    np.testing.assert_allclose(tensor[0, :, 20, 20], content, rtol=1e-5)


def test_preprocessor_bgr_nhwc_and_batch_padding() -> None:
    frame = np.zeros((8, 8, 3), np.uint8)
    frame[..., 0] = 255
    p = Preprocessor(input_size=(8, 8), layout="NHWC", channel_order="BGR", scale=1.0)
    tensor, transforms = p([frame], batch_size=3)
    assert tensor.shape == (3, 8, 8, 3) and len(transforms) == 1
    assert tensor[0, 4, 4].tolist() == [0.0, 0.0, 255.0]  # red is last in BGR
    assert not tensor[1:].any()  # padding images are blank


def test_preprocessor_resizes_content() -> None:
    frame = np.zeros((100, 200, 3), np.uint8)
    frame[:, :100] = 255  # left half white
    tensor, _ = Preprocessor(input_size=(50, 50), scale=1.0)([frame])
    # resized to 50x25 at pad_y 12: left half white, right half black
    assert tensor[0, 0, 24, 5] == 255.0 and tensor[0, 0, 24, 45] == 0.0
    assert tensor[0, 0, 5, 5] == 114.0


def test_preprocessor_rejects_non_rgb_frames() -> None:
    with pytest.raises(ValueError, match="uint8 RGB"):
        Preprocessor(input_size=(8, 8))([np.zeros((8, 8), np.uint8)])


def _reference_tensor(p: Preprocessor, frames: list[np.ndarray], rows: int) -> np.ndarray:
    """The plain way: a uint8 canvas of pad colour, frames pasted in, then normalised."""
    iw, ih = p.input_size
    canvas = np.full((rows, ih, iw, 3), p.pad_value if p.letterbox else 0, dtype=np.uint8)
    canvas[len(frames) :] = 0
    for i, frame in enumerate(frames):
        t = LetterboxTransform.fit(
            frame_size=(frame.shape[1], frame.shape[0]),
            input_size=p.input_size,
            letterbox=p.letterbox,
        )
        nw, nh = t.resized_size
        placed = frame
        if (nw, nh) != (frame.shape[1], frame.shape[0]):
            placed = np.asarray(Image.fromarray(frame).resize((nw, nh), Image.Resampling.BILINEAR))
        canvas[i, t.pad_y : t.pad_y + nh, t.pad_x : t.pad_x + nw] = placed
    src = canvas[..., ::-1] if p._reverse else canvas
    if p.layout == "NCHW":
        src = src.transpose(0, 3, 1, 2)
    out = np.multiply(src, p._mul, dtype=np.float32)
    out += p._add
    return out


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("order", ["RGB", "BGR"])
def test_reused_tensor_equals_a_fresh_canvas_whatever_came_before(layout: str, order: str) -> None:
    rng = np.random.default_rng(5)
    p = Preprocessor(
        input_size=(64, 48),
        layout=layout,  # type: ignore[arg-type]
        channel_order=order,  # type: ignore[arg-type]
        mean=(0.4, 0.5, 0.6),
        std=(0.2, 0.3, 0.4),
    )
    out = None
    # frames of other shapes pass through the same tensor: no stale pixel may survive
    for shapes in ([(48, 64), (30, 64)], [(20, 10), (48, 64)], [(60, 30)], [(48, 64), (9, 70)]):
        frames = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in shapes]
        tensor, _ = p(frames, batch_size=3, out=out)
        assert np.array_equal(tensor, _reference_tensor(p, frames, 3))
        if out is not None:
            assert tensor is out  # filled in place, not reallocated
        out = tensor
