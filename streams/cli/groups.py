"""The shared sub-command groups that command modules register on."""

from __future__ import annotations

from dataclasses import dataclass

import typer

__all__ = ["CliGroups"]


@dataclass(frozen=True)
class CliGroups:
    """``linewatch schema …``, ``model …``, ``topics …``, ``drift …``.

    ``drift`` without a sub-command lists alarms (:mod:`streams.cli.store`); ``drift calibrate``
    is :mod:`streams.cli.drift`.
    """

    schema: typer.Typer
    model: typer.Typer
    topics: typer.Typer
    drift: typer.Typer

    @classmethod
    def attach(cls, app: typer.Typer) -> CliGroups:
        """Create the groups and add them to ``app``."""
        groups = cls(
            schema=typer.Typer(help="Event JSON Schema and ClickHouse DDL.", no_args_is_help=True),
            model=typer.Typer(help="The detector: model card and spec.", no_args_is_help=True),
            topics=typer.Typer(help="Kafka topics.", no_args_is_help=True),
            drift=typer.Typer(
                help="List drift alarms, newest first; `drift calibrate` measures the detectors.",
                invoke_without_command=True,
            ),
        )
        app.add_typer(groups.schema, name="schema")
        app.add_typer(groups.model, name="model")
        app.add_typer(groups.topics, name="topics")
        app.add_typer(groups.drift, name="drift")
        return groups
