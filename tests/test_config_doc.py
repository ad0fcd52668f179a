"""``docs/configuration.md`` documents every ``LINEWATCH_*`` variable and is up to date."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from streams.config import GROUPS, Settings, env_name
from streams.config_doc import DOC_PATH, render_markdown


def test_committed_table_is_up_to_date() -> None:
    assert DOC_PATH.read_text(encoding="utf-8") == render_markdown(), (
        "docs/configuration.md is out of date: run `make config-doc` and commit it"
    )


def test_every_setting_is_documented() -> None:
    text = render_markdown()
    missing = [
        f"{group}.{name}"
        for group, model in GROUPS.items()
        for name, info in model.model_fields.items()
        if not (info.description or "").strip()
    ]
    missing += [g for g, i in Settings.model_fields.items() if not (i.description or "").strip()]
    assert not missing, f"give these fields a description= in streams/config_groups/: {missing}"
    assert set(GROUPS) == set(Settings.model_fields)
    rows = [line for line in text.splitlines() if line.startswith("| `LINEWATCH_")]
    for group, model in GROUPS.items():
        for name in model.model_fields:
            (row,) = [r for r in rows if r.startswith(f"| `{env_name(group, name)}` |")]
            assert f"| `{group}` |" in row


ROOT = DOC_PATH.parent.parent


@pytest.mark.skipif(
    shutil.which("make") is None or not (ROOT / ".venv" / ".installed").exists(),
    reason="needs make and the checkout's .venv (make setup)",
)
def test_make_config_doc_rewrites_the_table() -> None:
    """``make config-doc`` regenerates a stale table (the target the failure message names)."""
    root = ROOT
    saved = DOC_PATH.read_bytes()
    try:
        DOC_PATH.write_text("stale\n", encoding="utf-8")
        done = subprocess.run(
            ["make", "-s", "config-doc"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert DOC_PATH.read_text(encoding="utf-8") == render_markdown()
    finally:
        DOC_PATH.write_bytes(saved)
