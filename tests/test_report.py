"""The readiness report: sections, "no data", self-containment, the verdict, headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from schemas.records import DriftEventRecord, ReferenceGapRecord
from streams.cli.tables import verdict_table
from streams.config import Settings
from streams.drift.signals import ALL_SIGNALS
from streams.readiness.samples import T0, event_uuid, sample_frame
from streams.report import SECTIONS, compute_verdict, render_report
from streams.sinks import ClickHouseStore
from tests.test_assess import DarkSpotDetector
from tests.test_readiness_store import build_hand_case

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
INSTALL_HINT = "install Debian's chromium: apt-get update && apt-get install -y chromium"


def _settings(tmp_path: Path) -> Settings:
    return Settings(
        store={"dsn": f"chdb://{tmp_path / 'store'}"}, inference={"operating_threshold": 0.5}
    )


def _drift_and_gap(store: ClickHouseStore) -> None:
    drift = [
        DriftEventRecord(
            drift_id=f"d{i}",
            line_id="line-2",
            shift="night",
            lighting="dim",
            signal="brightness",
            detector="cusum",
            detected_at=T0 + timedelta(hours=i),
            trigger_event_id=f"e{i}",
            statistic=9.0,
            threshold=5.0,
            events_in_slice=100 + i,
            before_mean=0.5,
            before_std=0.1,
            after_mean=0.3,
            after_std=0.1,
            cause="lighting",
            evidence="lighting signals moved: brightness",
        )
        for i in range(3)
    ]
    gaps = [
        ReferenceGapRecord(
            gap_id=f"g{i}-{metric}",
            line_id="line-2",
            shift="night",
            lighting="dim",
            signal="brightness",
            metric=metric,
            window_start=T0 + timedelta(hours=i),
            window_end=T0 + timedelta(hours=i + 1),
            window_events=200,
            # PSI is large, but only the share outside the lab range is judged
            distance=(0.1 + 0.2 * i) * (1.0 if metric == "outside_lab_range" else 10.0),
            reference_mean=0.5,
            window_mean=0.3,
        )
        for i in range(3)
        for metric in ("psi", "outside_lab_range")
    ]
    store.insert([*drift, *gaps])


@pytest.fixture
def full_report(tmp_path: Path) -> tuple[str, Settings, Path]:
    settings = _settings(tmp_path)
    from streams.assess.suite import run_corruption_suite

    with ClickHouseStore.open(settings.store.dsn) as store:
        store.apply_schema()
        build_hand_case(store)
        _drift_and_gap(store)
        run_corruption_suite(
            store,
            settings,
            detector=DarkSpotDetector(),
            frames=6,
            seed=1,
            severities=(1, 5),
        )
        html = render_report(store, settings)
    return html, settings, tmp_path


def test_full_report_has_every_section_and_is_self_contained(
    full_report: tuple[str, Settings, Path],
) -> None:
    html, _, _ = full_report
    for key, heading in SECTIONS.items():
        assert f'id="{key}"' in html and heading in html
    assert html.count("data:image/png;base64,") >= 6  # heatmap, drift, conf, 2x robustness, latency
    assert not re.search(r'(src|href)="(?!data:|#)', html)  # no external resources
    assert "http://" not in html and "https://" not in html
    assert "@media print" in html and 'name="viewport"' in html
    assert "NaN" not in html and "nan%" not in html
    assert "crack" in html and "no (novel)" in html
    # the novel class is a blind spot with its own status, never PASS beside its misses
    row = html.split("blind spot: crack (never trained)", 1)[1].split("</tr>", 1)[0]
    assert ">BLIND SPOT</span>" in row and "PASS" not in row
    drift = html.split('id="drift"', 1)[1].split("</section>", 1)[0]
    assert "whom to call" in drift and "maintenance (lamps" in drift


def test_empty_store_report_says_no_data_with_what_to_run(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    with ClickHouseStore.open(settings.store.dsn) as store:
        store.apply_schema()
        html = render_report(store, settings)
        verdict = compute_verdict(store, settings)
    assert verdict.status == "no data"
    assert all(c.status == "no data" and c.how_to_fill for c in verdict.criteria)
    # a run with a reference that stored no gap window yet: the hint names the window setting
    gap = next(c for c in verdict.criteria if c.name.startswith("frames outside lab"))
    assert "LINEWATCH_DRIFT__GAP_WINDOW_EVENTS" in gap.how_to_fill
    for key in SECTIONS:
        section = html.split(f'id="{key}"', 1)[1].split("</section>", 1)[0]
        if key != "verdict":
            assert "No data" in section and "<code>linewatch" in section, key
    assert "data:image/png" not in html
    assert not re.search(r">0(\.0+)?%", html)  # no data is never shown as 0 %


def test_verdict_on_the_hand_case(tmp_path: Path) -> None:
    settings = Settings(
        store={"dsn": f"chdb://{tmp_path / 'store'}"},
        inference={"operating_threshold": 0.5},
        plant={
            "lines": {
                "line-1": {"takt_units_per_minute": 60},
                "line-2": {"takt_units_per_minute": 60},
            }
        },
    )
    with ClickHouseStore.open(settings.store.dsn) as store:
        store.apply_schema()
        build_hand_case(store)
        _drift_and_gap(store)
        v = compute_verdict(store, settings)
    by_name = {c.name: c for c in v.criteria}
    fpr = by_name["false-positive rate at threshold 0.50"]
    assert fpr.status == "fail" and fpr.measured.startswith("20.0%")  # 1 of 5 > 2 %
    assert fpr.certain  # even the Wilson lower bound (3.6 %) is above 2 %
    dent = by_name["missed units with dent"]
    assert dent.status == "fail" and dent.measured.startswith("50.0%")
    assert not dent.certain  # 1 of 2: the interval [9.5 %, 90.5 %] straddles 10 %
    crack = by_name["blind spot: crack (never trained)"]
    assert (crack.status, crack.shown_status) == ("fail", "blind spot")
    assert crack.measured.endswith("boxes missed") and crack.blind_spot
    assert "missed units with crack" not in by_name
    assert by_name["missed units with stain"].status == "no data"
    assert by_name["p99 latency line-1 / takt"].status == "pass"  # 40 ms of 1000 ms
    gap = by_name["frames outside lab conditions, worst slice × image statistic"]
    assert gap.status == "fail" and gap.measured == "50%"
    assert v.status == "fail" and not v.ready
    assert "FAIL" in str(verdict_table(v).title)


@pytest.mark.skipif(CHROMIUM is None, reason=f"chromium not installed; {INSTALL_HINT}")
def test_report_renders_in_headless_chromium(full_report: tuple[str, Settings, Path]) -> None:
    html, _, tmp_path = full_report
    page = tmp_path / "report.html"
    page.write_text(html, encoding="utf-8")
    base = [str(CHROMIUM), "--headless", "--disable-gpu", "--no-sandbox", "--disable-dev-shm-usage",
            f"--user-data-dir={tmp_path / 'chromium-profile'}"]  # fmt: skip
    dom = subprocess.run(
        [*base, "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    for heading in SECTIONS.values():
        assert heading in dom
    shot = tmp_path / "phone.png"
    subprocess.run(
        [*base, f"--screenshot={shot}", "--window-size=390,2400", page.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert shot.stat().st_size > 10_000


def test_producer_names_are_escaped_and_a_quiet_drift_section_says_what_was_watched(
    tmp_path: Path,
) -> None:
    hostile = '<script>alert("x")</script>'
    settings = _settings(tmp_path)
    with ClickHouseStore.open(settings.store.dsn) as store:
        store.apply_schema()
        frames = [
            sample_frame(event_uuid(n), line_id=hostile if n % 2 else "line-1", shift=shift)
            for n, shift in enumerate(["day", "day", "night", "night", "day"])
        ]
        store.insert(frames)
        html = render_report(store, settings)
    assert hostile not in html and "<script" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html  # shown, as text
    drift = html.split('id="drift"', 1)[1].split("</section>", 1)[0]
    assert "No data" not in drift
    # 4 slices (line-1 and the hostile line, each by day and by night) x every signal
    signals = len(ALL_SIGNALS)
    assert f"{4 * signals} slice-signals ({signals} signals on each of 4 slices)" in drift
    assert "over 5 frames" in drift
