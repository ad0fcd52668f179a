"""Judgements on a plant's own lab set (issue 18, item 2), on in-memory lab images.

Lab mAP against pycocotools, the corruption suite and novel inputs on the lab set's own images,
the class-name warnings, and the lab set's name in every stored output. The end-to-end path
(second synthetic world, its ONNX model, ``lab import``) is ``tests/test_lab_world2.py``.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image

from schemas.results import Detection
from streams.assess.sample import lab_sample
from streams.assess.suite import evaluate_suite, run_corruption_suite
from streams.config import Settings
from streams.errors import ConfigError, LabSetError
from streams.estimation.job import run_estimates
from streams.estimation.windows import lab_set_name, load_lab_set
from streams.evaluation.ap import average_precision
from streams.evaluation.boxes import PredictedBox, TruthBox
from streams.lab.sample import LabImage, LabSetInfo
from streams.readiness.lab import LabFrame, mean_average_precision
from streams.readiness.metrics import compute_metrics
from streams.sinks import ClickHouseStore
from tests.coco_reference import coco_ap50

COLOURS = {"burr": (200, 40, 40), "chip": (40, 40, 200), "crack": (40, 190, 40)}


def _random_boxes(
    seed: int, classes: Sequence[str]
) -> tuple[list[list[TruthBox]], list[list[PredictedBox]]]:
    rng = np.random.default_rng(seed)
    truths, preds = [], []
    for _ in range(80):
        ts, ps = [], []
        for _ in range(int(rng.integers(0, 4))):
            c = classes[int(rng.integers(0, len(classes)))]
            x, y = rng.uniform(0, 500, 2)
            w, h = rng.uniform(8, 80, 2)
            ts.append(TruthBox(c, (x, y, x + w, y + h)))
            if rng.random() < 0.8:  # found, with a jittered box and sometimes the wrong class
                j = np.clip(rng.normal(0, 6, 4), -4, 4)
                wrong = rng.random() < 0.1
                name = classes[int(rng.integers(0, len(classes)))] if wrong else c
                box = (x + j[0], y + j[1], x + w + j[2], y + h + j[3])
                ps.append(PredictedBox(name, float(rng.random()), box))
        for _ in range(int(rng.integers(0, 3))):  # false alarms
            c = classes[int(rng.integers(0, len(classes)))]
            x, y = rng.uniform(0, 500, 2)
            w, h = rng.uniform(8, 80, 2)
            ps.append(PredictedBox(c, float(rng.random() * 0.6), (x, y, x + w, y + h)))
        truths.append(ts)
        preds.append(ps)
    return truths, preds


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_lab_map_equals_pycocotools(seed: int) -> None:
    classes = ["burr", "chip", "dent", "unseen"]  # 'unseen' has no ground truth: no AP
    truths, preds = _random_boxes(seed, classes[:3])
    ours = mean_average_precision(
        [LabFrame(t, p) for t, p in zip(truths, preds, strict=True)], classes
    )
    ref = coco_ap50(truths, preds, classes)
    assert ours.per_class["unseen"] is None and ref["unseen"] is None
    for c in classes[:3]:
        assert ours.per_class[c] == pytest.approx(ref[c], abs=5e-4), c
    # the all-point (VOC) AP of the same matches is a different figure: COCO's is what is checked
    voc = average_precision([0.9, 0.8, 0.7], [1, 0, 1], 2)
    coco = average_precision([0.9, 0.8, 0.7], [1, 0, 1], 2, recall_points=101)
    assert round(voc, 3) != round(coco, 3)  # type: ignore[arg-type]


@dataclass(frozen=True)
class _Spec:
    name: str = "colour-blobs"
    version: str = "test"
    operating_threshold: float = 0.5
    class_names: tuple[str, ...] | None = ("burr", "chip")


class ColourBlobDetector:
    """A stand-in model: a box around strongly red (``burr``) or blue (``chip``) pixels, and a
    confident ``chip`` on green ones (how it meets the novel ``crack``). Confidence follows the
    colour's contrast, so contrast, brightness and noise move it as they move a real model's."""

    spec = _Spec()

    def detect(self, frames: Sequence[NDArray[np.uint8]]) -> list[list[Detection]]:
        out = []
        for rgb in frames:
            x = rgb.astype(np.float32)
            dets = []
            for channel, name in ((0, "burr"), (2, "chip"), (1, "chip")):
                others = np.delete(x, channel, axis=2).max(axis=2)
                strength = x[:, :, channel] - others
                mask = strength > 40
                if mask.sum() < 6:
                    continue
                ys, xs = np.nonzero(mask)
                conf = float(min(0.99, strength[mask].mean() / 170.0))
                box = (float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1))
                dets.append(Detection(class_name=name, confidence=conf, box=box))
            out.append(dets)
        return out


def _png(rgb: NDArray[np.uint8]) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb, mode="RGB").save(buf, format="PNG")
    return buf.getvalue()


def make_lab_set(n: int = 48, seed: int = 5) -> tuple[LabSetInfo, list[LabImage]]:
    """``n`` lab images 64x48: a third good, the rest one burr or chip; four cracks (novel) and
    two images labelled 'dent' (a class the model does not know, not marked novel)."""
    import hashlib

    rng = np.random.default_rng(seed)
    images = []
    for i in range(n):
        rgb = np.clip(rng.normal(120, 6, (48, 64, 3)), 0, 255).astype(np.uint8)
        boxes: tuple[TruthBox, ...] = ()
        kind = ["good", "burr", "chip"][i % 3] if i >= 6 else ("crack" if i < 4 else "dent")
        if kind != "good":
            x, y = int(rng.integers(2, 44)), int(rng.integers(2, 30))
            if kind != "dent":
                rgb[y : y + 12, x : x + 16] = COLOURS[kind]
            boxes = (TruthBox(kind, (float(x), float(y), float(x + 16), float(y + 12))),)
        data = _png(rgb)
        images.append(
            LabImage(hashlib.sha256(data).hexdigest(), f"img{i:03d}.png", data, boxes, 64, 48)
        )
    info = LabSetInfo(
        name="bench-2026",
        digest=hashlib.sha256(b"".join(i.data for i in images)).hexdigest(),
        source_format="coco",
        classes=("burr", "chip", "crack", "dent"),
        novel_classes=("crack",),
        images=len(images),
        boxes=sum(len(i.boxes) for i in images),
    )
    return info, images


def test_lab_sample_splits_novel_and_warns_of_unknown_classes() -> None:
    info, images = make_lab_set()
    sample = lab_sample(images, info, model_classes=("burr", "chip"), frames=10, seed=0)
    assert sample.label == "bench-2026"
    assert len(sample.clean) == len(images) - 4 and len(sample.corrupt) == 10
    assert [f.key for f in sample.novel["novel:crack"]] == [i.image_id for i in images[:4]]
    assert len(sample.warnings) == 1 and "'dent'" in sample.warnings[0]
    again = lab_sample(images, info, model_classes=("burr", "chip"), frames=10, seed=0)
    assert [f.key for f in again.corrupt] == [f.key for f in sample.corrupt]
    nothing = lab_sample(images, info, model_classes=("scratch",), frames=10, seed=0)
    assert any("no lab class matches" in w for w in nothing.warnings)


def test_an_undecodable_lab_image_names_its_file() -> None:
    info, images = make_lab_set(n=8)
    broken = LabImage("ff" * 32, "broken.jpg", b"not an image", (), 64, 48)
    sample = lab_sample([*images, broken], info, model_classes=("burr",), frames=4, seed=0)
    with pytest.raises(ConfigError, match=r"broken\.jpg"):
        evaluate_suite(ColourBlobDetector(), threshold=0.5, review_band=(0.2, 0.5), sample=sample)


def test_suite_on_a_lab_set_stores_its_figures_under_its_name(tmp_path: Path) -> None:
    info, images = make_lab_set()
    settings = Settings(
        store={"dsn": f"chdb://{tmp_path / 'store'}"}, inference={"operating_threshold": 0.5}
    )
    detector = ColourBlobDetector()
    sample = lab_sample(images, info, model_classes=("burr", "chip"), frames=12, seed=0)
    with ClickHouseStore.open(settings.store.dsn) as store:
        result = run_corruption_suite(
            store, settings, detector=detector, sample=sample, severities=(1, 5)
        )
        metrics = compute_metrics(store, settings, by=(), reconcile_first=False)
        calibration = load_lab_set(store)
        name = lab_set_name(store)
        estimates = run_estimates(store, 0.5, settings.estimation, write=False)
    assert result.run.lab_set == "bench-2026" and result.run.lab_digest == info.digest
    assert result.warnings == sample.warnings
    by = {(r.corruption, r.severity): r for r in result.results}
    clean = by[("clean", 0)]
    assert clean.frames == len(images) - 4 and clean.recall == 1.0
    assert clean.flagged_good_frames == 0
    # every corruption ran on the lab set's own images, the sampled 12
    corr = [r for r in result.results if r.kind == "corruption"]
    assert len(corr) == 7 * 2 and all(r.frames == 12 for r in corr)
    assert by[("contrast", 5)].recall is not None and by[("contrast", 5)].recall < 1.0
    assert by[("contrast", 5)].fail_safe > 0
    # the novel class: every crack flagged, confidently, as a chip
    crack = by[("novel:crack", 0)]
    assert crack.kind == "novel" and crack.frames == 4 and crack.recall is None
    assert crack.flagged_as == {"chip": 4} and crack.fail_silent == 4
    # stored figures name the lab set; AP per class is pycocotools' on the same clean images
    lab = metrics.lab
    assert lab.label == "bench-2026" and metrics.as_dict()["lab"]["lab_set"] == "bench-2026"
    clean_images = [i for i in images if "crack" not in i.classes]
    from streams.lab.frames import decode_lab_image

    dets = detector.detect([decode_lab_image(i) for i in clean_images])
    preds = [[PredictedBox(d.class_name, d.confidence, d.box) for d in ds] for ds in dets]
    ref = coco_ap50([list(i.boxes) for i in clean_images], preds, ["burr", "chip"])
    for c in ("burr", "chip"):
        assert lab.map.per_class[c] == pytest.approx(ref[c], abs=5e-4)
    assert lab.tpr.n == sum(1 for i in clean_images if i.boxes)
    assert [n.name for n in lab.novel] == ["novel:crack"]
    assert lab.novel[0].flagged == 4 and lab.novel[0].flagged_as == {"chip": 4}
    # the calibration behind `linewatch estimate` is the lab set's clean split
    assert name == "bench-2026" and estimates.lab_set == "bench-2026"
    assert len(calibration.scores) == len(clean_images)
    assert int(np.sum(calibration.defective)) == sum(1 for i in clean_images if i.boxes)


def test_simulated_lab_is_named_so(tmp_path: Path) -> None:
    from tests.test_assess import DarkSpotDetector

    settings = Settings(
        store={"dsn": f"chdb://{tmp_path / 'store'}"}, inference={"operating_threshold": 0.5}
    )
    with ClickHouseStore.open(settings.store.dsn) as store:
        result = run_corruption_suite(
            store, settings, detector=DarkSpotDetector(), frames=6, severities=(1,)
        )
        metrics = compute_metrics(store, settings, by=(), reconcile_first=False)
    assert result.run.lab_set == "" and metrics.lab.label == "simulated lab"
    assert metrics.as_dict()["lab"]["lab_set"] == "simulated lab"


def test_assess_cli_names_the_lab_set_and_warns_of_an_unknown_class(
    tmp_path: Path, world2_model: Path
) -> None:
    from typer.testing import CliRunner

    from streams.cli import app
    from streams.lab.importer import lab_set_digest
    from streams.sinks.lab_sets import save_lab_set

    info, images = make_lab_set(n=24)
    info = LabSetInfo(
        info.name, lab_set_digest(images), "coco", info.classes, info.novel_classes,
        len(images), sum(len(i.boxes) for i in images),
    )  # fmt: skip
    dsn = f"chdb://{tmp_path / 'store'}"
    runner = CliRunner()
    with ClickHouseStore.open(dsn) as store:
        store.apply_schema()
    missing = runner.invoke(app, ["assess", "--store", dsn, "--lab", "nope"])
    assert isinstance(missing.exception, LabSetError)  # `main` prints it as one error: line
    assert "holds no lab set" in str(missing.exception)
    with ClickHouseStore.open(dsn) as store:
        assert save_lab_set(store, info, images)
    args = ["assess", "--store", dsn, "--model", str(world2_model), "--severities", "3"]
    res = runner.invoke(app, [*args, "--frames", "6"])
    assert res.exit_code == 0, res.output
    said = " ".join(res.output.split())  # rich wraps at the terminal's width
    assert "on bench-2026" in said and "novel:crack" in said and "simulated" not in said
    assert "lab class 'dent' is not a class of the model (burr, chip)" in said
    res = runner.invoke(app, [*args, "--lab", "other"])
    assert isinstance(res.exception, LabSetError)
    assert "no lab set named 'other'" in str(res.exception)
