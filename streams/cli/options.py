"""Command-line options shared by several commands, and settings with their overrides.

>>> settings_with(store="chdb:///tmp/x", model=None).store
'chdb:///tmp/x'
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from streams.config import Settings

__all__ = ["ModelOpt", "ReferenceOpt", "StoreOpt", "settings_with"]

StoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="Store DSN: chdb://PATH or http(s)://user:pass@host:port. Default: LINEWATCH_STORE.",
    ),
]
ModelOpt = Annotated[
    str | None, typer.Option("--model", help="Model spec .json or bare .onnx (default: shipped).")
]
ReferenceOpt = Annotated[
    str | None, typer.Option("--reference", help="Lab reference profile .json.")
]


def settings_with(**overrides: Any) -> Settings:
    """The environment's settings with the given command-line values (``None``: keep it)."""
    base = Settings()
    update = {k: v for k, v in overrides.items() if v is not None}
    return base.model_copy(update=update) if update else base
