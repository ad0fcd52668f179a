"""ClickHouse column types of stored fields, and what each can hold: the one place for both.

A field of a stored record (:mod:`schemas.records`) is annotated with the type of its column,
e.g. ``x1: Float32`` or ``boxes: list[list[Float32]]``. Building the record checks every value
against that type, so a value its column cannot hold fails validation *naming the field*, before
any insert (the store would refuse the whole insert, or the driver would fail to serialise it):

- ``Float32``: finite values up to ±3.4028235e38 (``inf`` and ``nan`` are representable);
  ``Float64``: any float.
- ``UInt8`` … ``Int64``: the integer range of the type.
- ``String``: text that encodes as UTF-8 (no lone surrogate, which JSON's ``\\ud800`` can carry).

``tests/test_storage_schema.py`` checks that the declared types are those of the migrated store
(``system.columns``), so the limits follow the DDL.

>>> from pydantic import BaseModel, ValidationError
>>> class Row(BaseModel):
...     x: Float32
...     n: UInt32
...     names: list[String]
>>> Row(x=1.5, n=3, names=["dent"]).x
1.5
>>> try:
...     Row(x=1e39, n=-1, names=["\\ud800"])
... except ValidationError as exc:
...     print([(e["loc"], e["msg"]) for e in exc.errors(include_input=False)])
... # doctest: +NORMALIZE_WHITESPACE
[(('x',), 'Value error, 1e+39 does not fit a Float32 column (at most ±3.4028234663852886e+38)'),
 (('n',), 'Value error, -1 does not fit a UInt32 column (0 to 4294967295)'),
 (('names', 0), 'Value error, text does not fit a String column (not UTF-8: a lone
   surrogate at 0)')]
>>> column_type(Row.model_fields["names"])
'Array(String)'
"""

from __future__ import annotations

import math
import types
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import AwareDatetime, GetCoreSchemaHandler
from pydantic.fields import FieldInfo
from pydantic_core import core_schema

__all__ = [
    "FLOAT32_MAX",
    "Bool",
    "ColumnType",
    "DateTime64",
    "Float32",
    "Float64",
    "Int64",
    "String",
    "UInt32",
    "UInt64",
    "column_type",
    "holds",
]

FLOAT32_MAX = 3.4028234663852886e38
"""The largest finite Float32."""

_INT_RANGES = {
    f"{sign}Int{bits}": (0, 2**bits - 1) if sign else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    for sign in ("", "U")
    for bits in (8, 16, 32, 64)
}


def holds(type_name: str, value: object) -> str | None:
    """Why a column of ``type_name`` cannot hold ``value``; None when it can.

    >>> holds("Float32", 3e38), holds("UInt8", 256), holds("String", "ok")
    (None, 'does not fit a UInt8 column (0 to 255)', None)
    """
    if type_name == "Float32" and isinstance(value, float):
        if math.isfinite(value) and abs(value) > FLOAT32_MAX:
            return f"does not fit a Float32 column (at most ±{FLOAT32_MAX})"
    elif type_name in _INT_RANGES and isinstance(value, int):
        low, high = _INT_RANGES[type_name]
        if not low <= value <= high:
            return f"does not fit a {type_name} column ({low} to {high})"
    elif type_name == "String" and isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            return f"does not fit a String column (not UTF-8: a lone surrogate at {exc.start})"
    return None


class ColumnType:
    """Annotation metadata: the field is stored in a column of ClickHouse type ``name``, and
    validation refuses values that column cannot hold (:func:`holds`)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def check(self, value: Any) -> Any:
        """``value`` unchanged, or ValueError saying why the column cannot hold it."""
        problem = holds(self.name, value)
        if problem is None:
            return value
        if isinstance(value, str):
            shown = "text"
        elif isinstance(value, int) and value.bit_length() > 128:
            shown = f"an integer of {value.bit_length()} bits"
        else:
            shown = repr(value)
        raise ValueError(f"{shown} {problem}")

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))

    def __repr__(self) -> str:
        return f"ColumnType({self.name!r})"


Float32 = Annotated[float, ColumnType("Float32")]
Float64 = Annotated[float, ColumnType("Float64")]
Bool = Annotated[bool, ColumnType("UInt8")]
UInt32 = Annotated[int, ColumnType("UInt32")]
UInt64 = Annotated[int, ColumnType("UInt64")]
Int64 = Annotated[int, ColumnType("Int64")]
String = Annotated[str, ColumnType("String")]
DateTime64 = Annotated[AwareDatetime, ColumnType("DateTime64(3, 'UTC')")]


def _declared(annotation: Any) -> str | None:
    origin = get_origin(annotation)
    if origin is Annotated:
        inner, *metadata = get_args(annotation)
        for item in metadata:
            if isinstance(item, ColumnType):
                return item.name
        return _declared(inner)
    if origin in (list, tuple):
        element = _declared(get_args(annotation)[0])
        return None if element is None else f"Array({element})"
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1 and len(get_args(annotation)) == 2:
            element = _declared(args[0])
            return None if element is None else f"Nullable({element})"
    return None


def column_type(field: FieldInfo) -> str | None:
    """The ClickHouse type a record field declares (e.g. ``Array(Array(Float32))``), or None."""
    for item in field.metadata:
        if isinstance(item, ColumnType):
            return item.name
    return _declared(field.annotation)
