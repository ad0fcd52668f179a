"""The plant file: ``linewatch.toml`` in the working directory or ``$LINEWATCH_CONFIG``, below the
environment in priority; ``linewatch init`` writes a commented one; a bad value in it is one
line naming the file, the key and what is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.config import Settings
from streams.config_file import plant_file_text
from streams.errors import ConfigError
from tests.console import clean_env, run_linewatch


@pytest.fixture
def plant_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(__import__("os").environ):
        if name.startswith("LINEWATCH_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


PLANT = """
[plant]
timezone = "Europe/Berlin"
lux_bucket_edges = [100.0, 500.0]
brightness_bucket_edges = [0.2, 0.5]
lighting_bucket_names = ["dark", "normal", "bright"]

[[plant.shifts]]
name = "early"
start = "05:30"
[[plant.shifts]]
name = "late"
start = "17:30"

[plant.lines.press-a]
takt_units_per_minute = 90
[plant.lines.press-b]
frames_per_second = 4.0

[inference]
operating_threshold = 0.6

[readiness]
max_fpr = 0.05
"""


def test_the_file_in_the_working_directory_sets_the_plant(plant_dir: Path) -> None:
    (plant_dir / "linewatch.toml").write_text(PLANT)
    s = Settings()
    assert s.plant.timezone == "Europe/Berlin"
    assert [(x.name, x.start.strftime("%H:%M")) for x in s.plant.shifts] == [
        ("early", "05:30"),
        ("late", "17:30"),
    ]
    assert sorted(s.plant.lines) == ["press-a", "press-b"]
    assert s.plant.lines["press-a"].takt_units_per_minute == 90
    assert s.plant.lines["press-b"].frames_per_second == 4.0
    assert s.plant.lighting_bucket_names == ["dark", "normal", "bright"]
    assert s.inference.operating_threshold == 0.6
    assert s.readiness.max_fpr == 0.05
    assert s.readiness.max_fnr_per_class == 0.1  # not in the file: the default


def test_environment_and_options_win_over_the_file(
    plant_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (plant_dir / "linewatch.toml").write_text(PLANT)
    monkeypatch.setenv("LINEWATCH_PLANT__TIMEZONE", "Asia/Tokyo")
    monkeypatch.setenv("LINEWATCH_READINESS__MAX_FPR", "0.01")
    s = Settings(inference={"operating_threshold": 0.3})
    assert (s.plant.timezone, s.readiness.max_fpr) == ("Asia/Tokyo", 0.01)
    assert s.inference.operating_threshold == 0.3
    assert sorted(s.plant.lines) == ["press-a", "press-b"]  # the rest still from the file


def test_linewatch_config_names_a_file_elsewhere(
    plant_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = plant_dir / "etc" / "plant.toml"
    elsewhere.parent.mkdir()
    elsewhere.write_text(PLANT)
    monkeypatch.setenv("LINEWATCH_CONFIG", str(elsewhere))
    assert Settings().plant.timezone == "Europe/Berlin"
    monkeypatch.setenv("LINEWATCH_CONFIG", str(plant_dir / "missing.toml"))
    with pytest.raises(ConfigError, match=r"LINEWATCH_CONFIG=.*missing\.toml.* no such file"):
        Settings()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "[readiness]\nmax_fpr = 2\n",
            r"\[readiness\] max_fpr = 2 is invalid: .*less than or equal to 1",
        ),
        (
            "[plant.lines.press-a]\ntakt_units_per_minute = -1\n",
            r"\[plant\] lines\.press-a\.takt_units_per_minute = -1 is invalid: .*greater than 0",
        ),
        (
            '[plant]\ntimezone = "Mars/Base"\n',
            r"\[plant\] timezone = 'Mars/Base' is invalid: unknown IANA",
        ),
        (
            "[readiness]\nmax_fpx = 0.1\n",
            r"\[readiness\] max_fpx is not a setting; did you mean \[readiness\] max_fpr\? "
            r"the \[readiness\] settings are ",
        ),
        (
            "[store]\nflush_rows = 5\n",
            r"\[store\] flush_rows is not a setting of the \[store\] group: "
            r"set \[checkpoint\] flush_rows",
        ),
        (
            "[plnat]\ntimezone = 'UTC'\n",
            r"\[plnat\] is not a settings group; the groups are \[store\]",
        ),
        (
            'timezone = "UTC"\n',
            r"timezone = \.\.\. must be a table|\[timezone\] is not a settings group",
        ),
        ("[plant\n", r"not valid TOML \(.*line 1"),
        (
            '[plant]\nlines = ["a", "b"]\n',
            r'\[plant\] lines = .* not a list; for these lines: \{"a"',
        ),
    ],
)
def test_a_bad_file_is_one_line_naming_the_file_and_the_key(
    plant_dir: Path, text: str, expected: str
) -> None:
    (plant_dir / "linewatch.toml").write_text(text)
    with pytest.raises(ConfigError) as caught:
        Settings()
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(str(plant_dir / "linewatch.toml")), message
    assert __import__("re").search(expected, message), message


def test_init_writes_a_commented_file_every_command_reads(tmp_path: Path) -> None:
    env = clean_env()
    done = run_linewatch(["init", "--lines", "press-a,press-b,weld 3"], env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "linewatch.toml").read_text()
    assert text.count("\n# ") > 10  # commented
    again = run_linewatch(["init", "--lines", "x"], env=env, cwd=tmp_path)
    assert again.returncode == 2 and "--force" in again.stderr
    # the file is what the commands read: an event of an unknown line is dead-lettered as such
    (tmp_path / "events.jsonl").write_text(
        '{"event_id": "0b9f8e9a-2a53-4c9e-9c57-2f1b8f0d1a11", "camera_id": "c", '
        '"line_id": "line-1", "captured_at": "2026-11-29T06:00:00Z", '
        '"image": {"encoding": "jpeg", "data": "/9j/"}}\n'
    )
    run = run_linewatch(
        ["run", "--source", "events.jsonl", "--store", "chdb://s"], env=env, cwd=tmp_path
    )
    assert run.returncode == 1, run.stderr
    listed = run_linewatch(
        [
            "query",
            "--store",
            "chdb://s",
            "--format",
            "csv",
            "SELECT reason, detail FROM linewatch.dead_letters",
        ],
        env=env,
        cwd=tmp_path,
    )
    assert "unknown_line" in listed.stdout and "press-a" in listed.stdout, listed.stdout


def test_init_model_sets_the_plants_model_for_every_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = clean_env()
    missing = run_linewatch(
        ["init", "--lines", "a", "--model", "nowhere.onnx"], env=env, cwd=tmp_path
    )
    assert missing.returncode == 2 and "nowhere.onnx: no such file" in missing.stderr
    assert not (tmp_path / "linewatch.toml").exists()
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "yours.onnx").write_bytes(b"not read by init")
    done = run_linewatch(
        ["init", "--lines", "a", "--model", "models/yours.onnx"], env=env, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    # written as an absolute path: the same model from any directory the file is read in
    for name in [n for n in __import__("os").environ if n.startswith("LINEWATCH_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("LINEWATCH_CONFIG", str(tmp_path / "linewatch.toml"))
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert Settings().inference.model == str((tmp_path / "models" / "yours.onnx").resolve())


def test_the_written_file_round_trips(plant_dir: Path) -> None:
    (plant_dir / "linewatch.toml").write_text(plant_file_text(["a", "b"], takt_units_per_minute=30))
    s = Settings()
    assert {k: v.takt_units_per_minute for k, v in s.plant.lines.items()} == {"a": 30, "b": 30}
    assert s.plant == type(s.plant)(
        lines={"a": {"takt_units_per_minute": 30}, "b": {"takt_units_per_minute": 30}}
    )


def test_a_lines_cameras_turn_other_cameras_into_dead_letters(
    plant_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json
    from datetime import UTC, datetime

    from streams.describe import FrameDescriber
    from streams.errors import EventRejected
    from streams.ingest import RawRecord

    (plant_dir / "linewatch.toml").write_text(
        '[plant.lines.press-a]\ncameras = ["cam-a1", "cam-a2"]\n[plant.lines.press-b]\n'
    )
    settings = Settings()
    assert settings.plant.lines["press-a"].cameras == ["cam-a1", "cam-a2"]
    assert settings.plant.lines["press-b"].cameras == []
    describer = FrameDescriber(
        None,  # type: ignore[arg-type]  # accept() never runs the detector
        operating_threshold=0.5,
        review_band=(0.2, 0.5),
        known_lines=settings.plant.lines,
        known_cameras={k: v.cameras for k, v in settings.plant.lines.items()},
    )

    def reason(line: str, camera: str) -> str:
        event = {
            "event_id": "0b9f8e9a-2a53-4c9e-9c57-2f1b8f0d1a11",
            "camera_id": camera,
            "line_id": line,
            "captured_at": datetime.now(UTC).isoformat(),
            "image": {"encoding": "jpeg", "data": "/9j/"},
        }
        raw = RawRecord(json.dumps(event).encode(), "t:1", datetime.now(UTC))
        try:
            describer.accept(raw)
        except EventRejected as exc:
            return exc.reason
        return "accepted"

    assert reason("press-a", "cam-a9") == "unknown_camera"
    assert reason("press-c", "cam-a1") == "unknown_line"
    # a listed camera, or any camera of a line that lists none, gets past the check (to decoding)
    assert reason("press-a", "cam-a1") == "image_undecodable"
    assert reason("press-b", "anything") == "image_undecodable"
