"""Which detector watches a slice-signal: ``cusum`` or any River class, parsed without ``eval``.

``LINEWATCH_DRIFT_DETECTOR`` (continuous signals) and ``LINEWATCH_DRIFT_BINARY_DETECTOR``
(0/1 signals) hold ``cusum`` (linewatch's calibrated :class:`~streams.drift.GaussianCusum` /
:class:`~streams.drift.BernoulliCusum`, the default) or a class under ``river.drift`` called
with literal keyword arguments. The text is parsed with :mod:`ast`: only a dotted name under
``river.drift`` and keyword arguments that :func:`ast.literal_eval` accepts; nothing is
executed but the class's constructor, once, to check the arguments.

>>> spec = parse_detector_spec("river.drift.ADWIN(delta=0.002)")
>>> spec.label
'river.drift.ADWIN(delta=0.002)'
>>> type(spec.build()).__name__
'ADWIN'
>>> parse_detector_spec("cusum").is_cusum
True
>>> parse_detector_spec("os.system('x')")
Traceback (most recent call last):
...
streams.errors.ConfigError: 'os.system' is not a class under river.drift; ...
"""

from __future__ import annotations

import ast
import importlib
from typing import Any

from pydantic import BaseModel, ConfigDict
from river import base

from streams.errors import ConfigError

__all__ = [
    "CUSUM",
    "DetectorSpec",
    "cusum_label",
    "detector_label",
    "parse_detector_spec",
]

CUSUM = "cusum"
"""linewatch's calibrated self-starting CUSUMs (thresholds from the false-alarm budget)."""

_MODULES = ("river.drift", "river.drift.binary")
_HINT = (
    "write 'cusum' or a River class with literal keyword arguments, e.g. "
    "'river.drift.ADWIN(delta=0.002)' or 'river.drift.binary.HDDMW(drift_confidence=1e-6)'"
)


class DetectorSpec(BaseModel):
    """A parsed detector setting: ``cusum`` or a River class path with literal parameters."""

    model_config = ConfigDict(frozen=True)

    path: str
    params: dict[str, Any] = {}
    binary: bool = False

    @property
    def is_cusum(self) -> bool:
        """Whether this is linewatch's own calibrated CUSUM."""
        return self.path == CUSUM

    @property
    def label(self) -> str:
        """The canonical text of the setting (what drift events name)."""
        if self.is_cusum:
            return CUSUM
        args = ", ".join(f"{k}={v!r}" for k, v in sorted(self.params.items()))
        return f"{self.path}({args})"

    def detector_class(self) -> type[base.DriftDetector | base.BinaryDriftDetector]:
        """The River class (not for ``cusum``, whose thresholds the monitor sets)."""
        module, _, name = self.path.rpartition(".")
        cls = getattr(importlib.import_module(module), name)
        return cls  # type: ignore[no-any-return]

    def build(self) -> base.DriftDetector | base.BinaryDriftDetector:
        """A fresh detector (River classes only; ``cusum`` is built by the monitor)."""
        if self.is_cusum:
            raise ConfigError("'cusum' is built by the drift monitor with calibrated thresholds")
        return self.detector_class()(**self.params)


def _dotted(node: ast.expr) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def parse_detector_spec(text: str, *, binary: bool = False) -> DetectorSpec:
    """Parse a detector setting; any problem is one :class:`ConfigError` saying what to write.

    ``binary``: the detector watches 0/1 signals, so River's binary detectors are allowed too.
    """
    src = text.strip()
    if src == CUSUM:
        return DetectorSpec(path=CUSUM, binary=binary)
    try:
        node = ast.parse(src, mode="eval").body
    except SyntaxError as exc:
        raise ConfigError(f"cannot parse detector {text!r} ({exc.msg}); {_HINT}") from None
    call = node if isinstance(node, ast.Call) else None
    target = call.func if call is not None else node
    path = _dotted(target)
    module, _, name = (path or "").rpartition(".")
    if path is None or module not in _MODULES or not name.isidentifier():
        shown = path if path is not None else ast.unparse(target)
        raise ConfigError(f"{shown!r} is not a class under river.drift; {_HINT}")
    cls = getattr(importlib.import_module(module), name, None)
    if cls is None:
        raise ConfigError(f"there is no {name!r} in {module}; {_HINT}")
    wanted: tuple[type, ...] = (
        (base.DriftDetector, base.BinaryDriftDetector) if binary else (base.DriftDetector,)
    )
    if not isinstance(cls, type) or not issubclass(cls, wanted):
        kind = "binary or continuous" if binary else "continuous (river.base.DriftDetector)"
        raise ConfigError(f"{path!r} is not a {kind} drift detector in {module}; {_HINT}")
    params: dict[str, Any] = {}
    if call is not None:
        if call.args:
            raise ConfigError(f"detector {text!r}: give arguments by keyword; {_HINT}")
        for kw in call.keywords:
            if kw.arg is None:
                raise ConfigError(f"detector {text!r}: '**' is not allowed; {_HINT}")
            try:
                params[kw.arg] = ast.literal_eval(kw.value)
            except (ValueError, TypeError, SyntaxError):
                raise ConfigError(
                    f"detector {text!r}: argument {kw.arg}={ast.unparse(kw.value)} is not a "
                    "literal (numbers, strings, booleans, None, tuples, lists, dicts only)"
                ) from None
    spec = DetectorSpec(path=path, params=params, binary=binary)
    try:
        spec.build()
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"detector {text!r}: {exc}") from None
    return spec


def detector_label(det: base.Base) -> str:
    """A detector's class and parameters, as drift events name it.

    >>> from river.drift import ADWIN
    >>> detector_label(ADWIN(delta=0.01))
    'river.drift.ADWIN(clock=32, delta=0.01, grace_period=10, max_buckets=5, min_window_length=5)'
    """
    cls = type(det)
    where = cls.__module__
    # river's modules cannot hold a linewatch class: not importing them (river.drift pulls in
    # scipy, ~2.5 s) keeps label-drift replays in `linewatch metrics` fast
    river = () if where.startswith("streams.") else _MODULES
    for module in ("streams.drift", *river):
        if getattr(importlib.import_module(module), cls.__name__, None) is cls:
            where = module
    return _format(f"{where}.{cls.__qualname__}", det._get_params())


def cusum_label(name: str, params: dict[str, Any]) -> str:
    """:func:`detector_label` of ``streams.drift.<name>(**params)``, without building it."""
    return _format(f"streams.drift.{name}", params)


def _format(path: str, params: dict[str, Any]) -> str:
    shown = {k: v for k, v in params.items() if v is None or isinstance(v, _LITERAL)}
    args = ", ".join(f"{k}={_short(v)}" for k, v in sorted(shown.items()))
    return f"{path}({args})"


_LITERAL = (bool, int, float, str, tuple)
"""Parameters a label shows (state-like ones, e.g. KSWIN's ``window`` deque, are left out)."""


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return repr(value)
