"""Inline SVG charts: plain text, no script, no external file, the same bytes for the same data."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

_WIDTH = 760
_GOOD, _SHORT, _TARGET, _INK, _GRID = "#2e7d32", "#ef6c00", "#c62828", "#263238", "#cfd8dc"


def _num(x: float) -> str:
    return f"{x:.1f}"


def bar_chart(labels: Sequence[str], values: Sequence[float | None], target: float | None, *,
              title: str, unit: str = "%") -> str:
    """Horizontal bars on a 0–100 scale, one per label, with the target as a dashed line.

    Bars at or above the target are green, below it orange; a missing value draws no bar.
    """
    row, left, right, top = 24, 200, 70, 34
    plot = _WIDTH - left - right
    height = top + row * len(labels) + 28
    out = [f'<svg class="chart" role="img" viewBox="0 0 {_WIDTH} {height}" width="{_WIDTH}" '
           f'height="{height}" aria-label="{escape(title)}">',
           f'<title>{escape(title)}</title>']
    for tick in range(0, 101, 20):
        x = left + plot * tick / 100
        out.append(f'<line x1="{_num(x)}" y1="{top - 6}" x2="{_num(x)}" '
                   f'y2="{top + row * len(labels)}" stroke="{_GRID}" stroke-width="1"/>')
        out.append(f'<text x="{_num(x)}" y="{top - 10}" font-size="11" text-anchor="middle" '
                   f'fill="{_INK}">{tick}{unit}</text>')
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = top + row * i
        out.append(f'<text x="{left - 8}" y="{y + 16}" font-size="12" text-anchor="end" '
                   f'fill="{_INK}">{escape(label)}</text>')
        if value is None:
            out.append(f'<text x="{left + 4}" y="{y + 16}" font-size="11" fill="{_INK}">'
                       f'no residents</text>')
            continue
        width = plot * max(0.0, min(value, 100.0)) / 100
        colour = _GOOD if target is None or value >= target else _SHORT
        out.append(f'<rect x="{left}" y="{y + 4}" width="{_num(width)}" height="{row - 8}" '
                   f'fill="{colour}" data-label="{escape(label)}" data-value="{value}"/>')
        out.append(f'<text x="{_num(left + width + 4)}" y="{y + 16}" font-size="11" '
                   f'fill="{_INK}">{_num(value)}{unit}</text>')
    if target is not None:
        x = left + plot * min(target, 100.0) / 100
        bottom = top + row * len(labels)
        out.append(f'<line x1="{_num(x)}" y1="{top - 4}" x2="{_num(x)}" y2="{bottom + 4}" '
                   f'stroke="{_TARGET}" stroke-width="2" stroke-dasharray="6 4"/>')
        out.append(f'<text x="{_num(x)}" y="{bottom + 18}" font-size="11" text-anchor="middle" '
                   f'fill="{_TARGET}">target {_num(target)}{unit}</text>')
    out.append("</svg>")
    return "\n".join(out)


def line_chart(labels: Sequence[str], values: Sequence[float | None], target: float | None, *,
               title: str, unit: str = "%") -> str:
    """A 0–100 line over ordered points (batches), with the target as a dashed line."""
    height, left, right, top, bottom = 300, 50, 30, 20, 50
    plot_w, plot_h = _WIDTH - left - right, height - top - bottom
    n = len(labels)

    def px(i: int) -> float:
        return left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def py(v: float) -> float:
        return top + plot_h * (1 - max(0.0, min(v, 100.0)) / 100)

    out = [f'<svg class="chart" role="img" viewBox="0 0 {_WIDTH} {height}" width="{_WIDTH}" '
           f'height="{height}" aria-label="{escape(title)}">',
           f'<title>{escape(title)}</title>']
    for tick in range(0, 101, 20):
        y = py(tick)
        out.append(f'<line x1="{left}" y1="{_num(y)}" x2="{left + plot_w}" y2="{_num(y)}" '
                   f'stroke="{_GRID}" stroke-width="1"/>')
        out.append(f'<text x="{left - 6}" y="{_num(y + 4)}" font-size="11" text-anchor="end" '
                   f'fill="{_INK}">{tick}{unit}</text>')
    step = max(1, n // 12)
    for i, label in enumerate(labels):
        if i % step == 0 or i == n - 1:
            out.append(f'<text x="{_num(px(i))}" y="{top + plot_h + 18}" font-size="11" '
                       f'text-anchor="middle" fill="{_INK}">{escape(label)}</text>')
    out.append(f'<text x="{left + plot_w / 2:.1f}" y="{height - 8}" font-size="11" '
               f'text-anchor="middle" fill="{_INK}">batch</text>')
    if target is not None:
        y = py(target)
        out.append(f'<line x1="{left}" y1="{_num(y)}" x2="{left + plot_w}" y2="{_num(y)}" '
                   f'stroke="{_TARGET}" stroke-width="2" stroke-dasharray="6 4"/>')
        out.append(f'<text x="{left + plot_w}" y="{_num(y - 5)}" font-size="11" '
                   f'text-anchor="end" fill="{_TARGET}">target {_num(target)}{unit}</text>')
    points = [(px(i), py(v)) for i, v in enumerate(values) if v is not None]
    if len(points) > 1:
        path = " ".join(f"{_num(x)},{_num(y)}" for x, y in points)
        out.append(f'<polyline points="{path}" fill="none" stroke="{_GOOD}" stroke-width="2"/>')
    for (x, y), label, value in zip(points, [lb for lb, v in zip(labels, values, strict=True)
                                             if v is not None],
                                    [v for v in values if v is not None], strict=True):
        out.append(f'<circle cx="{_num(x)}" cy="{_num(y)}" r="3.5" fill="{_GOOD}" '
                   f'data-label="{escape(label)}" data-value="{value}"/>')
    out.append("</svg>")
    return "\n".join(out)
