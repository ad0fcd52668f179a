"""The conditions of the corruption suite (clean, each corruption at each severity, each novel
input) and the frames of each, corrupted deterministically by ``seed``."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from streams.assess.corruptions import CORRUPTIONS, apply_corruption
from streams.assess.grid import GridCondition, apply_grid, composed_frames
from streams.assess.sample import SuiteFrame, SuiteSample

__all__ = ["DEFAULT_SEVERITIES", "Condition", "conditions", "frames_of"]

DEFAULT_SEVERITIES = (1, 3, 5)


@dataclass(frozen=True)
class Condition:
    """One row of the suite: ``clean``, a corruption at a severity, or a novel input."""

    index: int
    kind: str  # clean | corruption | novel
    corruption: str
    severity: int


def conditions(
    severities: Sequence[int] = DEFAULT_SEVERITIES, novel: Sequence[str] | None = None
) -> list[Condition]:
    """Clean first, then every corruption x severity, then the novel inputs (``novel``: their
    names, default the simulator's :data:`~streams.assess.novel.NOVEL_INPUTS`)."""
    if novel is None:
        from streams.assess.novel import NOVEL_INPUTS

        novel = tuple(NOVEL_INPUTS)
    out = [Condition(0, "clean", "clean", 0)]
    for name in CORRUPTIONS:
        for sev in severities:
            out.append(Condition(len(out), "corruption", name, int(sev)))
    for name in novel:
        out.append(Condition(len(out), "novel", name, 0))
    return out


def frames_of(
    cond: Condition | GridCondition, sample: SuiteSample, seed: int
) -> Iterator[tuple[int, SuiteFrame, NDArray[np.uint8]]]:
    """``(index, frame, pixels)`` of every frame of a condition, decoded as it is reached (a
    grid condition's frames are the corrupted ones, a composed cell's a share of them,
    :mod:`streams.assess.grid`)."""
    if isinstance(cond, GridCondition):
        for i in composed_frames(cond, len(sample.corrupt), seed=seed):
            item = sample.corrupt[i]
            yield i, item, apply_grid(cond, item.load())
        return
    if cond.kind == "novel":
        for i, item in enumerate(sample.novel[cond.corruption]):
            yield i, item, item.load()
        return
    frames = sample.clean if cond.kind == "clean" else sample.corrupt
    for i, item in enumerate(frames):
        rgb = item.load()
        if cond.kind == "clean":
            yield i, item, rgb
        else:
            rng = np.random.default_rng([seed, cond.index, i])
            yield i, item, apply_corruption(cond.corruption, rgb, cond.severity, rng)
