"""``linewatch init``: write a commented plant file (``linewatch.toml``) for the given lines."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from streams.cli.groups import CliGroups
from streams.config_file import CONFIG_VARIABLE, DEFAULT_FILE, plant_file_text
from streams.errors import ConfigError

__all__ = ["register"]


def register(app: typer.Typer, groups: CliGroups) -> None:
    """Add ``init``."""

    @app.command("init")
    def init(
        lines: Annotated[
            str, typer.Option("--lines", help="The plant's line ids, comma-separated: a,b,c.")
        ],
        takt: Annotated[
            float, typer.Option("--takt", min=0.001, help="Units per minute of every line.")
        ] = 60.0,
        out: Annotated[Path, typer.Option("--out", help="Where to write it.")] = Path(DEFAULT_FILE),
        model: Annotated[
            Path | None,
            typer.Option(
                "--model",
                help="The plant's model (.onnx or spec .json): written as [inference] model, "
                "its absolute path.",
            ),
        ] = None,
        force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    ) -> None:
        """Write a commented plant file: lines, shifts, lighting buckets, time zone, thresholds.

        Every linewatch command run in its directory reads ./linewatch.toml (elsewhere: set
        LINEWATCH_CONFIG to its path); LINEWATCH_* environment variables win over it.
        """
        ids = [part.strip() for part in lines.split(",")]
        if model is not None and not model.is_file():
            raise ConfigError(f"--model {model}: no such file; give the path of your .onnx or spec")
        text = plant_file_text(
            ids,
            takt_units_per_minute=takt,
            model=None if model is None else str(model.resolve()),
        )
        if out.exists() and not force:
            raise ConfigError(f"{out} exists; pass --force to overwrite it, or --out elsewhere")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {out} ({len(ids)} line(s)); edit it, then run linewatch here")
        if out.resolve() != (Path.cwd() / DEFAULT_FILE).resolve():
            typer.echo(f"elsewhere than ./{DEFAULT_FILE}: export {CONFIG_VARIABLE}={out.resolve()}")
