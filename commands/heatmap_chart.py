"""The heatmap as a PNG: weekday rows (Monday on top), hour columns, a colour bar, and a title naming the
metric, channels, period and time zone. Drawn like the digest chart (commands.chart): matplotlib's object
API on the Agg canvas, no display, one drawing at a time.
"""

from __future__ import annotations

import io

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from commands.chart import DRAWING
from commands.format import format_duration
from commands.heatmap import WEEKDAYS, Heatmap
from commands.render_heatmap import heatmap_title

SIZE = (10, 4.4)  # inches at DPI: 1250 x 550 px, legible when Slack shrinks it
DPI = 125
EMPTY_COLOUR = "#eeeeee"


def render_heatmap_png(heatmap: Heatmap) -> bytes:
    """The heatmap as PNG bytes; hours without a value (no first response) are drawn light grey."""
    with DRAWING:
        return _draw(heatmap)


def _draw(heatmap: Heatmap) -> bytes:
    figure = Figure(figsize=SIZE, dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    grid = np.array([[np.nan if v is None else v for v in row] for row in heatmap.values], dtype=float)
    frt = heatmap.metric == "frt"
    if frt:
        grid = grid / 60  # minutes read better on a colour bar than seconds
    colours = colormaps["YlOrRd"].with_extremes(bad=EMPTY_COLOUR)
    top = np.nanmax(grid) if np.isfinite(grid).any() else 0
    image = axes.imshow(
        np.ma.masked_invalid(grid), cmap=colours, aspect="auto", vmin=0, vmax=max(float(top), 1.0)
    )
    axes.set_yticks(range(7), WEEKDAYS)
    axes.set_xticks(range(24), [f"{hour:02d}" for hour in range(24)])
    axes.set_xlabel(f"hour of day ({heatmap.tz})", fontsize=12)
    axes.tick_params(labelsize=11, length=0)
    axes.set_xticks(np.arange(-0.5, 24), minor=True)
    axes.set_yticks(np.arange(-0.5, 7), minor=True)
    axes.grid(which="minor", color="white", linewidth=1.5)
    axes.tick_params(which="minor", length=0)
    for spine in axes.spines.values():
        spine.set_visible(False)
    bar = figure.colorbar(image, ax=axes, fraction=0.05, pad=0.02)
    bar.ax.tick_params(labelsize=11)
    if frt:
        bar.set_label("median first response", fontsize=12)
        bar.ax.yaxis.set_major_formatter(FuncFormatter(lambda minutes, _: format_duration(minutes * 60)))
    else:
        bar.set_label("inbound messages", fontsize=12)
        bar.ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    # a channel name from the settings is text, never matplotlib mathtext (`$…$`)
    figure.suptitle(heatmap_title(heatmap).replace("$", r"\$"), fontsize=13, fontweight="bold")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", facecolor="white")
    return buffer.getvalue()
