"""Frames → network input: letterbox (or plain resize), normalise, lay out, batch.

>>> t = LetterboxTransform.fit(frame_size=(640, 480), input_size=(320, 320), letterbox=True)
>>> (t.scale_x, t.pad_x, t.pad_y, t.resized_size)
(0.5, 0, 40, (320, 240))
>>> t.to_frame(np.array([[0.0, 40.0, 320.0, 280.0]], dtype=np.float32)).tolist()
[[0.0, 0.0, 640.0, 480.0]]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from PIL import Image

__all__ = ["LetterboxTransform", "Preprocessor"]

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class LetterboxTransform:
    """Where a frame went inside the network input, to map boxes back.

    ``input = frame * scale + pad`` on each axis; ``resized_size`` is the frame's ``(w, h)`` after
    scaling, before padding.
    """

    scale_x: float
    scale_y: float
    pad_x: int
    pad_y: int
    frame_width: int
    frame_height: int
    resized_size: tuple[int, int]

    @classmethod
    def fit(
        cls, *, frame_size: tuple[int, int], input_size: tuple[int, int], letterbox: bool
    ) -> LetterboxTransform:
        """The transform of a ``frame_size`` ``(w, h)`` frame into ``input_size`` ``(W, H)``."""
        fw, fh = frame_size
        iw, ih = input_size
        if not letterbox:
            return cls(iw / fw, ih / fh, 0, 0, fw, fh, (iw, ih))
        r = min(iw / fw, ih / fh)
        nw, nh = min(iw, max(1, round(fw * r))), min(ih, max(1, round(fh * r)))
        return cls(r, r, (iw - nw) // 2, (ih - nh) // 2, fw, fh, (nw, nh))

    def to_frame(self, boxes: FloatArray) -> FloatArray:
        """``[N, 4]`` xyxy boxes in input pixels → original-frame pixels, clipped to the frame."""
        out = np.empty_like(boxes, dtype=np.float32)
        out[:, 0::2] = (boxes[:, 0::2] - self.pad_x) / self.scale_x
        out[:, 1::2] = (boxes[:, 1::2] - self.pad_y) / self.scale_y
        np.clip(out[:, 0::2], 0.0, self.frame_width, out=out[:, 0::2])
        np.clip(out[:, 1::2], 0.0, self.frame_height, out=out[:, 1::2])
        return out

    def to_input(self, boxes: FloatArray) -> FloatArray:
        """``[N, 4]`` xyxy boxes in frame pixels → input pixels (the inverse of ``to_frame``)."""
        out = np.empty_like(boxes, dtype=np.float32)
        out[:, 0::2] = boxes[:, 0::2] * self.scale_x + self.pad_x
        out[:, 1::2] = boxes[:, 1::2] * self.scale_y + self.pad_y
        return out


class Preprocessor:
    """Turns RGB uint8 ``(H, W, 3)`` frames into one float32 input tensor.

    ``out = (pixel * scale - mean) / std`` per channel, folded into one multiply-add; ``mean``
    and ``std`` are in the network's channel order (``channel_order``).

    >>> p = Preprocessor(input_size=(4, 2), layout="NCHW", channel_order="BGR", scale=1.0)
    >>> frame = np.zeros((2, 4, 3), np.uint8); frame[..., 0] = 7  # red
    >>> tensor, _ = p([frame])
    >>> tensor.shape, float(tensor[0, 2].max()), float(tensor[0, 0].max())
    ((1, 3, 2, 4), 7.0, 0.0)
    """

    def __init__(
        self,
        *,
        input_size: tuple[int, int],
        layout: Literal["NCHW", "NHWC"] = "NCHW",
        channel_order: Literal["RGB", "BGR"] = "RGB",
        scale: float = 1.0 / 255.0,
        mean: Sequence[float] = (0.0, 0.0, 0.0),
        std: Sequence[float] = (1.0, 1.0, 1.0),
        letterbox: bool = True,
        pad_value: int = 114,
        dtype: npt.DTypeLike = np.float32,
    ) -> None:
        self.input_size = input_size
        self.layout = layout
        self.letterbox = letterbox
        self.pad_value = pad_value
        self.dtype = np.dtype(dtype)
        std_arr: npt.NDArray[np.float32] = np.asarray(std, dtype=np.float32)
        mul: npt.NDArray[np.float32] = np.float32(scale) / std_arr
        add: npt.NDArray[np.float32] = -np.asarray(mean, dtype=np.float32) / std_arr
        self._reverse = channel_order == "BGR"  # mean/std are given in the network's order
        self._uniform_mul = float(mul[0]) if np.all(mul == mul[0]) else None
        self._add_needed = bool(np.any(add != 0))
        shape = (1, 3, 1, 1) if layout == "NCHW" else (1, 1, 1, 3)
        self._mul: npt.NDArray[np.float32] = mul.reshape(shape)
        self._add: npt.NDArray[np.float32] = add.reshape(shape)
        pad = np.float32(pad_value) * mul + add  # the pad colour after normalisation
        self._pad: npt.NDArray[np.float32] = pad.reshape(shape)[0].astype(np.float32)

    def __call__(
        self,
        frames: Sequence[npt.NDArray[np.uint8]],
        batch_size: int | None = None,
        *,
        out: FloatArray | None = None,
    ) -> tuple[FloatArray, list[LetterboxTransform]]:
        """Batch ``frames`` (zero-padded to ``batch_size`` if given) → ``(tensor, transforms)``.

        ``out``: a float32 tensor of the batch's shape to fill instead of a new one (the
        detector reuses one per thread: no allocation and no page faults per batch). Each frame
        is cast into its place in the tensor and scaled there, in one pass each; the letterbox
        bars get the normalised ``pad_value``.
        """
        iw, ih = self.input_size
        n = len(frames)
        rows = max(n, batch_size or 0)
        shape = (rows, 3, ih, iw) if self.layout == "NCHW" else (rows, ih, iw, 3)
        if out is None or out.shape != shape or out.dtype != np.float32:
            out = np.empty(shape, dtype=np.float32)
        if rows > n:  # a static batch's unused rows: black frames, normalised like the rest
            out[n:] = self._add
        transforms = []
        for i, frame in enumerate(frames):
            if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
                raise ValueError(
                    f"frame {i} must be an (H, W, 3) uint8 RGB array, got shape {frame.shape} "
                    f"of {frame.dtype}"
                )
            fh, fw = frame.shape[:2]
            t = LetterboxTransform.fit(
                frame_size=(fw, fh), input_size=self.input_size, letterbox=self.letterbox
            )
            transforms.append(t)
            nw, nh = t.resized_size
            if (nw, nh) == (fw, fh):
                resized = frame
            else:
                resized = np.asarray(
                    Image.fromarray(frame).resize((nw, nh), Image.Resampling.BILINEAR)
                )
            self._place(out[i], resized, t)
        if self.dtype != np.float32:
            return out.astype(self.dtype), transforms
        return out, transforms

    def _place(
        self, slot: FloatArray, resized: npt.NDArray[np.uint8], t: LetterboxTransform
    ) -> None:
        """Normalise one resized frame into its batch slot, and fill the letterbox bars."""
        nw, nh = t.resized_size
        src = resized[..., ::-1] if self._reverse else resized
        if self.layout == "NCHW":
            src = src.transpose(2, 0, 1)
            inner = slot[:, t.pad_y : t.pad_y + nh, t.pad_x : t.pad_x + nw]
        else:
            inner = slot[t.pad_y : t.pad_y + nh, t.pad_x : t.pad_x + nw]
        mul, add = self._mul[0], self._add[0]
        if inner.shape != slot.shape:  # letterbox bars: the pad colour, normalised
            self._fill_bars(slot, t)
        inner[...] = src  # uint8 -> float32 cast, laid out
        if self._uniform_mul is not None:
            inner *= np.float32(self._uniform_mul)
        else:
            inner *= mul
        if self._add_needed:
            inner += add

    def _fill_bars(self, slot: FloatArray, t: LetterboxTransform) -> None:
        """The pad colour around the frame's place (not under it: the frame overwrites that)."""
        nw, nh = t.resized_size
        x0, y0, x1, y1 = t.pad_x, t.pad_y, t.pad_x + nw, t.pad_y + nh
        if self.layout == "NCHW":
            slot[:, :y0] = self._pad
            slot[:, y1:] = self._pad
            slot[:, y0:y1, :x0] = self._pad
            slot[:, y0:y1, x1:] = self._pad
        else:
            slot[:y0] = self._pad
            slot[y1:] = self._pad
            slot[y0:y1, :x0] = self._pad
            slot[y0:y1, x1:] = self._pad
