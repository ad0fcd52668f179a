"""Text from events is text in the report's figures: no name is read as mathtext or TeX.

A shift, line, lighting or signal named ``$\\foo$`` made matplotlib's mathtext raise in
``slice_heatmaps``: ``linewatch report`` exited 1 and wrote no HTML.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import matplotlib
import pytest
from typer.testing import CliRunner

from schemas.records import DriftEventRecord
from streams.cli import app
from streams.readiness.samples import T0, event_uuid, sample_frame
from streams.report import plots
from streams.sinks import ClickHouseStore

runner = CliRunner()

HOSTILE = [r"$\foo$", r"$x^$", "$", r"a$b$c\$", r"$\frac{1}{$", r"$$\sqrt{$$", "${}^{}_$"]


class _P:
    def __init__(self, value: float | None, n: int) -> None:
        self.value, self.n = value, n


@pytest.mark.parametrize("name", HOSTILE)
def test_every_figure_draws_any_name(name: str) -> None:
    slices = [
        {"line_id": name, "shift": name, "lighting": name, "recall": _P(0.5, 4), "fpr": _P(None, 0)}
    ]
    drawn = [
        plots.slice_heatmaps(slices),
        plots.drift_timeline([(name, name, name, name, T0, 2)]),
        plots.robustness_curves(
            [{"corruption": name, "severity": 1, "recall": 0.5}], clean_recall=0.9
        ),
        plots.failure_mode_bars(
            [
                {
                    "corruption": name,
                    "kind": "novel",
                    "severity": 0,
                    "fail_safe": 1,
                    "fail_silent": 1,
                    "frames": 4,
                }
            ]
        ),
        plots.latency_curves({name: [10.0, 20.0, 30.0]}, {name: 15.0}),
    ]
    assert all(len(p.png_base64) > 1000 for p in drawn)
    assert matplotlib.rcParams["text.parse_math"] is True  # the process's settings are kept


def test_report_with_mathtext_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dsn = f"chdb://{tmp_path / 'store'}"
    with ClickHouseStore.open(dsn) as store:
        store.apply_schema()
        frames = [
            sample_frame(
                event_uuid(n),
                line_id=HOSTILE[n % 3],
                shift=HOSTILE[(n + 1) % 4],
                lighting=HOSTILE[(n + 2) % 5],
                captured_at=T0 + timedelta(minutes=n),
            )
            for n in range(12)
        ]
        drift = [
            DriftEventRecord(
                drift_id=f"d{i}",
                line_id=r"$\foo$",
                shift=r"$x^$",
                lighting="$",
                signal=r"$\bar$",
                detector="cusum",
                detected_at=T0 + timedelta(hours=i),
                trigger_event_id=f"e{i}",
                statistic=9.0,
                threshold=5.0,
                events_in_slice=100,
                before_mean=0.5,
                before_std=0.1,
                after_mean=0.3,
                after_std=0.1,
            )
            for i in range(2)
        ]
        store.insert([*frames, *drift])
    monkeypatch.setenv("LINEWATCH_INFERENCE__OPERATING_THRESHOLD", "0.5")
    out = tmp_path / "report.html"
    result = runner.invoke(app, ["report", "--store", dsn, "--out", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text()
    assert r"$\foo$" in html  # shown as the characters it holds
