"""Parsing and masking of store DSNs: ``chdb://PATH`` (embedded) or ``http(s)://…`` (server).

>>> d = parse_dsn("https://ops:s3cret@ch.plant.local:8443/linewatch")
>>> (d.kind, d.host, d.port, d.username, d.secure)
('http', 'ch.plant.local', 8443, 'ops', True)
>>> d.masked
'https://ops:***@ch.plant.local:8443/linewatch'
>>> parse_dsn("http://ops:p/w#?@:%25x@ch:8123").password
'p/w#?@:%x'
>>> parse_dsn("chdb:///var/lib/linewatch").path
PosixPath('/var/lib/linewatch')
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

from streams.errors import ConfigError

__all__ = ["DATABASE", "StoreDsn", "has_password", "mask_dsn", "parse_dsn"]

DATABASE = "linewatch"
"""The database every DDL file creates its tables in."""

_HTTP_DEFAULT_PORTS = {"http": 8123, "https": 8443}


@dataclass(frozen=True)
class StoreDsn:
    """A parsed store DSN; ``masked`` is safe to print."""

    kind: Literal["chdb", "http"]
    masked: str
    path: Path | None = None
    host: str = ""
    port: int = 0
    username: str = "default"
    password: str = field(default="", repr=False)
    secure: bool = False


_HOST_AFTER_AT = re.compile(r"[A-Za-z0-9._\-\[\]:]*(?:[/?#].*)?", re.DOTALL)
_HOST_NAME = re.compile(r"[A-Za-z0-9._\-]+|[0-9A-Fa-f:.%A-Za-z]*:[0-9A-Fa-f:.%A-Za-z]*")
_NOT_A_PORT = re.compile(r"^([^:/?#\[\]]*):(?![0-9]*(?:[/?#]|$))[^/?#]*")
_SECRET_PARAM = re.compile(r"(?i)\b(password|passwd|pwd|secret|token)=([^&#\s]*)")


def _split_userinfo(rest: str) -> tuple[str | None, str]:
    """``user:password`` and the rest of a DSN after ``scheme://``.

    The password may hold any character, ``@``, ``/``, ``#``, ``?``, ``:`` and ``%`` included,
    so the user information ends at the *last* ``@`` that is followed by a host name, not at
    the first ``/`` as in a strict URL. Percent-escapes (``%40``) are decoded later.
    """
    at = len(rest)
    while (at := rest.rfind("@", 0, at)) >= 0:
        if _HOST_AFTER_AT.fullmatch(rest, at + 1):
            return rest[:at], rest[at + 1 :]
    return None, rest


_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")


def mask_dsn(dsn: str) -> str:
    """The DSN with any password replaced by ``***``: the one masking function of linewatch.

    Every log line, error and command output that shows a DSN goes through it. It never fails
    open: whether the DSN parses or not, everything from the first ``:`` of the user
    information (after ``://``) to the *last* ``@`` is replaced, so a password holding ``@ : /
    # ? %`` or a host that is no host name (spaces, commas, ``!``) shows nothing of the password.

    >>> mask_dsn("http://u:pw@h:8123")
    'http://u:***@h:8123'
    >>> mask_dsn("https://ops:a/b#c?d@e:f%@ch:8443/linewatch")
    'https://ops:***@ch:8443/linewatch'
    >>> mask_dsn("http://linewatch:TopSecret9@127.0.0.1 :8123/linewatch")
    'http://linewatch:***@127.0.0.1 :8123/linewatch'
    >>> mask_dsn("u:pw@h:8123")
    'u:***@h:8123'
    >>> mask_dsn("http://h:8123/linewatch?password=pw&x=1")
    'http://h:8123/linewatch?password=***&x=1'
    >>> mask_dsn("chdb://.linewatch/store")
    'chdb://.linewatch/store'

    With no ``@`` at all, what follows a ``:`` of the host part that is no port (a password
    whose ``@host`` was forgotten) is masked too:

    >>> mask_dsn("http://ops:TopSecret9"), mask_dsn("http://[::1]:8123/linewatch")
    ('http://ops:***', 'http://[::1]:8123/linewatch')
    """
    found = _SCHEME.match(dsn)  # a scheme is a token; a "://" later in the text is no scheme
    scheme, sep, rest = (found[1], "://", dsn[found.end() :]) if found else ("", "", dsn)
    userinfo, at, hostpart = rest.rpartition("@")
    if at and ":" in userinfo:
        rest = f"{userinfo.split(':', 1)[0]}:***@{hostpart}"
    elif not at:
        rest = _NOT_A_PORT.sub(r"\1:***", rest)
    rest = _SECRET_PARAM.sub(r"\1=***", rest)
    return f"{scheme}{sep}{rest}"


def has_password(dsn: str) -> bool:
    """Whether ``dsn`` carries a secret (a password or a ``password=`` parameter).

    >>> has_password("http://u:pw@h:8123"), has_password("http://u@h"), has_password("chdb://x")
    (True, False, False)
    """
    return mask_dsn(dsn) != dsn


def parse_dsn(dsn: str, *, cwd: Path | None = None) -> StoreDsn:
    """Parse a store DSN; relative ``chdb://`` paths resolve against ``cwd`` (default: the cwd).

    ``chdb://rel/dir`` and ``chdb:///abs/dir`` are both paths (the netloc is *not* a host).
    An http(s) DSN may name the database ``linewatch`` or none; the DDL fixes it.
    """
    masked = mask_dsn(dsn)
    scheme, sep, rest = dsn.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in ("chdb", "http", "https"):
        raise ConfigError(
            f"unsupported store DSN {masked!r}: use chdb://PATH (embedded) or "
            "http(s)://user:password@host:port/linewatch (ClickHouse server)"
        )
    if scheme == "chdb":
        return _parse_chdb(rest, masked, cwd)
    return _parse_http(scheme, rest, masked)


def _parse_chdb(rest: str, masked: str, cwd: Path | None) -> StoreDsn:
    """``chdb://`` + ``rest``: the store's directory, resolved against ``cwd``."""
    raw = rest.split("?", 1)[0]
    if not raw or raw in ("memory", ":memory:"):
        raise ConfigError(
            f"store DSN {masked!r} names no directory: use chdb://PATH, e.g. "
            "chdb://.linewatch/store (in-memory chDB stores are not supported)"
        )
    path = Path(raw).expanduser()
    if not path.is_absolute():
        path = (cwd or Path.cwd()) / path
    return StoreDsn(kind="chdb", masked=masked, path=path.resolve())


def _parse_http(scheme: str, rest: str, masked: str) -> StoreDsn:
    """``http(s)://`` + ``rest``: a server's host, port, user and password."""
    userinfo, hostpart = _split_userinfo(rest)
    bad_host = ConfigError(
        f"store DSN {masked!r} names no valid host and port: use "
        "http(s)://user@host:port/linewatch with a host of letters, digits, '.' and '-' (an IPv6 "
        "address in brackets, e.g. [::1]:8123), a port from 1 to 65535, and the password in "
        "LINEWATCH_STORE__PASSWORD"
    )
    if userinfo is None and "@" in rest:
        raise bad_host
    try:  # the exception's text may quote the DSN (a password): it is not shown
        parts = urlsplit(f"{scheme}://{hostpart}")
        hostname, port_given = parts.hostname, parts.port
    except ValueError:
        raise bad_host from None
    if hostname and not _HOST_NAME.fullmatch(hostname):
        raise bad_host
    user, _, password = (userinfo or "").partition(":")
    database = parts.path.strip("/")
    if database not in ("", DATABASE):
        raise ConfigError(
            # the path is not quoted: in a DSN that does not parse as intended it may hold
            # part of the password
            f"store DSN {masked!r} names a database other than {DATABASE!r}, where linewatch's "
            f"tables live: end the DSN with /{DATABASE} or with the port"
        )
    if not hostname:
        raise ConfigError(f"store DSN {masked!r} names no host: use http(s)://host:port")
    port = port_given or _HTTP_DEFAULT_PORTS[scheme]
    return StoreDsn(
        kind="http",
        masked=masked,
        host=hostname,
        port=port,
        username=unquote(user) if user else "default",
        password=unquote(password),
        secure=scheme == "https",
    )
