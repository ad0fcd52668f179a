"""The first day: the README quick start (``linewatch demo``) run from an empty directory, every
command it prints run as printed, and every figure it prints checked against its store.

The demo runs once (1,800 production events: the smallest day on which line-2's failing lamp
raises its lighting-mix alarms) in a fresh directory with no ``LINEWATCH_*`` variable set.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from streams.config import Settings
from streams.report import compute_verdict
from streams.sinks import ClickHouseStore
from tests.console import clean_env, run_linewatch

pytestmark = pytest.mark.slow

EVENTS = 1800
WIDE = "250"
"""Terminal columns for the demo's output, so no table cell is wrapped or cut."""


@dataclass(frozen=True)
class Demo:
    folder: Path
    stdout: str
    env: dict[str, str]

    @property
    def dsn(self) -> str:
        return f"chdb://{self.folder / 'demo-out' / 'store'}"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    folder = tmp_path_factory.mktemp("first-day")
    env = clean_env(COLUMNS=WIDE)
    done = run_linewatch(["demo", "--events", str(EVENTS)], env=env, cwd=folder, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return Demo(folder, done.stdout, env)


def _table(stdout: str, title: str) -> list[list[str]]:
    """The cells of each body row of the rich table titled ``title`` in ``stdout``."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == title)
    rows: list[list[str]] = []
    for line in lines[start + 1 :]:
        if line.startswith("└"):
            break
        if line.startswith("│"):
            rows.append([cell.strip() for cell in line.strip().strip("│").split("│")])
    return rows


def _rows(store: ClickHouseStore, sql: str) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in store.query(sql).result_rows]


def _printed_commands(stdout: str) -> list[str]:
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if "next: explore the demo's store" in line)
    return [line for line in lines[start + 1 :] if line.startswith("linewatch ")]


def test_section_rules_stay_narrow_when_piped(demo: Demo) -> None:
    # the demo's output is captured (not a terminal): tables take their natural width, and the
    # section rules must not stretch to that console's width (100,000 columns)
    rules = [line for line in demo.stdout.splitlines() if line.startswith("─")]
    assert len(rules) >= 6 and all(len(line) <= 100 for line in rules), max(map(len, rules))


def test_every_printed_command_runs_as_printed(demo: Demo) -> None:
    commands = _printed_commands(demo.stdout)
    names = {shlex.split(c)[1] for c in commands}
    assert {"query", "drift", "metrics", "estimate", "report"} <= names
    for command in commands:
        args = shlex.split(command)[1:]
        done = run_linewatch(args, env=demo.env, cwd=demo.folder, timeout=300)
        assert done.returncode == 0, f"{command}\n{done.stderr[-2000:]}"
        assert "error" not in done.stderr.lower(), f"{command}\n{done.stderr[-2000:]}"
        if args[:1] == ["metrics"] and "--review-queue" not in args:
            # lab figures at the production base rate carry their interval and counts
            assert re.search(r"\[[\d,]+–[\d,]+\] \(\d+ of \d+ good flagged", done.stdout)
    query = next(c for c in commands if shlex.split(c)[1] == "query")
    done = run_linewatch(
        [*shlex.split(query)[1:], "--format", "json"], env=demo.env, cwd=demo.folder
    )
    assert sum(r["frames"] for r in json.loads(done.stdout)) == EVENTS


def test_every_printed_figure_matches_the_store(demo: Demo) -> None:
    out = demo.stdout
    summary = re.search(r"(\d+) frames, (\d+) dead letters, (\d+) drift events, (\d+) labels", out)
    assert summary is not None
    settings = Settings(store={"dsn": demo.dsn})
    with ClickHouseStore.open(demo.dsn) as store:
        counts = tuple(
            int(store.query(f"SELECT count() FROM linewatch.{t} FINAL").result_rows[0][0])
            for t in ("frames", "dead_letters", "drift_events", "labels")
        )
        assert tuple(int(g) for g in summary.groups()) == counts
        assert counts[2] > 0, "the demo day must raise alarms for the drift column to mean anything"

        # per slice: frames, drift (own + filed for the slice's line or shift), outside lab
        frames = {
            (str(a), str(b), str(c)): int(n)
            for a, b, c, n in _rows(
                store,
                "SELECT line_id, shift, lighting, count() FROM linewatch.frames FINAL GROUP BY ALL",
            )
        }
        events = _rows(store, "SELECT line_id, shift, lighting FROM linewatch.drift_events FINAL")
        gaps = {
            (str(a), str(b), str(c)): float(g)
            for a, b, c, g in _rows(
                store,
                "SELECT line_id, shift, lighting, max(distance) FROM linewatch.reference_gap "
                "FINAL WHERE metric = 'outside_lab_range' AND signal IN "
                "('brightness', 'contrast', 'sharpness', 'colour_cast') GROUP BY ALL",
            )
        }
        slices = _table(out, "per slice (line × shift × lighting)")
        assert {(r[0], r[1], r[2]) for r in slices} == set(frames)
        for line, shift, lighting, n, drift, _signals, outside, _worst in slices:
            assert int(n) == frames[(line, shift, lighting)]
            expected = sum(
                1
                for e in events
                if e[0] == line and e[1] in (shift, "*") and e[2] in (lighting, "*")
            )
            assert int(drift) == expected, (line, shift, lighting)
            gap = gaps.get((line, shift, lighting))
            assert outside == ("–" if gap is None else f"{gap:.0%}")
        assert sum(int(r[4]) for r in slices) >= counts[2]

        # per line and class: defects, found as that class, units passed
        classes = {
            (str(a), str(b)): (int(o), int(m), int(p))
            for a, b, o, m, p in _rows(
                store,
                "SELECT line_id, class_name, sum(objects), sum(missed), sum(frames_passed) "
                "FROM linewatch.v_class_slice_counts GROUP BY ALL",
            )
        }
        printed = _table(out, "labelled defects per line (after human review)")
        assert len(printed) == len(classes)
        for line, cls, objects, found, passed in printed:
            o, m, p = classes[(line, cls)]
            assert (int(objects), int(found.split()[0]), int(passed)) == (o, o - m, p)
        masked = [k for k, (o, m, _p) in classes.items() if o and m == o]
        assert masked, "the demo day has a class never found as itself (line-3's crack)"
        for line, cls in masked:
            o, _m, p = classes[(line, cls)]
            note = f"{cls} on {line}: 0 of {o} found as {cls}, "
            assert note in out
            if p == 0:
                assert f"{note}all {o} units flagged as another class" in out
        assert "leaves both figures unchanged" not in out

        # realized recall per slice
        realized = {
            (str(a), str(b), str(c)): (int(tp), int(d))
            for a, b, c, tp, d in _rows(
                store,
                "SELECT line_id, shift, lighting, countIf(outcome = 'TP'), "
                "countIf(outcome IN ('TP', 'FN')) FROM linewatch.v_frame_outcomes "
                "GROUP BY ALL",
            )
        }
        recall = _table(out, "recall per slice: estimated without labels vs realized with labels")
        assert recall
        for line, shift, lighting, n, _est, real in recall:
            assert int(n) == frames[(line, shift, lighting)]
            tp, defective = realized.get((line, shift, lighting), (0, 0))
            assert real == (f"{tp / defective:.0%} of {defective}" if defective else "no labels")

        # drift alarms by cause
        causes = {
            str(c): int(n)
            for c, n in _rows(
                store, "SELECT cause, count() FROM linewatch.drift_events FINAL GROUP BY cause"
            )
        }
        assert {r[0]: int(r[1]) for r in _table(out, "drift alarms by cause")} == causes

        verdict = compute_verdict(store, settings)
    assert f"readiness verdict: {verdict.status.upper()}" in out


def test_the_dead_letter_hint_runs_as_printed(tmp_path: Path) -> None:
    (tmp_path / "events.jsonl").write_text("not json\n")
    env = clean_env(COLUMNS="80")
    store = f"chdb://{tmp_path / 'elsewhere'}"
    done = run_linewatch(
        ["run", "--source", "events.jsonl", "--store", store], env=env, cwd=tmp_path
    )
    assert done.returncode == 1, done.stderr[-2000:]
    hint = next(line for line in done.stderr.splitlines() if "dead-lettered" in line)
    command = hint.split("dead-lettered: ", 1)[1]
    assert f"--store {store}" in command
    listed = run_linewatch([*shlex.split(command)[1:], "--format", "json"], env=env, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr[-2000:]
    assert [r["reason"] for r in json.loads(listed.stdout)] == ["not_json"]


ROOT = Path(__file__).resolve().parents[1]
DOCUMENTED_QUERY = re.compile(r'(?:linewatch query|--rm query query) "([^"]+)"')


def _documented_queries() -> list[tuple[str, str]]:
    docs = [
        ROOT / "README.md",
        ROOT / "deploy" / "README.md",
        *sorted((ROOT / "docs").glob("*.md")),
    ]
    return [
        (doc.name, " ".join(sql.split()))
        for doc in docs
        for sql in DOCUMENTED_QUERY.findall(doc.read_text(encoding="utf-8"))
    ]


def test_every_documented_query_returns_rows_on_the_demo(demo: Demo) -> None:
    queries = _documented_queries()
    assert len(queries) >= 4
    for doc, sql in queries:
        done = run_linewatch(
            ["query", "--store", demo.dsn, "--format", "json", sql], env=demo.env, cwd=demo.folder
        )
        assert done.returncode == 0, f"{doc}: {sql}\n{done.stderr[-2000:]}"
        assert json.loads(done.stdout), f"{doc}: no rows on the demo's data: {sql}"


def _section(html: str, key: str) -> str:
    return html.split(f'id="{key}"', 1)[1].split("</section>", 1)[0]


def test_the_demo_report_reads_right(demo: Demo) -> None:
    html = (demo.folder / "demo-out" / "report.html").read_text(encoding="utf-8")
    # every frame in the review band is labelled: the section says so, not "run linewatch run"
    review = _section(html, "review")
    assert "No data" not in review
    assert "Nothing to review" in review
    # the never-trained crack is a blind spot, never PASS beside its misses
    verdict = _section(html, "verdict")
    crack = verdict.split("blind spot: crack (never trained)", 1)[1].split("</tr>", 1)[0]
    assert ">BLIND SPOT</span>" in crack and "PASS" not in crack
    # lab figures at the production base rate carry their interval and counts
    production = _section(html, "production")
    row = production.split("expected false alarms per 1,000,000 units (lab FPR)", 1)[1]
    cell = row.split("</tr>", 1)[0]
    assert re.search(r"\[[\d,]+–[\d,]+\] \(\d+ of \d+ good lab units flagged", cell), cell
