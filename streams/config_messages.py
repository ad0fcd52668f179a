"""One line for an invalid configuration: for each problem the variable (or the plant file's
key), the value (secrets hidden, DSNs masked, long values cut) and what is allowed, and for a
name a group does not have, where a setting of that name lives."""

from __future__ import annotations

import difflib
import json
import os
import re
import types
import typing
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, SecretStr, ValidationError
from pydantic.fields import FieldInfo

from streams.config_file import plant_file_values
from streams.config_groups import GROUPS, NESTED_DELIMITER, env_name
from streams.errors import InvalidSettings

__all__ = ["settings_error"]

_SHOWN_VALUE_CHARS = 120


def _is_complex(info: FieldInfo) -> bool:
    """Whether a setting is given as JSON (lists, tuples, mappings, models), e.g. review_band.

    >>> from streams.config_groups import InferenceSettings
    >>> _is_complex(InferenceSettings.model_fields["providers"])
    True
    >>> _is_complex(InferenceSettings.model_fields["threads"])
    False
    """
    kinds = [info.annotation]
    if typing.get_origin(info.annotation) in (typing.Union, types.UnionType):
        kinds = [a for a in typing.get_args(info.annotation) if a is not type(None)]
    return any(
        typing.get_origin(kind) in (list, tuple, dict)
        or (isinstance(kind, type) and issubclass(kind, BaseModel))
        for kind in kinds
    )


def _shown(field: tuple[str, str], value: Any) -> str:
    """A value for an error message: secrets hidden, DSNs masked, long values cut.

    Only a DSN is masked as one: a Kafka bootstrap ``host:abc`` is no ``user:password``.

    >>> _shown(("kafka", "bootstrap"), "host:abc"), _shown(("store", "dsn"), "ftp://u:pw@h")
    ("'host:abc'", "'ftp://u:***@h'")
    >>> _shown(("kafka", "sasl_password"), "pw"), _shown(("store", "password"), None)
    ("'***'", "'***'")
    """
    from streams.sinks.dsn import mask_dsn

    if isinstance(value, SecretStr) or field in _SECRET_FIELDS:
        return "'***'"
    text = mask_dsn(value) if field in _DSN_FIELDS and isinstance(value, str) else value
    shown = repr(text) if isinstance(text, str) else str(text)
    if len(shown) > _SHOWN_VALUE_CHARS:
        shown = shown[: _SHOWN_VALUE_CHARS - 1] + "…"
    return shown


def _given(given: Mapping[str, Any], group: str, name: str) -> bool:
    values = given.get(group)
    if isinstance(values, Mapping):
        return name in values
    return values is not None


def _problem(error: Any, given: Mapping[str, Any], environ: Mapping[str, str]) -> str:
    loc = [str(part) for part in error.get("loc", ())]
    message = str(error.get("msg", "invalid value"))
    message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if len(loc) < 2 or loc[0] not in GROUPS:  # a check across fields names the variables
        return message
    group, name, inner = loc[0], loc[1], loc[2:]
    variable = env_name(group, name)
    shown = variable + (f" {'.'.join(inner)}" if inner else "")
    source = " (given as an option)" if _given(given, group, name) else ""
    value = _shown((group, name), error.get("input"))
    path, in_file = plant_file_values(environ)
    if not source and variable not in environ and name in in_file.get(group, {}):
        key = ".".join([name, *inner])
        if error.get("type") == "extra_forbidden" and not inner:
            return f"{path}: [{group}] " + _not_a_setting(group, name, key, in_file=True)
        return f"{path}: [{group}] {key} = {value} is invalid: {message} (or set {variable})"
    if error.get("type") == "extra_forbidden" and not inner:
        return _not_a_setting(group, name, shown + source)
    return f"{shown}={value}{source} is invalid: {message}"


def _not_a_setting(group: str, name: str, shown: str, *, in_file: bool = False) -> str:
    """A name the group does not have: where a setting of that name lives, else the nearest.

    >>> _not_a_setting("store", "flush_rows", "LINEWATCH_STORE__FLUSH_ROWS").split(": ")[1]
    'set LINEWATCH_CHECKPOINT__FLUSH_ROWS'
    >>> _not_a_setting("store", "flush_rows", "flush_rows", in_file=True)
    'flush_rows is not a setting of the [store] group: set [checkpoint] flush_rows'
    """

    def named(where: str, field: str) -> str:
        return f"[{where}] {field}" if in_file else env_name(where, field)

    label = f"[{group}]" if in_file else group
    homes = [named(other, name) for other, model in GROUPS.items() if name in model.model_fields]
    if homes:
        return f"{shown} is not a setting of the {label} group: set {' or '.join(homes)}"
    fields = sorted(GROUPS[group].model_fields)
    near = difflib.get_close_matches(name, fields, n=1, cutoff=0.6)
    hint = f"did you mean {named(group, near[0])}? " if near else ""
    return f"{shown} is not a setting; {hint}the {label} settings are {', '.join(fields)}"


def _holds_secret(info: FieldInfo) -> bool:
    """Whether a setting is a :class:`~pydantic.SecretStr` (alone or in a union with None)."""
    return SecretStr in (info.annotation, *typing.get_args(info.annotation))


_SECRET_FIELDS = frozenset(
    (group, name)
    for group, model in GROUPS.items()
    for name, info in model.model_fields.items()
    if _holds_secret(info)
)
"""Settings never shown, not even in part: every SecretStr of every group."""
_DSN_FIELDS = frozenset({("store", "dsn")})
"""Settings that are DSNs: shown with any password masked (:func:`~streams.sinks.dsn.mask_dsn`)."""


def _bad_json(group: str, environ: Mapping[str, str]) -> str:
    """The variable of ``group`` whose JSON value does not parse, or the group's own."""
    prefix = env_name(group) + NESTED_DELIMITER
    for variable, value in environ.items():
        if variable.startswith(prefix):
            try:
                json.loads(value)
            except ValueError:
                name = variable[len(prefix) :].lower().split(NESTED_DELIMITER)[0]
                info = GROUPS[group].model_fields.get(name)
                if info is not None and _is_complex(info):
                    return variable
    return env_name(group)


def settings_error(exc: Exception, *, given: Mapping[str, Any] | None = None) -> InvalidSettings:
    """One :class:`~streams.errors.InvalidSettings` line for an invalid configuration: for each
    problem the variable, the value (secrets hidden) and what is allowed.

    ``given`` are the values passed to :class:`Settings` directly (command-line options).
    """
    environ = {name.upper(): value for name, value in os.environ.items()}
    if isinstance(exc, ValidationError):
        problems = [" ".join(_problem(e, given or {}, environ).split()) for e in exc.errors()]
        return InvalidSettings("; ".join(dict.fromkeys(problems)))
    text = str(exc)
    found = re.search(r'field "([^"]+)"', text)
    if found:
        group = found.group(1)
        variable = _bad_json(group, environ) if group in GROUPS else env_name(group)
        if group in GROUPS and variable == env_name(group):
            first = next(iter(GROUPS[group].model_fields))
            return InvalidSettings(
                f"{variable} is not valid JSON: it gives the whole {group} group as one JSON "
                f"object; one setting is {env_name(group, '<name>')}, e.g. "
                f"{env_name(group, first)}"
            )
        return InvalidSettings(
            f"{variable} is not valid JSON: give lists and mappings as JSON, "
            """e.g. [0.15, 0.5] or {"line-1": {"takt_units_per_minute": 90}}"""
        )
    return InvalidSettings(f"invalid LINEWATCH_* configuration: {' '.join(text.split())}")
