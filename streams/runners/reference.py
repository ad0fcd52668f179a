"""The lab reference profile: what the evaluation conditions looked like to every signal.

Built by running the lab split through the same stages as production
(:class:`~streams.describe.FrameDescriber`: decode, batched inference, image statistics, signals)
and fitting a :class:`~streams.drift.ReferenceProfile`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from importlib import resources
from pathlib import Path

from streams.config import Settings
from streams.describe import FrameDescriber
from streams.drift import ReferenceProfile
from streams.errors import ConfigError
from streams.inference import Detector
from streams.ingest import RawRecord

__all__ = ["SHIPPED_REFERENCE", "build_reference", "load_reference"]

SHIPPED_REFERENCE = "linewatch-defects.reference.json"


def build_reference(
    records: Iterable[RawRecord],
    detector: Detector,
    settings: Settings,
    *,
    batch_size: int = 16,
    on_progress: Callable[[int], None] | None = None,
) -> ReferenceProfile:
    """Fit the reference profile from lab events (undecodable ones are skipped)."""
    describer = FrameDescriber.from_settings(detector, settings, track_cameras=True)
    rows: list[dict[str, float]] = []
    for batch in describer.batches(records, batch_size=batch_size):
        rows.extend(frame.signals for frame in batch)
        if on_progress is not None:
            on_progress(len(batch))
    if len(rows) < 50:
        raise ConfigError(
            f"only {len(rows)} usable lab frames: a reference needs at least 50 "
            "(e.g. --source 'simulate:lab?events=600&seed=11')"
        )
    return ReferenceProfile.fit(rows)


def load_reference(settings: Settings) -> ReferenceProfile:
    """The configured reference, else the one shipped with the default model."""
    if settings.drift.reference:
        path = Path(settings.drift.reference)
        if not path.is_file():
            raise ConfigError(
                f"reference profile {path} not found; build one with "
                "`linewatch reference build --source LAB_EVENTS --out PATH`"
            )
        return ReferenceProfile.from_json(path.read_text())
    if settings.inference.model:
        raise ConfigError(
            "a custom LINEWATCH_INFERENCE__MODEL needs its own lab reference: run "
            "`linewatch reference build --source LAB_EVENTS --out ref.json` and set "
            "LINEWATCH_DRIFT__REFERENCE=ref.json"
        )
    shipped = resources.files("streams.models") / SHIPPED_REFERENCE
    if not shipped.is_file():
        raise ConfigError(
            "the shipped reference profile is missing; run `linewatch reference build`"
        )
    return ReferenceProfile.from_json(shipped.read_text())
