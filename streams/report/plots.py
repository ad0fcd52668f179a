"""The report's figures: matplotlib (Agg) rendered to base64 PNGs, inlined as ``<img>``.

Text from events is text: line, shift, lighting, class and signal names come from producers,
and matplotlib would read ``$...$`` in them as mathtext (``$\\foo$`` raises). Every figure
function runs with ``text.parse_math`` and ``text.usetex`` off (:func:`_plain_text`), from its
first artist to the PNG, so any name is drawn as the characters it holds.
"""

from __future__ import annotations

import base64
import functools
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ParamSpec

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

__all__ = [
    "Plot",
    "confidence_histograms",
    "drift_timeline",
    "failure_mode_bars",
    "figure_to_img",
    "latency_curves",
    "robustness_curves",
    "slice_heatmaps",
]

_DPI = 110
ANNOTATED_ROWS = 30
"""``slice_heatmaps`` writes each cell's value and n only up to this many rows: beyond it the
text is what costs (seconds at a plant's 90+ rows) and the report's slice table lists them."""
TIMELINE_SLICES = 40
"""``drift_timeline`` draws at most this many slices (those with the most alarms)."""


_P = ParamSpec("_P")


def _plain_text(fn: Callable[_P, Plot]) -> Callable[_P, Plot]:
    """Run a figure function with mathtext and TeX off: labels drawn from data stay text.

    The settings hold from the first artist to ``savefig`` (tick labels are made while the
    figure is drawn); the report draws on one thread, so the context is never shared.
    """

    @functools.wraps(fn)
    def plain(*args: _P.args, **kwargs: _P.kwargs) -> Plot:
        with plt.rc_context({"text.parse_math": False, "text.usetex": False}):
            return fn(*args, **kwargs)

    return plain


@dataclass(frozen=True, slots=True)
class Plot:
    """A rendered figure: its alt text and its PNG, base64-encoded (the template writes the tag)."""

    alt: str
    png_base64: str


def figure_to_img(fig: Figure, alt: str) -> Plot:
    """``fig`` as a base64 PNG (the figure is closed)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI, bbox_inches="tight")
    plt.close(fig)
    return Plot(alt, base64.b64encode(buf.getvalue()).decode("ascii"))


@_plain_text
def slice_heatmaps(slices: Sequence[dict[str, Any]]) -> Plot:
    """Recall and FPR per (line × shift) row and lighting column; grey cells: no data.

    Cells carry their value and n up to :data:`ANNOTATED_ROWS` rows, colour only beyond.
    """
    rows = sorted({(s["line_id"], s["shift"]) for s in slices})
    cols = sorted({s["lighting"] for s in slices})
    annotate = len(rows) <= ANNOTATED_ROWS
    index = {key: i for i, key in enumerate(rows)}
    col_index = {key: j for j, key in enumerate(cols)}
    row_inches = 0.45 if annotate else 0.22  # room for two lines of text, or for a tick label
    fig, axes = plt.subplots(1, 2, figsize=(10, row_inches * len(rows) + 1.8), squeeze=False)
    for ax, metric, cmap in zip(axes[0], ("recall", "fpr"), ("RdYlGn", "RdYlGn_r"), strict=True):
        grid = np.full((len(rows), len(cols)), np.nan)
        text = {(i, j): "no data" for i in range(len(rows)) for j in range(len(cols))}
        for s in slices:
            i, j = index[s["line_id"], s["shift"]], col_index[s["lighting"]]
            p = s[metric]
            if p.value is not None:
                grid[i, j] = p.value
                text[i, j] = f"{p.value:.0%}\nn={p.n}"
            else:
                text[i, j] = "no data"
        cm = plt.get_cmap(cmap).with_extremes(bad="#dddddd")
        ax.imshow(np.ma.masked_invalid(grid), cmap=cm, vmin=0, vmax=1, aspect="auto")
        for (i, j), t in text.items() if annotate else ():
            ax.text(j, i, t, ha="center", va="center", fontsize=7)
        ax.set_xticks(range(len(cols)), cols)
        ax.set_yticks(range(len(rows)), [f"{a} / {b}" for a, b in rows])
        title = (
            "recall (defective units flagged)" if metric == "recall" else "FPR (good units flagged)"
        )
        ax.set_title(title if annotate else f"{title}; values and n: slice table")
    fig.tight_layout()
    return figure_to_img(fig, "recall and false-positive rate per slice")


@_plain_text
def drift_timeline(rows: Sequence[tuple[Any, ...]]) -> Plot:
    """Drift alarms per hour, one row per slice, marker per signal.

    At most :data:`TIMELINE_SLICES` slices: those with the most alarms (the title says how many
    were left out).
    """
    alarms: dict[str, int] = {}
    for r in rows:
        name = f"{r[0]}/{r[1]}/{r[2]}"
        alarms[name] = alarms.get(name, 0) + int(r[5])
    shown = sorted(alarms, key=lambda k: (-alarms[k], k))[:TIMELINE_SLICES]
    slices = sorted(shown)
    position = {name: i for i, name in enumerate(slices)}
    rows = [r for r in rows if f"{r[0]}/{r[1]}/{r[2]}" in position]
    signals = sorted({r[3] for r in rows})
    fig, ax = plt.subplots(figsize=(10, 0.35 * len(slices) + 1.8))
    markers = "osD^vP*Xh"
    for k, sig in enumerate(signals):
        pts = [r for r in rows if r[3] == sig]
        ax.scatter(
            [r[4] for r in pts],
            [position[f"{r[0]}/{r[1]}/{r[2]}"] for r in pts],
            s=[18 + 10 * min(int(r[5]), 10) for r in pts],
            marker=markers[k % len(markers)],
            label=sig,
            alpha=0.75,
        )
    ax.set_yticks(range(len(slices)), slices)
    ax.set_xlabel("hour (UTC)")
    if len(alarms) > len(slices):
        ax.set_title(f"the {len(slices)} slices with the most alarms, of {len(alarms)}", fontsize=9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    return figure_to_img(fig, "drift alarms over time per slice")


@_plain_text
def confidence_histograms(
    lab: dict[float, int], production: dict[float, int], threshold: float, band: tuple[float, float]
) -> Plot:
    """Top-confidence distributions (share of frames per 0.05 bin), lab vs production."""
    fig, ax = plt.subplots(figsize=(8, 3.2))
    width = 0.05
    for data, label, offset in ((lab, "lab (clean)", 0.0), (production, "production", width / 2)):
        total = sum(data.values())
        if not total:
            continue
        bins = sorted(data)
        ax.bar(
            [b + offset for b in bins],
            [data[b] / total for b in bins],
            width=width / 2,
            align="edge",
            label=f"{label}, n={total}",
        )
    ax.axvspan(band[0], band[1], color="orange", alpha=0.12, label="review band")
    ax.axvline(threshold, color="red", linestyle="--", label=f"threshold {threshold:.2f}")
    ax.set_yscale("log")
    ax.set_xlabel("top confidence of the frame")
    ax.set_ylabel("share of frames")
    ax.set_xlim(0, 1)
    ax.legend(fontsize=7)
    return figure_to_img(fig, "confidence histograms lab versus production")


@_plain_text
def robustness_curves(rows: Sequence[dict[str, Any]], clean_recall: float | None) -> Plot:
    """Recall vs severity per corruption (severity 0 = clean)."""
    fig, ax = plt.subplots(figsize=(8, 3.6))
    for name in sorted({r["corruption"] for r in rows}):
        pts = sorted(
            (r["severity"], r["recall"])
            for r in rows
            if r["corruption"] == name and r["recall"] is not None
        )
        if clean_recall is not None:
            pts = [(0, clean_recall), *pts]
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=name)
    ax.set_xlabel("severity (0 = clean)")
    ax.set_ylabel("recall at threshold")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return figure_to_img(fig, "recall versus corruption severity")


@_plain_text
def failure_mode_bars(rows: Sequence[dict[str, Any]]) -> Plot:
    """Fail-safe vs fail-silent share of frames per condition."""
    labels = [
        r["corruption"] if r["kind"] != "corruption" else f"{r['corruption']} s{r['severity']}"
        for r in rows
    ]
    safe = np.array([r["fail_safe"] / max(r["frames"], 1) for r in rows])
    silent = np.array([r["fail_silent"] / max(r["frames"], 1) for r in rows])
    fig, ax = plt.subplots(figsize=(10, 0.22 * len(rows) + 1.5))
    y = np.arange(len(rows))
    ax.barh(y, safe, color="#4c9f70", label="fail-safe (unsure)")
    ax.barh(y, silent, left=safe, color="#c0392b", label="fail-silent (confident and wrong)")
    ax.set_yticks(y, labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of frames")
    ax.legend(fontsize=7, loc="lower right")
    return figure_to_img(fig, "fail-safe versus fail-silent per condition")


@_plain_text
def latency_curves(curves: dict[str, list[float]], takt: dict[str, float | None]) -> Plot:
    """Latency quantile curves per line with the line's takt time."""
    fig, ax = plt.subplots(figsize=(8, 3.2))
    qs = np.linspace(0, 1, 101)
    for k, (line, values) in enumerate(sorted(curves.items())):
        (h,) = ax.plot(values, qs[: len(values)], label=line)
        t = takt.get(line)
        if t:
            ax.axvline(t, color=h.get_color(), linestyle=":", alpha=0.8)
            ax.text(t, 0.02 + 0.08 * k, f" takt {line}", color=h.get_color(), fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel("end-to-end latency (ms, log)")
    ax.set_ylabel("share of frames ≤ x")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return figure_to_img(fig, "latency distribution per line against takt")
