"""Which confidence the plant acts on: the one place the operating threshold is resolved.

The setting ``LINEWATCH_INFERENCE__OPERATING_THRESHOLD`` wins; else the model card's
``operating_threshold`` (of the loaded detector's spec when there is one, else of the configured
or shipped spec file).

>>> from streams.config import Settings
>>> operating_threshold(Settings(inference={"operating_threshold": 0.7}))
0.7
"""

from __future__ import annotations

import logging
from typing import Protocol

from streams.config import Settings
from streams.errors import ModelError
from streams.inference.spec import load_spec

__all__ = ["DEFAULT_OPERATING_THRESHOLD", "HasOperatingThreshold", "operating_threshold"]

log = logging.getLogger(__name__)

DEFAULT_OPERATING_THRESHOLD = 0.5
"""Used only when neither the settings nor a readable model spec give one."""


class HasOperatingThreshold(Protocol):
    """What the threshold needs of a model spec (:class:`~streams.inference.ModelSpec`)."""

    @property
    def operating_threshold(self) -> float: ...


def operating_threshold(settings: Settings, spec: HasOperatingThreshold | None = None) -> float:
    """``LINEWATCH_INFERENCE__OPERATING_THRESHOLD`` if set, else the model spec's
    ``operating_threshold``.

    ``spec`` is the loaded detector's spec; without one, the spec file of
    ``settings.inference.model`` (or the shipped detector's) is read, and if that cannot be read
    the threshold is :data:`DEFAULT_OPERATING_THRESHOLD`, with a warning saying how to choose one.
    """
    if settings.inference.operating_threshold is not None:
        return float(settings.inference.operating_threshold)
    if spec is not None:
        return float(spec.operating_threshold)
    from streams.inference.detector import shipped_spec_path

    try:
        loaded = load_spec(settings.inference.model or shipped_spec_path())
    except ModelError as exc:
        log.warning(
            "no model spec readable (%s); using operating threshold %.2f — set "
            "LINEWATCH_INFERENCE__OPERATING_THRESHOLD to choose one",
            exc,
            DEFAULT_OPERATING_THRESHOLD,
        )
        return DEFAULT_OPERATING_THRESHOLD
    return float(loaded.operating_threshold)
