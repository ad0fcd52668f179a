"""Run a source through the embedded pipeline into the store, with a progress bar.

Shared by ``linewatch run`` and ``linewatch demo``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from streams.cli.progress import make_progress
from streams.config import Settings

if TYPE_CHECKING:  # the pipeline's imports (onnxruntime, chDB) load only when a run starts
    from streams.inference import Detector
    from streams.runners.embedded import RunSummary

__all__ = ["run_source"]


def run_source(
    source: str,
    settings: Settings,
    labels_file: str | None = None,
    description: str = "run",
    *,
    detector: Detector | None = None,
) -> RunSummary:
    """Open the store, run ``source`` through the pipeline with a progress bar, reconcile.

    ``detector``: one already loaded (the demo's); otherwise the runtime loads it.
    """
    from streams.ingest import IngestLimits
    from streams.ingest.sources import open_source, read_records
    from streams.readiness import reconcile
    from streams.runners.embedded import run_embedded
    from streams.runners.runtime import build_runtime

    max_line = IngestLimits.from_settings(settings).max_event_bytes
    opened = open_source(source, max_line)
    label_lines = read_records(labels_file, max_line) if labels_file else None
    with build_runtime(settings, detector=detector) as runtime:
        with make_progress() as progress:
            task = progress.add_task(description, total=opened.total)
            summary = run_embedded(
                opened.events,
                runtime.pipeline,
                runtime.store,
                labels=lambda: [*opened.labels, *(label_lines or [])],
                on_batch=lambda n, _out: progress.advance(task, n),
            )
        if summary.labels:
            reconcile(runtime.store, settings)
    return summary
