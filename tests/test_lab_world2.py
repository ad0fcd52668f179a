"""Issue 18, item 2 end to end: every judgement of the detector on the plant's own lab set.

The second synthetic world (``tests/world2``, never ``streams/simulate``): its lab set written as
COCO and imported into a chDB store, its Ultralytics-style ONNX detector with no spec file. Then
``assess`` (lab mAP equal to pycocotools' AP@0.5 on the same images to three decimals, recall /
fail-safe / fail-silent per corruption on those images, the novel class), ``reference build
--lab``, ``run``, ``estimate`` (calibrated on that set), ``metrics`` and ``report``, each naming
the lab set.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import streams.simulate
from streams.cli import app
from streams.errors import ConfigError
from streams.inference import Detector
from streams.sinks import ClickHouseStore
from tests.world2 import LINES, NOVEL_CLASS, make_lab_set, write_coco

LAB = "plates-bench"
SEVERITIES = "1,5"


LAB_SET = make_lab_set(60, seed=11, novel_rate=0.15)
"""60 lab plates (a reference needs 50 frames), some with a scratch: the novel class."""
NOVEL_IMAGES = sum(any(d.class_name == NOVEL_CLASS for d in s.scene.defects) for s in LAB_SET)


@pytest.fixture(scope="module")
def lab_coco(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The lab set as a COCO folder; returns ``annotations.json``."""
    return write_coco(tmp_path_factory.mktemp("w2-lab"), LAB_SET)


@pytest.fixture
def plant(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """The world's lines in the plant settings; a fresh store; the simulator out of reach."""
    lines = {line: {"takt_ms": 1000} for line in LINES}
    monkeypatch.setenv("LINEWATCH_PLANT__LINES", json.dumps(lines))
    monkeypatch.setenv("LINEWATCH_INGEST__IMAGE_ROOTS", json.dumps([str(tmp_path)]))

    def no_simulator(*args: object, **kwargs: object) -> None:
        raise AssertionError("the real-data path called the simulator")

    monkeypatch.setattr(streams.simulate, "generate", no_simulator)
    return f"chdb://{tmp_path / 'store'}"


def _invoke(args: list[str]) -> str:
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, f"{args}: {res.output}\n{res.exception!r}"
    return res.output


def _coco_ap50(annotations: Path, model: Path, classes: tuple[str, ...]) -> dict[str, float]:
    """pycocotools' AP@0.5 per class of the detector on the lab images without a novel box,
    from the COCO file as written (the detector run here, apart from linewatch's suite)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(annotations))
    novel_cat = gt.getCatIds(catNms=[NOVEL_CLASS])
    novel_imgs = {a["image_id"] for a in gt.loadAnns(gt.getAnnIds(catIds=novel_cat))}
    img_ids = sorted(i for i in gt.getImgIds() if i not in novel_imgs)
    detector = Detector.load(str(model))
    cat_of = {c["name"]: c["id"] for c in gt.loadCats(gt.getCatIds())}
    results = []
    for img in gt.loadImgs(img_ids):
        rgb = np.asarray(
            Image.open(annotations.parent / "images" / img["file_name"]).convert("RGB")
        )
        for d in detector.detect([rgb])[0]:
            x1, y1, x2, y2 = d.box
            results.append(
                {
                    "image_id": img["id"],
                    "category_id": cat_of[d.class_name],
                    "bbox": [x1, y1, x2 - x1, y2 - y1],
                    "score": d.confidence,
                }
            )
    with contextlib.redirect_stdout(io.StringIO()):
        ev = COCOeval(gt, gt.loadRes(results), "bbox")
        ev.params.imgIds = img_ids
        ev.params.catIds = [cat_of[c] for c in classes]
        ev.evaluate()
        ev.accumulate()
    out = {}
    for k, c in enumerate(classes):
        p = ev.eval["precision"][0, :, k, 0, 2]
        out[c] = float(p[p > -1].mean())
    return out


def test_every_judgement_runs_on_the_imported_lab_set(
    plant: str,
    lab_coco: Path,
    world2_model: Path,
    world2_events: tuple[Path, Path],
    tmp_path: Path,
) -> None:
    store, model = plant, str(world2_model)
    out = _invoke(
        ["lab", "import", str(lab_coco), "--format", "coco", "--name", LAB,
         "--novel", NOVEL_CLASS, "--store", store]
    )  # fmt: skip
    # assess: the latest imported lab set by default, no spec file beside the model
    out = _invoke(
        ["assess", "--store", store, "--model", model, "--severities", SEVERITIES, "--frames", "16"]
    )
    assert LAB in out and "simulated lab" not in out
    with ClickHouseStore.open(store) as st:
        run = st.query(
            "SELECT lab_set, classes, novel_classes, frames FROM linewatch.assessment_runs FINAL"
        ).result_rows
        rows = st.query(
            "SELECT kind, corruption, severity, frames, recall, fail_safe, fail_silent, "
            "flagged_as, caught_frames FROM linewatch.v_corruption_robustness"
        ).result_rows
    assert len(run) == 1
    lab_set, classes, novel_classes, frames = run[0]
    assert (lab_set, tuple(classes), tuple(novel_classes)) == (LAB, ("burr", "chip"), ("scratch",))
    by = {(r[1], r[2]): r for r in rows}
    corruptions = [r for r in rows if r[0] == "corruption"]
    assert len(corruptions) == 7 * 2 and all(r[3] == 16 for r in corruptions)
    assert all(r[4] is not None and r[5] + r[6] <= r[3] for r in corruptions)
    assert by[("contrast", 5)][4] < by[("clean", 0)][4]  # the suite saw these images degrade
    novel = by[(f"novel:{NOVEL_CLASS}", 0)]
    assert NOVEL_IMAGES > 0 and novel[0] == "novel" and novel[3] == NOVEL_IMAGES
    assert frames == by[("clean", 0)][3] == len(LAB_SET) - NOVEL_IMAGES
    assert novel[5] + novel[6] == novel[3]  # a novel input is never "correct"
    assert (novel[8] > 0) == bool(dict(novel[7]))  # flagged frames name the classes flagged

    # lab mAP per class: pycocotools' AP@0.5 on the same images, to three decimals
    metrics = json.loads(
        _invoke(["metrics", "--store", store, "--model", model, "--format", "json", "--by", ""])
    )
    assert metrics["lab"]["lab_set"] == LAB
    ref = _coco_ap50(lab_coco, world2_model, ("burr", "chip"))
    for c in ("burr", "chip"):
        assert round(metrics["lab"]["ap50_per_class"][c], 3) == round(ref[c], 3), c
    assert [n["name"] for n in metrics["lab"]["novel"]] == [f"novel:{NOVEL_CLASS}"]

    # the reference profile from the lab set's images; then production and the estimates
    reference = tmp_path / "reference.json"
    out = _invoke(
        ["reference", "build", "--lab", LAB, "--store", store, "--model", model,
         "--out", str(reference)]
    )  # fmt: skip
    profile = json.loads(reference.read_text())
    assert LAB in out and profile["lab_set"] == LAB and "brightness" in profile["signals"]
    events, labels = world2_events
    res = CliRunner().invoke(
        app,
        ["run", "--source", str(events), "--labels", str(labels), "--store", store,
         "--model", model, "--reference", str(reference)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    estimate = json.loads(
        _invoke(
            [
                "estimate",
                "--store",
                store,
                "--model",
                model,
                "--format",
                "json",
                "--window-frames",
                "20",
            ]
        )
    )
    assert estimate["lab_set"] == LAB and estimate["windows"]
    assert "plates-bench" in _invoke(["estimate", "--store", store, "--model", model, "--dry-run"])
    report = tmp_path / "report.html"
    _invoke(["report", "--store", store, "--model", model, "--out", str(report)])
    html = report.read_text()
    assert f"<strong>{LAB}</strong>" in html and "simulated lab" not in html


def test_reference_of_a_small_lab_set_warns_and_of_a_tiny_one_is_refused(
    plant: str, world2_coco: Path, world2_model: Path, tmp_path: Path
) -> None:
    store, model = plant, str(world2_model)
    _invoke(["lab", "import", str(world2_coco), "--name", "bench36", "--store", store])
    out = _invoke(
        ["reference", "build", "--lab", "bench36", "--store", store, "--model", model,
         "--out", str(tmp_path / "ref36.json")]
    )  # fmt: skip
    said = " ".join(out.split())
    assert "lab set bench36 has 36 images" in said and "coarse" in said
    assert (tmp_path / "ref36.json").is_file()
    tiny = write_coco(tmp_path / "tiny", make_lab_set(20, seed=3))
    _invoke(["lab", "import", str(tiny), "--name", "tiny", "--store", store])
    res = CliRunner().invoke(
        app,
        ["reference", "build", "--lab", "tiny", "--store", store, "--model", model,
         "--out", str(tmp_path / "tiny.json")],
    )  # fmt: skip
    assert isinstance(res.exception, ConfigError)
    assert "only 20 usable lab frames" in str(res.exception) and "'tiny'" in str(res.exception)
    assert not (tmp_path / "tiny.json").exists()
