"""Ctrl-C during a read: the query is cancelled and the store released at once.

chDB runs a query inside this process, in C++: the interpreter delivers SIGINT only when the
call returns, so a long ``SELECT`` held the store's lock until it ended (or SIGKILL), and a
query of the embedded engine cannot be killed from another thread. :func:`interruptibly`
runs the read on a helper thread while the main thread waits in short, interruptible steps;
Ctrl-C then ends the process at once (exit 130): the query dies with it, the kernel drops the
chDB directory's ``flock``, and an HTTP server cancels a read-only query whose client went
away (the connection asks for ``cancel_http_readonly_queries_on_client_close``).

Only read commands use it (``query``, ``drift``, ``metrics``, ``report``): a write stops at a
batch boundary instead.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from typing import TypeVar

__all__ = ["EXIT_INTERRUPTED", "interruptibly"]

EXIT_INTERRUPTED = 130
"""The exit status of a command stopped by Ctrl-C (128 + SIGINT), as shells report it."""

_T = TypeVar("_T")
_STEP_S = 0.05


def interruptibly(read: Callable[[], _T], *, what: str = "the query") -> _T:
    """``read()``, run so that Ctrl-C stops it and the process within a fraction of a second.

    Off the main thread (no Ctrl-C is delivered there) it simply calls ``read()``.
    """
    if threading.current_thread() is not threading.main_thread():
        return read()
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["value"] = read()
        except BaseException as exc:  # handed to the caller's thread below
            outcome["error"] = exc

    worker = threading.Thread(target=run, name="linewatch-read", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(_STEP_S)
    except KeyboardInterrupt:
        try:
            sys.stdout.flush()
            sys.stderr.write(f"interrupted: {what} was cancelled and the store released\n")
            sys.stderr.flush()
        finally:
            os._exit(EXIT_INTERRUPTED)  # the query dies with the process; the lock with it
    if "error" in outcome:
        error = outcome["error"]
        assert isinstance(error, BaseException)
        raise error
    return outcome["value"]  # type: ignore[return-value]
