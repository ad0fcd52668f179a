"""The dense grid of global conditions (gain, defocus) the corruption suite renders for the
label-free estimate's re-weighting."""

from __future__ import annotations

import numpy as np
import pytest

from streams.assess import NOVEL_INPUTS, conditions, evaluate_suite
from streams.assess.grid import (
    COMPOSED,
    COMPOSED_FIRST_DEFOCUS,
    COMPOSED_SHARE,
    GRID,
    GridCondition,
    apply_grid,
    composed_frames,
    grid_conditions,
)
from streams.features import compute_image_stats
from tests.test_assess import DarkSpotDetector


@pytest.fixture(scope="module")
def frame() -> np.ndarray:
    rgb, _ = NOVEL_INPUTS["novel_crack"](np.random.default_rng(7))
    return rgb


def test_grid_levels_are_dense_and_ordered() -> None:
    gains = np.asarray(GRID["gain"])
    radii = np.asarray(GRID["defocus"])
    # every step is one fixed ratio, gains fall from brightening to 20 % light
    assert gains[0] > 1.0 and gains[-1] <= 0.2 and np.all(np.diff(gains) < 0)
    assert np.allclose(gains[1:] / gains[:-1], gains[1] / gains[0])
    assert gains[1] / gains[0] > 0.85  # no step as coarse as the suite's 0.55 -> 0.3
    assert np.all(np.diff(radii) > 0) and radii[0] <= 0.5 and radii[-1] >= 4.0


def test_grid_conditions_number_after_the_suite() -> None:
    first = len(conditions((1, 3, 5)))
    grid = grid_conditions(first)
    assert [c.index for c in grid] == list(range(first, first + len(grid)))
    cells = len(GRID["gain"]) * (len(GRID["defocus"]) - COMPOSED_FIRST_DEFOCUS + 1)
    assert len(grid) == sum(len(v) for v in GRID.values()) + cells
    assert {c.kind for c in grid} == {"grid"}
    composed = [c for c in grid if c.corruption == COMPOSED]
    # every gain level meets every defocus level from COMPOSED_FIRST_DEFOCUS on, once
    assert sorted(c.parameters for c in composed) == sorted(
        (g, r) for g in GRID["gain"] for r in GRID["defocus"][COMPOSED_FIRST_DEFOCUS - 1 :]
    )
    assert [c.severity for c in grid if c.corruption == "defocus"] == list(
        range(1, len(GRID["defocus"]) + 1)
    )


def test_gain_levels_darken_and_defocus_levels_blur(frame: np.ndarray) -> None:
    before = frame.copy()
    gains = [c for c in grid_conditions(0) if c.corruption == "gain"]
    bright = [compute_image_stats(apply_grid(c, frame)).brightness for c in gains]
    assert np.all(np.diff(bright) < 0)
    blurs = [c for c in grid_conditions(0) if c.corruption == "defocus"]
    sharp = [compute_image_stats(apply_grid(c, frame)).sharpness for c in blurs]
    assert np.all(np.diff(sharp) < 0)
    assert np.array_equal(frame, before)
    assert np.array_equal(apply_grid(blurs[2], frame), apply_grid(blurs[2], frame))
    with pytest.raises(ValueError, match="unknown grid condition"):
        apply_grid(GridCondition(0, "grid", "rain", 1), frame)


def test_a_composed_cell_is_its_gain_then_its_defocus(frame: np.ndarray) -> None:
    """The composed cells put a dimmer (or brighter) lamp and a defocus on one frame: darker
    than the defocus level alone, blurrier than the gain level alone."""
    cell = next(c for c in grid_conditions(0) if c.corruption == COMPOSED and c.levels == (12, 6))
    gain = GridCondition(0, "grid", "gain", 12)
    blur = GridCondition(0, "grid", "defocus", 6)
    both = compute_image_stats(apply_grid(cell, frame))
    dim = compute_image_stats(apply_grid(gain, frame)).brightness
    assert both.brightness == pytest.approx(dim, rel=0.01)
    assert both.brightness < 0.6 * compute_image_stats(apply_grid(blur, frame)).brightness
    assert both.sharpness < 0.5 * compute_image_stats(apply_grid(gain, frame)).sharpness


def test_composed_cells_share_the_frames_between_them() -> None:
    cells = [c for c in grid_conditions(0) if c.corruption == COMPOSED]
    picks = [composed_frames(c, 300, seed=4) for c in cells]
    assert {len(p) for p in picks} == {-(-300 // COMPOSED_SHARE)}
    assert picks == [composed_frames(c, 300, seed=4) for c in cells]  # deterministic
    assert picks != [composed_frames(c, 300, seed=5) for c in cells]
    seen = np.bincount(np.concatenate(picks), minlength=300)
    # each frame in about len(cells) / COMPOSED_SHARE cells, none left out
    assert seen.min() > 0 and abs(seen.mean() - len(cells) / COMPOSED_SHARE) < 1


def test_suite_stores_every_grid_level_frame_by_frame_but_does_not_summarise_it() -> None:
    res = evaluate_suite(
        DarkSpotDetector(),
        threshold=0.5,
        review_band=(0.15, 0.5),
        frames=4,
        severities=(1,),
        seed=2,
    )
    grid_rows = [r for r in res.frames if r.corruption in {*GRID, COMPOSED}]
    cells = len(GRID["gain"]) * (len(GRID["defocus"]) - COMPOSED_FIRST_DEFOCUS + 1)
    assert len(grid_rows) == 4 * sum(len(v) for v in GRID.values()) + cells * 1
    assert {(r.corruption, r.severity) for r in grid_rows} == {
        (c.corruption, c.severity) for c in grid_conditions(0)
    }
    assert not [r for r in res.results if r.corruption in {*GRID, COMPOSED}]
    assert len({r.row_id for r in res.frames}) == len(res.frames)
    dark = [
        float(r.brightness or 0) for r in grid_rows if (r.corruption, r.severity) == ("gain", 16)
    ]
    clean = [float(r.brightness or 0) for r in res.frames if r.corruption == "clean"]
    assert max(dark) < min(clean)
