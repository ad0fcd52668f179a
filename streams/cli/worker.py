"""``linewatch worker``: the Faust streaming worker (as ``faust -A streams.app worker``)."""

from __future__ import annotations

import io
import socket
import sys
from typing import Annotated, TextIO

import typer

from streams.cli.groups import CliGroups
from streams.cli.options import settings_with
from streams.errors import ConfigError

__all__ = ["PipeSafeStream", "register"]


class PipeSafeStream(io.TextIOBase):
    r"""``stream`` until its reader has gone, then nothing: what is written after a pipe closed
    is dropped instead of raising :class:`BrokenPipeError`.

    ``linewatch worker 2>&1 | tee log``: Ctrl-C stops ``tee`` too, and the worker's SIGINT
    handler (Faust's) first prints a line to stderr; on the closed pipe that print raised, the
    handler never scheduled the shutdown and the worker ran on. Behind this stream every message
    is best effort and the shutdown always starts.

    >>> import os
    >>> r, w = os.pipe()
    >>> safe = PipeSafeStream(open(w, "w", buffering=1))
    >>> os.close(r)
    >>> safe.write("nobody reads this\n"), safe.gone
    (18, True)
    """

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self._stream = stream
        self.gone = False

    def write(self, text: str) -> int:
        if not self.gone:
            try:
                self._stream.write(text)
                if "\n" in text:
                    self._stream.flush()
            except (BrokenPipeError, ConnectionResetError):
                self.gone = True
        return len(text)

    def flush(self) -> None:
        if not self.gone:
            try:
                self._stream.flush()
            except (BrokenPipeError, ConnectionResetError):
                self.gone = True

    def isatty(self) -> bool:
        return not self.gone and self._stream.isatty()

    def fileno(self) -> int:
        return self._stream.fileno()

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return str(getattr(self._stream, "encoding", "utf-8"))


def _check_port_free(port: int) -> None:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("0.0.0.0", port))  # where Faust's web server listens
        except OSError as exc:
            raise ConfigError(
                f"the worker's web port LINEWATCH_WORKER__WEB_PORT={port} is not free "
                f"({exc.strerror or exc}); stop what uses it or pass --web-port"
            ) from exc


def register(app: typer.Typer, groups: CliGroups) -> None:
    """Add ``worker``."""

    @app.command("worker")
    def worker(
        bootstrap: Annotated[
            str | None, typer.Option(help="Kafka bootstrap (default $LINEWATCH_KAFKA__BOOTSTRAP).")
        ] = None,
        store: Annotated[
            str | None, typer.Option(help="Store DSN (default $LINEWATCH_STORE__DSN).")
        ] = None,
        web_port: Annotated[
            int | None,
            typer.Option(
                help="Faust web port (liveness/readiness; default $LINEWATCH_WORKER__WEB_PORT)."
            ),
        ] = None,
        loglevel: Annotated[str, typer.Option(help="Log level.")] = "info",
    ) -> None:
        """Consume camera-events and labels, monitor, write to the store (Ctrl-C to stop).

        Works from any current directory: the data directory is created with its parents. The
        web port, the broker, the model, the reference and the store are checked or loaded
        before Faust starts, so a start-up failure is one ``error:`` line (exit status 2).
        """
        from streams.kafka.startup import start_up

        settings = settings_with(
            kafka={"bootstrap": bootstrap}, store={"dsn": store}, worker={"web_port": web_port}
        )
        _check_port_free(settings.worker.web_port)
        faust_app = start_up(settings)
        # a pipe reader stopped by the same Ctrl-C must not stop the worker's own shutdown
        sys.stdout = PipeSafeStream(sys.stdout)
        sys.stderr = PipeSafeStream(sys.stderr)
        sys.argv = [
            "linewatch worker",
            "worker",
            "--loglevel",
            loglevel,
            "--web-port",
            str(settings.worker.web_port),
        ]
        faust_app.main()
