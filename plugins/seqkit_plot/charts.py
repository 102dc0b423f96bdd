"""Charts drawn with matplotlib's axes: training curves and an attention heat map."""

from __future__ import annotations

import numpy as np

from seqkit_plot.history import Panel
from seqkit_plot.render import new_figure, save_figure

SPLIT_STYLE = {"training": ("#1f77b4", "-", "o"), "validation": ("#d62728", "--", "s"), "test": ("#2ca02c", ":", "^")}


def draw_history(panels: list[Panel], title: str, path: str, fmt: str, width: int, height: int,
                 log_scale: bool) -> None:
    """One panel per metric, side by side; each split is a line whose gid is `split:metric`."""
    figure = new_figure(width, height)
    grid = figure.subplots(1, len(panels), squeeze=False)[0]
    for axes, panel in zip(grid, panels):
        for split in sorted(panel.values, key=lambda s: list(SPLIT_STYLE).index(s) if s in SPLIT_STYLE else 9):
            colour, line, marker = SPLIT_STYLE.get(split, ("#7f7f7f", "-.", "d"))
            (drawn,) = axes.plot(panel.epochs[split], panel.values[split], color=colour, linestyle=line,
                                 marker=marker, markersize=4, label=split)
            drawn.set_gid(f"{split}:{panel.metric}")
        axes.set_title(panel.metric)
        axes.set_xlabel("epoch")
        if log_scale and panel.metric == "perplexity" and min(min(v) for v in panel.values.values()) > 0:
            from matplotlib.ticker import FuncFormatter

            axes.set_yscale("log")
            plain = FuncFormatter(lambda value, _: f"{value:g}")  # 3, 10, 300 rather than 3x10^0
            axes.yaxis.set_major_formatter(plain)
            axes.yaxis.set_minor_formatter(plain)
        axes.grid(True, alpha=0.3)
        axes.legend(frameon=False)
        epochs = sorted({e for values in panel.epochs.values() for e in values})
        if len(epochs) <= 20 and all(float(e).is_integer() for e in epochs):
            axes.set_xticks(epochs)
    figure.suptitle(title, fontsize=11)
    figure.tight_layout()
    save_figure(figure, path, fmt, title)


def draw_attention(source: list[str], target: list[str], weights: np.ndarray, title: str, path: str, fmt: str,
                   width: int, height: int) -> None:
    """Rows are output tokens, columns source tokens; darker is more attention."""
    figure = new_figure(width, height)
    axes = figure.add_subplot(1, 1, 1)
    image = axes.imshow(weights, cmap="Greys", vmin=0.0, vmax=max(1e-9, float(weights.max())), aspect="auto")
    image.set_gid("attention")
    axes.set_xticks(range(len(source)), source, rotation=60, ha="right")
    axes.set_yticks(range(len(target)), target)
    axes.set_xlabel("source")
    axes.set_ylabel("output")
    figure.colorbar(image, ax=axes, fraction=0.04)
    axes.set_title(title, fontsize=11)
    figure.tight_layout()
    save_figure(figure, path, fmt, title)
