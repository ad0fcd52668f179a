"""Which confidence the plant acts on: the setting, else the model card's."""

from __future__ import annotations

import logging

from streams.config import Settings
from streams.errors import ModelError

__all__ = ["DEFAULT_OPERATING_THRESHOLD", "operating_threshold"]

log = logging.getLogger(__name__)

DEFAULT_OPERATING_THRESHOLD = 0.5
"""Used only when neither the settings nor a readable model spec give one."""


def operating_threshold(settings: Settings) -> float:
    """``LINEWATCH_OPERATING_THRESHOLD`` if set, else the model spec's ``operating_threshold``."""
    if settings.operating_threshold is not None:
        return float(settings.operating_threshold)
    from streams.inference.detector import shipped_spec_path
    from streams.inference.spec import load_spec

    try:
        spec = load_spec(settings.model or shipped_spec_path())
    except ModelError as exc:
        log.warning(
            "no model spec readable (%s); using operating threshold %.2f — set "
            "LINEWATCH_OPERATING_THRESHOLD to choose one",
            exc,
            DEFAULT_OPERATING_THRESHOLD,
        )
        return DEFAULT_OPERATING_THRESHOLD
    return float(spec.operating_threshold)
