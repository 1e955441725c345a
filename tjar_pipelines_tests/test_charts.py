"""The SVG charts, and the revenue chart in the ``daily_sales`` materialization metadata."""

from __future__ import annotations

import base64
import datetime as dt
import re
import xml.etree.ElementTree as ET

import pytest

from tjar_pipelines import charts
from tjar_pipelines.metadata import revenue_chart
from tjar_pipelines_tests.conftest import sim_config, spec

SVG = "{http://www.w3.org/2000/svg}"
DAY = dt.date(2026, 5, 1)


def points(element: ET.Element) -> list[tuple[float, float]]:
    """The (x, y) of a polyline, or of the polyline inside a series group."""
    line = element if element.tag == f"{SVG}polyline" else element.find(f"{SVG}polyline")
    assert line is not None
    pairs = (p.split(",") for p in line.get("points", "").split())
    return [(float(x), float(y)) for x, y in pairs]


def test_nice_ticks_and_short_amounts():
    assert charts.nice_ticks(0) == [0.0, 1.0]
    assert charts.nice_ticks(9) == [0, 2, 4, 6, 8, 10]
    assert charts.nice_ticks(23_000) == [0, 5_000, 10_000, 15_000, 20_000, 25_000]
    assert charts.nice_ticks(10) == [0, 2, 4, 6, 8, 10]
    assert [charts.short_amount(v) for v in (0, 950, 12_500, 25_000, 1_200_000)] == [
        "0",
        "950",
        "12.5k",
        "25k",
        "1.2M",
    ]


def test_daily_series_fills_days_without_rows_with_zero():
    rows = [("a", DAY, 5.0), ("a", DAY + dt.timedelta(days=2), 7.0), ("b", DAY, 1.0)]
    a, b = charts.daily_series(rows, DAY, DAY + dt.timedelta(days=2), ["a", "b"])
    assert [v for _, v in a.points] == [5.0, 0.0, 7.0]
    assert [v for _, v in b.points] == [1.0, 0.0, 0.0]
    assert [d for d, _ in a.points] == [DAY + dt.timedelta(days=n) for n in range(3)]


def test_revenue_lines_put_each_value_where_the_axis_says():
    rows = [("acme", DAY + dt.timedelta(days=n), float(v)) for n, v in enumerate((0, 10, 20))]
    rows += [("<zen & co>", DAY + dt.timedelta(days=n), 5.0) for n in range(3)]
    series = charts.daily_series(rows, DAY, DAY + dt.timedelta(days=2), ["acme", "<zen & co>"])
    root = ET.fromstring(charts.revenue_lines_svg(series, width=400, height=200))
    groups = root.findall(f".//{SVG}g[@class='series']")
    assert [g.get("data-series") for g in groups] == ["acme", "<zen & co>"]
    acme, zen = points(groups[0]), points(groups[1])
    # 20 is the top tick, 0 the x axis, 10 half-way; days are evenly spaced, left to right.
    labels = {t.text: float(t.get("y", 0)) for t in root.iter(f"{SVG}text")}
    near = lambda value: pytest.approx(value, abs=0.11)  # noqa: E731 (coordinates have 1 decimal)
    assert acme[2][1] == near(labels["20"] - 4) and acme[0][1] == near(labels["0"] - 4)
    assert acme[1][1] == near((acme[0][1] + acme[2][1]) / 2)
    assert zen[0][1] == near((acme[0][1] + acme[1][1]) / 2)
    assert acme[1][0] - acme[0][0] == near(acme[2][0] - acme[1][0]) and acme[1][0] > acme[0][0]
    assert "May 1" in labels and "May 3" in labels and "SAR" in labels
    assert len(groups[0].findall(f"{SVG}circle")) == 3  # a dot per day, with its amount
    titles = [t.text for t in groups[0].findall(f"{SVG}circle/{SVG}title")]
    assert titles[-1] == "acme 2026-05-03: 20.00 SAR"
    assert len(root.findall(f".//{SVG}g[@class='legend-item']")) == 2


def test_bars_are_proportional_and_labels_escaped():
    bars = [charts.Bar("Oud <b>", 300.0), charts.Bar("عطر عود", 150.0), charts.Bar("x", 0.0)]
    root = ET.fromstring(charts.bars_svg(bars, width=600))
    rects = root.findall(f".//{SVG}rect[@class='bar']")
    widths = [float(r.get("width", 0)) for r in rects]
    assert len(rects) == 3 and widths[0] == 2 * widths[1] and widths[2] == 1.0
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "Oud <b>" in texts and "عطر عود" in texts and "300.00 SAR" in texts


def test_stacked_bars_split_each_row_by_share():
    rows = [("acme", {"Shipped": 3.0, "Cancelled": 1.0}), ("zen", {"New": 2.0})]
    colors = {"Shipped": "#00f", "Cancelled": "#f00"}
    root = ET.fromstring(charts.stacked_bars_svg(rows, colors, width=500))
    segments = root.findall(f".//{SVG}rect[@class='segment']")
    assert [s.get("data-part") for s in segments] == ["Shipped", "Cancelled", "New"]
    shipped, cancelled, new = (float(s.get("width", 0)) for s in segments)
    assert abs(shipped - 3 * cancelled) < 0.2 and abs(new - (shipped + cancelled)) < 0.2
    assert segments[2].get("fill") == charts.MUTED  # a status without a colour still shows


def _image(markdown: str) -> ET.Element:
    [uri] = re.findall(r"!\[[^\]]*\]\((data:image/svg\+xml;base64,[A-Za-z0-9+/=]+)\)", markdown)
    assert len(uri) < 100_000
    return ET.fromstring(base64.b64decode(uri.split(",", 1)[1]))


def test_revenue_chart_metadata_shows_the_last_30_days_of_at_most_8_stores():
    rows = [
        (f"s{n:02d}", DAY - dt.timedelta(days=d), float(n * 100 + d))
        for n in range(12)
        for d in range(45)
    ]
    markdown = str(revenue_chart(rows).value)
    assert "2026-04-02 to 2026-05-01" in markdown and "the 8 of 12 stores" in markdown
    root = _image(markdown)
    names = [g.get("data-series") for g in root.iter(f"{SVG}g") if g.get("class") == "series"]
    assert names == [f"s{n:02d}" for n in range(4, 12)]  # the 8 with the most revenue
    assert all(len(points(p)) == 30 for p in root.iter(f"{SVG}polyline"))
    assert revenue_chart([]).value == "_no sales yet_"
    single = str(revenue_chart([("acme", DAY, 12.0)]).value)
    assert f"SAR, on {DAY}**" in single
    one_day = _image(single)
    assert [len(points(p)) for p in one_day.iter(f"{SVG}polyline")] == [1]
    assert len(list(one_day.iter(f"{SVG}circle"))) == 1  # a single day still shows, as a dot


def test_daily_sales_materialization_carries_the_revenue_chart(pipeline):
    p = pipeline(sim_config(spec("acme")))
    assert p.sync_orders("acme", dt.date(2026, 4, 1), dt.date(2026, 5, 11)).success
    result = p.sync_store_job("sales_job", "acme")
    assert result.success
    [daily] = [
        e.step_materialization_data.materialization
        for e in result.get_asset_materialization_events()
        if e.step_materialization_data.materialization.asset_key.path == ["daily_sales"]
    ]
    markdown = str(daily.metadata["revenue_chart"].value)
    root = _image(markdown)
    assert root.tag == f"{SVG}svg" and float(root.get("width", 0)) > 0
    [line] = [g for g in root.iter(f"{SVG}g") if g.get("class") == "series"]
    assert line.get("data-series") == "acme"
    [(first, last)] = p.query("SELECT min(order_date), max(order_date) FROM daily_sales")
    assert (last - first).days + 1 == len(points(line)) < 30  # only the days synced
    assert f", {first} to {last}**" in markdown
