"""Read ``file://`` frames from the folders the operator allowed, and nothing else.

- ``image_uri_refused``: a ``file://`` frame that may not be read:
  ``LINEWATCH_INGEST__IMAGE_ROOTS`` is empty (the default), the URI does not parse, its path lies
  outside those folders or holds ``..``, a symlink lies on the way from the root (symlinks under
  a root are never followed), the URI has a host, or the target is not a regular file (FIFO,
  device, directory);
- ``image_too_large``: a file larger than ``LINEWATCH_INGEST__MAX_IMAGE_BYTES``;
- ``image_unreadable``: an allowed file that cannot be opened or read.

These details never carry the file's size or bytes.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Sequence
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

from streams.errors import EventRejected
from streams.ingest.limits import IngestLimits
from streams.ingest.roots import ImageRoot

__all__ = ["file_encoding", "read_image_file"]

_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)  # a FIFO opens at once instead of waiting for a writer
    | getattr(os, "O_NOFOLLOW", 0)  # a symlink is refused (ELOOP), never followed
    | getattr(os, "O_CLOEXEC", 0)
)
_DIR_FLAGS = (
    getattr(os, "O_PATH", os.O_RDONLY)
    | getattr(os, "O_DIRECTORY", 0)
    | getattr(os, "O_NOFOLLOW", 0)  # a symlink in place of a folder is refused (ENOTDIR)
    | getattr(os, "O_CLOEXEC", 0)
)
_NOT_FOLLOWED = (errno.ELOOP, errno.ENOTDIR)


def _refuse(uri: str, why: str) -> EventRejected:
    return EventRejected("image_uri_refused", f"{uri[:200]}: {why}")


def _allowed_parts(uri: str, limits: IngestLimits) -> tuple[ImageRoot, tuple[str, ...]]:
    """The image root a ``file://`` URI names and the path components below it.

    The URI's path is matched as written: nothing is resolved on the file system here (the walk
    of :func:`_open_under` follows no symlink), and a ``..`` component is refused.
    """
    if not limits.image_roots:
        raise _refuse(
            uri,
            "file:// frames are off; list the folders they may be read from in "
            "LINEWATCH_INGEST__IMAGE_ROOTS (a JSON list, e.g. '[\"/data/frames\"]'), or send the "
            "image inline as base64 data",
        )
    try:
        parts = urlsplit(uri)
    except ValueError as exc:  # e.g. 'file://[x/a.png': an unclosed IPv6 bracket
        raise _refuse(uri, f"not a valid URI ({exc}); write file:///absolute/path") from exc
    if parts.scheme != "file":
        raise _refuse(uri, "only file:// URIs are supported")
    if parts.netloc:
        raise _refuse(uri, f"has a host part {parts.netloc[:60]!r}; write file:///absolute/path")
    if parts.query or parts.fragment:
        raise _refuse(uri, "a file URI takes no query or fragment")
    raw = unquote(parts.path)
    if "\x00" in raw or not raw.startswith("/"):
        raise _refuse(uri, "the path must be absolute and must not contain NUL")
    path = PurePosixPath(raw)  # '.' and empty components dropped; '..' kept, and refused
    if ".." in path.parts:
        raise _refuse(uri, "'..' is not allowed in a frame path; write it from the image root down")
    for root in limits.image_roots:
        below = root.relative_parts(path)
        if below is not None:
            return root, below
    raise _refuse(uri, "lies outside the folders listed in LINEWATCH_INGEST__IMAGE_ROOTS")


def _open_under(root_fd: int, parts: Sequence[str]) -> int:
    """Open ``parts`` one component at a time below the open directory ``root_fd``.

    Every folder is opened with ``openat(O_DIRECTORY | O_NOFOLLOW)`` relative to the one above
    it and the file with ``O_NOFOLLOW``: a symlink anywhere below the root fails the open
    (``ELOOP`` / ``ENOTDIR``), whenever it was swapped in. No parts: a copy of ``root_fd``.
    """
    if not parts:
        return os.dup(root_fd)
    fd = root_fd
    try:
        for part in parts[:-1]:
            inner = os.open(part, _DIR_FLAGS, dir_fd=fd)
            if fd != root_fd:
                os.close(fd)
            fd = inner
        return os.open(parts[-1], _OPEN_FLAGS, dir_fd=fd)
    finally:
        if fd != root_fd:
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

    The file is opened relative to its root's open descriptor, following no symlink; its size
    is checked on the opened descriptor and the read is bounded by it.
    """
    root, parts = _allowed_parts(uri, limits)
    try:
        fd = _open_under(root.fd, parts)
    except OSError as exc:
        if exc.errno in _NOT_FOLLOWED:
            raise _refuse(
                uri,
                "a symlink (or a file where a folder should be) on the way; symlinks under an "
                "image root are not followed: list their target folder in "
                "LINEWATCH_INGEST__IMAGE_ROOTS and write the URI under it",
            ) from exc
        raise EventRejected("image_unreadable", f"cannot open {uri[:200]}: {exc.strerror}") from exc
    except ValueError as exc:  # a name the OS cannot take (NUL is refused before)
        raise EventRejected.failed("image_unreadable", f"opening {uri[:200]}", exc) from exc
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
    suffix = PurePosixPath(uri.partition("?")[0]).suffix.lower()
    if suffix == ".png":
        return "png"
    if suffix in (".jpg", ".jpeg"):
        return "jpeg"
    return "png" if data.startswith(b"\x89PNG") else "jpeg"
