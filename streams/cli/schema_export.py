"""``linewatch schema export``: JSON Schema of the wire contract, for producers in any language."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from schemas.events import CameraEvent, GroundTruth
from schemas.results import FrameDetections
from streams.cli.groups import CliGroups

__all__ = ["export_json_schemas", "register"]


def export_json_schemas() -> dict[str, dict[str, object]]:
    """JSON Schema documents keyed by file name."""
    return {
        "camera-event.schema.json": CameraEvent.model_json_schema(),
        "ground-truth.schema.json": GroundTruth.model_json_schema(),
        "frame-detections.schema.json": FrameDetections.model_json_schema(),
    }


def register(app: typer.Typer, groups: CliGroups) -> None:
    """Add ``schema export`` to the ``schema`` group."""
    schema_group = groups.schema

    @schema_group.command("export")
    def export(
        out: Annotated[Path, typer.Option(help="Directory to write the schema files into.")] = Path(
            "schema-out"
        ),
    ) -> None:
        """Write JSON Schema files for camera events, ground truth and detections."""
        out.mkdir(parents=True, exist_ok=True)
        for name, doc in export_json_schemas().items():
            (out / name).write_text(json.dumps(doc, indent=2) + "\n")
            typer.echo(f"wrote {out / name}")
