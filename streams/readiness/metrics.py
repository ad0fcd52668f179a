"""Every readiness metric, read from the views of ``schemas/clickhouse/002_baseline.sql`` through
the typed reads of :mod:`streams.sinks.reads.metrics`; the records it returns are in
:mod:`.metric_records` (and exported here).

Counts come from the views at the finest grain (slice, or slice × class) and are summed here
for coarser groupings (``--by line`` …): frame counts are additive, rates are not.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from streams.config import Settings
from streams.errors import ConfigError, EstimationError
from streams.estimation import PerformanceEstimate
from streams.evaluation.boxes import PredictedBox, TruthBox
from streams.inference.threshold import operating_threshold
from streams.readiness.baserate import BaseRateOutcome, at_base_rate
from streams.readiness.lab import LabFrame, MapResult, mean_average_precision
from streams.readiness.metric_records import (
    ClassMetrics,
    Coverage,
    LabMetrics,
    LatencyMetrics,
    NovelResult,
    ReadinessMetrics,
    SliceMetrics,
)
from streams.readiness.proportion import Proportion
from streams.sinks import ClickHouseStore
from streams.sinks.reads import metrics as reads

__all__ = [
    "BY_COLUMNS",
    "ClassMetrics",
    "Coverage",
    "LabMetrics",
    "LatencyMetrics",
    "NovelResult",
    "ReadinessMetrics",
    "SliceMetrics",
    "compute_metrics",
    "model_classes",
    "parse_by",
    "review_queue",
]

BY_COLUMNS = {"line": "line_id", "shift": "shift", "lighting": "lighting"}
"""``--by`` names and the columns they group on."""


def parse_by(text: str | Sequence[str] | None) -> tuple[str, ...]:
    """``"line,shift"`` → ``("line_id", "shift")``; empty → overall only.

    >>> parse_by("line, lighting")
    ('line_id', 'lighting')
    """
    items = text.split(",") if isinstance(text, str) else list(text or ())
    cols: list[str] = []
    for item in (i.strip() for i in items):
        if not item:
            continue
        if item not in BY_COLUMNS:
            raise ConfigError(f"--by {item!r} is not one of {', '.join(BY_COLUMNS)}")
        cols.append(BY_COLUMNS[item])
    return tuple(cols)


def model_classes(settings: Settings, store: ClickHouseStore | None = None) -> tuple[str, ...]:
    """The classes the detector knows: its spec's ``class_names``; for a bare ``.onnx``, the
    classes the latest ``linewatch assess`` recorded (read from the model then), else the
    model's own (its export metadata, loading the model); the simulator's for no model at all.
    """
    from streams.errors import ModelError
    from streams.inference.detector import shipped_spec_path
    from streams.inference.spec import load_spec

    try:
        names = load_spec(settings.inference.model or shipped_spec_path()).class_names
    except ModelError:
        names = None
    if names:
        return tuple(names)
    if store is not None:
        run = reads.latest_lab_run(store)
        if run and run[0]["classes"]:
            return tuple(str(c) for c in run[0]["classes"])
    if settings.inference.model:
        from streams.inference import Detector

        try:
            return tuple(
                Detector.load(settings.inference.model, settings=settings).spec.class_names or ()
            )
        except ModelError:
            return ()
    from streams.simulate.classes import TRAINED_CLASSES

    return TRAINED_CLASSES


def _slices(store: ClickHouseStore, by: tuple[str, ...]) -> tuple[SliceMetrics, list[SliceMetrics]]:
    acc: dict[tuple[str, ...], list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    total = [0, 0, 0, 0, 0]
    for r in reads.slice_counts(store):
        counts = [r["frames"], r["tp"], r["fp"], r["fn"], r["tn"]]
        key = tuple(str(r[c]) for c in by)
        for i, v in enumerate(counts):
            acc[key][i] += int(v)
            total[i] += int(v)

    def metrics(key: dict[str, str], c: list[int]) -> SliceMetrics:
        return SliceMetrics(key, frames=c[0], tp=c[1], fp=c[2], fn=c[3], tn=c[4])

    groups = [metrics(dict(zip(by, key, strict=True)), c) for key, c in sorted(acc.items())]
    return metrics({}, total), groups if by else []


def _classes(store: ClickHouseStore, trained: Sequence[str]) -> list[ClassMetrics]:
    found = {r["class_name"]: r for r in reads.class_counts(store)}
    names = list(trained) + sorted(set(found) - set(trained))
    out = []
    for name in names:
        r = found.get(name, {"objects": 0, "missed": 0, "frames": 0, "frames_passed": 0})
        out.append(
            ClassMetrics(
                class_name=name,
                trained=name in trained,
                fnr=Proportion(int(r["missed"]), int(r["objects"])),
                unit_fnr=Proportion(int(r["frames_passed"]), int(r["frames"])),
            )
        )
    return out


def _latency(store: ClickHouseStore, settings: Settings) -> list[LatencyMetrics]:
    found = {r["line_id"]: r for r in reads.latency_by_line(store)}
    out = []
    for line in sorted(set(settings.plant.lines) | set(found)):
        r = found.get(line)
        cfg = settings.plant.lines.get(line)

        def val(name: str, row: dict[str, Any] | None = r) -> float | None:
            return None if row is None else float(row[name])

        out.append(
            LatencyMetrics(
                line_id=line,
                frames=0 if r is None else int(r["frames"]),
                p50_ms=val("p50_ms"),
                p95_ms=val("p95_ms"),
                p99_ms=val("p99_ms"),
                max_ms=val("max_ms"),
                inference_p50_ms=val("inference_p50_ms"),
                inference_p99_ms=val("inference_p99_ms"),
                takt_ms=None if cfg is None else cfg.takt_ms,
            )
        )
    return out


def _lab(store: ClickHouseStore, trained: Sequence[str]) -> LabMetrics:
    """The latest assessment's lab figures; AP over the classes that run recorded (the model's
    classes at the time), else ``trained``."""
    run = reads.latest_lab_run(store)
    rates = reads.lab_rates(store)
    frames = [
        LabFrame(
            gt=[TruthBox(c, (b[0], b[1], b[2], b[3])) for c, b in zip(gc, gb, strict=True)],
            preds=[
                PredictedBox(c, float(s), (b[0], b[1], b[2], b[3]))
                for c, s, b in zip(dc, ds, db, strict=True)
            ],
        )
        for gc, gb, dc, ds, db in reads.lab_frames(store)
    ]
    classes = list(run[0]["classes"]) if run and run[0]["classes"] else list(trained)
    novel = [
        NovelResult(
            name=str(r["corruption"]),
            frames=int(r["frames"]),
            flagged=int(r["flagged"]),
            flagged_as={str(k): int(v) for k, v in dict(r["flagged_as"]).items()},
            fail_safe=int(r["fail_safe"]),
            fail_silent=int(r["fail_silent"]),
        )
        for r in (reads.novel_inputs(store) if run else [])
    ]
    return LabMetrics(
        run_id=run[0]["run_id"] if run else None,
        frames=int(rates["frames"]),
        tpr=Proportion(int(rates["tp"]), int(rates["defective"])),
        fpr=Proportion(int(rates["fp"]), int(rates["good"])),
        map=mean_average_precision(frames, classes) if frames else MapResult(None),
        lab_set=str(run[0]["lab_set"]) if run else "",
        novel=novel,
    )


def review_queue(
    store: ClickHouseStore, settings: Settings, limit: int | None = 100
) -> list[dict[str, Any]]:
    """Frames whose top confidence is in ``settings.inference.review_band``: unlabelled, nearest
    the top."""
    lo, hi = settings.inference.review_band
    return reads.review_queue(store, lo, hi, limit)


def _review_count(store: ClickHouseStore, settings: Settings) -> int:
    lo, hi = settings.inference.review_band
    return reads.review_count(store, lo, hi)


def compute_metrics(
    store: ClickHouseStore,
    settings: Settings,
    by: Sequence[str] = ("line_id", "shift", "lighting"),
    *,
    reconcile_first: bool = True,
) -> ReadinessMetrics:
    """Reconcile pending labels (by default), then read every metric from the views."""
    threshold = operating_threshold(settings)
    if reconcile_first:
        from streams.readiness.reconcile import reconcile

        reconcile(store, settings, threshold=threshold)
    by_t = tuple(by)
    trained = model_classes(settings, store)
    overall, slices = _slices(store, by_t)
    lab = _lab(store, trained)
    cov = reads.label_coverage(store)
    coverage = Coverage(**{k: int(v) for k, v in cov.items()})
    base_rate, notes = _base_rate(overall, lab, coverage)
    estimated: dict[tuple[str, ...], PerformanceEstimate] = {}
    if overall_frames(store):
        try:
            estimated = _estimates(store, settings, threshold, by_t)
        except EstimationError as exc:
            notes.append(f"label-free estimates: {exc}")
    overall = replace(overall, estimated=estimated.get(("__overall__",)))
    slices = [replace(s, estimated=estimated.get(tuple(s.key.values()))) for s in slices]
    overall, slices = _with_designs(
        store, settings, threshold, by_t, overall=overall, slices=slices
    )
    return ReadinessMetrics(
        threshold=threshold,
        review_band=settings.inference.review_band,
        by=by_t,
        overall=overall,
        slices=slices,
        classes=_classes(store, trained),
        latency=_latency(store, settings),
        lab=lab,
        base_rate=base_rate,
        coverage=coverage,
        review_queue_size=_review_count(store, settings),
        notes=notes,
        estimated=[
            (dict(zip(by_t, key, strict=True)), est)
            for key, est in estimated.items()
            if key != ("__overall__",)
        ],
    )


def _base_rate(
    overall: SliceMetrics, lab: LabMetrics, coverage: Coverage
) -> tuple[BaseRateOutcome | None, list[str]]:
    """The lab rates at production's prevalence, and the notes on what is missing."""
    notes: list[str] = []
    base_rate = None
    prevalence = overall.prevalence.value
    if lab.tpr.value is not None and lab.fpr.value is not None and prevalence is not None:
        base_rate = at_base_rate(lab.tpr.value, lab.fpr.value, prevalence)
    else:
        notes.append(
            "base rate: needs lab TPR/FPR (`linewatch assess`) and labelled production frames"
        )
    if coverage.labels_without_frames:
        notes.append(
            f"{coverage.labels_without_frames} labelled event(s) have no frame yet "
            "(label arrived first, or the event was dead-lettered)"
        )
    return base_rate, notes


def _with_designs(
    store: ClickHouseStore,
    settings: Settings,
    threshold: float,
    by: tuple[str, ...],
    *,
    overall: SliceMetrics,
    slices: list[SliceMetrics],
) -> tuple[SliceMetrics, list[SliceMetrics]]:
    """The design-weighted figures beside the plain ones: the cell estimator's and, where some
    labels are sampled (no census) and a lab calibration exists, the difference estimator's
    (:func:`streams.readiness.slice_audits.design_figures`)."""
    from streams.readiness.slice_audits import design_figures

    whole, groups = design_figures(store, settings, threshold, [(), by])
    none: tuple[None, None] = (None, None)
    d_whole = whole.get((), none)
    return (
        replace(overall, design=d_whole[0], difference=d_whole[1]),
        [
            replace(
                s,
                design=groups.get(tuple(s.key.values()), none)[0],
                difference=groups.get(tuple(s.key.values()), none)[1],
            )
            for s in slices
        ],
    )


def overall_frames(store: ClickHouseStore) -> int:
    """Production frames in the store."""
    return reads.frame_count(store)


def _estimates(
    store: ClickHouseStore, settings: Settings, threshold: float, by: tuple[str, ...]
) -> dict[tuple[str, ...], PerformanceEstimate]:
    """Label-free estimates per group of ``by`` (all slices, labelled or not) and overall: each
    combines the estimates of its slices' windows, as ``linewatch estimate`` cuts them."""
    from streams.estimation.job import policy_of, rule_of
    from streams.estimation.windows import estimate_groups

    params = settings.estimation
    found = estimate_groups(
        store,
        threshold,
        [by, ()] if by else [()],
        window_frames=params.window_frames,
        policy=policy_of(params),
        draws=params.draws,
        rule=rule_of(params),
    )
    out = found[0] if by else {}
    out[("__overall__",)] = found[-1][()]
    return out
