"""The worker's audits over its store (issue 21): a :class:`~.audit_stream.StreamAuditor` built
from the frames the store holds from the last ``worker.audit_history_h`` hours and the lab
calibration, rebuilt every :attr:`StreamAudits.REFRESH_S` seconds, that adds the
``audit_units`` row of each unit it chooses to its event's rows (written with them; the worker
publishes the requests once they are stored, :func:`~.audit_stream.audit_requests`)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime, timedelta

from schemas.records import FrameRecord, StoreRecord
from streams.config import Settings
from streams.errors import ConfigError, EstimationError, StoreError
from streams.estimation.calibration import IsotonicCalibration
from streams.inference.threshold import operating_threshold
from streams.readiness.audit_plan import parse_budget
from streams.readiness.audit_stream import ReferenceCount, StreamAuditor, stream_policy
from streams.sinks import ClickHouseStore
from streams.sinks.audit_figures import capture_span
from streams.sinks.reads.design_difference import StepCount, score_step_counts

__all__ = ["StreamAudits"]

_log = logging.getLogger(__name__)


class StreamAudits:
    """The worker's auditor over its store: a :class:`StreamAuditor` rebuilt from the store's
    latest ``history_h`` hours of frames every :data:`REFRESH_S` seconds, that adds the
    ``audit_units`` row of each chosen unit to the rows of its event."""

    REFRESH_S = 900.0
    """Seconds between rebuilds of the reference."""
    RETRY_S = 60.0
    """Seconds before a rebuild the store could not answer is tried again."""

    def __init__(
        self,
        store: ClickHouseStore,
        settings: Settings,
        *,
        lock: AbstractContextManager[object] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        budget_text = settings.worker.audit_budget
        if budget_text is None:
            raise ConfigError("the worker's audits need LINEWATCH_WORKER__AUDIT_BUDGET")
        self.store = store
        self.budget = parse_budget(budget_text)
        self.policy = stream_policy(budget_text)
        self.threshold = operating_threshold(settings)
        self.review_low = settings.inference.review_band[0]
        self.history = timedelta(hours=settings.worker.audit_history_h)
        lines = settings.plant.lines.values()
        self.fallback_frames_day = 86400.0 * sum(line.frame_rate for line in lines)
        self.lock = lock or nullcontext()
        self.clock = clock
        self.auditor: StreamAuditor | None = None
        self.built_at = 0.0

    def current(self) -> StreamAuditor:
        """The auditor, rebuilt from the store when :data:`REFRESH_S` old. A store that cannot
        answer keeps the auditor it has (at first: every unit at the budget's uniform share)
        and is asked again after :data:`RETRY_S`: a failed rebuild never fails the events."""
        if self.auditor is None or self.clock() - self.built_at >= self.REFRESH_S:
            try:
                self.auditor = self._build()
                self.built_at = self.clock()
            except StoreError as exc:
                _log.warning("audit requests keep their previous reference: %s", exc)
                if self.auditor is None:
                    self.auditor = StreamAuditor.uniform(
                        self.threshold, self.review_low, self.budget, self.policy,
                        self.fallback_frames_day,
                    )  # fmt: skip
                self.built_at = self.clock() - self.REFRESH_S + self.RETRY_S
        return self.auditor

    def _build(self) -> StreamAuditor:
        """The auditor of the store's latest ``history_h`` hours: frames counted per slice,
        band and calibration step in the store (no frame read one by one)."""
        from streams.estimation.windows import load_lab_set

        with self.lock:
            span = capture_span(self.store)
            try:
                calibration: IsotonicCalibration | None = load_lab_set(self.store).calibration()
            except EstimationError:
                calibration = None
            knots = (0.0,) if calibration is None else calibration.knots
            since = None if span is None else span[1] - self.history
            rows = [] if span is None else self._counts(knots, since)
            window = None if span is None else capture_span(self.store, since)
        days = self.history.total_seconds() / 86400.0
        if window is not None:
            days = min(days, max((window[1] - window[0]).total_seconds(), 1.0) / 86400.0)
        reference = [
            ReferenceCount((r.line_id, r.shift, r.lighting), r.band, knots[r.step], r.frames)
            for r in rows
        ]
        return StreamAuditor.of_reference(
            self.threshold,
            self.review_low,
            self.budget,
            self.policy,
            reference=reference,
            days=days,
            calibration=calibration,
            fallback_frames_day=self.fallback_frames_day,
        )

    def _counts(self, knots: Sequence[float], since: datetime | None) -> list[StepCount]:
        return score_step_counts(self.store, self.threshold, self.review_low, knots, since=since)

    def add_units(self, groups: Iterable[list[StoreRecord]]) -> int:
        """Append the ``audit_units`` row of each chosen unit to its event's rows; how many."""
        auditor = self.current()
        chosen = 0
        now = datetime.now(UTC)
        for records in groups:
            frame = next((r for r in records if isinstance(r, FrameRecord)), None)
            if frame is None:
                continue
            unit = auditor.decide(frame, now)
            if unit is not None:
                records.append(unit)
                chosen += 1
        return chosen
