"""``linewatch assess`` renders as many simulated lab frames by default as the label-free
estimate's accuracy was measured with (``bench/bench_estimate_shift.py --lab-frames 300``;
docs/estimation.md, "Windows"): with 120, windows under a shift fell short of the effective
defective lab frames an estimate needs and said ``unknown``."""

from __future__ import annotations

import inspect

from streams.assess.suite import DEFAULT_FRAMES, run_corruption_suite
from streams.cli.readiness import assess_command


def test_assess_renders_the_lab_frames_the_estimate_was_measured_with() -> None:
    assert DEFAULT_FRAMES == 300
    cli_default = inspect.signature(assess_command).parameters["frames"].default
    assert cli_default == DEFAULT_FRAMES
    assert inspect.signature(run_corruption_suite).parameters["frames"].default == DEFAULT_FRAMES
