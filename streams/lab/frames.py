"""Lab images as the pipeline sees them: decoded by the ingest stage's own image decoder.

Every judgement made on a plant's lab set (lab mAP, the corruption suite, the reference profile)
decodes its images here, with the same codec and limits as a production frame, so a lab image and
a camera frame of the same bytes are the same pixels.

>>> import io
>>> from PIL import Image
>>> buf = io.BytesIO(); Image.new("RGB", (16, 12), (9, 8, 7)).save(buf, "PNG")
>>> img = LabImage("ab", "a.png", buf.getvalue(), (), 16, 12)
>>> lab_encoding(img), decode_lab_image(img).shape
('png', (12, 16, 3))
>>> decode_lab_image(LabImage("cd", "b.jpg", b"oops", (), 16, 12))
Traceback (most recent call last):
...
streams.errors.ConfigError: lab image b.jpg (cd): image_undecodable: not a jpeg image: found ...
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from schemas.events import ImageEncoding
from streams.errors import ConfigError, EventRejected
from streams.ingest import IngestLimits, decode_image
from streams.lab.sample import LabImage

__all__ = ["decode_lab_image", "lab_encoding"]

_PNG = b"\x89PNG\r\n\x1a\n"


def lab_encoding(image: LabImage) -> ImageEncoding:
    """``png`` or ``jpeg``, by the bytes (the importers accept only those two)."""
    return "png" if image.data.startswith(_PNG) else "jpeg"


def decode_lab_image(image: LabImage, limits: IngestLimits | None = None) -> NDArray[np.uint8]:
    """The image's ``(H, W, 3)`` uint8 RGB pixels; a refused image is a :class:`ConfigError`
    naming its file."""
    try:
        return decode_image(image.data, lab_encoding(image), limits or IngestLimits())
    except EventRejected as exc:
        raise ConfigError(
            f"lab image {image.file_name} ({image.image_id[:12]}): {exc}; fix or remove it "
            "and import the lab set again (`linewatch lab import`)"
        ) from exc
