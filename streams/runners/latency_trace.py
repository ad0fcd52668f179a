"""Where an event's produce→row time goes: per-event stage times of a streaming worker.

With ``LINEWATCH_WORKER__LATENCY_TRACE=PATH`` the worker stamps each event (wall clock, epoch
seconds) as it passes its stages and appends one JSON line per stored event to ``PATH``:

==================  ===========================================================================
``produced``        the Kafka record timestamp (the producer's send)
``taken``           the agent took it off Kafka (``noack_take``: fetch + the take window)
``processing``      the processor thread started on its take (after the one-slot queue)
``batched``         its model batch was released (a short tail waits for the next takes)
``decode_start``    the decode thread started on its model batch (``decoded``: done)
``model_start``     the model thread started on it (``modelled``: ``describe`` done:
                    ``session.run`` + outputs + NMS)
``state_start``     the state thread started on it (``stated``: statistics, drift, rows done)
``cut``             its rows were cut for a flush
``write_start``     the write of that cut started (the frame's ``ingested_at``)
``written``         the write ended (rows and snapshots stored)
==================  ===========================================================================

:func:`parts` turns one line into the time spent between consecutive stages (they add up to
``written - produced``); :func:`summarize` gives, over many events, the p50/p99 of the total
and the average parts of the slowest 1 % (what makes the p99). A model batch that was decoded
ahead of its take (``prefetch``) has ``decode_start`` before ``processing``: its negative part
is the overlap, and the parts still add up. Off by default; its cost is a few dictionary
operations per event when on.

>>> line = {"produced": 0.0, "taken": 0.4, "processing": 0.41, "batched": 0.5,
...         "decode_start": 0.5, "decoded": 0.52, "model_start": 0.52, "modelled": 0.72,
...         "state_start": 0.72, "stated": 0.75, "cut": 1.5, "write_start": 1.5, "written": 1.6}
>>> p = parts(line)
>>> round(p["kafka+take"], 2), round(p["flush wait"], 2), round(sum(p.values()), 2)
(0.4, 0.75, 1.6)
"""

from __future__ import annotations

import json
import logging
import statistics
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

log = logging.getLogger(__name__)

__all__ = ["PARTS", "STAGES", "LatencyTrace", "parts", "summarize"]

STAGES = (
    "produced",
    "taken",
    "processing",
    "batched",
    "decode_start",
    "decoded",
    "model_start",
    "modelled",
    "state_start",
    "stated",
    "cut",
    "write_start",
    "written",
)
"""The stamps of an event, in the order it passes them."""

PARTS = (
    "kafka+take",
    "queue to processor",
    "batch wait",
    "decode queue",
    "decode",
    "model queue",
    "model",
    "state queue",
    "state",
    "flush wait",
    "write queue",
    "insert",
)
"""The time between consecutive :data:`STAGES`, named."""


def parts(line: Mapping[str, float]) -> dict[str, float]:
    """Seconds between consecutive stages of one event (a missing stamp takes the previous)."""
    out: dict[str, float] = {}
    prev = line["produced"]
    for name, stage in zip(PARTS, STAGES[1:], strict=True):
        at = line.get(stage, prev)
        out[name] = at - prev
        prev = at
    return out


def _quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summarize(lines: Sequence[Mapping[str, float]]) -> dict[str, object]:
    """p50 / p99 of produce→``write_start`` (the frame's ``ingested_at``, what the benches
    measure) and of produce→``written``, and the mean parts of all events and of those at or
    above the p99 of produce→``write_start``.

    >>> base = {s: 0.0 for s in STAGES}
    >>> lines = [{**base, "cut": 0.1 * k, "write_start": 0.1 * k, "written": 0.1 * k + 0.05}
    ...          for k in range(1, 101)]
    >>> s = summarize(lines)
    >>> round(s["p99_ingested_s"], 2), round(s["slowest"]["flush wait"], 2)
    (10.0, 10.0)
    """
    ingested = [ln["write_start"] - ln["produced"] for ln in lines]
    p99 = _quantile(ingested, 0.99)
    slow = [ln for ln, t in zip(lines, ingested, strict=True) if t >= p99]
    every = [parts(ln) for ln in lines]
    slowest = [parts(ln) for ln in slow]
    return {
        "events": len(lines),
        "p50_ingested_s": _quantile(ingested, 0.5),
        "p99_ingested_s": p99,
        "p99_written_s": _quantile([ln["written"] - ln["produced"] for ln in lines], 0.99),
        "mean": {k: statistics.fmean(p[k] for p in every) for k in PARTS},
        "slowest": {k: statistics.fmean(p[k] for p in slowest) for k in PARTS},
    }


class LatencyTrace:
    """Collects stage stamps by event source (``RawRecord.source``) and appends a JSON line per
    event once it is written. Stamps may come from any thread."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._stamps: dict[str, dict[str, float]] = {}
        self._lock = threading.Lock()

    def stamp(self, sources: Iterable[str], stage: str, at: float | None = None) -> None:
        """Stamp ``stage`` (one of :data:`STAGES`) on each event, now unless ``at``."""
        now = time.time() if at is None else at
        with self._lock:
            for source in sources:
                self._stamps.setdefault(source, {})[stage] = now

    def produced(self, stamps: Iterable[tuple[str, float | None]]) -> None:
        """The events' Kafka timestamps (epoch seconds; None: the broker gave none)."""
        with self._lock:
            for source, at in stamps:
                if at is not None:
                    self._stamps.setdefault(source, {})["produced"] = at

    def written(self, sources: Iterable[str]) -> None:
        """The events are stored: stamp ``written`` and append their lines."""
        now = time.time()
        lines = []
        with self._lock:
            for source in sources:
                line = self._stamps.pop(source, None)
                if line is not None and "produced" in line:
                    line["written"] = now
                    lines.append(json.dumps({"source": source, **line}))
        if not lines:
            return
        try:
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write("\n".join(lines) + "\n")
        except OSError as exc:
            # a diagnosis must never fail the events it traces: their rows are already stored
            log.warning("latency trace %s not written (%s): events go on untraced", self.path, exc)

    @staticmethod
    def read(path: Path) -> list[dict[str, float]]:
        """The lines a trace wrote (the ``source`` field dropped)."""
        out = []
        for text in Path(path).read_text(encoding="utf-8").splitlines():
            line = json.loads(text)
            line.pop("source", None)
            out.append(line)
        return out
