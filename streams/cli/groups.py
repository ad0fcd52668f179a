"""The shared sub-command groups that command modules register on."""

from __future__ import annotations

from dataclasses import dataclass

import typer

__all__ = ["CliGroups"]


@dataclass(frozen=True)
class CliGroups:
    """``linewatch schema …``, ``linewatch model …``, ``linewatch topics …``."""

    schema: typer.Typer
    model: typer.Typer
    topics: typer.Typer

    @classmethod
    def attach(cls, app: typer.Typer) -> CliGroups:
        """Create the groups and add them to ``app``."""
        groups = cls(
            schema=typer.Typer(help="Event JSON Schema and ClickHouse DDL.", no_args_is_help=True),
            model=typer.Typer(help="The detector: model card and spec.", no_args_is_help=True),
            topics=typer.Typer(help="Kafka topics.", no_args_is_help=True),
        )
        app.add_typer(groups.schema, name="schema")
        app.add_typer(groups.model, name="model")
        app.add_typer(groups.topics, name="topics")
        return groups
