"""What the corruption suite runs on: the clean lab frames, the ones it corrupts, the novel inputs.

A :class:`SuiteSample` comes from a plant's imported lab set (:func:`lab_sample`) or, where no
lab set exists, from the simulator (:func:`simulated_sample`). Frames are decoded (or rendered)
only when the suite reaches them, one batch at a time, so a large lab set is never held whole.

Splitting a lab set: an image with a box of a novel class (``lab import --novel``) is a novel
input of that class (one condition per novel class); every other image is in the clean split
(lab mAP, TPR/FPR, the calibration behind ``linewatch estimate``); the corruptions are applied to
up to ``frames`` of those, drawn by ``seed``. A lab class the model does not know and that is not
marked novel gets a warning (its boxes stay ground truth: an image holding one is a defective
unit, but the class has no AP and no recall).

>>> from streams.evaluation.boxes import TruthBox
>>> info = LabSetInfo("bench", "d1", "coco", ("burr", "crack", "dent"), ("crack",), 3, 2)
>>> images = [
...     LabImage("a1", "a.png", b"", (TruthBox("burr", (0, 0, 4, 4)),), 8, 8),
...     LabImage("b2", "b.png", b"", (TruthBox("crack", (0, 0, 4, 4)),), 8, 8),
...     LabImage("c3", "c.png", b"", (), 8, 8),
... ]
>>> s = lab_sample(images, info, model_classes=("burr", "chip"), frames=10, seed=0)
>>> s.name, [f.key for f in s.clean], list(s.novel)
('bench', ['a1', 'c3'], ['novel:crack'])
>>> print(*s.warnings)  # doctest: +NORMALIZE_WHITESPACE
lab class 'dent' is not a class of the model (burr, chip) and not marked novel: it has no AP and
no recall; mark it with `linewatch lab import --novel dent` or rename it to the model's class
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from streams.evaluation.boxes import TruthBox
from streams.ingest import IngestLimits
from streams.lab.frames import decode_lab_image
from streams.lab.naming import SIMULATED_LAB, lab_set_label
from streams.lab.sample import LabImage, LabSetInfo

__all__ = [
    "SIMULATED_LAB",
    "SuiteFrame",
    "SuiteSample",
    "lab_sample",
    "lab_set_label",
    "simulated_sample",
]

RGB = NDArray[np.uint8]


@dataclass(frozen=True)
class SuiteFrame:
    """One frame of the suite: a stable ``key``, its pixels on demand, its ground truth."""

    key: str
    load: Callable[[], RGB]
    truths: tuple[TruthBox, ...]


@dataclass(frozen=True)
class SuiteSample:
    """The frames of one suite run and the lab set they came from.

    ``name`` and ``digest`` are empty for the simulated lab. ``novel`` maps each novel-input
    condition to its frames, in report order. ``classes`` are the model's classes the lab mAP is
    computed over; ``novel_classes`` the lab set's novel classes.
    """

    name: str
    digest: str
    clean: Sequence[SuiteFrame]
    corrupt: Sequence[SuiteFrame]
    novel: Mapping[str, Sequence[SuiteFrame]]
    classes: tuple[str, ...] = ()
    novel_classes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default=())

    @property
    def label(self) -> str:
        """The lab set's name, or ``simulated lab``."""
        return lab_set_label(self.name)


def _constant(rgb: RGB) -> Callable[[], RGB]:
    return lambda: rgb


def _truths(boxes: Sequence[TruthBox]) -> tuple[TruthBox, ...]:
    out = []
    for b in boxes:
        x1, y1, x2, y2 = (float(v) for v in b.box)
        out.append(TruthBox(b.class_name, (x1, y1, x2, y2)))
    return tuple(out)


def _class_warnings(
    images: Sequence[LabImage], info: LabSetInfo, model: tuple[str, ...]
) -> tuple[str, ...]:
    """One warning per lab class the model does not know (and that is not marked novel), and
    one when no lab class matches a class of the model."""
    novel_set = set(info.novel_classes)
    lab_classes = sorted({b.class_name for img in images for b in img.boxes} | set(info.classes))
    unknown = [c for c in lab_classes if c not in model and c not in novel_set]
    warnings = tuple(
        f"lab class {c!r} is not a class of the model ({', '.join(model) or 'none known'}) and "
        "not marked novel: it has no AP and no recall; mark it with "
        f"`linewatch lab import --novel {c}` or rename it to the model's class"
        for c in unknown
    )
    if model and not set(model) & set(lab_classes) - novel_set:
        warnings += (
            f"no lab class matches a class of the model ({', '.join(model)}): the lab mAP and "
            "recall are empty; check the class names of the lab set and of the model",
        )
    return warnings


def lab_sample(
    images: Sequence[LabImage],
    info: LabSetInfo,
    *,
    model_classes: Sequence[str],
    frames: int,
    seed: int,
    limits: IngestLimits | None = None,
) -> SuiteSample:
    """The suite's frames from a plant's lab set (see the module docstring for the split).

    Classes are matched to ``model_classes`` by name, exactly.
    """
    model = tuple(model_classes)
    novel_classes = tuple(c for c in info.novel_classes)
    novel_set = set(novel_classes)
    warnings = _class_warnings(images, info, model)

    def frame(img: LabImage) -> SuiteFrame:
        return SuiteFrame(img.image_id, lambda: decode_lab_image(img, limits), _truths(img.boxes))

    clean: list[SuiteFrame] = []
    novel: dict[str, list[SuiteFrame]] = {f"novel:{c}": [] for c in novel_classes}
    for img in images:
        found = [c for c in img.classes if c in novel_set]
        if found:
            for c in found:
                novel[f"novel:{c}"].append(frame(img))
        else:
            clean.append(frame(img))
    if frames >= len(clean):
        corrupt: list[SuiteFrame] = clean
    else:
        picked = np.random.default_rng([seed, len(clean)]).choice(len(clean), frames, replace=False)
        corrupt = [clean[int(i)] for i in sorted(picked)]
    return SuiteSample(
        name=info.name,
        digest=info.digest,
        clean=clean,
        corrupt=corrupt,
        novel={k: v for k, v in novel.items() if v},
        classes=model,
        novel_classes=novel_classes,
        warnings=warnings
        + tuple(
            f"novel class {c!r} has no image in lab set {info.name!r}: it is not assessed"
            for c in novel_classes
            if not novel[f"novel:{c}"]
        ),
    )


def simulated_sample(
    frames: int, seed: int, severities: Sequence[int], model_classes: Sequence[str] = ()
) -> SuiteSample:
    """The simulator's lab split (``frames`` rendered lab scenes) and its novel inputs.

    Novel input ``j`` (of :data:`~streams.assess.novel.NOVEL_INPUTS`) draws frame ``i`` from the
    random stream ``(seed, condition index, i)``, the condition index counting clean and every
    corruption x severity first, as :func:`~streams.assess.suite.conditions` numbers them.
    """
    from streams.assess.corruptions import CORRUPTIONS
    from streams.assess.novel import NOVEL_INPUTS
    from streams.simulate import SimulationRequest, generate
    from streams.simulate.classes import NOVEL_CLASSES, TRAINED_CLASSES

    request = SimulationRequest(split="lab", events=frames, seed=seed, lines=3)
    clean = [
        SuiteFrame(
            str(i),
            _constant(sim.rgb),
            tuple(TruthBox(o.class_name, o.box) for o in sim.objects),
        )
        for i, sim in enumerate(generate(request))
    ]
    novel_frames = max(1, frames // 3)
    first = 1 + len(CORRUPTIONS) * len(severities)
    novel: dict[str, list[SuiteFrame]] = {}
    for j, (name, make) in enumerate(NOVEL_INPUTS.items()):
        items = []
        for i in range(novel_frames):
            rgb, objects = make(np.random.default_rng([seed, first + j, i]))
            items.append(
                SuiteFrame(
                    str(i),
                    _constant(rgb),
                    tuple(TruthBox(o.class_name, o.box) for o in objects),
                )
            )
        novel[name] = items
    return SuiteSample(
        name="",
        digest="",
        clean=clean,
        corrupt=clean,
        novel=novel,
        classes=tuple(model_classes) or TRAINED_CLASSES,
        novel_classes=tuple(NOVEL_CLASSES),
    )
