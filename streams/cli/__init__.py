"""The ``linewatch`` command line.

Each command group lives in its own module and registers itself on the shared Typer apps:

- ``schema export``                  → :mod:`streams.cli.schema_export`
- ``simulate``                       → :mod:`streams.cli.simulate`
- ``detect``, ``model info``         → :mod:`streams.cli.model`
- ``schema apply``, ``query``, ``drift`` → :mod:`streams.cli.store`
- ``drift calibrate``                → :mod:`streams.cli.drift`
- ``run``, ``reference build``, ``demo`` → :mod:`streams.cli.run`
- ``topics create``, ``produce``     → :mod:`streams.cli.kafka`
- ``worker``                         → :mod:`streams.cli.worker`
- ``metrics``, ``assess``, ``report`` → :mod:`streams.cli.readiness`
- ``estimate``                       → :mod:`streams.cli.estimate`
- ``lab import``, ``lab list``       → :mod:`streams.cli.lab`
- ``audit plan``                     → :mod:`streams.cli.audit`
- ``init``                           → :mod:`streams.cli.init`

A new command module is imported and registered below; a module that fails to import fails
the CLI loudly instead of silently losing its commands.
"""

from __future__ import annotations

import logging
import sys

import typer
from pydantic import ValidationError

from streams.cli import (
    audit,
    drift,
    estimate,
    init,
    kafka,
    lab,
    model,
    readiness,
    run,
    schema_export,
    simulate,
    store,
    worker,
)
from streams.cli.groups import CliGroups
from streams.cli.tables import clean
from streams.config_messages import settings_error
from streams.errors import LinewatchError
from streams.sinks.connection import quiet_driver_logs

__all__ = ["app", "main"]

app = typer.Typer(
    name="linewatch",
    help="Is the computer-vision model on the line really working? Measure the production gap.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
_groups = CliGroups.attach(app)

for _module in (
    schema_export,
    simulate,
    model,
    store,
    drift,
    run,
    kafka,
    worker,
    readiness,
    estimate,
    lab,
    audit,
    init,
):
    _module.register(app, _groups)


def main() -> None:
    """Console entry point: run the CLI, turning linewatch errors into one clear line."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    quiet_driver_logs()
    try:
        app()
    except LinewatchError as exc:  # one line, without terminal control from quoted input
        typer.secho(f"error: {' '.join(clean(str(exc)).split())}", fg=typer.colors.RED, err=True)
        sys.exit(2)
    except ValidationError as exc:  # Settings raise ConfigError; this is a safety net
        typer.secho(f"error: {settings_error(exc)}", fg=typer.colors.RED, err=True)
        sys.exit(2)
