"""``docs/quickstart-your-model.md`` run as written, on the second world (issue 18).

Every fenced ``bash`` block of the page is run, in order and as written, by ``bash -eu`` in an
empty directory holding only the files the page names, bound to the second world
(``tests/world2``): its Ultralytics-style ``model.onnx`` (no spec), its lab set as COCO under
``lab/``, and its camera events and labels for lines press-a / press-b (the session fixtures:
120 events over two hours across the 22:00 night shift, enough for the doc's 20-frame
reference-gap and estimation windows). Each block must exit 0;
then the store is checked against what the page promises.

The commands run in subprocesses, so the simulator is put out of reach there by a
``sitecustomize.py`` on their ``PYTHONPATH``: it replaces the entry points of
``streams.simulate`` with a function that writes a marker file and raises.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from streams.sinks import ClickHouseStore
from tests.console import LINEWATCH, clean_env
from tests.world2 import NOVEL_CLASS

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "quickstart-your-model.md"
MARK = "QUICKSTART_SIMULATOR_MARK"

SITECUSTOMIZE = '''
"""Test hook (tests/test_quickstart_doc.py): the simulator raises and leaves a marker."""
import os
import pathlib

import streams.simulate as _sim
import streams.simulate.generate as _gen
import streams.simulate.lighting as _light
import streams.simulate.render as _render


def _no_simulator(*args, **kwargs):
    pathlib.Path(os.environ["{mark}"]).write_text("the simulator was called")
    raise AssertionError("the real-data path called the simulator")


for _mod in (_sim, _gen, _light, _render):
    for _name in ("generate", "render_scene", "sample_defects", "lab_conditions",
                  "production_conditions"):
        if callable(getattr(_mod, _name, None)):
            setattr(_mod, _name, _no_simulator)
'''.replace("{mark}", MARK)


def doc_blocks(text: str) -> list[str]:
    """The fenced ``bash`` blocks of a Markdown page, in order.

    >>> doc_blocks("x\\n```bash\\nls -l\\n```\\n```text\\nout\\n```\\n")
    ['ls -l\\n']
    """
    return re.findall(r"^```bash\n(.*?)^```$", text, flags=re.MULTILINE | re.DOTALL)


@pytest.fixture
def plant_dir(
    tmp_path: Path, world2_model: Path, world2_coco: Path, world2_events: tuple[Path, Path]
) -> tuple[Path, dict[str, str], Path]:
    """An empty directory with the doc's files (world2's), the environment the doc's commands
    run in (no ``LINEWATCH_*`` variable, the simulator hook first on ``PYTHONPATH``) and the
    path of the hook's marker file."""
    work = tmp_path / "plant"
    work.mkdir()
    shutil.copy(world2_model, work / "model.onnx")
    shutil.copytree(world2_coco, work / "lab")
    shutil.copy(world2_events[0], work / "events.jsonl")
    shutil.copy(world2_events[1], work / "labels.jsonl")
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(SITECUSTOMIZE)
    marker = tmp_path / "simulator-called"
    env = clean_env(COLUMNS="200", **{MARK: str(marker)})
    env["PYTHONPATH"] = os.pathsep.join([str(hook), str(REPO)])
    env["PATH"] = os.pathsep.join([str(Path(LINEWATCH).parent), env.get("PATH", "")])
    return work, env, marker


def _bash(script: str, *, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-eu", "-o", "pipefail", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def test_the_simulator_hook_fires_in_a_subprocess(
    plant_dir: tuple[Path, dict[str, str], Path],
) -> None:
    """The guard itself: a command that does call the simulator fails and leaves the marker."""
    work, env, marker = plant_dir
    done = _bash("linewatch simulate --split lab --events 2 --out x.jsonl", cwd=work, env=env)
    assert done.returncode != 0 and marker.is_file(), done.stdout + done.stderr


def test_the_quickstart_runs_as_written_on_the_second_world(
    plant_dir: tuple[Path, dict[str, str], Path],
) -> None:
    work, env, marker = plant_dir
    blocks = doc_blocks(DOC.read_text(encoding="utf-8"))
    commands = [ln.split()[1] for b in blocks for ln in b.splitlines() if ln[:10] == "linewatch "]
    for step in ("init", "lab", "reference", "assess", "run", "metrics", "estimate", "report"):
        assert step in commands, f"the quick start lost `linewatch {step}`"
    outputs = []
    for block in blocks:
        done = _bash(block, cwd=work, env=env)
        outputs.append(done.stdout)
        said = f"{done.stdout}\n{done.stderr}"
        assert done.returncode == 0, f"{block}\nexit {done.returncode}\n{said}"
    assert not marker.exists(), "a command of the quick start called the simulator"
    printed = "\n".join(outputs)
    assert "simulated lab" not in printed and "calibrated on plates" in printed

    # the doc's files as the store holds them: the lab set, every event, every label
    store = f"chdb://{work / '.linewatch' / 'store'}"
    given = [json.loads(line) for line in (work / "events.jsonl").read_text().splitlines()]
    with ClickHouseStore.open(store) as st:
        frames = st.query(
            "SELECT count(), uniqExact(event_id), groupUniqArray(line_id) FROM linewatch.frames"
        ).result_rows[0]
        run = st.query(
            "SELECT lab_set, classes, novel_classes FROM linewatch.assessment_runs FINAL"
        ).result_rows
        dead = st.query("SELECT count() FROM linewatch.dead_letters").result_rows[0][0]
    assert frames[0] == frames[1] == len(given) and dead == 0
    assert sorted(frames[2]) == sorted({e["line_id"] for e in given})
    assert [(r[0], tuple(r[1]), tuple(r[2])) for r in run] == [
        ("plates", ("burr", "chip"), (NOVEL_CLASS,))
    ]

    # the figures read back through the same commands name the lab set
    def linewatch_json(*args: str) -> dict[str, object]:
        done = _bash(f"linewatch {' '.join(args)} --format json", cwd=work, env=env)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)  # type: ignore[no-any-return]

    metrics = linewatch_json("metrics", "--no-reconcile")
    lab = metrics["lab"]
    assert isinstance(lab, dict) and lab["lab_set"] == "plates"
    assert set(lab["ap50_per_class"]) == {"burr", "chip"}
    estimate = linewatch_json("estimate", "--window-frames", "20", "--dry-run")
    assert estimate["lab_set"] == "plates" and estimate["windows"]
    profile = json.loads((work / "reference.json").read_text())
    assert profile["lab_set"] == "plates"
    html = (work / "report.html").read_text()
    assert "<strong>plates</strong>" in html and "simulated lab" not in html
    assert not marker.exists()
