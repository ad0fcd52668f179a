"""Pure readiness maths on hand-computed cases: matching, outcomes, Wilson, lab mAP, base rate.

IoU and AP themselves are tested with their single implementations (tests/test_nms.py,
tests/test_evaluation_ap.py).
"""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from streams.evaluation.boxes import PredictedBox, TruthBox
from streams.readiness.baserate import at_base_rate, precision_at_prevalence
from streams.readiness.lab import LabFrame, mean_average_precision
from streams.readiness.labels import LABEL_INVALID, label_id_for, label_records
from streams.readiness.matching import frame_outcome, match_boxes
from streams.readiness.proportion import Proportion
from streams.readiness.stats import wilson_interval

EVENT = "0b9f8e9a-2a53-4c9e-9c57-2f1b8f0d1a11"


def test_matching_is_class_aware() -> None:
    m = match_boxes(
        [PredictedBox("dent", 0.9, (0, 0, 10, 10))], [TruthBox("scratch", (0, 0, 10, 10))]
    )
    assert (m.tp, m.fp, m.fn) == (0, 1, 1)


def test_matching_needs_iou_half() -> None:
    gt = [TruthBox("dent", (0, 0, 10, 10))]
    # IoU(0..10, 4..14 on x) = 60 / 140 < 0.5; (2..12) = 80/120 > 0.5
    assert match_boxes([PredictedBox("dent", 0.9, (4, 0, 14, 10))], gt).tp == 0
    assert match_boxes([PredictedBox("dent", 0.9, (2, 0, 12, 10))], gt).tp == 1


def test_matching_at_the_iou_threshold_uses_float64() -> None:
    # IoU half of the truth: 0.5 in float64 (a match), 0.49999994 in float32 (it would not be)
    gt = [TruthBox("dent", (0.1, 0.1, 0.3, 0.3))]
    assert match_boxes([PredictedBox("dent", 0.9, (0.1, 0.1, 0.3, 0.2))], gt).tp == 1
    assert match_boxes([PredictedBox("dent", 0.9, (0.1, 0.1, 0.3, 0.19))], gt).tp == 0


def test_matching_is_greedy_by_confidence_not_by_iou() -> None:
    gt = [TruthBox("dent", (0, 0, 10, 10))]
    # The less confident box overlaps better, but the more confident one claims the truth first.
    preds = [PredictedBox("dent", 0.6, (0, 0, 10, 10)), PredictedBox("dent", 0.9, (1, 0, 11, 10))]
    m = match_boxes(preds, gt)
    assert m.pred_tp.tolist() == [False, True]
    assert m.pred_gt.tolist() == [-1, 0]


def test_greedy_prediction_takes_its_best_free_truth() -> None:
    gts = [TruthBox("dent", (0, 0, 10, 10)), TruthBox("dent", (2, 0, 12, 10))]
    preds = [PredictedBox("dent", 0.9, (2, 0, 12, 10)), PredictedBox("dent", 0.8, (0, 0, 10, 10))]
    m = match_boxes(preds, gts)
    assert m.pred_gt.tolist() == [1, 0]
    assert m.gt_matched.all()


def test_frame_outcomes_at_threshold() -> None:
    box = (0.0, 0.0, 10.0, 10.0)
    low = [PredictedBox("dent", 0.4, box)]
    high = [PredictedBox("dent", 0.7, box)]
    assert frame_outcome(high, [], 0.5).outcome == "FP"  # good unit flagged
    assert frame_outcome(low, [], 0.5).outcome == "TN"
    assert frame_outcome(low, [TruthBox("dent", box)], 0.5).outcome == "FN"  # defect passed
    wrong = frame_outcome([PredictedBox("stain", 0.9, box)], [TruthBox("crack", box)], 0.5)
    assert (wrong.outcome, wrong.tp_boxes, wrong.fp_boxes, wrong.fn_boxes) == ("TP", 0, 1, 1)
    assert wrong.max_confidence == 0.9
    assert frame_outcome(low, [TruthBox("dent", box)], 0.5).max_confidence == 0.4


def test_wilson_matches_known_values() -> None:
    # Reference values (e.g. statsmodels proportion_confint(method="wilson")).
    lo, hi = wilson_interval(8, 10) or (0, 0)
    assert (round(lo, 4), round(hi, 4)) == (0.4902, 0.9433)
    lo, hi = wilson_interval(1, 100) or (0, 0)
    assert (round(lo, 5), round(hi, 5)) == (0.00177, 0.05449)
    lo, hi = wilson_interval(5, 5) or (0, 0)
    assert lo == pytest.approx(0.5655, abs=1e-4) and hi == 1.0
    assert wilson_interval(0, 0) is None
    with pytest.raises(ValueError):
        wilson_interval(3, 2)


def test_proportion_without_data_says_so() -> None:
    p = Proportion(0, 0)
    assert p.value is None and p.lo is None and p.fmt() == "no data"
    assert p.as_dict()["value"] is None
    assert (Proportion(1, 2) + Proportion(1, 2)).value == 0.5


def test_map_over_classes_hand_case() -> None:
    box_a, box_b = (0.0, 0.0, 10.0, 10.0), (20.0, 20.0, 30.0, 30.0)
    frames = [
        LabFrame(gt=[TruthBox("dent", box_a)], preds=[PredictedBox("dent", 0.9, box_a)]),
        LabFrame(
            gt=[TruthBox("scratch", box_b)],
            preds=[PredictedBox("scratch", 0.8, box_a), PredictedBox("scratch", 0.3, box_b)],
        ),
    ]
    r = mean_average_precision(frames, ["dent", "scratch", "stain"])
    assert r.per_class == {"dent": 1.0, "scratch": 0.5, "stain": None}
    assert r.map50 == pytest.approx(0.75)
    assert r.ground_truth == {"dent": 1, "scratch": 1, "stain": 0}


def test_base_rate_arithmetic() -> None:
    r = at_base_rate(tpr=0.95, fpr=0.01, prevalence=0.02)
    assert r.precision == pytest.approx(0.019 / (0.019 + 0.0098))
    assert r.false_alarms_per_million == pytest.approx(9800)
    assert r.missed_per_million == pytest.approx(1000)
    assert r.flagged_per_million == pytest.approx(19000 + 9800)
    # the same detector on a balanced lab set looks far better
    assert precision_at_prevalence(0.95, 0.01, 0.5) == pytest.approx(0.95 / 0.96)
    with pytest.raises(ValueError):
        precision_at_prevalence(1.2, 0.0, 0.1)


def _gt(objects: list[dict[str, object]], at: str = "2026-11-29T06:00:00Z") -> str:
    return json.dumps({"event_id": EVENT, "objects": objects, "labelled_at": at})


def test_label_records_valid_and_dead_letters() -> None:
    lines = [
        _gt([{"class_name": "dent", "box": [1, 2, 3, 4]}]),
        "",
        '{"event_id": "not-a-uuid", "objects": [], "labelled_at": "2026-11-29T06:00:00Z"}',
        _gt([{"class_name": "dent", "box": [3, 2, 1, 4]}]),  # x2 < x1
        "{broken",
    ]
    good, bad = label_records(lines)
    assert len(good) == 1 and len(bad) == 3
    assert {b.reason for b in bad} == {LABEL_INVALID}
    assert "event_id" in bad[0].detail
    rec = good[0]
    assert rec.class_names == ["dent"] and rec.boxes == [[1.0, 2.0, 3.0, 4.0]]
    assert rec.object_count == 1 and rec.labelled_at.tzinfo is not None
    again, _ = label_records([lines[0]])
    assert again[0].label_id == rec.label_id  # stable id: replays are idempotent
    later, _ = label_records([_gt([], at="2026-11-30T06:00:00Z")])
    assert later[0].label_id != rec.label_id


def test_label_id_is_stable_id_of_event_source_time() -> None:
    from schemas.events import GroundTruth
    from schemas.records import stable_id

    gt = GroundTruth.model_validate_json(_gt([]))
    assert label_id_for(gt) == stable_id(EVENT, "audit", gt.labelled_at.isoformat())


def _outcome_by_match_boxes(
    preds: list[PredictedBox], truths: list[TruthBox], threshold: float
) -> tuple[object, ...]:
    """frame_outcome's fields as match_boxes gives them for every frame (no shortcut)."""
    kept = [p for p in preds if p.confidence >= threshold]
    m = match_boxes(kept, truths)
    return (
        tuple(bool(x) for x in m.gt_matched),
        tuple(bool(x) for x in m.pred_tp),
        tuple(p.class_name for p in kept),
        tuple(t.class_name for t in truths),
    )


def test_frame_outcome_without_boxes_on_one_side_equals_matching_them() -> None:
    # frame_outcome skips match_boxes when there is nothing to match (no kept prediction or
    # no truth): on random frames, with and without boxes, it must say what matching says
    rng = random.Random(13)
    classes = ["dent", "scratch", "stain"]

    def box() -> tuple[float, float, float, float]:
        x, y = rng.uniform(0, 50), rng.uniform(0, 50)
        return (x, y, x + rng.uniform(0, 20), y + rng.uniform(0, 20))

    shortcut = 0
    for _ in range(2000):
        preds = [
            PredictedBox(rng.choice(classes), rng.random(), box())
            for _ in range(rng.choice([0, 0, 1, 1, 2, 3]))
        ]
        truths = [TruthBox(rng.choice(classes), box()) for _ in range(rng.choice([0, 0, 1, 2]))]
        threshold = rng.choice([0.3, 0.5, 0.8])
        fo = frame_outcome(preds, truths, threshold)
        assert (fo.gt_matched, fo.pred_tp, fo.pred_classes, fo.gt_classes) == (
            _outcome_by_match_boxes(preds, truths, threshold)
        )
        shortcut += not (fo.gt_defective and fo.pred_defective)
    assert 500 < shortcut < 1900  # both paths were taken many times


def test_single_box_iou_equals_box_iou() -> None:
    # match_boxes computes one prediction against one truth without numpy: the same IoU bits
    from streams.inference.nms import box_iou
    from streams.readiness.matching import _iou

    rng = random.Random(7)
    grid = [0.0, 0.1, 0.19, 0.2, 0.3, 1.0, 2.0, 10.0, 12.0, 14.0]
    for _ in range(5000):
        pick = rng.choice(grid) if rng.random() < 0.5 else rng.uniform(-5, 40)
        a = sorted([pick, rng.choice(grid)]) + sorted([rng.uniform(-5, 40), rng.choice(grid)])
        b = sorted([rng.choice(grid), rng.uniform(-5, 40)]) + sorted(rng.choice(grid) for _ in "xy")
        a = [a[0], a[2], a[1], a[3]]
        b = [b[0], b[2], b[1], b[3]] if rng.random() < 0.9 else [b[1], b[3], b[0], b[2]]
        assert _iou(a, b) == float(box_iou([a], [b], np.float64)[0, 0])


def test_one_prediction_one_truth_matches_like_the_matrix_path() -> None:
    # the 1x1 shortcut against the general matrix path (reached with a second, unmatchable truth)
    rng = random.Random(11)
    far = TruthBox("dent", (1000.0, 1000.0, 1001.0, 1001.0))
    for _ in range(3000):
        x, y = rng.uniform(0, 10), rng.uniform(0, 10)
        truth = TruthBox(rng.choice(["dent", "scratch"]), (x, y, x + 10, y + 10))
        dx, dy = rng.choice([0.0, 2.0, 4.0, rng.uniform(-8, 8)]), rng.uniform(-8, 8)
        pred = PredictedBox(
            rng.choice(["dent", "scratch"]), 0.9, (x + dx, y + dy, x + dx + 10, y + dy + 10)
        )
        one = match_boxes([pred], [truth])
        general = match_boxes([pred], [truth, far])
        assert one.pred_tp.tolist() == general.pred_tp.tolist()
        assert one.pred_gt.tolist() == general.pred_gt.tolist()
        assert one.gt_matched.tolist() == general.gt_matched.tolist()[:1]
    nan = PredictedBox("dent", 0.9, (float("nan"), 0.0, 10.0, 10.0))
    assert match_boxes([nan], [TruthBox("dent", (0, 0, 10, 10))]).tp == 0  # numpy path
