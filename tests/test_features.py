"""Image statistics on synthetic frames with known values."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from streams.features import ImageStats, colour_temp_from_rb, compute_image_stats


def _flat(r: int, g: int, b: int, h: int = 240, w: int = 320) -> np.ndarray:
    img = np.empty((h, w, 3), dtype=np.uint8)
    img[...] = (r, g, b)
    return img


def test_flat_grey_frame() -> None:
    s = compute_image_stats(_flat(128, 128, 128))
    assert s.brightness == pytest.approx(128 / 255, abs=1e-4)
    assert s.contrast == pytest.approx(0.0, abs=1e-4)
    assert s.sharpness == 0.0
    assert s.colour_cast == pytest.approx(0.0, abs=1e-6)
    assert s.est_colour_temp_k == pytest.approx(6500, rel=0.02)
    assert s.clipped_high == 0.0 and s.clipped_low == 0.0


def test_luma_weights() -> None:
    s = compute_image_stats(_flat(100, 50, 200))
    expected = (0.299 * 100 + 0.587 * 50 + 0.114 * 200) / 255
    assert s.brightness == pytest.approx(expected, abs=1e-4)
    assert s.colour_cast == pytest.approx((200 - 100) / (expected * 255), rel=1e-4)


def test_half_black_half_white() -> None:
    img = _flat(0, 0, 0)
    img[:, 160:] = 255
    s = compute_image_stats(img)
    assert s.brightness == pytest.approx(0.5, abs=1e-3)
    assert s.contrast == pytest.approx(0.5, abs=1e-3)
    assert s.clipped_high == pytest.approx(0.5, abs=1e-6)
    assert s.clipped_low == pytest.approx(0.5, abs=1e-6)
    assert s.sharpness > 0


def test_sharpness_orders_noise_and_blur() -> None:
    rng = np.random.default_rng(0)
    noisy = rng.integers(0, 256, size=(240, 320, 3), dtype=np.uint8)
    smooth = np.repeat(np.linspace(0, 255, 320, dtype=np.uint8)[None, :, None], 240, axis=0)
    smooth = np.repeat(smooth, 3, axis=2)
    assert compute_image_stats(noisy).sharpness > 10 * compute_image_stats(smooth).sharpness
    # A linear ramp has zero Laplacian.
    assert compute_image_stats(smooth).sharpness < 0.01


def test_checkerboard_sharpness_value() -> None:
    # A checkerboard of 2x2-pixel blocks becomes a 1-pixel checkerboard after subsampling:
    # every interior Laplacian is +-4*255, so sharpness is exactly 4.
    yy, xx = np.indices((240, 320))
    board = ((yy // 2 + xx // 2) % 2 * 255).astype(np.uint8)
    img = np.repeat(board[..., None], 3, axis=2)
    assert compute_image_stats(img).sharpness == pytest.approx(4.0, rel=1e-6)


def test_colour_temperature_is_monotonic_in_red_blue_ratio() -> None:
    warm = compute_image_stats(_flat(200, 150, 100)).est_colour_temp_k
    neutral = compute_image_stats(_flat(150, 150, 150)).est_colour_temp_k
    cold = compute_image_stats(_flat(100, 150, 200)).est_colour_temp_k
    assert 1500 <= warm < neutral < cold <= 15000
    ratios = np.geomspace(0.001, 1000.0, 80)
    temps = [colour_temp_from_rb(100 * r, 100) for r in ratios]
    assert all(a >= b for a, b in itertools.pairwise(temps))
    assert min(temps) == 1500 and max(temps) == 15000


def test_as_dict_and_frozen() -> None:
    s = compute_image_stats(_flat(10, 20, 30, h=5, w=7))
    d = s.as_dict()
    assert list(d) == [
        "brightness",
        "contrast",
        "sharpness",
        "colour_cast",
        "est_colour_temp_k",
        "clipped_high",
        "clipped_low",
    ]
    assert d == {name: getattr(s, name) for name in d}  # values are the fields, in field order
    assert ImageStats(**d) == s
    with pytest.raises(AttributeError):
        s.brightness = 0.0  # type: ignore[misc]


def test_tiny_and_invalid_frames() -> None:
    assert compute_image_stats(_flat(3, 3, 3, h=1, w=1)).clipped_low == 1.0
    with pytest.raises(ValueError, match="RGB"):
        compute_image_stats(np.zeros((4, 4), dtype=np.uint8))
