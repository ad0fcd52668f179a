"""The table of every ``LINEWATCH_*`` variable, generated from :class:`~streams.config.Settings`.

``docs/configuration.md`` is this module's output (``make config-doc`` or
``python -m streams.config_doc --write``); a test fails when it is out of date.

>>> "| `LINEWATCH_STORE__DSN` |" in render_markdown()
True
"""

from __future__ import annotations

import argparse
import json
import sys
import types
import typing
from pathlib import Path
from typing import Any

from annotated_types import Ge, Gt, Le, Lt, MinLen
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined, to_jsonable_python

from streams.config import GROUPS, LineConfig, Settings, env_name

__all__ = ["DOC_PATH", "render_markdown"]

DOC_PATH = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"
"""Where the generated table lives in a source checkout."""

_HEADER = """\
# Configuration

<!-- Generated from streams/config_groups/ by `make config-doc`; do not edit by hand. -->

linewatch reads one settings object from `LINEWATCH_*` environment variables, grouped by concern:
setting `name` of group `group` is read from `LINEWATCH_<GROUP>__<NAME>` (two underscores), e.g.
`LINEWATCH_STORE__DSN`, `LINEWATCH_WORKER__TAKE_MAX_EVENTS`. Lists and mappings are JSON
(`LINEWATCH_INFERENCE__REVIEW_BAND='[0.15, 0.5]'`). Floats must be finite. A name a group does not
have (a typo such as `LINEWATCH_CHECKPOINT__FLUSHROWS`) is refused. Command-line options (`--store`,
`--model`, ...) override the variable of the same setting and are checked the same way. An invalid
value stops every command with one `error:` line naming the variable, the value and what is
allowed (exit status 2). Secrets (passwords, the password in a store DSN) are never shown.
Every group may also be given whole, as one JSON object in `LINEWATCH_<GROUP>` (e.g.
`LINEWATCH_READINESS='{"max_fpr": 0.05}'`); a `__` variable of the same group overrides the key it
names. Any other `LINEWATCH_*` variable names no setting: it is ignored with one log line naming
the nearest variable that does (`LINEWATCH_TIMEZONE names no setting (did you mean
LINEWATCH_PLANT__TIMEZONE?)`).

**The plant file.** Every setting can also come from `linewatch.toml` in the working directory
(or the file `LINEWATCH_CONFIG` names): one TOML table per group, a key per setting, e.g.
`[plant]` with `timezone = "Europe/Berlin"`, `[[plant.shifts]]` entries with `name` and
`start = "06:00"`, and `[plant.lines.press-a]` with `takt_units_per_minute = 90`. Environment
variables win over the file, command-line options over both. `linewatch init --lines a,b` writes a
commented one (`--model PATH` also sets `[inference] model`). A bad value in it is one `error:`
line naming the file, the table and key, and what is allowed; a table that is no group, or a key
a group does not have, is refused the same way.

Checks across variables: `LINEWATCH_PLANT__LIGHTING_BUCKET_NAMES` has one more name than
`LINEWATCH_PLANT__LUX_BUCKET_EDGES` and `LINEWATCH_PLANT__BRIGHTNESS_BUCKET_EDGES` have edges;
`LINEWATCH_INFERENCE__STORE_SCORE_FLOOR` <= `LINEWATCH_INFERENCE__OPERATING_THRESHOLD` when the
threshold is set; the `SASL_*` protocols need `LINEWATCH_KAFKA__SASL_USERNAME` and
`LINEWATCH_KAFKA__SASL_PASSWORD`, and `LINEWATCH_KAFKA__SASL_MECHANISM` needs a `SASL_*` protocol.

Checks of single variables beyond the table's bounds: the store DSN is `chdb://PATH` or
`http(s)://user:password@host:port[/linewatch]` (the password may hold any character);
bootstrap servers are `host:port` with a port in 1..65535 (an IPv6 host in brackets,
`[::1]:9092`); topic names are 1-249 of
`A-Z a-z 0-9 . _ -`; providers are onnxruntime names ending in `ExecutionProvider`; the review
band is `[low, high]` with 0 <= low < high <= 1; bucket edges increase strictly (brightness within
0..1); bucket names, shift names and shift start times are distinct; at least one line and one
shift; the timezone is an IANA name.
"""


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return "one of " + ", ".join(f"`{a}`" for a in args)
    if origin in (typing.Union, types.UnionType):
        parts = [_type_name(a) for a in args if a is not type(None)]
        return " or ".join(parts) + (" or unset" if type(None) in args else "")
    if origin is not None:
        inner = ", ".join(_type_name(a) for a in args)
        return f"{getattr(origin, '__name__', str(origin))}[{inner}]"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "JSON object"
    return getattr(annotation, "__name__", str(annotation))


def _bounds(info: FieldInfo) -> str:
    parts: list[str] = []
    for item in info.metadata:
        if isinstance(item, Gt):
            parts.append(f"> {item.gt}")
        elif isinstance(item, Ge):
            parts.append(f">= {item.ge}")
        elif isinstance(item, Lt):
            parts.append(f"< {item.lt}")
        elif isinstance(item, Le):
            parts.append(f"<= {item.le}")
        elif isinstance(item, MinLen):
            parts.append("not empty")
    return ", ".join(parts)


def _default(info: FieldInfo) -> str:
    if info.default_factory is not None:
        value = info.default_factory()  # type: ignore[call-arg]
    elif info.default is PydanticUndefined:
        return "required"
    else:
        value = info.default
    if value is None:
        return "unset"
    value = to_jsonable_python(value)  # models, datetimes, paths... as JSON-ready values
    text = json.dumps(value) if not isinstance(value, str) else value
    return f"`{text}`".replace("|", "\\|")


def _cell(text: str | None) -> str:
    return (text or "").replace("|", "\\|").replace("\n", " ")


def _rows(model: type[BaseModel]) -> list[str]:
    """The keys of a JSON object: key, type, allowed, default, description."""
    lines = [
        "| key | type | allowed | default | description |",
        "| --- | --- | --- | --- | --- |",
    ]
    for field, info in model.model_fields.items():
        lines.append(
            f"| `{field}` | {_cell(_type_name(info.annotation))} | "
            f"{_cell(_bounds(info))} | {_default(info)} | {_cell(info.description)} |"
        )
    return lines


def _variables() -> list[str]:
    """One row per variable of every group."""
    lines = [
        "| variable | group | type | allowed | default | description |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for group in Settings.model_fields:
        model = GROUPS[group]
        for field, leaf in model.model_fields.items():
            lines.append(
                f"| `{env_name(group, field)}` | `{group}` | "
                f"{_cell(_type_name(leaf.annotation))} | {_cell(_bounds(leaf))} | "
                f"{_default(leaf)} | {_cell(leaf.description)} |"
            )
    return lines


def render_markdown() -> str:
    """The whole ``docs/configuration.md``."""
    out = [_HEADER, "## Groups", "", "| group | variables | what |", "| --- | --- | --- |"]
    for group, info in Settings.model_fields.items():
        out.append(f"| `{group}` | `{env_name(group)}__*` | {_cell(info.description)} |")
    out += ["", "## Variables", ""]
    out += _variables()
    out += [
        "",
        "## Keys of each line in `LINEWATCH_PLANT__LINES` (JSON object of line id to these)",
        "",
    ]
    out += _rows(LineConfig)
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Print the table, or ``--write`` it to ``docs/configuration.md``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--write", action="store_true", help=f"write {DOC_PATH}")
    args = parser.parse_args(argv)
    text = render_markdown()
    if args.write:
        DOC_PATH.write_text(text, encoding="utf-8")
        print(f"wrote {DOC_PATH}")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
