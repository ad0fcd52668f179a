"""Ownership of an embedded chDB directory: one process at a time, one directory per process.

chDB runs the ClickHouse engine inside the process. Two processes on one directory would
corrupt it (chDB refuses the second with an obscure error), and chDB 4.x keeps a single engine
per process, so a process cannot open a second directory while one is open. This module makes
both rules explicit:

- across processes: an exclusive, non-blocking ``fcntl.flock`` on ``<path>/linewatch.lock``,
  which also records the holder's pid for the error message;
- inside a process: opening the *same* directory again shares the lock (reference count);
  opening a *different* one while the first is open raises :class:`StoreUnavailable`.
"""

from __future__ import annotations

import fcntl
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from streams.errors import StoreLocked, StoreUnavailable

__all__ = ["LOCK_FILE", "acquire", "held_path", "release"]

LOCK_FILE = "linewatch.lock"


@dataclass
class _Held:
    path: Path
    fd: int
    users: int


_guard = threading.Lock()
_held: _Held | None = None


def held_path() -> Path | None:
    """The chDB directory this process owns now, if any."""
    with _guard:
        return _held.path if _held else None


def _read_pid(lock_path: Path) -> str:
    try:
        return lock_path.read_text().strip() or "unknown"
    except OSError:
        return "unknown"


def acquire(path: Path) -> None:
    """Take ownership of ``path`` (created if missing) for this process, or raise."""
    global _held  # noqa: PLW0603 - one engine per process is process-global state
    with _guard:
        if _held is not None:
            if _held.path == path:
                _held.users += 1
                return
            raise StoreUnavailable(
                f"chDB store {path} cannot be opened: this process already has chDB store "
                f"{_held.path} open and chDB runs one store directory per process; close the "
                "other store first (or use one --store per process)"
            )
        try:
            path.mkdir(parents=True, exist_ok=True)
            lock_path = path / LOCK_FILE
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StoreUnavailable(
                f"chDB store {path} cannot be created or opened: {exc}; "
                "check the path and its permissions, or use another --store"
            ) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StoreLocked(
                f"chDB store {path} is in use by another process (pid {_read_pid(lock_path)}): "
                "stop the other linewatch process or use another --store"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        _held = _Held(path=path, fd=fd, users=1)


def release(path: Path) -> None:
    """Give up one use of ``path``; the lock is dropped when the last user releases it."""
    global _held  # noqa: PLW0603
    with _guard:
        if _held is None or _held.path != path:
            return
        _held.users -= 1
        if _held.users > 0:
            return
        fd = _held.fd
        _held = None
        try:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
