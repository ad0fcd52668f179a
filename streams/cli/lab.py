"""``linewatch lab import`` (a plant's COCO / YOLO / VOC lab set into the store) and
``linewatch lab list``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from streams.cli.groups import CliGroups
from streams.cli.options import StoreOpt, open_store, settings_with
from streams.cli.progress import make_progress
from streams.errors import LabSetError, LinewatchError
from streams.lab.sample import LabSetInfo

__all__ = ["import_command", "list_command", "register"]


def _split(text: str | None) -> tuple[str, ...]:
    return tuple(sorted({p.strip() for p in text.split(",") if p.strip()})) if text else ()


def import_command(  # noqa: PLR0917 (one parameter per CLI option)
    path: Annotated[
        Path, typer.Argument(help="The lab set: a folder, a COCO .json or a YOLO data.yaml.")
    ],
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="coco, yolo or voc (default: told from the files)."),
    ] = None,
    images: Annotated[
        Path | None,
        typer.Option("--images", help="The images folder, when not where the format keeps it."),
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="The set's name (default: the folder's name).")
    ] = None,
    novel: Annotated[
        str | None,
        typer.Option(
            "--novel",
            help="Lab classes the model was never trained on, comma-separated (novel inputs "
            "for the suite).",
        ),
    ] = None,
    store: StoreOpt = None,
) -> None:
    """Check and store a lab set (images, boxes, classes, lighting) under a name.

    Every file is checked before anything is written: a bad file stops the import with one
    line per problem naming the file and the line or field, and nothing is stored. Importing
    the same set again changes nothing. Lighting comes from COCO image fields lux /
    colour_temp_k or a lighting.csv (file_name,lux,colour_temp_k) beside the labels.
    """
    try:
        _import(path, fmt, images, name, novel, store)
    except LinewatchError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from exc


def _import(  # noqa: PLR0917 (the command's options)
    path: Path,
    fmt: str | None,
    images: Path | None,
    name: str | None,
    novel: str | None,
    store: str | None,
) -> None:
    # the readers (PIL, PyYAML) load only when a set is imported: other commands start without
    from streams.lab.importer import LAB_FORMATS, read_lab_set

    source_format = next((f for f in LAB_FORMATS if f == fmt), None)
    if fmt is not None and source_format is None:
        raise LabSetError(f"--format {fmt!r} is not one of {', '.join(LAB_FORMATS)}", [])
    settings = settings_with(store={"dsn": store})
    with make_progress() as progress:
        task = progress.add_task("check images", total=None)
        read = read_lab_set(
            path,
            source_format,
            images=images,
            on_image=lambda done, total: progress.update(task, completed=done, total=total),
        )
    novel_classes = _split(novel)
    unknown = [c for c in novel_classes if c not in read.classes]
    if unknown:
        raise LabSetError(
            f"--novel {', '.join(unknown)}: not a class of this lab set (classes: "
            f"{', '.join(sorted(read.classes))}); nothing was imported",
            [],
        )
    resolved = path.resolve()
    info = LabSetInfo(
        name=name or (resolved.name if resolved.is_dir() else resolved.parent.name),
        digest=read.digest,
        source_format=read.source_format,
        classes=tuple(sorted(read.classes)),
        novel_classes=novel_classes,
        images=len(read.images),
        boxes=read.boxes,
    )
    from streams.sinks.lab_sets import save_lab_set

    with open_store(settings) as opened:
        opened.apply_schema()
        written = save_lab_set(opened, info, read.images, source_path=str(resolved))
        where = opened.dsn  # the password masked
    what = "imported" if written else "already stored, nothing changed:"
    novel_text = f", novel {', '.join(novel_classes)}" if novel_classes else ""
    typer.echo(
        f"{what} lab set {info.name} ({info.source_format}, {info.images} images, {info.boxes} "
        f"boxes, classes {', '.join(info.classes)}{novel_text}) digest {info.digest[:12]} "
        f"into {where}"
    )


def list_command(store: StoreOpt = None) -> None:
    """List the stored lab sets (the latest version of each name), newest first."""
    from streams.sinks.lab_sets import lab_sets

    try:
        settings = settings_with(store={"dsn": store})
        with open_store(settings, readonly=True) as opened:
            sets = lab_sets(opened)
            where = opened.dsn  # the password masked
    except LinewatchError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from exc
    if not sets:
        typer.echo(
            f"no lab set in {where}; import one with `linewatch lab import PATH --store {where}`"
        )
        return
    header = ("name", "digest", "format", "images", "boxes", "classes", "novel", "imported")
    rows = [
        (
            s.name,
            s.digest[:12],
            s.source_format,
            str(s.images),
            str(s.boxes),
            ",".join(s.classes),
            ",".join(s.novel_classes) or "-",
            s.imported_at.strftime("%Y-%m-%d %H:%M") if s.imported_at else "-",
        )
        for s in sets
    ]
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        typer.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def register(app: typer.Typer, groups: CliGroups) -> None:
    """Add the ``lab`` group with ``import`` and ``list``."""
    del groups  # the lab group is this module's own
    lab = typer.Typer(help="A plant's own lab sets (COCO, YOLO, Pascal VOC).", no_args_is_help=True)
    lab.command("import")(import_command)
    lab.command("list")(list_command)
    app.add_typer(lab, name="lab")
