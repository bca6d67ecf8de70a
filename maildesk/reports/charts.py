"""Charts as inline SVG: no script, no network, nothing to load when the page opens.

Every label is escaped: subjects and tags come from customers.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

PALETTE = ("#3b6ea8", "#e0803a", "#4f9a5a", "#b8474a", "#7d62a8", "#8c6d4f", "#c06aa3", "#6b7280")
WIDTH = 720


def _text(x: float, y: float, label: str, anchor: str = "start", css: str = "") -> str:
    cls = f' class="{css}"' if css else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{cls}>{escape(label)}</text>'


def _nice_max(value: float) -> float:
    """The smallest of 4, 8, 10, 20, 40, 80, 100, ... that holds ``value``: four grid steps
    of round numbers (1, 2, 2.5, 5, 10, 20, 25 ...)."""
    scale = 1.0
    while True:
        for factor in (4, 8, 10, 20, 40, 80):
            if value <= factor * scale:
                return factor * scale
        scale *= 100


def _axis(top: float, bottom: float, left: float, right: float, y_max: float, unit: str) -> str:
    parts = []
    steps = 5 if y_max == 5 else 4  # a 1-5 score gets a line per point
    for i in range(steps + 1):
        value = y_max * i / steps
        y = bottom - (bottom - top) * i / steps
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" class="grid"/>')
        label = f"{value:g}{unit}" if value == int(value) else f"{value:.1f}{unit}"
        parts.append(_text(left - 6, y + 4, label, "end", "tick"))
    return "".join(parts)


def stacked_bars(
    labels: Sequence[str], series: dict[str, Sequence[float]], *, height: int = 260, unit: str = ""
) -> str:
    """Bars per label, one colour per series, stacked; a legend above."""
    left, right, top, bottom = 44, WIDTH - 10, 34, height - 40
    totals = [sum(values[i] for values in series.values()) for i in range(len(labels))]
    y_max = _nice_max(max(totals, default=0))
    band = (right - left) / max(len(labels), 1)
    parts = [_axis(top, bottom, left, right, y_max, unit)]
    every = max(1, len(labels) // 12)
    for i, label in enumerate(labels):
        x = left + i * band + band * 0.15
        y = float(bottom)
        for k, (name, values) in enumerate(series.items()):
            h = (bottom - top) * values[i] / y_max
            if h > 0:
                y -= h
                parts.append(
                    f'<rect x="{x:.1f}" y="{y:.1f}" width="{band * 0.7:.1f}" height="{h:.1f}" '
                    f'fill="{PALETTE[k % len(PALETTE)]}"><title>{escape(label)} {escape(name)}: '
                    f"{values[i]:g}</title></rect>"
                )
        if i % every == 0:
            parts.append(_text(x + band * 0.35, bottom + 16, label, "middle", "tick"))
    parts.append(_legend(list(series)))
    return _svg(height, "".join(parts))


def _legend(names: Sequence[str]) -> str:
    parts = []
    x = 44.0
    for k, name in enumerate(names):
        parts.append(
            f'<rect x="{x:.1f}" y="8" width="12" height="12" fill="{PALETTE[k % len(PALETTE)]}"/>'
        )
        parts.append(_text(x + 16, 18, name, css="tick"))
        x += 28 + 8 * len(name)
    return "".join(parts)


def grouped_bars(
    labels: Sequence[str],
    series: dict[str, Sequence[float | None]],
    *,
    height: int = 260,
    y_max: float | None = None,
    unit: str = "",
    marker: float | None = None,
) -> str:
    """Bars side by side per label; ``marker`` draws a dashed target line."""
    left, right, top, bottom = 44, WIDTH - 10, 34, height - 40
    top_value = y_max or _nice_max(
        max((v or 0 for values in series.values() for v in values), default=0)
    )
    band = (right - left) / max(len(labels), 1)
    width = band * 0.8 / max(len(series), 1)
    parts = [_axis(top, bottom, left, right, top_value, unit)]
    for i, label in enumerate(labels):
        present = [k for k, values in enumerate(series.values()) if values[i] is not None]
        offset = (band * 0.8 - width * len(present)) / 2  # centre what this label has
        for k, (name, values) in enumerate(series.items()):
            value = values[i]
            if value is None:
                continue
            h = (bottom - top) * value / top_value
            x = left + i * band + band * 0.1 + offset + present.index(k) * width
            parts.append(
                f'<rect x="{x:.1f}" y="{bottom - h:.1f}" width="{width * 0.92:.1f}" '
                f'height="{h:.1f}" fill="{PALETTE[k % len(PALETTE)]}"><title>{escape(label)} '
                f"{escape(name)}: {value:g}{unit}</title></rect>"
            )
        parts.append(_text(left + i * band + band / 2, bottom + 16, label, "middle", "tick"))
    if marker is not None:
        y = bottom - (bottom - top) * marker / top_value
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" class="target"/>')
    parts.append(_legend(list(series)))
    return _svg(height, "".join(parts))


def line(
    labels: Sequence[str],
    values: Sequence[float | None],
    *,
    height: int = 220,
    y_max: float | None = None,
    unit: str = "",
) -> str:
    left, right, top, bottom = 44, WIDTH - 34, 20, height - 40
    top_value = y_max or _nice_max(max((v or 0 for v in values), default=0))
    step = (right - left) / max(len(labels) - 1, 1)
    points = [
        (left + i * step, bottom - (bottom - top) * v / top_value)
        for i, v in enumerate(values)
        if v is not None
    ]
    parts = [_axis(top, bottom, left, right, top_value, unit)]
    if len(points) > 1:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        parts.append(f'<polyline points="{path}" class="series"/>')
    for (x, y), label, value in zip(
        points,
        [lbl for lbl, v in zip(labels, values, strict=True) if v is not None],
        [v for v in values if v is not None],
        strict=True,
    ):
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" class="dot"><title>{escape(label)}: '
            f"{value:g}{unit}</title></circle>"
        )
    every = max(1, len(labels) // 10)
    for i, label in enumerate(labels):
        if i % every == 0:
            parts.append(_text(left + i * step, bottom + 16, label, "middle", "tick"))
    return _svg(height, "".join(parts))


def horizontal_bars(items: Sequence[tuple[str, float]], *, unit: str = "") -> str:
    """Longest first, label on the left: tags and frequent subjects."""
    row = 24
    height = max(len(items), 1) * row + 10
    label_width = 300
    left, right = label_width + 10, WIDTH - 60
    top_value = max((v for _, v in items), default=0) or 1
    parts = []
    for i, (label, value) in enumerate(items):
        y = 5 + i * row
        w = (right - left) * value / top_value
        short = label if len(label) <= 42 else label[:41] + "…"
        parts.append(_text(label_width, y + 15, short, "end", "tick"))
        parts.append(
            f'<rect x="{left}" y="{y + 3}" width="{w:.1f}" height="{row - 8}" fill="{PALETTE[0]}">'
            f"<title>{escape(label)}: {value:g}{unit}</title></rect>"
        )
        parts.append(_text(left + w + 6, y + 15, f"{value:g}{unit}", css="tick"))
    if not items:
        parts.append(_text(WIDTH / 2, 20, "nothing in this period", "middle", "tick"))
    return _svg(height, "".join(parts))


def heatmap(matrix: Sequence[Sequence[int]], rows: Sequence[str]) -> str:
    """Weekday x hour: darker is busier."""
    left, top, cell = 44, 24, (WIDTH - 54) / 24
    height = int(top + cell * len(rows) + 10)
    peak = max((v for r in matrix for v in r), default=0) or 1
    parts = []
    for hour in range(0, 24, 3):
        parts.append(_text(left + hour * cell + cell / 2, 16, f"{hour:02d}", "middle", "tick"))
    for r, (name, values) in enumerate(zip(rows, matrix, strict=True)):
        y = top + r * cell
        parts.append(_text(left - 6, y + cell * 0.65, name, "end", "tick"))
        for hour, value in enumerate(values):
            shade = 0.06 + 0.94 * value / peak if value else 0.03
            parts.append(
                f'<rect x="{left + hour * cell:.1f}" y="{y:.1f}" width="{cell - 2:.1f}" '
                f'height="{cell - 2:.1f}" fill="{PALETTE[0]}" fill-opacity="{shade:.2f}">'
                f"<title>{escape(name)} {hour:02d}:00: {value}</title></rect>"
            )
    return _svg(height, "".join(parts))


def _svg(height: float, body: str) -> str:
    return (
        f'<svg viewBox="0 0 {WIDTH} {height:.0f}" width="{WIDTH}" height="{height:.0f}" '
        f'xmlns="http://www.w3.org/2000/svg" role="img">{body}</svg>'
    )
