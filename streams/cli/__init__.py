"""The ``linewatch`` command line.

Each command group lives in its own module and registers itself on the shared Typer apps:

- ``simulate``                       → :mod:`streams.cli.simulate`
- ``detect``, ``model info``         → :mod:`streams.cli.model`
- ``schema export|apply``, ``query``, ``drift`` → :mod:`streams.cli.store`
- ``run``, ``demo``                  → :mod:`streams.cli.run`
- ``topics create``, ``produce``, ``worker`` → :mod:`streams.cli.kafka`
- ``metrics``, ``assess``, ``report`` → :mod:`streams.cli.readiness`
- ``estimate``                       → :mod:`streams.cli.estimate`
"""

from __future__ import annotations

import importlib
import logging
import sys

import typer

from streams.cli.groups import CliGroups
from streams.errors import LinewatchError

__all__ = ["app", "main"]

app = typer.Typer(
    name="linewatch",
    help="Is the computer-vision model on the line really working? Measure the production gap.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
_groups = CliGroups.attach(app)

_COMMAND_MODULES = (
    "schema_export",
    "simulate",
    "model",
    "store",
    "run",
    "kafka",
    "worker",
    "readiness",
    "estimate",
)


def _register_all() -> None:
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(f"streams.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"streams.cli.{name}":
                continue  # command group not built yet
            raise
        module.register(app, _groups)


_register_all()


def main() -> None:
    """Console entry point: run the CLI, turning linewatch errors into one clear line."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        app()
    except LinewatchError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        sys.exit(2)
