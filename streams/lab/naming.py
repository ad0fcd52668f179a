"""How every output names the lab split it judged the model on.

Assessments store the lab set's name (``assessment_runs.lab_set``), empty where the simulator
rendered the lab split; summaries, metrics JSON, ``linewatch estimate`` and the report print it
through :func:`lab_set_label`.

>>> lab_set_label("bench-2026"), lab_set_label(""), lab_set_label(None)
('bench-2026', 'simulated lab', 'simulated lab')
"""

from __future__ import annotations

__all__ = ["SIMULATED_LAB", "lab_set_label"]

SIMULATED_LAB = "simulated lab"
"""The name of the lab split the simulator renders where no lab set exists."""


def lab_set_label(name: str | None) -> str:
    """The lab set's name as outputs print it: the name, or ``simulated lab``."""
    return name or SIMULATED_LAB
