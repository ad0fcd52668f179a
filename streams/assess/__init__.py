"""Out-of-distribution behaviour: corruptions, novel inputs, fail-safe versus fail-silent."""

from __future__ import annotations

from streams.assess.condition import DEFAULT_SEVERITIES, conditions
from streams.assess.corruptions import CORRUPTIONS, apply_corruption
from streams.assess.novel import NOVEL_INPUTS
from streams.assess.suite import (
    DEFAULT_FRAMES,
    SuiteResult,
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
