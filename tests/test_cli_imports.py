"""The CLI starts without the heavy modules that only some commands need."""

from __future__ import annotations

import subprocess
import sys

# river.drift pulls in scipy.stats (~0.7 s); onnxruntime only a loaded model needs;
# faust only the worker
HEAVY = ("onnxruntime", "faust", "river.drift", "scipy.stats")


def _loaded_after(code: str) -> list[str]:
    probe = f"import sys\n{code}\nprint(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True
    ).stdout
    return [m for m in out.strip().split(",") if m]


def test_the_cli_and_the_report_modules_import_no_model_runtime_nor_river_drift() -> None:
    code = (
        "import streams.cli, streams.readiness.metrics, streams.readiness.reconcile\n"
        "import streams.report, streams.cli.tables"
    )
    assert _loaded_after(code) == []


def test_the_probe_sees_a_heavy_module_once_it_is_imported() -> None:
    assert _loaded_after("import streams.drift.calibration.calibrate") == [
        "river.drift",
        "scipy.stats",
    ]
