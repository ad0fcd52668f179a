"""The Kafka path of linewatch: client options, topics, and the event producer.

Stages know nothing of Kafka; this package is only used by the CLI (``topics create``,
``produce``) and the Faust worker (client options, its start-up in :mod:`streams.kafka.startup`
and its flush cadence by backlog in :mod:`streams.kafka.backlog`).
"""

from __future__ import annotations

from streams.kafka.clients import open_admin, open_consumer, open_producer
from streams.kafka.config import aiokafka_options, faust_broker_options, kafka_python_options
from streams.kafka.producer import ProduceSummary, produce
from streams.kafka.topics import TopicsReport, ensure_topics, ensure_topics_report, topic_specs

__all__ = [
    "ProduceSummary",
    "TopicsReport",
    "aiokafka_options",
    "ensure_topics",
    "ensure_topics_report",
    "faust_broker_options",
    "kafka_python_options",
    "open_admin",
    "open_consumer",
    "open_producer",
    "produce",
    "topic_specs",
]
