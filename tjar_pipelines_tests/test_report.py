"""`tjar-pipelines report`: its numbers against DuckDB, its page in a real browser, its errors."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest

from tjar_pipelines.cli import main
from tjar_pipelines.simulator import SimulatorServer
from tjar_pipelines_tests.conftest import Pipeline, sim_config, spec

FIRST, LAST = dt.date(2026, 4, 1), dt.date(2026, 5, 11)


@pytest.fixture(scope="module")
def synced(tmp_path_factory) -> Iterator[Path]:
    """Two simulated stores synced with `tjar-pipelines sync`; yields their data directory."""
    tmp = tmp_path_factory.mktemp("report")
    server = SimulatorServer(sim_config(spec("acme"), spec("zen", timezone="Asia/Dubai")))
    with server, pytest.MonkeyPatch.context() as patch:
        pipeline = Pipeline(server, tmp, patch)
        assert main(["sync", "--from", str(FIRST), "--to", str(LAST)]) == 0
        yield pipeline.data_dir


@pytest.fixture
def report(synced, monkeypatch, tmp_path, capsys):
    """Runs the report command on a data directory; returns (exit code, page, stdout, stderr)."""

    def run(*args: str, data_dir: Path = synced) -> tuple[int, str, str, str]:
        monkeypatch.setenv("TJAR_DATA_DIR", str(data_dir))
        out = tmp_path / "report.html"
        out.unlink(missing_ok=True)
        capsys.readouterr()
        code = main(["report", "--out", str(out), *args])
        captured = capsys.readouterr()
        page = out.read_text(encoding="utf-8") if out.exists() else ""
        return code, page, captured.out, captured.err

    return run


def query(data_dir: Path, sql: str, params: object = None) -> list[tuple]:
    with duckdb.connect(str(data_dir / "tjar.duckdb"), read_only=True) as con:
        return con.execute(sql, params).fetchall()


Cell = tuple[dict[str, str | None], str]


class Rows(HTMLParser):
    """The body rows (``td`` cells only) of each ``<table id=...>`` of a page, as
    (row attributes, [(cell attributes, cell text)])."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.tables: dict[str, list[tuple[dict[str, str | None], list[Cell]]]] = {}
        self._table = ""
        self._in_cell = False
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self._table = dict(attrs).get("id") or ""
            self.tables[self._table] = []
        elif tag == "tr" and self._table:
            self.tables[self._table].append((dict(attrs), []))
        elif tag == "td" and self._table:
            self.tables[self._table][-1][1].append((dict(attrs), ""))
            self._in_cell = True

    def handle_endtag(self, tag):
        self._in_cell = self._in_cell and tag != "td"
        if tag == "table":
            self._table = ""

    def handle_data(self, data):
        if self._in_cell:
            cells = self.tables[self._table][-1][1]
            cells[-1] = (cells[-1][0], cells[-1][1] + data)

    def body(self, table: str) -> list[tuple[dict[str, str | None], list[Cell]]]:
        return [row for row in self.tables[table] if row[1]]


def value(cell: Cell) -> Decimal:
    return Decimal(str(cell[0]["data-value"]))


def test_numbers_match_duckdb(synced, report):
    code, page, out, err = report()
    assert code == 0, err
    [line] = out.strip().splitlines()
    assert line.startswith("Wrote ") and "acme, zen" in line and err == ""
    rows = Rows(page)
    # Revenue per store: the daily_sales sums, and independently the non-cancelled orders.
    shown = {
        attrs["data-store"]: value(cells[2])
        for attrs, cells in rows.body("totals")
        if "data-store" in attrs
    }
    assert shown == dict(query(synced, "SELECT store, sum(revenue) FROM daily_sales GROUP BY 1"))
    assert shown == dict(
        query(
            synced,
            "SELECT store, sum(total_amount) FROM orders WHERE status <> 'Cancelled' GROUP BY 1",
        )
    )
    assert all(amount > 0 for amount in shown.values())
    # Top products: over all synced days they are product_sales' top rows, in order.
    products = [
        (attrs["data-store"], attrs["data-product"], value(cells[-1]))
        for attrs, cells in rows.body("top-products")
    ]
    assert products == query(
        synced,
        "SELECT store, product_id, revenue FROM product_sales "
        "ORDER BY revenue DESC, store, product_id LIMIT 10",
    )
    # Status mix: every order of every status, per store.
    mix = {
        (attrs["data-store"], cell[0]["data-status"]): int(value(cell))
        for attrs, cells in rows.body("status-mix")
        for cell in cells
        if "data-status" in cell[0]
    }
    expected = query(synced, "SELECT store, status, count(*) FROM orders GROUP BY ALL")
    assert mix == {(store, status): n for store, status, n in expected}
    assert {"Delivered", "Cancelled"} <= {status for _, status in mix}


def test_one_store_and_a_period(synced, report):
    first, last = dt.date(2026, 5, 1), dt.date(2026, 5, 7)
    code, page, _, err = report("--store", "zen", "--from", str(first), "--to", str(last))
    assert code == 0, err
    rows = Rows(page)
    [(attrs, cells)] = rows.body("totals")
    assert attrs["data-store"] == "zen"
    assert [(value(cells[2]),)] == query(
        synced,
        "SELECT sum(revenue) FROM daily_sales WHERE store = 'zen' AND order_date BETWEEN ? AND ?",
        [first, last],
    )
    assert "2026-05-01..2026-05-07 (7 days)" in page
    assert {attrs["data-store"] for attrs, _ in rows.body("top-products")} == {"zen"}
    assert page.count('class="series"') == 1


def test_the_page_renders_in_chromium(synced, report, chromium, artifacts_dir, tmp_path):
    code, _, _, err = report()
    assert code == 0, err
    url = (tmp_path / "report.html").as_uri()
    browser_page = chromium.new_page(viewport={"width": 1100, "height": 900})
    errors: list[str] = []
    requests: list[str] = []
    browser_page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    browser_page.on("pageerror", lambda exc: errors.append(str(exc)))
    browser_page.on("request", lambda r: requests.append(r.url))
    try:
        browser_page.goto(url, wait_until="load")
        for chart in ("#revenue-chart svg", "#top-products-chart svg", "#status-chart svg"):
            box = browser_page.locator(chart).bounding_box()
            assert box and box["width"] > 600 and box["height"] > 100, (chart, box)
        series = browser_page.locator("#revenue-chart g.series")
        assert series.count() == 2
        assert [series.nth(n).get_attribute("data-series") for n in range(2)] == ["acme", "zen"]
        assert browser_page.locator("#revenue-chart .legend-item").count() == 2
        bars = browser_page.locator("#top-products-chart rect.bar")
        assert bars.count() == 10
        widths = [(bars.nth(n).bounding_box() or {"width": 0})["width"] for n in range(10)]
        assert widths == sorted(widths, reverse=True) and widths[-1] > 20
        statuses = query(synced, "SELECT count(DISTINCT (store, status)) FROM orders")[0][0]
        assert browser_page.locator("#status-chart rect.segment").count() == statuses
        arabic = browser_page.locator("#top-products td.name-ar").first
        assert arabic.get_attribute("lang") == "ar"
        assert arabic.evaluate("e => getComputedStyle(e).direction") == "rtl"
        assert any("\u0600" <= ch <= "\u06ff" for ch in arabic.inner_text())
        browser_page.screenshot(path=str(artifacts_dir / "report.png"), full_page=True)
    finally:
        browser_page.close()
    assert errors == []
    assert requests == [url]


def test_report_reads_while_an_analyst_holds_the_database(synced, report):
    database = synced / "tjar.duckdb"
    before = database.stat().st_mtime_ns
    analyst = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(database)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert analyst.stdout and analyst.stdout.readline().strip() == b"open"
        # A read-write open would fail on the analyst's lock; read-only shares it.
        code, page, _, err = report()
        assert code == 0, err
        assert "Top products" in page
    finally:
        analyst.kill()
        analyst.wait(timeout=10)
    assert database.stat().st_mtime_ns == before


HOLD = """
import duckdb, sys
con = duckdb.connect(sys.argv[1], read_only=True)
print("open", flush=True)
sys.stdin.read()
"""


def test_unknown_store_is_one_line_naming_it(report):
    code, page, out, err = report("--store", "acme", "--store", "nope")
    assert code == 2 and page == "" and out == ""
    [line] = err.strip().splitlines()
    assert line.startswith("tjar-pipelines report: store 'nope' has no orders")
    assert "stores with orders: acme, zen" in line
    assert "tjar-pipelines sync --store nope" in line


def test_a_from_after_the_last_day_of_data_is_one_line_saying_so(report):
    code, page, out, err = report("--from", "2030-01-01")
    assert code == 2 and page == "" and out == ""
    [line] = err.strip().splitlines()
    assert "the period 2030-01-01.." in line and "is reversed" in line and "--from" in line


def test_an_empty_database_gives_a_page_that_says_so(report, tmp_path):
    from tjar_pipelines.lake.files import Lake
    from tjar_pipelines.lake.warehouse import Warehouse

    empty = tmp_path / "empty"
    Warehouse(Lake(empty)).ensure_views()
    code, page, out, err = report(data_dir=empty)
    assert code == 0 and out == ""
    [line] = err.strip().splitlines()
    assert "no orders" in line and "run `tjar-pipelines sync` first" in line
    assert 'id="empty"' in page and "No orders to report" in page and "<svg" not in page


def test_no_database_is_one_line_with_the_fix(report, tmp_path):
    code, page, _, err = report(data_dir=tmp_path / "nothing")
    assert code == 1 and page == ""
    [line] = err.strip().splitlines()
    assert "no database at" in line and "TJAR_DATA_DIR" in line and "Traceback" not in err


def test_render_escapes_every_value_and_marks_arabic():
    from tjar_pipelines.report import Product, ReportData, StoreTotals, render

    store = "<script>alert('s')</script>"
    data = ReportData(
        stores=(store,),
        first=dt.date(2026, 5, 1),
        last=dt.date(2026, 5, 2),
        source="/data/<tjar>.duckdb",
        generated=dt.datetime(2026, 5, 3, tzinfo=dt.UTC),
        totals=(StoreTotals(store, 2, 30.5, 3, 0),),
        daily=((store, dt.date(2026, 5, 1), 30.5),),
        products=(Product(store, '"7"', "Oud & <b>Musk</b>", 'عطر "عود"', 2, 3, 30.5),),
        statuses={store: {"Shipped <now>": 2}},
    )
    page = render(data)
    assert "<script" not in page and "<b>" not in page and "<tjar>" not in page
    assert "&lt;script&gt;" in page and "Oud &amp; &lt;b&gt;Musk&lt;/b&gt;" in page
    assert "Shipped &lt;now&gt;" in page and 'data-product="&quot;7&quot;"' in page
    assert '<td class="name-ar" lang="ar" dir="rtl">عطر &quot;عود&quot;</td>' in page
    assert '<meta charset="utf-8">' in page
    assert set(re.findall(r"\w+://[^\"' ]*", page)) == {"http://www.w3.org/2000/svg"}


def test_orders_without_daily_sales_say_how_to_fill_them():
    from tjar_pipelines.report import ReportData, StoreTotals, render

    data = ReportData(
        stores=("acme", "zen"),
        first=dt.date(2026, 5, 1),
        last=dt.date(2026, 5, 1),
        source="tjar.duckdb",
        generated=dt.datetime(2026, 5, 3, tzinfo=dt.UTC),
        totals=(StoreTotals("acme", 1, 10.0, 1, 0),),
        daily=(("acme", dt.date(2026, 5, 1), 10.0),),
        statuses={"acme": {"Shipped": 1}, "zen": {"Pending": 4}},
    )
    page = render(data)
    assert 'id="stale">zen: orders but no daily_sales rows' in page
    assert "--assets daily_sales,product_sales" in page
    assert 'id="stale"' not in render(replace(data, statuses={"acme": {"Shipped": 1}}))


def test_lines_without_product_id_quantity_or_subtotal_are_reported(report, tmp_path):
    import pyarrow as pa

    from tjar_pipelines.ingest import build_sales
    from tjar_pipelines.lake.files import Lake
    from tjar_pipelines.lake.tables import ORDER_ITEMS, ORDERS
    from tjar_pipelines.lake.warehouse import Warehouse

    lake, day = Lake(tmp_path / "nulls"), dt.date(2026, 5, 1)
    Warehouse(lake).ensure_views()
    order = {"store": "acme", "identifier": "1", "status": "Delivered", "order_date": day}
    lake.write_slice("orders", pa.Table.from_pylist([order], schema=ORDERS), "acme", day)
    line = {"store": "acme", "order_identifier": "1", "line_number": 1, "order_date": day}
    lake.write_slice("order_items", pa.Table.from_pylist([line], schema=ORDER_ITEMS), "acme", day)
    build_sales(lake, "acme", "daily_sales")
    code, page, _, err = report(data_dir=lake.data_dir)
    assert code == 0, err
    [(_, cells)] = Rows(page).body("top-products")
    assert "(no id)" in page and [text for _, text in cells][-1] == "0.00"
