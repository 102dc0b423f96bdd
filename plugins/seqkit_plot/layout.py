"""A picture as plain data: points, labels and arrows in pixel coordinates, drawn by either renderer.

Laying the map out once, here, makes the PNG, SVG, PDF and HTML outputs show the same picture, and lets
labels be placed without overlap by one greedy pass over an occupancy grid (no renderer needed).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# tab10 then tab20's lighter half: distinct colours without importing matplotlib
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94",
           "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5")
PLAIN = "#4c72b0"
CHAR_WIDTH = 0.62  # average glyph width of DejaVu Sans as a fraction of the font size (a safe over-estimate)
CELL = 2           # occupancy grid resolution in pixels


@dataclass
class Point:
    word: str
    x: float
    y: float
    colour: str = PLAIN
    radius: float = 2.5
    group: str = ""


@dataclass
class Label:
    text: str
    x: float
    y: float
    colour: str = "#222222"
    size: float = 10.0
    bold: bool = False
    anchor: str = "start"  # SVG's text-anchor: start, middle or end


@dataclass
class Arrow:
    x0: float
    y0: float
    x1: float
    y1: float
    colour: str = "#333333"
    dashed: bool = False


@dataclass
class Scene:
    width: int
    height: int
    title: str = ""
    points: list[Point] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    arrows: list[Arrow] = field(default_factory=list)


def to_pixels(coords: np.ndarray, width: int, height: int, margin: float = 40.0,
              top: float = 30.0) -> tuple[np.ndarray, tuple[np.ndarray, float]]:
    """Data coordinates -> pixels (y down), same scale on both axes; also the (origin, scale) used."""
    coords = np.asarray(coords, dtype=np.float64)
    lo, hi = coords.min(axis=0), coords.max(axis=0)
    span = np.where(hi - lo > 0, hi - lo, 1.0)
    usable = np.array([width - 2 * margin, height - margin - top], dtype=np.float64)
    scale = float(np.min(usable / span))
    centre = (lo + hi) / 2
    origin = np.array([width / 2, top + usable[1] / 2])

    def place(data: np.ndarray) -> np.ndarray:
        out = (np.asarray(data, dtype=np.float64) - centre) * scale
        out[:, 1] = -out[:, 1]  # y grows downwards on screen
        return out + origin

    return place(coords), (centre, scale)


def text_box(label: Label) -> tuple[float, float, float, float]:
    """(left, top, right, bottom) of a label, estimated from its length and size (baseline at y)."""
    width = CHAR_WIDTH * label.size * len(label.text) * (1.08 if label.bold else 1.0)
    left = label.x - {"start": 0.0, "middle": width / 2, "end": width}[label.anchor]
    return left, label.y - 0.8 * label.size, left + width, label.y + 0.25 * label.size


class Occupancy:
    """Which pixels of the picture hold a label or a point, on a coarse grid."""

    def __init__(self, width: int, height: int):
        self.grid = np.zeros((height // CELL + 2, width // CELL + 2), dtype=np.int32)
        self.width, self.height = width, height

    def _cells(self, box) -> tuple[slice, slice] | None:
        left, top, right, bottom = box
        if left < 0 or top < 0 or right > self.width or bottom > self.height:
            return None
        return slice(int(top // CELL), int(bottom // CELL) + 1), slice(int(left // CELL), int(right // CELL) + 1)

    def cost(self, box) -> float:
        cells = self._cells(box)
        return np.inf if cells is None else float(self.grid[cells].sum())

    def take(self, box) -> None:
        cells = self._cells(box)
        if cells is not None:
            self.grid[cells] += 1


def place_labels(scene: Scene, wanted: list[tuple[int, Label, bool]]) -> None:
    """Put each label beside its point where it overlaps no label or point; `wanted` is in priority
    order as (point index, label, required). A required label that cannot be placed cleanly goes where
    it overlaps least; the others are left out (a dense map cannot show every word)."""
    grid = Occupancy(scene.width, scene.height)
    for point in scene.points:
        r = point.radius
        grid.take((point.x - r, point.y - r, point.x + r, point.y + r))
    for arrow in scene.arrows:  # labels keep off the arrows too, sampled every few pixels
        steps = max(2, int(np.hypot(arrow.x1 - arrow.x0, arrow.y1 - arrow.y0) // 3))
        for t in np.linspace(0.0, 1.0, steps):
            x, y = arrow.x0 + t * (arrow.x1 - arrow.x0), arrow.y0 + t * (arrow.y1 - arrow.y0)
            grid.take((x - 2, y - 2, x + 2, y + 2))
    for index, label, required in wanted:
        point = scene.points[index]
        gap = point.radius + 3  # clear of its own point, even on the coarse grid
        best, best_cost = None, np.inf
        for dx, dy, anchor in ((gap, label.size * 0.35, "start"), (-gap, label.size * 0.35, "end"),
                               (0, -gap - label.size * 0.25 - 1, "middle"), (0, gap + label.size * 0.8 + 1, "middle"),
                               (gap, -gap, "start"), (-gap, -gap, "end"),
                               (gap, gap + label.size * 0.6, "start"), (-gap, gap + label.size * 0.6, "end")):
            candidate = Label(label.text, point.x + dx, point.y + dy, label.colour, label.size, label.bold, anchor)
            cost = grid.cost(text_box(candidate))
            if cost < best_cost:
                best, best_cost = candidate, cost
            if cost == 0:
                break
        if best is not None and (best_cost == 0 or required):
            grid.take(text_box(best))
            scene.labels.append(best)

