"""The report as one HTML page: inline CSS and SVG only, every value HTML-escaped."""

from __future__ import annotations

import re
from html import escape

from tjar_pipelines import charts
from tjar_pipelines.report.data import ReportData, period

STATUS_COLORS = {
    "Pending": "#9ca3af",
    "Processing": "#ca8a04",
    "Shipped": "#2563eb",
    "Delivered": "#16a34a",
    "Cancelled": "#dc2626",
}
ARABIC = re.compile("[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff]")


def _cell(text: str, css: str = "") -> str:
    """A table cell; Arabic text gets ``lang``/``dir`` so it is shaped and ordered right to left."""
    attrs = f' class="{css}"' if css else ""
    if ARABIC.search(text):
        attrs += ' lang="ar" dir="rtl"'
    return f"<td{attrs}>{escape(text)}</td>"


def _num(value: float, *, decimals: int = 0, css: str = "num") -> str:
    shown = charts.money(value) if decimals else f"{value:,.0f}"
    return f'<td class="{css}" data-value="{value:.{decimals}f}">{shown}</td>'


def _totals_table(data: ReportData) -> str:
    head = (
        "<tr><th>Store</th><th>Orders</th><th>Revenue (SAR)</th><th>Average order (SAR)</th>"
        "<th>Items sold</th><th>Cancelled orders</th></tr>"
    )
    rows = [
        f'<tr data-store="{escape(t.store)}"><td>{escape(t.store)}</td>{_num(t.orders)}'
        f"{_num(t.revenue, decimals=2, css='num revenue')}"
        f"{_num(t.revenue / max(t.orders, 1), decimals=2)}{_num(t.items_sold)}"
        f"{_num(t.cancelled)}</tr>"
        for t in data.totals
    ]
    if len(data.totals) > 1:
        orders, revenue = sum(t.orders for t in data.totals), sum(t.revenue for t in data.totals)
        rows.append(
            f'<tr class="total"><td>All stores</td>{_num(orders)}'
            f"{_num(revenue, decimals=2, css='num revenue')}"
            f"{_num(revenue / max(orders, 1), decimals=2)}"
            f"{_num(sum(t.items_sold for t in data.totals))}"
            f"{_num(sum(t.cancelled for t in data.totals))}</tr>"
        )
    table = f'<table id="totals"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'
    summed = {t.store for t in data.totals}
    if missing := [store for store in data.statuses if store not in summed]:
        table += (
            f'<p class="note" id="stale">{escape(", ".join(missing))}: orders but no daily_sales '
            "rows in this period, so no revenue is shown; run <code>tjar-pipelines sync "
            "--assets daily_sales,product_sales</code>.</p>"
        )
    return table


def _products_section(data: ReportData, colors: dict[str, str]) -> str:
    if not data.products:
        return '<p class="note">No products sold in this period.</p>'
    several = len(data.stores) > 1
    bars = [
        charts.Bar(
            f"{p.name} · {p.store}" if several else p.name,
            p.revenue,
            colors[p.store],
            f"{p.name} ({p.store}): {p.qty:,} sold in {p.orders:,} orders",
        )
        for p in data.products
    ]
    rows = [
        f'<tr data-store="{escape(p.store)}" data-product="{escape(p.product_id)}">'
        f'<td class="num">{n}</td>{_cell(p.name, "name")}'
        f"{_cell(p.name_ar or '', 'name-ar')}<td>{escape(p.store)}</td>"
        f"{_num(p.qty)}{_num(p.orders)}{_num(p.revenue, decimals=2, css='num revenue')}</tr>"
        for n, p in enumerate(data.products, start=1)
    ]
    head = (
        '<tr><th>#</th><th>Product</th><th lang="ar" dir="rtl">الاسم</th><th>Store</th>'
        "<th>Quantity</th><th>Orders</th><th>Revenue (SAR)</th></tr>"
    )
    chart = charts.bars_svg(bars, width=900, title="Top products by revenue")
    return (
        f'<figure id="top-products-chart">{chart}</figure>'
        f'<table id="top-products"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'
    )


def _status_section(data: ReportData) -> str:
    seen = sorted({s for mix in data.statuses.values() for s in mix})
    colors = {s: c for s, c in STATUS_COLORS.items() if s in seen}
    for n, status in enumerate(s for s in seen if s not in colors):
        colors[status] = charts.color(n + 4)
    rows = [(store, {k: float(v) for k, v in mix.items()}) for store, mix in data.statuses.items()]
    head = "".join(f"<th>{escape(s)}</th>" for s in colors)
    body = []
    for store, mix in data.statuses.items():
        total = sum(mix.values())
        cells = "".join(
            f'<td class="num" data-status="{escape(s)}" data-value="{mix.get(s, 0)}">'
            f"{mix.get(s, 0):,} <small>{mix.get(s, 0) / total:.0%}</small></td>"
            for s in colors
        )
        body.append(
            f'<tr data-store="{escape(store)}"><td>{escape(store)}</td>{cells}{_num(total)}</tr>'
        )
    return (
        f'<figure id="status-chart">{charts.stacked_bars_svg(rows, colors, width=900)}</figure>'
        f'<table id="status-mix"><thead><tr><th>Store</th>{head}<th>All orders</th></tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def render(data: ReportData) -> str:
    """The whole page: inline CSS and SVG only, every value HTML-escaped."""
    title = f"Tjar sales report · {period(data)}"
    header = (
        f'<header><h1>Sales report</h1><p class="period">{escape(", ".join(data.stores) or "")}'
        f' · {escape(period(data))}</p><p class="meta">From <code>{escape(data.source)}</code>'
        f", generated {data.generated:%Y-%m-%d %H:%M} UTC. Amounts in SAR; revenue excludes "
        "cancelled orders. Days are each store's local order days.</p></header>"
    )
    if data.empty:
        when = f" from {data.first} to {data.last}" if data.first else ""
        body = (
            '<section class="empty" id="empty"><h2>No orders to report</h2><p>The database has '
            f"no orders for {escape(', '.join(data.stores) or 'any store')}{when}. Run "
            "<code>tjar-pipelines sync</code> (or materialize the stores in Dagster), then write "
            "the report again.</p></section>"
        )
    else:
        colors = {s: charts.color(n) for n, s in enumerate(data.stores)}
        assert data.first is not None and data.last is not None
        series = charts.daily_series(data.daily, data.first, data.last, data.stores)
        body = (
            f"<section><h2>Totals</h2>{_totals_table(data)}</section>"
            f'<section><h2>Revenue per day</h2><figure id="revenue-chart">'
            f"{charts.revenue_lines_svg(series, width=900, height=340)}</figure></section>"
            f"<section><h2>Top products by revenue</h2>{_products_section(data, colors)}</section>"
            f"<section><h2>Order status mix</h2>{_status_section(data)}</section>"
        )
    return (
        '<!doctype html><html lang="en" dir="ltr"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head>"
        f"<body><main>{header}{body}<footer>Written by <code>tjar-pipelines report</code> from "
        "the daily_sales, orders, order_items and products relations.</footer></main></body></html>"
    )


CSS = """
:root { color-scheme: light; --ink: #1f2937; --muted: #6b7280; --line: #e5e7eb; }
* { box-sizing: border-box; }
body { margin: 0; background: #f3f4f6; color: var(--ink);
  font: 14px/1.5 system-ui, 'Segoe UI', 'Noto Sans', 'Noto Naskh Arabic', 'DejaVu Sans',
    sans-serif; }
main { max-width: 980px; margin: 0 auto; padding: 32px 24px 48px; }
header h1 { margin: 0; font-size: 26px; }
.period { margin: 4px 0 0; font-size: 16px; font-weight: 600; }
.meta, footer, .note { color: var(--muted); }
section { background: #fff; border: 1px solid var(--line); border-radius: 10px;
  padding: 16px 20px; margin-top: 20px; }
h2 { margin: 0 0 12px; font-size: 17px; }
figure { margin: 0 0 12px; overflow-x: auto; }
svg { display: block; max-width: 100%; height: auto; }
table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 6px 8px; border-bottom: 1px solid var(--line); text-align: start; }
th { font-size: 12px; color: var(--muted); font-weight: 600; }
td.num, th:not(:first-child) { text-align: end; }
#top-products th:nth-child(2), #top-products th:nth-child(4) { text-align: start; }
#top-products th:nth-child(3), td[dir="rtl"] { text-align: right; }
td small { color: var(--muted); }
tr.total td { font-weight: 600; border-top: 2px solid var(--line); }
.empty { border-color: #fbbf24; background: #fffbeb; }
footer { margin-top: 20px; font-size: 12px; }
code { font-size: 12px; }
"""
