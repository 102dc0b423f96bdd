"""Drawing a `layout.Scene`: matplotlib for PNG, SVG and PDF; a hand-written SVG page for HTML.

The HTML page is one self-contained file (inline SVG and CSS, no script, nothing fetched): every point
carries its word as a tooltip and shows it on hover, so words whose labels did not fit can still be read.
"""

from __future__ import annotations

import html
import os
from typing import Any

from seqkit.textio import atomic_output
from seqkit_plot.layout import Scene

FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf", ".html": "html", ".htm": "html"}
DPI = 100
PT = 72.0 / DPI  # points per pixel at DPI
HTML_STYLE = """body{margin:0;background:#fff;font-family:"DejaVu Sans",Verdana,sans-serif}
svg{display:block;margin:0 auto;max-width:100%;height:auto}
.pt .hover{display:none;font-size:11px;paint-order:stroke;stroke:#fff;stroke-width:3px}
.pt:hover .hover{display:inline}.pt:hover circle{stroke:#000;stroke-width:1.5px}"""


def output_format(path: str) -> str:
    """png, svg, pdf or html from the output's suffix."""
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in FORMATS:
        import click

        raise click.BadParameter(f"{path!r}: the suffix names the format, one of {', '.join(sorted(FORMATS))}",
                                 param_hint="'-o' / '--output'")
    return FORMATS[suffix]


def new_figure(width: int, height: int) -> Any:
    """A matplotlib Figure with its own Agg canvas (no pyplot: no global state, no GUI backend)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width / DPI, height / DPI), dpi=DPI)
    FigureCanvasAgg(figure)
    return figure


def save_figure(figure: Any, path: str, fmt: str, title: str = "") -> None:
    """Write a figure atomically; text stays text in SVG (searchable, and labels can be checked)."""
    import io

    import matplotlib

    metadata = {"png": {"Software": None}, "svg": {"Date": None}, "pdf": {"CreationDate": None}}
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "seqkit"}):
        if fmt == "html":
            buffer = io.StringIO()
            figure.savefig(buffer, format="svg", metadata=metadata["svg"])
            svg = buffer.getvalue()
            svg = svg[svg.index("<svg"):]
            write_html(path, title, svg)
            return
        with atomic_output(path, binary=True) as out:
            figure.savefig(out, format=fmt, metadata=metadata[fmt])


def write_html(path: str, title: str, svg: str) -> None:
    page = (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n<title>{html.escape(title)}</title>\n'
            f"<style>{HTML_STYLE}</style></head>\n<body>\n{svg}\n</body></html>\n")
    with atomic_output(path) as out:
        out.write(page)


def draw_scene(scene: Scene, path: str, fmt: str) -> None:
    if fmt == "html":
        write_html(path, scene.title, scene_svg(scene))
        return
    figure = new_figure(scene.width, scene.height)
    axes = figure.add_axes((0, 0, 1, 1))
    axes.set_xlim(0, scene.width)
    axes.set_ylim(scene.height, 0)
    axes.set_axis_off()
    for arrow in scene.arrows:
        axes.annotate("", xy=(arrow.x1, arrow.y1), xytext=(arrow.x0, arrow.y0),
                      arrowprops={"arrowstyle": "-|>", "color": arrow.colour, "lw": 1.4, "shrinkA": 4, "shrinkB": 5,
                                  "linestyle": "--" if arrow.dashed else "-", "mutation_scale": 14})
    if scene.points:
        axes.scatter([p.x for p in scene.points], [p.y for p in scene.points],
                     s=[(2 * p.radius * PT) ** 2 for p in scene.points], c=[p.colour for p in scene.points],
                     linewidths=0, zorder=2)
    for label in scene.labels:
        axes.text(label.x, label.y, label.text, color=label.colour, fontsize=label.size * PT,
                  fontweight="bold" if label.bold else "normal", va="baseline", zorder=3,
                  ha={"start": "left", "middle": "center", "end": "right"}[label.anchor])
    if scene.title:
        axes.text(12, 20, scene.title, fontsize=12 * PT, color="#333333", va="baseline")
    save_figure(figure, path, fmt, scene.title)


def scene_svg(scene: Scene) -> str:
    """The scene as an SVG element: points as circles with tooltips, labels as text, arrows as lines."""
    esc = html.escape
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{scene.width}" height="{scene.height}" '
             f'viewBox="0 0 {scene.width} {scene.height}" role="img" aria-label="{esc(scene.title)}">',
             '<defs><marker id="head" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
             'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="context-stroke"/></marker></defs>',
             f'<rect width="{scene.width}" height="{scene.height}" fill="#fff"/>']
    if scene.title:
        parts.append(f'<text class="title" x="12" y="20" font-size="12" fill="#333">{esc(scene.title)}</text>')
    for a in scene.arrows:
        dash = ' stroke-dasharray="6 4"' if a.dashed else ""
        parts.append(f'<line class="arrow" x1="{a.x0:.1f}" y1="{a.y0:.1f}" x2="{a.x1:.1f}" y2="{a.y1:.1f}" '
                     f'stroke="{a.colour}" stroke-width="1.4"{dash} marker-end="url(#head)"/>')
    parts.append('<g class="points">')
    for p in scene.points:
        parts.append(f'<g class="pt" data-word="{esc(p.word)}" data-group="{esc(p.group)}">'
                     f'<circle cx="{p.x:.1f}" cy="{p.y:.1f}" r="{p.radius:.1f}" fill="{p.colour}">'
                     f'<title>{esc(p.word)}</title></circle>'
                     f'<text class="hover" x="{p.x + p.radius + 3:.1f}" y="{p.y - p.radius - 3:.1f}">{esc(p.word)}</text></g>')
    parts.append('</g><g class="labels">')
    for t in scene.labels:
        weight = ' font-weight="bold"' if t.bold else ""
        parts.append(f'<text class="label" x="{t.x:.1f}" y="{t.y:.1f}" font-size="{t.size:.1f}" fill="{t.colour}" '
                     f'text-anchor="{t.anchor}"{weight}>{esc(t.text)}</text>')
    parts.append("</g></svg>")
    return "\n".join(parts)
