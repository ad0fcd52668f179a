"""The plant file: ``linewatch.toml`` in the working directory, or the file ``LINEWATCH_CONFIG``
names, holding any settings group as a TOML table (``[plant]``, ``[inference]``, ...).

It is the lowest-priority source of :class:`streams.config.Settings`: command-line options win
over ``LINEWATCH_<GROUP>__<NAME>`` variables, which win over the file, which wins over the
defaults. :func:`plant_file_text` is what ``linewatch init`` writes: the lines it is given, the
default shifts, lighting buckets and time zone, and the verdict's thresholds, each commented.

>>> import tempfile
>>> folder = Path(tempfile.mkdtemp())
>>> _ = (folder / "linewatch.toml").write_text(plant_file_text(["press-a", "press-b"]))
>>> sorted(read_plant_file(folder / "linewatch.toml")["plant"]["lines"])
['press-a', 'press-b']
"""

from __future__ import annotations

import json
import os
import re
import textwrap
import tomllib
from collections.abc import Mapping, Sequence
from datetime import time
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from streams.config_groups import GROUPS, PlantSettings, ReadinessCriteria
from streams.errors import InvalidSettings

__all__ = [
    "CONFIG_VARIABLE",
    "DEFAULT_FILE",
    "PlantFileSource",
    "plant_file_path",
    "plant_file_text",
    "plant_file_values",
    "read_plant_file",
]

CONFIG_VARIABLE = "LINEWATCH_CONFIG"
DEFAULT_FILE = "linewatch.toml"
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def plant_file_path(environ: Mapping[str, str] | None = None) -> Path | None:
    """The plant file in use: ``$LINEWATCH_CONFIG`` (which must exist), else ``./linewatch.toml``
    if there is one, else ``None``."""
    env = os.environ if environ is None else environ
    given = env.get(CONFIG_VARIABLE)
    if given:
        path = Path(given).expanduser()
        if not path.is_file():
            raise InvalidSettings(
                f"{CONFIG_VARIABLE}={given!r} is invalid: no such file; point it at a plant "
                f"file (`linewatch init --lines LINE,...` writes one) or unset it"
            )
        return path
    local = Path.cwd() / DEFAULT_FILE
    return local if local.is_file() else None


def read_plant_file(path: Path) -> dict[str, Any]:
    """The file's settings as ``{group: {name: value}}``; a file that is not TOML, holds a key
    outside a table, or a table that is no settings group is one :class:`InvalidSettings` line
    naming the file, the key and what is allowed."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InvalidSettings(f"{path}: not valid TOML ({exc})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidSettings(f"{path}: cannot be read ({exc})") from None
    tables = ", ".join(f"[{g}]" for g in GROUPS)
    for key, value in data.items():
        if key not in GROUPS:
            raise InvalidSettings(
                f"{path}: [{key}] is not a settings group; the groups are {tables}"
            )
        if not isinstance(value, dict):
            raise InvalidSettings(
                f"{path}: {key} = ... must be a table ([{key}] with its settings below it); "
                f"the groups are {tables}"
            )
    return data


def plant_file_values(
    environ: Mapping[str, str] | None = None,
) -> tuple[Path | None, dict[str, Any]]:
    """The plant file and its settings, or ``(None, {})`` without one or when it is unusable
    (for naming where a bad value came from; reading it for real raises)."""
    try:
        path = plant_file_path(environ)
        return (path, read_plant_file(path)) if path is not None else (None, {})
    except InvalidSettings:
        return None, {}


class PlantFileSource(PydanticBaseSettingsSource):
    """The plant file as a pydantic-settings source (below the environment in priority)."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        self.path = plant_file_path()

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # the whole file is read at once in __call__

    def __call__(self) -> dict[str, Any]:
        return {} if self.path is None else read_plant_file(self.path)


def _toml(value: Any) -> str:
    """A TOML value for a plain Python value (strings, numbers, times, lists of them).

    >>> _toml([0.18, 0.3]), _toml("UTC"), _toml(time(6, 0)), _toml(None)
    ('[0.18, 0.3]', '"UTC"', '"06:00"', '')
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, time):
        return json.dumps(value.strftime("%H:%M"))
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return repr(value)


def _key(name: str) -> str:
    return name if _BARE_KEY.match(name) else json.dumps(name)


def _described(model: type[Any], name: str, value: Any, *, commented: bool = False) -> list[str]:
    info = model.model_fields[name]
    lines = [f"# {part}" for part in textwrap.wrap(info.description or "", 96)]
    shown = _toml(value)
    if commented or not shown:
        lines.append(f"# {name} = {shown or '...'}")
    else:
        lines.append(f"{name} = {shown}")
    return lines


def plant_file_text(
    lines: Sequence[str], *, takt_units_per_minute: float = 60.0, model: str | None = None
) -> str:
    """A commented ``linewatch.toml`` for ``lines`` with every other value at its default;
    ``model`` (a path) set under ``[inference]`` when given.

    >>> [ln for ln in plant_file_text(["a"], model="/m/yours.onnx").splitlines()
    ...  if ln.startswith("model")]
    ['model = "/m/yours.onnx"']
    """
    if not lines or any(not line.strip() for line in lines) or len(set(lines)) != len(lines):
        raise InvalidSettings(
            "--lines needs one or more distinct, non-empty line ids, e.g. --lines press-a,press-b"
        )
    plant = PlantSettings(
        lines={line: {"takt_units_per_minute": takt_units_per_minute} for line in lines}
    )
    criteria = ReadinessCriteria()
    out = [
        f"# {DEFAULT_FILE}: this plant's settings. Every linewatch command run in this",
        f"# directory reads it (elsewhere: {CONFIG_VARIABLE}=/path/to/{DEFAULT_FILE}).",
        "# A LINEWATCH_<GROUP>__<NAME> environment variable wins over the same setting here; a",
        "# command-line option wins over both. Any settings group may be a table here:",
        "# docs/configuration.md lists every one.",
        "",
        "[plant]",
        *_described(PlantSettings, "timezone", plant.timezone),
        *_described(PlantSettings, "lux_bucket_edges", plant.lux_bucket_edges),
        *_described(PlantSettings, "brightness_bucket_edges", plant.brightness_bucket_edges),
        *_described(PlantSettings, "lighting_bucket_names", plant.lighting_bucket_names),
        "",
        "# Work shifts: name and local start time (HH:MM), one [[plant.shifts]] each.",
    ]
    for shift in plant.shifts:
        out += ["[[plant.shifts]]", f"name = {_toml(shift.name)}", f"start = {_toml(shift.start)}"]
    out += [
        "",
        "# The camera lines, by line_id: events of any other line are dead-lettered "
        "(unknown_line).",
    ]
    for line, config in plant.lines.items():
        out += [f"[plant.lines.{_key(line)}]"]
        out += _described(type(config), "takt_units_per_minute", config.takt_units_per_minute)
        out += _described(type(config), "frames_per_second", 2.0, commented=True)
        out += _described(type(config), "cameras", [f"{line}-cam-1"], commented=True)
    out += ["", "[inference]"]
    out += _described(
        GROUPS["inference"], "model", model or "/models/plant.onnx", commented=model is None
    )
    out += _described(GROUPS["inference"], "operating_threshold", 0.5, commented=True)
    out += ["", "[readiness]"]
    for name in ReadinessCriteria.model_fields:
        out += _described(ReadinessCriteria, name, getattr(criteria, name))
    return "\n".join(out) + "\n"
