"""``docs/configuration.md`` documents every ``LINEWATCH_*`` variable and is up to date."""

from __future__ import annotations

from streams.config import ENV_PREFIX, EstimationSettings, ReadinessCriteria, Settings
from streams.config_doc import DOC_PATH, render_markdown


def test_committed_table_is_up_to_date() -> None:
    assert DOC_PATH.read_text(encoding="utf-8") == render_markdown(), (
        "docs/configuration.md is out of date: run `make config-doc` and commit it"
    )


def test_every_setting_is_documented() -> None:
    text = render_markdown()
    missing = [
        name for name, info in Settings.model_fields.items() if not (info.description or "").strip()
    ]
    for model in (ReadinessCriteria, EstimationSettings):
        missing += [n for n, i in model.model_fields.items() if not i.description]
    assert not missing, f"give these fields a description= in streams/config.py: {missing}"
    for name in Settings.model_fields:
        assert f"| `{ENV_PREFIX}{name.upper()}` |" in text
