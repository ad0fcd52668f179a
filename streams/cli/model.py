"""``linewatch detect`` (camera events → detections, JSON lines) and ``linewatch model info``."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import IO, Annotated, Any

import typer

from schemas.results import FrameDetections
from streams.cli.groups import CliGroups
from streams.cli.progress import make_progress, stderr_console
from streams.config import Settings, get_settings
from streams.errors import EventRejected, LinewatchError
from streams.inference import Detector, ModelSpec
from streams.ingest import (
    DecodedFrame,
    IngestLimits,
    LineCut,
    RawRecord,
    decode_frame,
    event_too_large,
    parse_event,
    read_lines,
)

__all__ = ["DetectSummary", "detect_lines", "model_info", "register"]

ModelOpt = Annotated[
    str | None,
    typer.Option(
        "--model",
        help="Model spec (.json) or bare .onnx file (default: $LINEWATCH_MODEL, else the shipped "
        "detector).",
    ),
]


@dataclass
class DetectSummary:
    """What ``detect_lines`` did."""

    accepted: int = 0
    rejected: int = 0
    inference_s: float = 0.0
    reasons: dict[str, int] = field(default_factory=dict)


def _numbered(lines: Iterable[bytes | RawRecord]) -> Iterator[tuple[int, bytes, LineCut | None]]:
    for number, line in enumerate(lines, start=1):
        payload, cut = (line.payload, line.cut) if isinstance(line, RawRecord) else (line, None)
        if cut is not None or payload.strip():
            yield number, payload, cut


def _stream_lines(stream: IO[bytes], limits: IngestLimits) -> Iterator[RawRecord]:
    """Every line of ``stream`` (blank ones too, for numbering), none held beyond the limit."""
    for number, payload, cut in read_lines(stream, limits.max_event_bytes):
        yield RawRecord(payload, f"line:{number}", datetime.now(UTC), cut)


def detect_lines(
    lines: Iterable[bytes | RawRecord],
    detector: Detector,
    write: Callable[[str], Any],
    *,
    batch_size: int,
    limits: IngestLimits | None = None,
    on_reject: Callable[[int, EventRejected], None] | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> DetectSummary:
    """Run camera-event JSON ``lines`` through ingest and ``detector``; ``write`` each result.

    Writes one :class:`~schemas.results.FrameDetections` JSON line (with a newline) per accepted
    event, in input order; rejected lines go to ``on_reject(line_number, error)``. Blank lines
    are skipped. ``on_batch(lines_done)`` is called after each batch.
    """
    limits = limits or IngestLimits()
    summary = DetectSummary()
    pending: list[DecodedFrame] = []
    done = 0

    def flush() -> None:
        start = time.perf_counter()
        results = detector.detect([p.rgb for p in pending])
        elapsed = time.perf_counter() - start
        summary.inference_s += elapsed
        share_ms = elapsed * 1000.0 / len(pending)
        for item, detections in zip(pending, results, strict=True):
            record = FrameDetections.model_construct(
                event_id=str(item.event.event_id),
                detections=detections,
                inference_ms=round(share_ms, 3),
            )
            write(record.model_dump_json() + "\n")
        summary.accepted += len(pending)
        pending.clear()

    for number, line, cut in _numbered(lines):
        done = number
        try:
            if cut is not None:
                raise event_too_large(cut.length, limits)
            event = parse_event(line, limits)
            pending.append(decode_frame(event, limits))
        except EventRejected as exc:
            summary.rejected += 1
            summary.reasons[exc.reason] = summary.reasons.get(exc.reason, 0) + 1
            if on_reject is not None:
                on_reject(number, exc)
            continue
        if len(pending) >= batch_size:
            flush()
            if on_batch is not None:
                on_batch(done)
    if pending:
        flush()
    if on_batch is not None:
        on_batch(done)
    return summary


def model_info(spec: ModelSpec) -> dict[str, Any]:
    """The model card as a JSON-ready dict (the resolved spec of a loaded detector)."""
    return {
        "name": spec.name,
        "version": spec.version,
        "onnx": str(spec.onnx),
        "classes": list(spec.class_names) if spec.class_names is not None else None,
        "input_name": spec.input_name,
        "input_size": list(spec.input_size) if spec.input_size is not None else None,
        "layout": spec.layout,
        "channel_order": spec.channel_order,
        "letterbox": spec.letterbox,
        "output_format": spec.output_format,
        "score_threshold": spec.score_threshold,
        "iou_threshold": spec.iou_threshold,
        "operating_threshold": spec.operating_threshold,
        "max_detections": spec.max_detections,
        "card": spec.card,
    }


def _count_lines(path: Path) -> int | None:
    try:
        with path.open("rb") as fh:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
    except OSError:
        return None


def _load(model: str | None, settings: Settings) -> Detector:
    return Detector.load(model or settings.model, settings=settings)


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


def register(app: typer.Typer, groups: CliGroups) -> None:
    """Add ``detect`` to the app and ``info`` to the ``model`` group."""

    @app.command("detect")
    def detect(
        source: Annotated[
            str, typer.Option("--source", help="Camera events, one JSON per line ('-': stdin).")
        ],
        out: Annotated[
            str, typer.Option("--out", help="Where to write detections JSON lines ('-': stdout).")
        ],
        model: ModelOpt = None,
        batch_size: Annotated[
            int | None,
            typer.Option(
                "--batch-size",
                min=1,
                help="Frames per inference batch (default: 8, or $LINEWATCH_INFERENCE_BATCH_SIZE).",
            ),
        ] = None,
    ) -> None:
        """Run the detector on camera events; write one detections line per accepted event.

        Bad lines are reported on stderr and skipped. Exit status: 0 all lines accepted,
        1 some rejected, 2 fatal error (model missing, unreadable source).
        """
        console = stderr_console
        try:
            settings = get_settings()
            detector = _load(model, settings)
        except LinewatchError as exc:
            typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
            raise typer.Exit(2) from exc
        size = batch_size or settings.inference_batch_size

        def on_reject(number: int, exc: EventRejected) -> None:
            console.print(
                f"line {number}: rejected ({exc.reason}): {exc.detail}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )

        with ExitStack() as stack:
            total: int | None = None
            try:
                if source == "-":
                    reader: IO[bytes] = sys.stdin.buffer
                else:
                    total = _count_lines(Path(source))
                    reader = stack.enter_context(Path(source).open("rb"))
                writer: IO[str] = (
                    sys.stdout
                    if out == "-"
                    else stack.enter_context(Path(out).open("w", encoding="utf-8"))
                )
            except OSError as exc:
                typer.secho(f"error: cannot open {exc.filename}: {exc.strerror}", err=True)
                raise typer.Exit(2) from exc
            progress = stack.enter_context(make_progress())
            task = progress.add_task("detect", total=total)
            start = time.perf_counter()
            limits = IngestLimits.from_settings(settings)
            summary = detect_lines(
                _stream_lines(reader, limits),
                detector,
                writer.write,
                batch_size=size,
                limits=limits,
                on_reject=on_reject,
                on_batch=lambda done: progress.update(task, completed=done),
            )
            wall = time.perf_counter() - start
        per_frame = summary.inference_s * 1000.0 / summary.accepted if summary.accepted else 0.0
        reasons = ", ".join(f"{k}: {v}" for k, v in sorted(summary.reasons.items()))
        console.print(
            f"{summary.accepted} accepted, {summary.rejected} rejected"
            + (f" ({reasons})" if reasons else "")
            + f"; {per_frame:.1f} ms inference per frame, {wall:.1f} s in all; wrote {out}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(1 if summary.rejected else 0)

    @groups.model.command("info")
    def info(
        model: ModelOpt = None,
        fmt: Annotated[
            InfoFormat, typer.Option("--format", help="text or json.")
        ] = InfoFormat.text,
    ) -> None:
        """Print the model card: classes, input size, output format, thresholds."""
        try:
            settings = get_settings()
            detector = _load(model, settings)
        except LinewatchError as exc:
            typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
            raise typer.Exit(2) from exc
        data = model_info(detector.spec)
        if fmt is InfoFormat.json:
            typer.echo(json.dumps(data, indent=2))
        else:
            _print_info(data)
