"""Small SVG charts for the analyst report and for Dagster metadata.

Pure functions from numbers to SVG markup: no plotting library, no scripts, no web fonts. A chart
is a few dozen elements, so it is light enough for a metadata entry (as a ``data:`` URI image)
and renders the same in every browser. Every label is HTML-escaped here, so callers may pass
store and product names as they are.
"""

from __future__ import annotations

import base64
import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from html import escape

PALETTE = (
    "#2563eb",
    "#db2777",
    "#16a34a",
    "#ea580c",
    "#7c3aed",
    "#0891b2",
    "#ca8a04",
    "#dc2626",
    "#4b5563",
    "#65a30d",
)
FONT = "system-ui, 'Segoe UI', 'Noto Sans', 'Noto Naskh Arabic', 'DejaVu Sans', sans-serif"
INK, MUTED, GRID = "#1f2937", "#6b7280", "#e5e7eb"
CHAR_PX = 7.0  # average width of a 12px character, to size label columns
MAX_DOTS = 62  # beyond this many days a line is drawn without per-day dots


@dataclass(frozen=True, slots=True)
class Series:
    """One line: a name (a store) and its (day, value) points in day order."""

    name: str
    points: tuple[tuple[dt.date, float], ...]


@dataclass(frozen=True, slots=True)
class Bar:
    """One horizontal bar: its label, value, colour and hover text."""

    label: str
    value: float
    color: str = PALETTE[0]
    hover: str = ""


def color(index: int) -> str:
    """The palette colour of the ``index``-th series (stores keep their colour across charts)."""
    return PALETTE[index % len(PALETTE)]


def daily_series(
    rows: Iterable[tuple[str, dt.date, float]],
    first: dt.date,
    last: dt.date,
    names: Sequence[str],
) -> list[Series]:
    """One series per name over every day ``first..last``; a day without a row counts as 0.

    ``daily_sales`` has no row for a day without orders, and a line must not skip over it.
    """
    values: dict[tuple[str, dt.date], float] = {}
    for name, day, value in rows:
        values[(name, day)] = values.get((name, day), 0.0) + float(value)
    days = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
    return [
        Series(name, tuple((day, values.get((name, day), 0.0)) for day in days)) for name in names
    ]


def nice_ticks(top: float, count: int = 5) -> list[float]:
    """Axis ticks from 0 to at least ``top`` in round steps (1, 2, 2.5 or 5 times 10^k)."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    return [step * n for n in range(math.ceil(top / step - 1e-9) + 1)]


def short_amount(value: float) -> str:
    """``950``, ``12.5k``, ``1.2M``: amounts short enough for an axis."""
    for size, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.1f}".removesuffix(".0") + suffix
    return f"{value:.0f}" if value == int(value) else f"{value:.1f}"


def money(value: float) -> str:
    """``12,345.60``: an amount as the report's tables show it."""
    return f"{value:,.2f}"


def day_label(day: dt.date, with_year: bool = False) -> str:
    return f"{day:%b} {day.day}" + (f" {day.year}" if with_year else "")


def _svg(width: float, height: float, label: str, body: Iterable[str], css_class: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="{css_class}" role="img" '
        f'aria-label="{escape(label)}" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="{escape(FONT)}" font-size="12">'
        f"<title>{escape(label)}</title>{''.join(body)}</svg>"
    )


def _text(x: float, y: float, text: str, *, anchor: str = "start", fill: str = INK) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{fill}">{escape(text)}</text>'
    )


def _legend(names: Sequence[tuple[str, str]], x0: float, width: float) -> tuple[list[str], float]:
    """Legend items (colour, name) wrapped into rows; returns the markup and its height."""
    parts: list[str] = []
    x, y = x0, 14.0
    for swatch, name in names:
        item = 22 + len(name) * CHAR_PX + 18
        if x > x0 and x + item > width:
            x, y = x0, y + 20
        parts.append(
            f'<g class="legend-item"><rect x="{x:.1f}" y="{y - 9:.1f}" width="14" height="10" '
            f'rx="2" fill="{swatch}"/>{_text(x + 20, y, name)}</g>'
        )
        x += item
    return parts, y + 12


def revenue_lines_svg(
    series: Sequence[Series],
    *,
    width: float = 760,
    height: float = 300,
    unit: str = "SAR",
    title: str = "Revenue per day",
    dots: bool = True,
) -> str:
    """A line chart of daily amounts, one line per series, with a legend and date/amount axes.

    Each line is a ``<g class="series" data-series=NAME>``; the series' colours follow their
    order (see :func:`color`). ``dots`` marks each day (with its amount on hover) when there
    are at most ``MAX_DOTS`` days.
    """
    days = sorted({day for s in series for day, _ in s.points})
    legend, legend_height = _legend([(color(i), s.name) for i, s in enumerate(series)], 64, width)
    left, right, top, bottom = 64.0, width - 16, legend_height + 26, height - 28
    ticks = nice_ticks(max((v for s in series for _, v in s.points), default=0.0))
    body = [*legend]
    for tick in ticks:
        y = bottom - (bottom - top) * tick / ticks[-1]
        body.append(f'<line x1="{left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>')
        body.append(_text(left - 8, y + 4, short_amount(tick), anchor="end", fill=MUTED))
    body.append(_text(left - 8, top - 14, unit, anchor="end", fill=MUTED))
    if not days:
        return _svg(width, height, title, body, "chart lines")
    span = max((days[-1] - days[0]).days, 1)

    def x_of(day: dt.date) -> float:
        if len(days) == 1:
            return (left + right) / 2
        return left + (right - left) * (day - days[0]).days / span

    def y_of(value: float) -> float:
        return bottom - (bottom - top) * value / ticks[-1]

    count = min(len(days), 7)
    picks = sorted({round(n * (len(days) - 1) / max(count - 1, 1)) for n in range(count)})
    with_year = days[0].year != days[-1].year
    for n in picks:
        x = x_of(days[n])
        # The outermost labels hang inwards so that they stay inside the chart.
        anchor = {0: "start", len(days) - 1: "end"}.get(n, "middle") if len(days) > 1 else "middle"
        body.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{bottom}" y2="{bottom + 4}" stroke="{MUTED}"/>'
        )
        body.append(_text(x, bottom + 18, day_label(days[n], with_year), anchor=anchor, fill=MUTED))
    body.append(f'<line x1="{left}" x2="{right}" y1="{bottom}" y2="{bottom}" stroke="{MUTED}"/>')
    for i, s in enumerate(series):
        points = " ".join(f"{x_of(d):.1f},{y_of(v):.1f}" for d, v in s.points)
        marks = ""
        # A one-day line has no length, so its day is always marked.
        radius = 4 if len(s.points) == 1 else 2.5
        if (dots and len(s.points) <= MAX_DOTS) or len(s.points) == 1:
            marks = "".join(
                f'<circle cx="{x_of(d):.1f}" cy="{y_of(v):.1f}" r="{radius}" fill="{color(i)}">'
                f"<title>{escape(f'{s.name} {d}: {money(v)} {unit}')}</title></circle>"
                for d, v in s.points
            )
        body.append(
            f'<g class="series" data-series="{escape(s.name)}"><title>{escape(s.name)}</title>'
            f'<polyline points="{points}" fill="none" stroke="{color(i)}" stroke-width="2" '
            f'stroke-linejoin="round" stroke-linecap="round"/>{marks}</g>'
        )
    return _svg(width, height, title, body, "chart lines")


def _fit(label: str, chars: int) -> str:
    return label if len(label) <= chars else label[: chars - 1] + "…"


def bars_svg(
    bars: Sequence[Bar], *, width: float = 760, unit: str = "SAR", title: str = "Top products"
) -> str:
    """Horizontal bars, largest value the longest, labels left and amounts right of each bar.

    Each bar is a ``<rect class="bar">``.
    """
    label_chars = min(max((len(b.label) for b in bars), default=0), 38)
    left = 12 + label_chars * CHAR_PX
    value_room = 12 + (len(money(max((b.value for b in bars), default=0))) + 4) * CHAR_PX
    longest = max((b.value for b in bars), default=0.0) or 1.0
    row = 26.0
    body: list[str] = []
    for n, bar in enumerate(bars):
        y = 8 + n * row
        length = max((width - left - value_room) * bar.value / longest, 1.0)
        body.append(
            f'<g class="bar-row">{_text(left - 8, y + 13, _fit(bar.label, 38), anchor="end")}'
            f'<rect class="bar" x="{left:.1f}" y="{y:.1f}" width="{length:.1f}" height="18" '
            f'rx="3" fill="{bar.color}"><title>{escape(bar.hover or bar.label)}</title></rect>'
            f"{_text(left + length + 6, y + 13, f'{money(bar.value)} {unit}', fill=MUTED)}</g>"
        )
    return _svg(width, 16 + len(bars) * row, title, body, "chart bars")


def stacked_bars_svg(
    rows: Sequence[tuple[str, Mapping[str, float]]],
    colors: Mapping[str, str],
    *,
    width: float = 760,
    title: str = "Order status mix",
) -> str:
    """One 100 % bar per row (a store), split into its parts (statuses) with their shares.

    ``colors`` gives each part's colour and the legend order. Each part is a
    ``<rect class="segment">``.
    """
    legend, legend_height = _legend([(c, name) for name, c in colors.items()], 12, width)
    label_chars = min(max((len(name) for name, _ in rows), default=0), 24)
    left, right, row = 12 + label_chars * CHAR_PX + 8, width - 12, 30.0
    body = [*legend]
    for n, (name, parts) in enumerate(rows):
        y = legend_height + 8 + n * row
        total = sum(parts.values()) or 1.0
        body.append(_text(left - 8, y + 15, _fit(name, 24), anchor="end"))
        x = left
        for part in [p for p in colors if p in parts] + [p for p in parts if p not in colors]:
            share = parts[part] / total
            length = (right - left) * share
            body.append(
                f'<rect class="segment" data-part="{escape(part)}" x="{x:.1f}" y="{y:.1f}" '
                f'width="{length:.1f}" height="22" fill="{colors.get(part, MUTED)}">'
                f"<title>{escape(f'{name} {part}: {parts[part]:,.0f} ({share:.0%})')}</title>"
                "</rect>"
            )
            if length > 40:
                body.append(
                    _text(x + length / 2, y + 15, f"{share:.0%}", anchor="middle", fill="#fff")
                )
            x += length
    return _svg(width, legend_height + 16 + len(rows) * row, title, body, "chart stacked")


def svg_data_uri(svg: str) -> str:
    """``data:image/svg+xml;base64,...``: the chart as an image URL (for a markdown ``![]()``)."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def revenue_chart_data_uri(series: Sequence[Series], *, unit: str = "SAR") -> str:
    """The daily revenue line chart as a data URI, without per-day dots: ~1 KB per 30-day line."""
    return svg_data_uri(revenue_lines_svg(series, width=640, height=260, unit=unit, dots=False))
