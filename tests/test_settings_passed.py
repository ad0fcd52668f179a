"""Settings flow down from the entry point: every command and the worker hand theirs to the
detector (no stage reads the environment itself)."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.config import Settings
from streams.errors import ConfigError
from streams.inference import Detector
from streams.inference.threads import default_intra_op_threads
from streams.runners.stream_worker import StreamWorker
from tests.console import clean_env, run_linewatch

MISSING_PROVIDER = '["TensorrtExecutionProvider"]'


def test_detector_uses_the_settings_it_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    # the environment is not read here (a count no default gives)
    monkeypatch.setenv("LINEWATCH_INFERENCE__THREADS", str(default_intra_op_threads() + 2))
    options = Detector.load(None, settings=Settings(inference={"threads": 1}))
    assert options._session.get_session_options().intra_op_num_threads == 1
    explicit = Detector.load(
        None, intra_op_num_threads=2, settings=Settings(inference={"threads": 1})
    )
    assert explicit._session.get_session_options().intra_op_num_threads == 2
    default = Detector.load(None)
    # not the environment's: the cores this process may use, less one for the decode thread
    threads = default._session.get_session_options().intra_op_num_threads
    assert threads == default_intra_op_threads()


def test_unavailable_provider_is_an_error_not_a_silent_cpu_fallback() -> None:
    with pytest.raises(ConfigError, match="LINEWATCH_INFERENCE__PROVIDERS"):
        Detector.load(
            None, settings=Settings(inference={"providers": ["TensorrtExecutionProvider"]})
        )


def test_stream_worker_passes_its_settings(tmp_path: Path) -> None:
    settings = Settings(
        store={"dsn": f"chdb://{tmp_path / 'store'}"},
        inference={"providers": ["TensorrtExecutionProvider"]},
    )
    with pytest.raises(ConfigError, match="TensorrtExecutionProvider"):
        StreamWorker.create(settings)


@pytest.mark.parametrize(
    "args",
    [
        ["run", "--source", "simulate:production?events=2"],
        ["reference", "build", "--source", "simulate:lab?events=2", "--out", "r.json"],
        ["detect", "--source", "-", "--out", "-"],
        ["model", "info"],
        ["assess", "--frames", "1"],
        ["demo", "--out", "d", "--events", "600"],
    ],
    ids=lambda a: a[0],
)
def test_commands_pass_their_settings(args: list[str], tmp_path: Path) -> None:
    env = clean_env(
        LINEWATCH_INFERENCE__PROVIDERS=MISSING_PROVIDER,
        LINEWATCH_STORE__DSN=f"chdb://{tmp_path / 'store'}",
    )
    done = run_linewatch(args, env=env, cwd=tmp_path, timeout=300)
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert "TensorrtExecutionProvider" in output and "Traceback" not in output, output
