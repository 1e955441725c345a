"""The Tjar loader a user writes first: requests, pandas.json_normalize, DuckDB. A baseline.

For each store, ``run`` pages ``GET /orders`` (``per_page=100``, ``date_from``/``date_to``) and
``GET /products`` with one ``requests.Session`` that sends ``Authorization: Bearer <key>``.
It starts at page 1 and stops on an empty page or when ``data.pagination.current_page >=
last_page``. It keeps every page in memory and flattens them with ``pandas.json_normalize``:

* ``orders``: one row per order. Nested objects become dotted columns (``status.value``,
  ``customer.name``…); the ``order_details`` list is dropped.
* ``order_items``: ``json_normalize(orders, record_path="order_details")`` with the order's
  ``identifier`` as ``order_identifier``.
* ``products``: one row per product.

Every frame gets a ``store`` column and goes to DuckDB as it is: lists left inside
(``options.product_options``, products' ``product_options``…) become DuckDB ``LIST``/``STRUCT``
columns, timestamps stay text, money stays ``DOUBLE``. The first store creates each table
(``CREATE TABLE ... AS SELECT * FROM df``) and the others append with ``INSERT INTO ... BY NAME
SELECT * FROM df``: ``json_normalize`` orders columns by first appearance in the data, so two
stores' frames can differ in column order, and a plain positional ``INSERT`` failed on that.
Tables left by an earlier run are dropped first. No retry, no type mapping, no dedup, no
streaming. Standalone, the window ends tomorrow, as the store's local date can be ahead.

    .venv/bin/python bench/naive_loader.py [--orders 10000] [--stores 1]
"""

from __future__ import annotations

import time

import duckdb
import pandas as pd
import requests

TABLES = ("orders", "order_items", "products")


def fetch_all(session: requests.Session, url: str, key: str, params: dict[str, str]) -> list[dict]:
    rows: list[dict] = []
    page = 1
    while True:
        response = session.get(url, params={**params, "page": page, "per_page": 100}, timeout=60)
        response.raise_for_status()
        data = response.json()["data"]
        rows.extend(data[key])
        if not data[key] or data["pagination"]["current_page"] >= data["pagination"]["last_page"]:
            return rows
        page += 1


def insert(con: duckdb.DuckDBPyConnection, table: str, df: pd.DataFrame, created: set[str]) -> None:
    if table in created:
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM df")
    else:
        con.execute(f"CREATE TABLE {table} AS SELECT * FROM df")
        created.add(table)


def run(stores: list[tuple[str, str, str]], db_path: str, date_from: str, date_to: str) -> dict:
    con = duckdb.connect(db_path)
    for table in TABLES:
        con.execute(f"DROP TABLE IF EXISTS {table}")
    created: set[str] = set()
    for slug, base_url, api_key in stores:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {api_key}"
        window = {"date_from": date_from, "date_to": date_to}
        raw_orders = fetch_all(session, f"{base_url}/orders", "orders", window)
        raw_products = fetch_all(session, f"{base_url}/products", "products", {})

        orders = pd.json_normalize(raw_orders).drop(columns=["order_details"])
        items = pd.json_normalize(
            raw_orders, record_path="order_details", meta=["identifier"], meta_prefix="order_"
        )
        products = pd.json_normalize(raw_products)
        for table, df in (("orders", orders), ("order_items", items), ("products", products)):
            df.insert(0, "store", slug)
            insert(con, table, df, created)
    counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}  # type: ignore[index]
    con.close()
    return counts


if __name__ == "__main__":
    import argparse
    import datetime as dt
    import resource
    import tempfile
    from pathlib import Path

    from tjar_pipelines.simulator import SimulatorConfig, SimulatorServer, StoreSpec

    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--orders", type=int, default=10_000, help="orders per store")
    parser.add_argument("--stores", type=int, default=1)
    args = parser.parse_args()
    specs = tuple(
        StoreSpec(f"s{n}", f"k{n}", "x", orders=args.orders, products=200, history_days=30)
        for n in range(1, args.stores + 1)
    )
    today = dt.date.today()
    with (
        SimulatorServer(SimulatorConfig(stores=specs)) as server,
        tempfile.TemporaryDirectory() as tmp,
    ):
        stores = [(s.slug, server.base_url(s.slug), s.api_key) for s in specs]
        started = time.perf_counter()
        counts = run(
            stores,
            str(Path(tmp) / "naive.duckdb"),
            str(today - dt.timedelta(days=40)),
            str(today + dt.timedelta(days=1)),
        )
        seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{counts} in {seconds:.1f} s, peak RSS {peak_mb:.0f} MB (simulator included)")
