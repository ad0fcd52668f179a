"""The exceptions linewatch raises: one base class, one subclass per failure a user can act on.

Every message says what went wrong *and* what to do about it.

>>> issubclass(StoreUnavailable, LinewatchError)
True
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "EstimationError",
    "EventRejected",
    "ImageDecodeError",
    "InvalidSettings",
    "KafkaUnavailable",
    "LabSetError",
    "LinewatchError",
    "ModelError",
    "ModelFormatError",
    "ModelNotFound",
    "QueryRefused",
    "SchemaChanged",
    "SimulationError",
    "StoreError",
    "StoreLocked",
    "StoreReadOnly",
    "StoreReadOnlyWrite",
    "StoreUnavailable",
    "StoreWriteError",
    "brief_exception",
]


class LinewatchError(Exception):
    """Base class of every error linewatch raises on purpose."""


class ConfigError(LinewatchError):
    """A setting is missing or invalid."""


class InvalidSettings(ConfigError, ValueError):
    """``LINEWATCH_*`` values (or command-line overrides) that fail validation; one line naming
    each variable, its value and what is allowed. A ``ValueError`` too, like pydantic's errors."""


class EventRejected(LinewatchError):
    """An input record cannot be processed; ``reason`` is a short machine-friendly code.

    Rejected events go to the dead-letter table / topic with ``reason`` and ``detail``.
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail

    @classmethod
    def failed(cls, reason: str, step: str, exc: BaseException) -> EventRejected:
        """The rejection of a record whose ``step`` raised ``exc``: any exception of one record
        becomes that record's dead letter, never its batch's.

        >>> EventRejected.failed("not_json", "parsing the JSON", ValueError("Exceeds the limit"))
        EventRejected('not_json: parsing the JSON failed (ValueError: Exceeds the limit)')
        """
        return cls(reason, f"{step} failed ({brief_exception(exc)})")


class ImageDecodeError(EventRejected):
    """The frame's bytes are not a readable image of a supported encoding."""

    def __init__(self, detail: str) -> None:
        super().__init__("image_undecodable", detail)


class ModelError(LinewatchError):
    """The detector cannot be loaded or its outputs cannot be understood."""


class ModelNotFound(ModelError):
    """The model file or spec does not exist."""


class ModelFormatError(ModelError):
    """The file is not ONNX, or its outputs match no supported detector format."""


class StoreError(LinewatchError):
    """The ClickHouse store failed."""


class StoreUnavailable(StoreError):
    """The store cannot be reached or opened."""


class StoreLocked(StoreUnavailable):
    """An embedded chDB path is already owned by another process."""


class StoreWriteError(StoreError):
    """A write failed; the rows are still pending and the write can be retried after a back-off."""


class StoreReadOnly(StoreError):
    """ClickHouse refused a write, DDL or a settings change: the connection (``readonly=1``) or
    its user is read-only."""


class StoreReadOnlyWrite(StoreWriteError, StoreReadOnly):
    """An insert refused because the connection or its user is read-only (a
    :class:`StoreWriteError` like any refused insert)."""


class QueryRefused(StoreError):
    """A ``linewatch query`` statement that could write, or read outside the store."""


class SchemaChanged(StoreError):
    """An already-applied DDL file was edited; applied migrations must never change."""


class KafkaUnavailable(LinewatchError):
    """The Kafka bootstrap servers cannot be reached."""


class SimulationError(LinewatchError):
    """A simulation request (``simulate:`` source or ``linewatch simulate`` options) is invalid."""


class LabSetError(LinewatchError):
    """A lab set to import is invalid: ``problems`` holds one line per bad file, each naming the
    file and the line or field. Nothing of the set was stored."""

    def __init__(self, summary: str, problems: list[str]) -> None:
        shown = problems[:50]
        more = (
            f"\n  ... and {len(problems) - len(shown)} more" if len(problems) > len(shown) else ""
        )
        super().__init__(summary + "".join(f"\n  {p}" for p in shown) + more)
        self.problems = problems


class EstimationError(LinewatchError):
    """Label-free performance estimates cannot be computed (e.g. no labelled lab frames yet)."""


def brief_exception(exc: BaseException, limit: int = 300) -> str:
    """``Type: message`` of an exception, at most ``limit`` characters of message, never raising
    (a message that cannot even be made into text gives the type alone).

    >>> brief_exception(OSError(22, "Invalid argument"))
    'OSError: [Errno 22] Invalid argument'
    """
    try:
        text = str(exc)
    except Exception:  # e.g. a message holding an int too long to print
        return type(exc).__name__
    return f"{type(exc).__name__}: {text[:limit]}" if text else type(exc).__name__
