"""Rich tables for the terminal: how the CLI shows what the stages returned.

Text from events is text. Every data cell, header and title of a :class:`DataTable` becomes a
rich :class:`~rich.text.Text` (never parsed as markup: ``[/x]`` cannot crash a command and
``[link=...]`` is no link) with terminal control removed (:func:`clean`: ESC/CSI/OSC
sequences, C0 and C1 characters, bidirectional overrides). Text interpolated into a markup
string goes through :func:`plain`.

Readable at any width: a :class:`DataTable` never cuts a cell with ``…``. When its columns do
not fit the console, long ids (UUIDs, hashes) are shortened to their first characters; each
column keeps at least its longest word (``line-1``, an interval ``[3.5–36.0]``), so cells wrap
at spaces only; and when even that does not fit, each row is printed as a block of
``column  value`` lines. :func:`data_console` prints at natural width when the output is not a
terminal (piped or captured), so nothing is wrapped or cut there.

>>> t = DataTable("camera", "score", title="[b]x[/b]")
>>> t.add_row("[/x]\\x1b]8;;https://e.x\\x07cam\\x1b]8;;\\x07", 0.123456789)
>>> print(render(t, width=40))
      [b]x[/b]
┏━━━━━━━━━┳━━━━━━━━┓
┃ camera  ┃ score  ┃
┡━━━━━━━━━╇━━━━━━━━┩
│ [/x]cam │ 0.1235 │
└─────────┴────────┘
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from rich.console import Console, ConsoleOptions, RenderResult
from rich.markup import escape
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:  # the verdict's module loads only where a verdict is drawn
    from streams.readiness.verdict import ReadinessVerdict

__all__ = ["DataTable", "cell", "clean", "data_console", "plain", "render", "verdict_table"]

_COLOURS = {"pass": "green", "fail": "bold red", "no data": "yellow"}

_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"  # CSI ... final byte
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # OSC/DCS/...
    r"|\x1b[ -/]*[0-~]?"  # other escapes
)
_CONTROL = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ufff9-\ufffb]"
)
_SPACE = re.compile(r"[\t\n\r]+")
_ID = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[0-9a-fA-F]{20,}"
)
_ID_KEPT = 8
"""Characters of a shortened id shown before its ``…`` (enough to tell ids apart by eye)."""
_STACK_LABEL = 24
"""At most this many columns of a stacked row hold the column's name."""


def clean(text: str) -> str:
    """``text`` without terminal control: escape sequences, C0/C1 characters and bidi overrides
    are removed; tabs and line breaks become one space.

    >>> clean("a\\x1b[31mred\\x1b[0m\\tb\\nc\\x07\\u202e")
    'ared b c'
    >>> clean("\\x1b]8;;https://evil.example\\x1b\\\\link\\x1b]8;;\\x1b\\\\ \\x9b2J")
    'link '
    """
    text = _SEQUENCE.sub("", text)
    text = _SPACE.sub(" ", text)
    return _CONTROL.sub("", text)


def plain(value: object) -> str:
    """``value`` as text to put inside a markup string: cleaned and markup-escaped.

    >>> plain("[/x] [link=https://e.x]y[/link]")
    '\\\\[/x] \\\\[link=https://e.x]y\\\\[/link]'
    """
    return escape(clean(str(value)))


def _float(value: float) -> str:
    """A float rounded for reading: 4 significant digits, plain notation where it is short.

    >>> [_float(v) for v in (0.123456789, 12.3456, 98765.4321, 3.0, 1.5e-9, float("nan"))]
    ['0.1235', '12.35', '98765', '3', '1.5e-09', 'nan']
    """
    if not math.isfinite(value):
        return str(value)
    if value == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(value)))
    if -4 <= magnitude < 15:
        text = f"{value:.{max(0, 3 - magnitude)}f}"
        return text.rstrip("0").rstrip(".") if "." in text else text
    return f"{value:.3g}"


def cell(value: Any) -> Text:
    """One table cell: ``None`` as ``∅``, floats rounded, text cleaned; a :class:`Text` given
    by the CLI itself (a styled status) is kept as it is."""
    if isinstance(value, Text):
        return value
    if value is None:
        return Text("∅")
    if isinstance(value, float):
        return Text(_float(value))
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    return Text(clean(str(value)))


def _longest_word(text: Text) -> int:
    return max((len(word) for word in text.plain.split()), default=0)


def _shorten_ids(text: Text) -> Text:
    if text.spans or not _ID.search(text.plain):
        return text
    return Text(_ID.sub(lambda m: m.group(0)[:_ID_KEPT] + "…", text.plain))


class DataTable(Table):
    """A rich :class:`Table` for data: every cell through :func:`cell`, titles and headers
    cleaned and never parsed as markup, and a layout that never cuts a cell (module doc)."""

    def __init__(self, *headers: str, title: str | None = None, **kwargs: Any) -> None:
        super().__init__(title=None if title is None else cell(title), **kwargs)
        self._data: list[tuple[list[Text], dict[str, Any]]] = []
        for header in headers:
            self.add_column(header)

    def add_column(self, header: Any = "", *args: Any, **kwargs: Any) -> None:
        """A column whose header is text (cleaned, no markup); cells fold instead of ``…``."""
        kwargs.setdefault("overflow", "fold")
        super().add_column(cell(header), *args, **kwargs)

    def add_row(self, *renderables: Any, **kwargs: Any) -> None:
        """A row of data cells (any values; see :func:`cell`)."""
        cells = [cell(value) for value in renderables]
        self._data.append((cells, kwargs))
        super().add_row(*cells, **kwargs)

    def _headers(self) -> list[Text]:
        return [cell(column.header) for column in self.columns]

    def _overhead(self) -> int:
        columns = len(self.columns)
        return columns * (2 if self.box is None else 3) + (0 if self.box is None else 1)

    def _fits(self, rows: Sequence[Sequence[Text]], width: int, *, words: bool) -> list[int] | None:
        """Column widths that fit ``width`` (each at least its longest word when ``words``,
        else its longest cell), or None."""
        grid = [self._headers(), *rows]
        natural = [
            max(row[j].cell_len for row in grid if j < len(row)) for j in range(len(grid[0]))
        ]
        if sum(natural) + self._overhead() <= width:
            return natural
        if not words:
            return None
        least = [
            max(_longest_word(row[j]) for row in grid if j < len(row)) for j in range(len(grid[0]))
        ]
        spare = width - self._overhead() - sum(least)
        if spare < 0:
            return None
        wants = [n - m for n, m in zip(natural, least, strict=True)]
        total = sum(wants) or 1
        return [m + (spare * w) // total for m, w in zip(least, wants, strict=True)]

    def _copy(
        self, widths: Sequence[int], rows: Iterable[tuple[Sequence[Text], dict[str, Any]]]
    ) -> Table:
        table = Table(title=self.title, box=self.box, show_header=self.show_header)
        for column, width in zip(self.columns, widths, strict=True):
            table.add_column(
                column.header,
                justify=column.justify,
                style=column.style,
                width=width,
                overflow="fold",
            )
        for row, kwargs in rows:
            table.add_row(*row, **kwargs)
        return table

    def _stacked(self) -> Table:
        """Each row as a block of ``column  value`` lines (for a console too narrow for columns)."""
        table = Table(title=self.title, show_header=False, show_lines=True)
        label = min(_STACK_LABEL, max((h.cell_len for h in self._headers()), default=1))
        table.add_column(width=label, overflow="fold", style="bold")
        table.add_column(overflow="fold")
        for row, kwargs in self._data:
            names = Text("\n").join(self._headers()[: len(row)])
            values = Text("\n").join(row)
            table.add_row(names, values, style=kwargs.get("style"))
        return table

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        if not self.columns:
            yield from super().__rich_console__(console, options)
            return
        rows = self._data
        widths = self._fits([r for r, _ in rows], width, words=False)
        if widths is None:
            rows = [([_shorten_ids(c) for c in row], kw) for row, kw in self._data]
            widths = self._fits([r for r, _ in rows], width, words=True)
        if widths is None:
            yield self._stacked()
        else:
            yield self._copy(widths, rows)


def data_console(*, stderr: bool = False) -> Console:
    """A console for tables of data: the terminal's width, or natural width when the output is
    not a terminal (piped or captured), so no cell is wrapped or cut there."""
    console = Console(stderr=stderr)
    if not console.is_terminal:
        console = Console(stderr=stderr, width=100_000)
    return console


def render(renderable: Any, *, width: int) -> str:
    """What ``renderable`` prints on a terminal ``width`` columns wide, without colour."""
    console = Console(width=width, record=True, file=open("/dev/null", "w"), color_system=None)  # noqa: SIM115
    console.print(renderable)
    text = console.export_text()
    console.file.close()
    return "\n".join(line.rstrip() for line in text.splitlines())


def verdict_table(verdict: ReadinessVerdict) -> DataTable:
    """The readiness verdict as a coloured table (``linewatch demo``, ``report``)."""
    table = DataTable(
        "criterion",
        "status",
        "measured",
        "limit",
        "detail",
        title=f"readiness verdict: {verdict.status.upper()}",
    )
    for c in verdict.criteria:
        shown = c.shown_status  # a never-trained class reads "blind spot", coloured as a fail
        status = shown if c.certain or c.status == "no data" else f"{shown} (uncertain)"
        table.add_row(
            c.name,
            Text(clean(status), style=_COLOURS[c.status]),
            c.measured,
            c.limit,
            c.detail or c.how_to_fill,
        )
    return table
