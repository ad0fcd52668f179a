"""The single VOC average precision (and evaluate_detections on top of it), against hand cases
and a slow, obvious reference."""

from __future__ import annotations

import math

import numpy as np
import pytest

from streams.evaluation.ap import average_precision, evaluate_detections
from streams.evaluation.boxes import PredictedBox, TruthBox


def test_average_precision_hand_case() -> None:
    # 3 truths; ranked predictions TP, FP, TP, FP, TP
    # precision at the recall steps: 1/1 (R=1/3), 2/3 (R=2/3), 3/5 (R=1)
    ap = average_precision([0.9, 0.8, 0.7, 0.6, 0.5], [1, 0, 1, 0, 1], 3)
    assert ap == pytest.approx((1.0 + 2 / 3 + 3 / 5) / 3)
    # envelope: a later higher precision lifts earlier points
    ap2 = average_precision([0.9, 0.8, 0.7], [0, 1, 1], 2)  # P: 0, 1/2, 2/3 → envelope 2/3
    assert ap2 == pytest.approx(2 / 3)
    assert average_precision([0.5], [0], 0) is None
    assert average_precision([], [], 2) == 0.0
    # order of input does not matter
    assert average_precision([0.5, 0.9], [1, 0], 1) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        average_precision([0.5, 0.4], [1], 1)


def _reference_ap(scores: np.ndarray, hits: np.ndarray, n_gt: int) -> float:
    """Σ over true positives of the best precision at that recall or beyond, / n_gt."""
    ranked = hits[np.argsort(-scores, kind="stable")]
    precision = [ranked[: k + 1].sum() / (k + 1) for k in range(len(ranked))]
    total = 0.0
    for k, hit in enumerate(ranked):
        if hit:
            total += max(precision[k:])
    return total / n_gt


def test_average_precision_matches_the_textbook_definition() -> None:
    rng = np.random.default_rng(5)
    for _ in range(50):
        n = int(rng.integers(1, 30))
        scores = rng.permutation(n) / n  # distinct scores: order is unambiguous
        hits = rng.random(n) < 0.6
        n_gt = int(hits.sum() + rng.integers(0, 4)) or 1
        assert average_precision(scores, hits, n_gt) == pytest.approx(
            _reference_ap(scores, hits, n_gt)
        )


def test_evaluate_detections_uses_it_per_class() -> None:
    truths = [[TruthBox("a", (0, 0, 10, 10))], [TruthBox("a", (0, 0, 10, 10))], []]
    preds = [
        [PredictedBox("a", 0.9, (0, 0, 10, 10)), PredictedBox("b", 0.8, (0, 0, 10, 10))],
        [PredictedBox("a", 0.3, (1, 0, 11, 10))],
        [PredictedBox("a", 0.6, (0, 0, 10, 10))],
    ]
    r = evaluate_detections(preds, truths, ["a", "b"])
    # class a, ranked: TP (0.9), FP (0.6, no truth in frame 3), TP (0.3) of 2 truths
    assert r.per_class["a"].ap == pytest.approx(average_precision([0.9, 0.6, 0.3], [1, 0, 1], 2))
    assert r.per_class["a"].ap == pytest.approx(0.5 + 0.5 * 2 / 3)
    assert math.isnan(r.per_class["b"].ap) and r.per_class["b"].n_truth == 0
    assert r.map == r.per_class["a"].ap
