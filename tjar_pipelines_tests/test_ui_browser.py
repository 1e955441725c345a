"""The Dagster UI in headless Chromium, on `dagster dev` with the project's own workspace.yaml.

One `orders` partition (a simulated store's today) and that store's `daily_sales` are
materialized through the webserver's GraphQL API, as the UI's Materialize button does; then the
tests open the pages a user looks at. Screenshots go to data/test-artifacts/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tjar_pipelines_tests.conftest import expected_ids
from tjar_pipelines_tests.ui_stack import Stack, dagster_with_simulator

# The first test also starts dagster dev and waits for two runs: generous for a slow machine.
pytestmark = pytest.mark.timeout(600)
ASSETS = ("orders", "order_items", "products", "daily_sales", "product_sales")
RUN_TIMEOUT = 180  # seconds; a run takes ~10 s on an idle 2-core machine
WAIT_MS = 30_000  # for a page element to show


@dataclass(frozen=True)
class Synced:
    """The running stack after the runs, and the store's orders of that day (simulator ids)."""

    stack: Stack
    order_ids: set[str]

    @property
    def url(self) -> str:
        return self.stack.dagster.url


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory, chromium: Browser) -> Iterator[Synced]:
    """The stack with one orders partition and daily_sales materialized (Chromium first, so a
    machine without it skips before starting anything)."""
    with dagster_with_simulator(tmp_path_factory.mktemp("ui")) as stack:
        dagster, store, day = stack.dagster, stack.store, stack.day.isoformat()
        orders = dagster.launch(
            stack.repository,
            "orders_job",
            {
                "dagster/partition": f"{day}|{store}",
                "dagster/partition/date": day,
                "dagster/partition/store": store,
            },
        )
        dagster.wait_run(orders, RUN_TIMEOUT)
        sales = dagster.launch(
            stack.repository, "sales_job", {"dagster/partition": store}, assets=["daily_sales"]
        )
        dagster.wait_run(sales, RUN_TIMEOUT)
        yield Synced(stack, expected_ids(stack.server, store, stack.day, stack.day))


@pytest.fixture
def page(chromium: Browser) -> Iterator[Page]:
    context = chromium.new_context(viewport={"width": 1600, "height": 1200})
    context.set_default_timeout(WAIT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


def shown(locator: Locator) -> None:
    expect(locator).to_be_visible(timeout=WAIT_MS)


def metadata_value(page: Page, key: str) -> Locator:
    """The value cell of one entry of an asset page's metadata table."""
    row = page.get_by_role("row").filter(has=page.get_by_role("cell", name=key, exact=True))
    return row.get_by_role("cell").nth(2)


def test_asset_graph_shows_raw_and_analytics_assets(
    ui: Synced, page: Page, artifacts_dir: Path
) -> None:
    page.goto(f"{ui.url}/asset-groups")
    graph = page.locator("svg foreignObject")  # the nodes of the graph, not the sidebar
    for group in ("raw", "analytics"):
        shown(graph.get_by_text(group, exact=True))
    page.keyboard.press("Alt+KeyE")  # the graph's "Expand all groups"
    for asset in ASSETS:
        shown(graph.get_by_text(asset, exact=True))
    # Each node's live data (latest event, checks, partitions filled) has arrived.
    expect(graph.get_by_text(re.compile(r"^\d+% filled$"))).to_have_count(
        len(ASSETS), timeout=WAIT_MS
    )
    expect(graph.get_by_text(re.compile(r"^Loading"))).to_have_count(0, timeout=WAIT_MS)
    page.screenshot(path=artifacts_dir / "asset_graph.png")


def test_orders_page_shows_the_partition_and_its_metadata(
    ui: Synced, page: Page, artifacts_dir: Path
) -> None:
    store, day = ui.stack.store, ui.stack.day.isoformat()
    assert ui.order_ids, f"the simulator has no orders of {store} on {day}"
    page.goto(f"{ui.url}/assets/orders")
    shown(page.get_by_text(f"{day}|{store}", exact=True))  # tag of the latest materialization
    expect(metadata_value(page, "rows_by_store")).to_contain_text(
        f'"{store}": {len(ui.order_ids)}', timeout=WAIT_MS
    )
    expect(metadata_value(page, "pages")).to_have_text(re.compile(r"^[1-9]\d*$"), timeout=WAIT_MS)
    preview = metadata_value(page, "preview")
    expect(preview).to_contain_text(day, timeout=WAIT_MS)
    shown_ids = set(preview.get_by_role("cell").all_inner_texts()) & ui.order_ids
    assert shown_ids, f"the preview shows none of the orders {sorted(ui.order_ids)}"
    page.screenshot(path=artifacts_dir / "orders_asset.png")


def test_daily_sales_page_shows_the_revenue_chart(
    ui: Synced, page: Page, artifacts_dir: Path
) -> None:
    store, day = ui.stack.store, ui.stack.day.isoformat()
    page.goto(f"{ui.url}/assets/daily_sales")
    expect(metadata_value(page, "rows_by_store")).to_contain_text(f'"{store}": 1', timeout=WAIT_MS)
    expect(metadata_value(page, "recent")).to_contain_text(day, timeout=WAIT_MS)
    # The UI shows markdown over 1,000 characters (the chart's data: URI) behind this link.
    metadata_value(page, "revenue_chart").get_by_text("[Show Markdown]").click()
    chart = page.get_by_role("dialog").locator("img")
    shown(chart)
    page.wait_for_function("img => img.complete", arg=chart.element_handle())
    width = chart.evaluate("img => img.naturalWidth")
    assert width > 0, "the revenue chart image did not load (naturalWidth 0)"
    page.screenshot(path=artifacts_dir / "daily_sales.png")
