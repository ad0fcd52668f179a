"""The readiness report (one self-contained HTML file) and the verdict it leads with."""

from __future__ import annotations

from streams.readiness.verdict import Criterion, ReadinessVerdict, compute_verdict
from streams.report.data import ReportData, read_report_data
from streams.report.render import SECTIONS, render_data, render_report

__all__ = [
    "SECTIONS",
    "Criterion",
    "ReadinessVerdict",
    "ReportData",
    "compute_verdict",
    "read_report_data",
    "render_data",
    "render_report",
]
