"""What every settings group shares: the variable names, the NUL check, the frozen base model."""

from __future__ import annotations

import re
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    SecretStr,
    field_validator,
)

__all__ = ["ENV_PREFIX", "NESTED_DELIMITER", "env_name"]

ENV_PREFIX = "LINEWATCH_"
"""Every setting ``<group>.<name>`` is read from ``LINEWATCH_<GROUP>__<NAME>``."""

NESTED_DELIMITER = "__"
"""Separates the group from the setting's name in a variable."""

_TOPIC_NAME = re.compile(r"[A-Za-z0-9._-]{1,249}")


def env_name(group: str, name: str | None = None) -> str:
    """The variable of setting ``group.name`` (or of a whole group, given as JSON).

    >>> env_name("store", "dsn"), env_name("readiness")
    ('LINEWATCH_STORE__DSN', 'LINEWATCH_READINESS')
    """
    if name is None:
        return f"{ENV_PREFIX}{group.upper()}"
    return f"{ENV_PREFIX}{group.upper()}{NESTED_DELIMITER}{name.upper()}"


def _nul_free(value: Any) -> Any:
    r"""``value`` unchanged, or a ``ValueError`` if any text in it holds a NUL character (no
    path, host, topic or name can: the OS and every protocol stop at it).

    >>> _nul_free(["/data", {"k": "v"}])
    ['/data', {'k': 'v'}]
    >>> _nul_free(["/data\x00/x"])
    Traceback (most recent call last):
    ...
    ValueError: holds a NUL character (\x00); no path or name can hold one: remove it
    """
    texts = [value]
    while texts:
        item = texts.pop()
        if isinstance(item, SecretStr):
            item = item.get_secret_value()
        if isinstance(item, str | bytes) and (
            "\x00" in item if isinstance(item, str) else b"\0" in item
        ):
            raise ValueError(
                "holds a NUL character (\\x00); no path or name can hold one: remove it"
            )
        if isinstance(item, dict):
            texts.extend(item.keys())
            texts.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            texts.extend(item)
    return value


class _Checked(BaseModel):
    """A model whose every field is refused when any text in it holds a NUL character."""

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        return _nul_free(value)


class _Group(_Checked):
    """A group of settings: frozen, finite floats, unknown names refused (typos), no NUL."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)
