"""The installed ``linewatch`` console script, run as a user would: a fresh process, its own env.

>>> Path(LINEWATCH).name
'linewatch'
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["LINEWATCH", "clean_env", "run_linewatch"]

LINEWATCH = str(Path(sys.executable).with_name("linewatch"))
"""The console script of the interpreter running the tests (the project's venv)."""


def clean_env(**linewatch: str) -> dict[str, str]:
    """This process's environment without any ``LINEWATCH_*`` variable, plus ``linewatch``'s."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINEWATCH_")}
    env.update(linewatch)
    return env


def run_linewatch(
    args: Sequence[str], *, env: Mapping[str, str], cwd: Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``linewatch ARGS`` to completion (no stdin); the result has stdout and stderr."""
    return subprocess.run(
        [LINEWATCH, *args],
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )
