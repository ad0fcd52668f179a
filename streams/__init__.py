"""linewatch: is the computer-vision model on the factory line really working?

The package holds the pipeline stages (decode, inference, image statistics, slicing, drift),
the ClickHouse store, the embedded and Faust runners, and the ``linewatch`` CLI.
"""

from __future__ import annotations

from streams.config import Settings, get_settings
from streams.errors import LinewatchError

__all__ = ["LinewatchError", "Settings", "__version__", "get_settings"]

__version__ = "0.1.0"
