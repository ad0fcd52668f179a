"""What every command that monitors events sets up, built once: detector, reference, store,
pipeline.

``linewatch run`` and ``demo`` (:mod:`streams.cli.run_source`) and the Kafka worker
(:meth:`streams.runners.stream_worker.StreamWorker.create`) and the benches call
:func:`build_runtime` instead of loading each part themselves, so a model, a reference or a store
that cannot be opened fails the same way everywhere: the detector and the reference are loaded
before the store is opened (a missing model creates no store), and a store opened for a runtime
that then fails is closed again.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType

from streams.config import Settings
from streams.drift import ReferenceProfile
from streams.inference import Detector
from streams.pipeline import MonitoringPipeline
from streams.runners.reference import load_reference
from streams.sinks import ClickHouseStore

__all__ = ["Runtime", "build_runtime"]


@dataclass
class Runtime:
    """The detector, the reference profile, the store (schema applied) and the pipeline over
    them, for one ``settings``. Close it (or use it in a ``with``) to close the store."""

    settings: Settings
    detector: Detector
    reference: ReferenceProfile
    store: ClickHouseStore
    pipeline: MonitoringPipeline

    def close(self) -> None:
        """Close the store."""
        self.store.close()

    def __enter__(self) -> Runtime:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def build_runtime(
    settings: Settings,
    *,
    detector: Detector | None = None,
    reference: ReferenceProfile | None = None,
) -> Runtime:
    """Load the detector and the reference (unless given: ``demo`` passes the detector it
    trained, the benches a reference built from their own lab events), open the store, apply
    its schema and build the pipeline."""
    if detector is None:
        detector = Detector.load(settings.inference.model, settings=settings)
    if reference is None:
        reference = load_reference(settings)
    store = ClickHouseStore.open(settings.store.dsn, password=settings.store.password)
    try:
        store.apply_schema()
        pipeline = MonitoringPipeline(settings, detector, reference)
    except BaseException:
        store.close()
        raise
    return Runtime(settings, detector, reference, store, pipeline)
