"""Read ``file://`` frames from the folders the operator allowed, and nothing else.

- ``image_uri_refused``: a ``file://`` frame that may not be read:
  ``LINEWATCH_INGEST__IMAGE_ROOTS`` is empty (the default), the path resolves outside those
  folders, the URI has a host, or the target is not a regular file (FIFO, device, directory);
- ``image_too_large``: a file larger than ``LINEWATCH_INGEST__MAX_IMAGE_BYTES``;
- ``image_unreadable``: an allowed file that cannot be opened or read.

These details never carry the file's size or bytes.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from urllib.parse import unquote, urlsplit

from streams.errors import EventRejected
from streams.ingest.limits import IngestLimits

__all__ = ["file_encoding", "read_image_file"]

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)  # the resolved path must not have become a symlink
_DIR_FLAGS = getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)  # a FIFO opens at once instead of waiting for a writer
    | _NOFOLLOW
    | getattr(os, "O_CLOEXEC", 0)
)


def _refuse(uri: str, why: str) -> EventRejected:
    return EventRejected("image_uri_refused", f"{uri[:200]}: {why}")


def _allowed_path(uri: str, limits: IngestLimits) -> tuple[Path, Path]:
    """The image root and resolved path of a ``file://`` URI that lies under that root."""
    if not limits.image_roots:
        raise _refuse(
            uri,
            "file:// frames are off; list the folders they may be read from in "
            "LINEWATCH_INGEST__IMAGE_ROOTS (a JSON list, e.g. '[\"/data/frames\"]'), or send the "
            "image "
            "inline as base64 data",
        )
    parts = urlsplit(uri)
    if parts.scheme != "file":
        raise _refuse(uri, "only file:// URIs are supported")
    if parts.netloc:
        raise _refuse(uri, f"has a host part {parts.netloc[:60]!r}; write file:///absolute/path")
    if parts.query or parts.fragment:
        raise _refuse(uri, "a file URI takes no query or fragment")
    raw = unquote(parts.path)
    if "\x00" in raw or not raw.startswith("/"):
        raise _refuse(uri, "the path must be absolute and must not contain NUL")
    resolved = Path(os.path.realpath(raw))  # symlinks and '..' resolved before the check
    for root in limits.image_roots:
        if resolved.is_relative_to(root):
            return root, resolved
    raise _refuse(uri, "resolves outside the folders listed in LINEWATCH_INGEST__IMAGE_ROOTS")


def _open_under(root: Path, path: Path) -> int:
    """Open ``path`` one component at a time from ``root``, following no symlink on the way.

    ``path`` was resolved (no symlinks) when it was checked; walking it with ``O_NOFOLLOW``
    makes sure no component was swapped for a symlink since.
    """
    parts = path.relative_to(root).parts
    fd = os.open(root, os.O_RDONLY | _DIR_FLAGS)
    try:
        for part in parts[:-1]:
            inner = os.open(part, os.O_RDONLY | _DIR_FLAGS | _NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = inner
        if not parts:  # the root itself: a directory, refused after fstat
            return os.dup(fd)
        return os.open(parts[-1], _OPEN_FLAGS, dir_fd=fd)
    finally:
        os.close(fd)


def _file_kind(mode: int) -> str:
    for test, what in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return what
    return "not a regular file"


def read_image_file(uri: str, limits: IngestLimits) -> bytes:
    """The bytes of an allowed ``file://`` frame: a regular file, read without blocking.

    The size is checked on the opened descriptor and the read is bounded by it.
    """
    root, path = _allowed_path(uri, limits)
    try:
        fd = _open_under(root, path)
    except OSError as exc:
        raise EventRejected("image_unreadable", f"cannot open {uri[:200]}: {exc.strerror}") from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _refuse(uri, f"{_file_kind(st.st_mode)}; only regular files are read")
        if st.st_size > limits.max_image_bytes:
            raise EventRejected(
                "image_too_large",
                f"{uri[:200]} is larger than "
                f"LINEWATCH_INGEST__MAX_IMAGE_BYTES={limits.max_image_bytes}",
            )
        chunks: list[bytes] = []
        left = st.st_size
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    except OSError as exc:
        raise EventRejected("image_unreadable", f"cannot read {uri[:200]}: {exc.strerror}") from exc
    finally:
        os.close(fd)


def file_encoding(uri: str, data: bytes) -> str:
    """The encoding of a ``file://`` frame: by its suffix, else by its first bytes.

    >>> file_encoding("file:///f/a.PNG", b""), file_encoding("file:///f/a", b"\\x89PNG...")
    ('png', 'png')
    """
    path = urlsplit(uri).path
    suffix = Path(path).suffix.lower()
    if suffix == ".png":
        return "png"
    if suffix in (".jpg", ".jpeg"):
        return "jpeg"
    return "png" if data.startswith(b"\x89PNG") else "jpeg"
