"""The folders ``file://`` frames may be read from, each held open as a directory descriptor.

A root is resolved (symlinks and ``..`` of the operator's own path removed) and opened once, when
the entry point builds its :class:`~streams.ingest.IngestLimits`, with
``O_PATH | O_DIRECTORY | O_NOFOLLOW``. Every frame is then opened relative to that descriptor
(:func:`streams.ingest.files.read_image_file`), never by a path from the root down: swapping the
root's directory for a symlink (or renaming a folder above it) after start-up changes nothing,
the frames still come from the directory that was opened. To serve frames from a new directory,
restart the process.

>>> import tempfile
>>> root = ImageRoot.open(tempfile.mkdtemp())
>>> root.fd >= 0, root.path.is_absolute()
(True, True)
>>> ImageRoot.open("/nonexistent/frames")
Traceback (most recent call last):
...
streams.errors.ConfigError: LINEWATCH_INGEST__IMAGE_ROOTS: cannot open /nonexistent/frames ...
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path, PurePosixPath

from streams.errors import ConfigError

__all__ = ["ImageRoot"]

_DIR_FLAGS = (
    getattr(os, "O_PATH", os.O_RDONLY)  # a handle for openat only: no read access needed
    | getattr(os, "O_DIRECTORY", 0)
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
)
"""How a root and every folder under it are opened: a directory, never through a symlink."""


class ImageRoot:
    """One image root: its path(s), for matching URIs, and its open directory descriptor.

    ``names`` are the spellings a URI may start with: the folder as configured and as resolved.
    The descriptor is closed when the object is collected (roots live as long as the process).
    """

    __slots__ = ("fd", "names", "path")

    def __init__(self, path: Path, fd: int, names: tuple[PurePosixPath, ...]) -> None:
        self.path = path
        self.fd = fd
        self.names = names

    @classmethod
    def open(cls, folder: str | Path) -> ImageRoot:
        """Resolve the operator's ``folder`` and open it; :class:`ConfigError` if it cannot be."""
        text = os.fspath(folder)
        if "\x00" in text or not text.startswith("/"):
            raise ConfigError(
                f"LINEWATCH_INGEST__IMAGE_ROOTS: {text!r} is not an absolute folder path; "
                "list absolute folders, e.g. '[\"/data/frames\"]'"
            )
        resolved = Path(os.path.realpath(text))  # the operator's path, not an event's
        try:
            fd = os.open(resolved, _DIR_FLAGS)
        except OSError as exc:
            raise ConfigError(
                f"LINEWATCH_INGEST__IMAGE_ROOTS: cannot open {text} as a folder "
                f"({exc.strerror}); create it, or remove it from the list"
            ) from exc
        names = tuple(dict.fromkeys((PurePosixPath(text), PurePosixPath(resolved))))
        return cls(resolved, fd, names)

    def relative_parts(self, path: PurePosixPath) -> tuple[str, ...] | None:
        """The components of ``path`` below this root (``()`` for the root), or None if
        ``path`` does not start with one of its names.

        >>> root = ImageRoot(Path("/data/frames"), -1, (PurePosixPath("/data/frames"),))
        >>> root.relative_parts(PurePosixPath("/data/frames/cam-1/a.png"))
        ('cam-1', 'a.png')
        >>> root.relative_parts(PurePosixPath("/data/framesX/a.png")) is None
        True
        """
        for name in self.names:
            if path.parts[: len(name.parts)] == name.parts:
                return path.parts[len(name.parts) :]
        return None

    def __repr__(self) -> str:
        return f"ImageRoot({str(self.path)!r})"

    def __del__(self) -> None:
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = -1
