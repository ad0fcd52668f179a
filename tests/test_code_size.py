"""Small modules and short functions (issue 19): no module of ``streams/`` over 400 lines, no
function over 60 lines (from its first decorator, or its ``def``, to its last line; a nested
function counts on its own and inside its parent).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def oversized(path: Path, source: str) -> list[str]:
    """One line per limit ``source`` (the text of ``path``) breaks.

    >>> body = "\\n".join(f"    x = {i}" for i in range(60))
    >>> oversized(Path("m.py"), f"@dec\\ndef f():\\n{body}\\n\\ndef g():\\n    pass\\n")
    ['m.py:2 f() has 62 lines (> 60)']
    """
    found = []
    lines = len(source.splitlines())
    if lines > MAX_MODULE_LINES:
        found.append(f"{path} has {lines} lines (> {MAX_MODULE_LINES})")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            length = (node.end_lineno or node.lineno) - start + 1
            if length > MAX_FUNCTION_LINES:
                found.append(
                    f"{path}:{node.lineno} {node.name}() has {length} lines "
                    f"(> {MAX_FUNCTION_LINES})"
                )
    return found


def _offenders() -> dict[str, list[str]]:
    """Relative path -> what it breaks, for every module of ``streams/`` over a limit."""
    out: dict[str, list[str]] = {}
    for path in sorted((ROOT / "streams").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        found = oversized(Path(rel), path.read_text("utf-8"))
        if found:
            out[rel] = found
    return out


def test_no_module_over_400_lines_nor_function_over_60() -> None:
    found = [f for fs in _offenders().values() for f in fs]
    assert not found, (
        "split these into named modules / helpers (issue 19: modules <= 400 lines, functions "
        "<= 60):\n  " + "\n  ".join(found)
    )


def test_the_check_counts_decorators_and_nested_functions() -> None:
    inner = "\n".join(f"        y = {i}" for i in range(58))
    source = f"@a\n@b\ndef outer():\n    def inner():\n{inner}\n    return inner\n"
    assert oversized(Path("m.py"), source) == ["m.py:3 outer() has 63 lines (> 60)"]
    assert oversized(Path("m.py"), "x = 1\n" * 401) == ["m.py has 401 lines (> 400)"]
