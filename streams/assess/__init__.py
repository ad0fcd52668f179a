"""Out-of-distribution behaviour: corruptions, novel inputs, fail-safe versus fail-silent."""

from __future__ import annotations

from streams.assess.corruptions import CORRUPTIONS, apply_corruption
from streams.assess.novel import NOVEL_INPUTS
from streams.assess.suite import (
    DEFAULT_FRAMES,
    DEFAULT_SEVERITIES,
    SuiteResult,
    conditions,
    evaluate_suite,
    run_corruption_suite,
)

__all__ = [
    "CORRUPTIONS",
    "DEFAULT_FRAMES",
    "DEFAULT_SEVERITIES",
    "NOVEL_INPUTS",
    "SuiteResult",
    "apply_corruption",
    "conditions",
    "evaluate_suite",
    "run_corruption_suite",
]
