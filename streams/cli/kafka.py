"""``linewatch topics create`` and ``linewatch produce``: the Kafka path's set-up and input side.

The consuming side, ``linewatch worker``, lives in :mod:`streams.cli.worker`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Annotated, Any

import typer

from streams.cli.groups import CliGroups
from streams.cli.options import settings_with
from streams.cli.progress import make_progress, progress_starter, stderr_console
from streams.config import Settings

__all__ = ["register"]

_BOOTSTRAP_HELP = "Kafka bootstrap host:port[,host:port] (default $LINEWATCH_KAFKA__BOOTSTRAP)."


def _settings(**overrides: Mapping[str, Any]) -> Settings:
    """The environment's settings with the given command-line values (None: keep the setting).

    Also quiets kafka-python, which logs every connection at INFO.
    """
    logging.getLogger("kafka").setLevel(logging.WARNING)
    # Connection retries are noise: an unreachable broker ends in one KafkaUnavailable message.
    logging.getLogger("kafka.net").setLevel(logging.CRITICAL)
    return settings_with(**overrides)


def topics_create(
    bootstrap: Annotated[str | None, typer.Option(help=_BOOTSTRAP_HELP)] = None,
    partitions: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Partitions per topic (default $LINEWATCH_KAFKA__TOPIC_PARTITIONS); "
            "caps the number of workers.",
        ),
    ] = None,
    replication: Annotated[
        int | None,
        typer.Option(
            min=1, help="Replication factor (default $LINEWATCH_KAFKA__TOPIC_REPLICATION)."
        ),
    ] = None,
) -> None:
    """Create camera-events, labels, camera-events.dlq and drift-events if missing."""
    from streams.kafka.topics import ensure_topics_report

    settings = _settings(
        kafka={
            "bootstrap": bootstrap,
            "topic_partitions": partitions,
            "topic_replication": replication,
        }
    )
    report = ensure_topics_report(settings)
    for name in report.created:
        typer.echo(f"created {name}")
    for name in report.existing:
        typer.echo(f"exists  {name}")
    for mismatch in report.mismatched:
        typer.secho(f"warning: {mismatch}", fg=typer.colors.YELLOW, err=True)


def produce(
    *,
    source: Annotated[
        str,
        typer.Option(
            help="JSON-lines file of camera events, '-' for stdin, or "
            "simulate:production?events=N (its ground truth goes to the labels topic)."
        ),
    ],
    labels: Annotated[
        str | None, typer.Option(help="JSON-lines file of ground-truth labels to send too.")
    ] = None,
    bootstrap: Annotated[str | None, typer.Option(help=_BOOTSTRAP_HELP)] = None,
    rate: Annotated[
        float | None, typer.Option(min=0.001, help="Max events per second (default: no limit).")
    ] = None,
    topic: Annotated[
        str | None, typer.Option(help="Events topic (default $LINEWATCH_KAFKA__TOPIC_EVENTS).")
    ] = None,
    labels_topic: Annotated[
        str | None, typer.Option(help="Labels topic (default $LINEWATCH_KAFKA__TOPIC_LABELS).")
    ] = None,
) -> None:
    """Send camera events keyed by line_id (acks=all); exit 1 if any send failed.

    Lines that are not JSON or lack line_id are sent anyway (null key): the worker
    dead-letters them with a reason, as it would garbage from a real camera.
    """
    from streams.kafka.producer import produce as produce_events

    settings = _settings(kafka={"bootstrap": bootstrap})
    with make_progress() as progress:
        summary = produce_events(
            settings,
            source,
            labels_file=labels,
            rate=rate,
            topic=topic,
            labels_topic=labels_topic,
            on_progress=progress_starter(progress),
        )
    stderr_console.print(
        f"events: {summary.events_sent} sent, {summary.events_failed} failed"
        f" ({summary.events_unkeyed} without line_id, sent with a null key); "
        f"labels: {summary.labels_sent} sent, {summary.labels_failed} failed",
        highlight=False,
    )
    for error in summary.errors:
        stderr_console.print(f"  {error}", style="red", highlight=False, markup=False)
    if not summary.ok:
        raise typer.Exit(1)


def register(app: typer.Typer, groups: CliGroups) -> None:
    """Add ``topics create`` to the ``topics`` group and ``produce`` to the app."""

    groups.topics.command("create")(topics_create)
    app.command("produce")(produce)
