"""Shared fixtures: settings factories, simulated event files, embedded stores in tmp dirs."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from streams.config import Settings

pytest_plugins = ["tests.kafka_fixtures", "tests.store_fixtures", "tests.world2.fixtures"]


@pytest.fixture
def settings_factory(tmp_path: Path) -> Callable[..., Settings]:
    """Settings with a fresh chDB store under tmp_path; keyword overrides (by group) win."""

    def make(**overrides: dict[str, Any]) -> Settings:
        store = {"dsn": f"chdb://{tmp_path / 'store'}", **overrides.pop("store", {})}
        return Settings(store=store, **overrides)

    return make


def write_simulated(
    path: Path, request_text: str, labels_path: Path | None = None
) -> tuple[int, int]:
    """Write a ``simulate:`` source to JSON lines; returns (events, labels) written."""
    from streams.simulate import generate, parse_simulate_source

    n = 0
    with path.open("w") as events, (labels_path or Path("/dev/null")).open("w") as labels:
        for sim in generate(parse_simulate_source(request_text)):
            events.write(json.dumps(sim.event) + "\n")
            labels.write(json.dumps(sim.label) + "\n")
            n += 1
    return n, n if labels_path else 0


@pytest.fixture(scope="session")
def production_events(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """120 production events over 3 lines with their labels (session-wide, read-only)."""
    folder = tmp_path_factory.mktemp("production")
    events, labels = folder / "events.jsonl", folder / "labels.jsonl"
    write_simulated(
        events,
        "simulate:production?events=120&seed=5&scenario=stationary&lines=3"
        "&start=2026-11-29T05:00:00Z&duration=4h",
        labels,
    )
    yield events, labels
