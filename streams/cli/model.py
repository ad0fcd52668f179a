"""``linewatch detect`` (camera events → detections, JSON lines), ``linewatch model info`` and
``linewatch model init`` (write a spec for a model that carries no class names)."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import IO, Annotated, Any

import typer

from streams.cli.groups import CliGroups
from streams.cli.options import settings_with
from streams.cli.progress import make_progress, stderr_console
from streams.config import Settings
from streams.detect import DetectSummary, detect_lines
from streams.errors import EventRejected, LinewatchError, ModelFormatError, ModelNotFound
from streams.inference import OUTPUT_FORMATS, Detector, ModelSpec
from streams.inference.export_metadata import ExportMetadata
from streams.inference.spec import spec_document
from streams.inference.threads import detect_threads, usable_cores
from streams.ingest import IngestLimits, RawRecord, read_lines
from streams.ingest.sources import count_lines

__all__ = ["model_info", "register"]

ModelOpt = Annotated[
    str | None,
    typer.Option(
        "--model",
        help="Model spec (.json) or bare .onnx file (default: $LINEWATCH_INFERENCE__MODEL, else "
        "the shipped "
        "detector).",
    ),
]


def _metadata_keys(meta: ExportMetadata) -> list[str]:
    """Which of names / imgsz / stride / task the model's export metadata gave."""
    pairs = (("names", meta.names), ("imgsz", meta.input_size), ("stride", meta.stride))
    return [k for k, v in (*pairs, ("task", meta.task)) if v is not None]


def model_info(spec: ModelSpec, metadata: ExportMetadata | None = None) -> dict[str, Any]:
    """The model card as a JSON-ready dict (the resolved spec of a loaded detector); ``metadata``
    adds which keys came from the export's metadata."""
    return {
        "name": spec.name,
        "version": spec.version,
        "onnx": str(spec.onnx),
        "classes": list(spec.class_names) if spec.class_names is not None else None,
        "input_name": spec.input_name,
        "input_size": list(spec.input_size) if spec.input_size is not None else None,
        "stride": spec.stride,
        "layout": spec.layout,
        "channel_order": spec.channel_order,
        "letterbox": spec.letterbox,
        "output_format": spec.output_format,
        "score_threshold": spec.score_threshold,
        "iou_threshold": spec.iou_threshold,
        "operating_threshold": spec.operating_threshold,
        "max_detections": spec.max_detections,
        "metadata": _metadata_keys(metadata) if metadata is not None else [],
        "card": spec.card,
    }


def _load(model: str | None, settings: Settings) -> Detector:
    return Detector.load(model or settings.inference.model, settings=settings)


class InfoFormat(StrEnum):
    """Output style of ``model info``."""

    text = "text"
    json = "json"


def _print_info(info: dict[str, Any]) -> None:
    width = max(len(k) for k in info)
    for key, value in info.items():
        if key == "card":
            continue
        shown = ", ".join(map(str, value)) if isinstance(value, list) else value
        typer.echo(f"{key:<{width}}  {shown}")
    card = info.get("card") or {}
    if card:
        typer.echo("card:")
        for key, value in card.items():
            shown = value if isinstance(value, str) else json.dumps(value)
            typer.echo(f"  {key}: {shown}")


def _print_plain(text: str) -> None:
    stderr_console.print(text, markup=False, highlight=False, soft_wrap=True)


def _print_rejection(number: int, exc: EventRejected) -> None:
    _print_plain(f"line {number}: rejected ({exc.reason}): {exc.detail}")


@contextmanager
def _open_streams(source: str, out: str) -> Iterator[tuple[IO[bytes], IO[str], int | None]]:
    """Reader of ``--source``, writer of ``--out`` and the source's line count (None: stdin).

    Exits with status 2 when either cannot be opened.
    """
    with ExitStack() as stack:
        total: int | None = None
        try:
            if source == "-":
                reader: IO[bytes] = sys.stdin.buffer
            else:
                total = count_lines(Path(source))
                reader = stack.enter_context(Path(source).open("rb"))
            writer: IO[str] = (
                sys.stdout
                if out == "-"
                else stack.enter_context(Path(out).open("w", encoding="utf-8"))
            )
        except OSError as exc:
            typer.secho(f"error: cannot open {exc.filename}: {exc.strerror}", err=True)
            raise typer.Exit(2) from exc
        yield reader, writer, total


def _summary_line(summary: DetectSummary, wall_s: float, out: str) -> str:
    per_frame = summary.inference_s * 1000.0 / summary.accepted if summary.accepted else 0.0
    reasons = ", ".join(f"{k}: {v}" for k, v in sorted(summary.reasons.items()))
    return (
        f"{summary.accepted} accepted, {summary.rejected} rejected"
        + (f" ({reasons})" if reasons else "")
        + f"; {per_frame:.1f} ms inference per frame, {wall_s:.1f} s in all; wrote {out}"
    )


BatchSizeOpt = Annotated[
    int | None,
    typer.Option(
        "--batch-size",
        min=1,
        help="Frames per inference batch (default: 8, or $LINEWATCH_INFERENCE__BATCH_FRAMES).",
    ),
]
ThreadsOpt = Annotated[
    int | None,
    typer.Option(
        "--threads",
        min=1,
        help="Threads the model may use in all (default: $LINEWATCH_INFERENCE__THREADS, else "
        "the cores this process may use): 1 runs decode and model on one thread, N > 1 keeps "
        "N batches in the model at once, 1 intra-op thread each (docs/scaling.md).",
    ),
]
InFlightOpt = Annotated[
    int | None,
    typer.Option(
        "--in-flight",
        min=0,
        help="Batches in the model at once, each on its own thread while this one decodes, "
        "sharing --threads as intra-op threads (0: decode and model on one thread; default: "
        "from --threads).",
    ),
]


def detect_command(  # noqa: PLR0917 (one parameter per CLI option)
    source: Annotated[
        str, typer.Option("--source", help="Camera events, one JSON per line ('-': stdin).")
    ],
    out: Annotated[
        str, typer.Option("--out", help="Where to write detections JSON lines ('-': stdout).")
    ],
    model: ModelOpt = None,
    batch_size: BatchSizeOpt = None,
    threads: ThreadsOpt = None,
    in_flight: InFlightOpt = None,
) -> None:
    """Run the detector on camera events; write one detections line per accepted event.

    Bad lines are reported on stderr and skipped. Exit status: 0 all lines accepted,
    1 some rejected, 2 fatal error (model missing, unreadable source).
    """
    try:
        settings = settings_with(inference={"model": model, "batch_frames": batch_size})
        split = detect_threads(threads or settings.inference.threads or usable_cores(), in_flight)
        detector = Detector.load(
            model or settings.inference.model,
            intra_op_num_threads=split.intra_op,
            settings=settings,
        )
    except LinewatchError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from exc
    with ExitStack() as stack:
        reader, writer, total = stack.enter_context(_open_streams(source, out))
        progress = stack.enter_context(make_progress())
        task = progress.add_task("detect", total=total)
        start = time.perf_counter()
        limits = IngestLimits.from_settings(settings)
        summary = detect_lines(
            (
                RawRecord(payload, "", datetime.now(UTC), cut)
                for _, payload, cut in read_lines(reader, limits.max_event_bytes)
            ),
            detector,
            writer.write,
            batch_size=settings.inference.batch_frames,
            limits=limits,
            on_reject=_print_rejection,
            on_batch=lambda done: progress.update(task, completed=done),
            in_flight=split.in_flight,
        )
        wall = time.perf_counter() - start
    _print_plain(_summary_line(summary, wall, out))
    raise typer.Exit(1 if summary.rejected else 0)


def info_command(
    model: ModelOpt = None,
    fmt: Annotated[InfoFormat, typer.Option("--format", help="text or json.")] = InfoFormat.text,
) -> None:
    """Print the model card: classes, input size, output format, thresholds."""
    try:
        settings = settings_with(inference={"model": model})
        detector = _load(model, settings)
    except LinewatchError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from exc
    data = model_info(detector.spec, detector.export_metadata)
    if fmt is InfoFormat.json:
        typer.echo(json.dumps(data, indent=2))
    else:
        _print_info(data)


def _detector_for_spec(
    onnx: Path,
    classes: str | None,
    output_format: str | None,
    target: Path,
    *,
    force: bool,
) -> tuple[Detector, tuple[str, ...] | None]:
    """The detector ``onnx`` loads as, with the ``classes`` (comma-separated) and
    ``output_format`` given (``None``: what the graph and its metadata say), and the class names
    given; refuses to overwrite ``target`` unless ``force``."""
    names = tuple(c.strip() for c in classes.split(",")) if classes is not None else None
    if names is not None and not all(names):
        raise ModelFormatError(f"--classes has an empty class name: {classes!r}")
    if output_format is not None and output_format not in OUTPUT_FORMATS:
        raise ModelFormatError(
            f"--output-format {output_format!r} is not one of {', '.join(OUTPUT_FORMATS)}"
        )
    if not onnx.is_file():
        raise ModelNotFound(f"{onnx} does not exist; pass the path of an .onnx file")
    if target.exists() and not force:
        raise ModelFormatError(f"{target} exists; pass --force to overwrite it or --out")
    spec = ModelSpec.model_validate(
        {
            "name": onnx.stem,
            "onnx": onnx.resolve(),
            "class_names": names,
            "output_format": output_format,
        }
    )
    return Detector.load(spec), names


def init_command(
    onnx: Annotated[Path, typer.Argument(help="The .onnx file to write a spec for.")],
    classes: Annotated[
        str | None,
        typer.Option(
            "--classes",
            help="Class names in class-index order, comma-separated (default: the ONNX "
            "metadata's names, else class_0, class_1, ...).",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Where to write the spec (default: beside the .onnx, .json)."),
    ] = None,
    output_format: Annotated[
        str | None,
        typer.Option(
            "--output-format",
            help=f"One of {', '.join(OUTPUT_FORMATS)} when the outputs' shapes cannot tell.",
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing spec.")] = False,
) -> None:
    """Write a model spec (.json) for ONNX_FILE from what its graph and metadata say.

    Input name, size and layout, output format and class count are read from the graph; class
    names from --classes or the export's metadata. Edit the written file to change thresholds
    or pre-processing (docs/models.md), then pass it to --model.
    """
    target = out or onnx.with_suffix(".json")
    try:
        detector, names = _detector_for_spec(onnx, classes, output_format, target, force=force)
    except (LinewatchError, ValueError) as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from exc
    resolved = detector.spec
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(spec_document(resolved, target), indent=2) + "\n")
    shown = ", ".join(resolved.class_names or ())
    size = "x".join(map(str, resolved.input_size or ()))
    _print_plain(
        f"wrote {target}: {resolved.output_format}, input {size} {resolved.layout}, "
        f"classes {shown}; use --model {target}"
    )
    if names is None and detector.export_metadata.names is None:
        _print_plain(
            f"warning: the model names no classes; replace class_names in {target} with yours "
            "(or rerun with --classes a,b,... --force)"
        )


def register(app: typer.Typer, groups: CliGroups) -> None:
    """Add ``detect`` to the app, ``info`` and ``init`` to the ``model`` group."""
    app.command("detect")(detect_command)
    groups.model.command("info")(info_command)
    groups.model.command("init")(init_command)
