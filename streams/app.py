"""Entry point for ``faust -A streams.app worker``: the app built from ``LINEWATCH_*`` settings.

This module reads the environment when imported, because Faust's CLI imports an app object;
everything else builds the app through :func:`streams.runners.faust_app.create_app`.
"""

from __future__ import annotations

from streams.config import get_settings
from streams.runners.faust_app import create_app

__all__ = ["app"]

app = create_app(get_settings())
