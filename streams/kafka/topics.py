"""The four Kafka topics of linewatch, created idempotently.

===================== ============================ =====================================
topic                 key                          written by
===================== ============================ =====================================
``camera-events``     ``line_id`` (one line stays   cameras / ``linewatch produce``
                      ordered on one partition)
``labels``            ``event_id``                 human review / ``linewatch produce``
``camera-events.dlq`` the record's source           the worker (rejected events + reason)
``drift-events``      ``line_id``                  the worker
===================== ============================ =====================================

``camera-events`` has ``settings.kafka.topic_partitions`` partitions; that number caps how many
workers share the load (a partition is consumed by one worker of the group). The others get the
same count so that label and dead-letter traffic spreads the same way.

>>> from streams.config import Settings
>>> [(t.name, t.partitions) for t in topic_specs(Settings(kafka={"topic_partitions": 3}))][:2]
[('camera-events', 3), ('labels', 3)]
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from streams.config import Settings
from streams.kafka.clients import open_admin
from streams.kafka.config import MAX_MESSAGE_BYTES

__all__ = [
    "TopicMismatch",
    "TopicSpec",
    "TopicsReport",
    "ensure_topics",
    "ensure_topics_report",
    "topic_specs",
]

log = logging.getLogger(__name__)

_WEEK_MS = 7 * 24 * 3600 * 1000


@dataclass(frozen=True)
class TopicSpec:
    """A topic to create: name, partitions, replication factor, topic-level configs."""

    name: str
    partitions: int
    replication: int
    configs: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TopicMismatch:
    """An existing topic whose partition count differs from the settings."""

    name: str
    wanted: int
    actual: int

    def __str__(self) -> str:
        hint = (
            f"only {self.actual} workers can share the load"
            if self.actual < self.wanted
            else "more partitions than requested is fine"
        )
        return (
            f"topic {self.name!r} exists with {self.actual} partitions, settings ask for "
            f"{self.wanted} ({hint}); linewatch never changes an existing topic — adding "
            "partitions moves lines to other partitions, so do it deliberately with "
            "kafka-topics --alter --partitions N while no producer is running"
        )


@dataclass(frozen=True)
class TopicsReport:
    """What :func:`ensure_topics_report` did."""

    created: list[str]
    existing: list[str]
    mismatched: list[TopicMismatch]


def topic_specs(settings: Settings) -> list[TopicSpec]:
    """The topics linewatch needs, from the settings (names, partitions, replication)."""
    n, rf = settings.kafka.topic_partitions, settings.kafka.topic_replication
    big = {"max.message.bytes": str(MAX_MESSAGE_BYTES)}
    return [
        TopicSpec(settings.kafka.topic_events, n, rf, {**big, "retention.ms": str(_WEEK_MS)}),
        TopicSpec(settings.kafka.topic_labels, n, rf, {"retention.ms": str(4 * _WEEK_MS)}),
        TopicSpec(settings.kafka.topic_dlq, n, rf, {**big, "retention.ms": str(4 * _WEEK_MS)}),
        TopicSpec(settings.kafka.topic_drift, n, rf, {"retention.ms": str(4 * _WEEK_MS)}),
        *(  # the worker's audit requests, when it makes any (LINEWATCH_WORKER__AUDIT_BUDGET)
            [
                TopicSpec(
                    settings.kafka.topic_audit_requests, n, rf, {"retention.ms": str(4 * _WEEK_MS)}
                )
            ]
            if settings.worker.audit_budget is not None
            else []
        ),
    ]


def _partition_counts(admin: Any, names: list[str], timeout_s: float = 15.0) -> dict[str, int]:
    """Partitions per topic; waits while fresh topics are still missing from the metadata."""
    counts: dict[str, int] = {}
    deadline = time.monotonic() + timeout_s
    while True:
        for d in admin.describe_topics([n for n in names if n not in counts]):
            if d.get("error_code", 0) == 0 and d["partitions"]:
                counts[d["name"]] = len(d["partitions"])
        if len(counts) == len(names) or time.monotonic() > deadline:
            return counts
        time.sleep(0.2)


def ensure_topics_report(settings: Settings) -> TopicsReport:
    """Create the missing topics; leave existing ones as they are and report partition mismatches.

    Safe to run concurrently (a topic created by someone else in between counts as existing).
    """
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    specs = topic_specs(settings)
    admin = open_admin(settings)
    try:
        present = set(admin.list_topics())
        created: list[str] = []
        for spec in specs:
            if spec.name in present:
                continue
            new = NewTopic(spec.name, spec.partitions, spec.replication, topic_configs=spec.configs)
            try:
                admin.create_topics([new], wait_for_metadata=True)
            except TopicAlreadyExistsError:
                continue
            created.append(spec.name)
            log.info("created topic %s (%d partitions)", spec.name, spec.partitions)
        existing = [s.name for s in specs if s.name not in created]
        counts = _partition_counts(admin, existing)
    finally:
        admin.close()
    mismatched = [
        TopicMismatch(s.name, s.partitions, counts[s.name])
        for s in specs
        if s.name in counts and counts[s.name] != s.partitions
    ]
    return TopicsReport(created, existing, mismatched)


def ensure_topics(settings: Settings) -> list[str]:
    """Create the missing linewatch topics; return the names created (empty: all existed).

    Partition mismatches of existing topics are logged as warnings, never changed.
    """
    report = ensure_topics_report(settings)
    for mismatch in report.mismatched:
        log.warning("%s", mismatch)
    return report.created
