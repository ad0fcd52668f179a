"""The lab reference profile: what the evaluation conditions looked like to every signal.

Built by running the lab split through the same stages as production
(:class:`~streams.describe.FrameDescriber`: decode, batched inference, image statistics, signals)
and fitting a :class:`~streams.drift.ReferenceProfile`. The lab split is the plant's imported
lab set (:func:`build_lab_reference`, ``linewatch reference build --lab NAME``) or lab events
from a file or the simulator (:func:`build_reference`).
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from importlib import resources
from itertools import islice
from pathlib import Path

from schemas.events import CameraEvent, ImagePayload, Lighting
from streams.config import Settings
from streams.describe import AcceptedFrame, FrameDescriber
from streams.drift import ReferenceProfile
from streams.errors import ConfigError
from streams.inference import Detector
from streams.ingest import DecodedFrame, IngestLimits, RawRecord
from streams.lab.frames import decode_lab_image, lab_encoding
from streams.lab.sample import LabImage, LabSetInfo

__all__ = [
    "MIN_LAB_REFERENCE_IMAGES",
    "MIN_REFERENCE_FRAMES",
    "SHIPPED_REFERENCE",
    "build_lab_reference",
    "build_reference",
    "lab_frames",
    "load_reference",
]

MIN_REFERENCE_FRAMES = 50
"""A reference profile from lab events needs at least this many usable frames."""
MIN_LAB_REFERENCE_IMAGES = 30
"""A plant's lab set is what it is: from this many images on it gives a reference, coarse below
:data:`MIN_REFERENCE_FRAMES` (``linewatch reference build --lab`` warns)."""
LAB_CAPTURED_AT = datetime(2000, 1, 1, tzinfo=UTC)
"""Lab images carry no capture time: frame ``i`` is given this time plus ``i`` seconds."""

SHIPPED_REFERENCE = "linewatch-defects.reference.json"


def _fit(
    rows: list[dict[str, float]], hint: str, minimum: int = MIN_REFERENCE_FRAMES, lab_set: str = ""
) -> ReferenceProfile:
    if len(rows) < minimum:
        raise ConfigError(
            f"only {len(rows)} usable lab frames: a reference needs at least {minimum} ({hint})"
        )
    return ReferenceProfile.fit(rows, lab_set=lab_set)


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
    return _fit(rows, "e.g. --source 'simulate:lab?events=600&seed=11'")


def lab_frames(
    images: Iterable[LabImage], info: LabSetInfo, limits: IngestLimits | None = None
) -> Iterator[AcceptedFrame]:
    """Each lab image as an accepted frame of camera ``lab:NAME`` on line ``lab``.

    The image is decoded by the ingest decoder; its lighting metadata become the event's sensor
    readings, as a camera would send them. A refused image is a :class:`ConfigError` naming its
    file, never skipped.
    """
    for i, image in enumerate(images):
        start = time.perf_counter()
        rgb = decode_lab_image(image, limits)
        lighting = (
            Lighting(lux=image.lux, colour_temp_k=image.colour_temp_k)
            if image.lux is not None or image.colour_temp_k is not None
            else None
        )
        event = CameraEvent(
            event_id=uuid.UUID(image.image_id[:32]),
            camera_id=f"lab:{info.name}",
            line_id="lab",
            captured_at=LAB_CAPTURED_AT + timedelta(seconds=i),
            image=ImagePayload(
                encoding=lab_encoding(image),
                data=base64.b64encode(image.data).decode("ascii"),
            ),
            lighting=lighting,
        )
        raw = RawRecord(b"", f"lab:{info.name}:{image.file_name}", datetime.now(UTC))
        yield AcceptedFrame(raw, DecodedFrame(event, rgb), (time.perf_counter() - start) * 1e3)


def build_lab_reference(
    images: Sequence[LabImage],
    info: LabSetInfo,
    detector: Detector,
    settings: Settings,
    *,
    batch_size: int = 16,
    on_progress: Callable[[int], None] | None = None,
) -> ReferenceProfile:
    """Fit the reference profile from a plant's lab set: every image, decoded and described
    the way a production frame is (detections, image statistics, drift signals).

    Needs :data:`MIN_LAB_REFERENCE_IMAGES` images; under :data:`MIN_REFERENCE_FRAMES` the lab
    range (1st-99th percentile) is close to the extremes of the set, so fewer production frames
    fall outside it than its name says.
    """
    describer = FrameDescriber.from_settings(detector, settings, track_cameras=True)
    frames = lab_frames(images, info, IngestLimits.from_settings(settings))
    rows: list[dict[str, float]] = []
    while batch := list(islice(frames, batch_size)):
        rows.extend(frame.signals for frame in describer.describe(batch))
        if on_progress is not None:
            on_progress(len(batch))
    return _fit(
        rows,
        f"lab set {info.name!r} has {len(images)} images; import a larger one",
        MIN_LAB_REFERENCE_IMAGES,
        info.name,
    )


def load_reference(settings: Settings) -> ReferenceProfile:
    """The configured reference, else the one shipped with the default model."""
    if settings.drift.reference:
        path = Path(settings.drift.reference)
        if not path.is_file():
            raise ConfigError(
                f"reference profile {path} not found; build one with "
                "`linewatch reference build --lab NAME --out PATH` (or --source LAB_EVENTS)"
            )
        return ReferenceProfile.from_json(path.read_text())
    if settings.inference.model:
        raise ConfigError(
            "a custom LINEWATCH_INFERENCE__MODEL needs its own lab reference: run "
            "`linewatch reference build --lab NAME --out ref.json` and set "
            "LINEWATCH_DRIFT__REFERENCE=ref.json"
        )
    shipped = resources.files("streams.models") / SHIPPED_REFERENCE
    if not shipped.is_file():
        raise ConfigError(
            "the shipped reference profile is missing; run `linewatch reference build`"
        )
    return ReferenceProfile.from_json(shipped.read_text())
