"""Serve a few demo stores in the simulator and sync their last 30 days with the Dagster jobs.

Writes a demo store registry to ``{data_dir}/stores.yaml`` (keys in ``{data_dir}/demo.env``),
runs ``tjar-pipelines sync`` against it, checks the result against the simulator, and prints
the row count of every relation and an example query. ``make demo-ui`` then serves the same
stores and opens the Dagster UI on the same registry and data.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path

import yaml

from tjar_pipelines.simulator import SimulatorConfig, SimulatorServer, StoreSpec, demo_stores
from tjar_pipelines.stores import env_name

DEMO_PORT = 8765
EXAMPLE_QUERY = """SELECT store, sum(revenue) AS revenue_sar, sum(orders) AS orders
FROM daily_sales WHERE order_date >= current_date - 7 GROUP BY store ORDER BY store"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stores", type=int, default=3, metavar="N", help="number of demo stores")
    parser.add_argument(
        "--orders", type=int, default=2000, metavar="N", help="orders per demo store"
    )
    parser.add_argument(
        "--days", type=int, default=30, metavar="N", help="days of orders to sync, up to today"
    )
    parser.add_argument(
        "--data-dir",
        default="data/demo",
        metavar="DIR",
        help="where the registry, the lake and tjar.duckdb go",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=DEMO_PORT,
        metavar="PORT",
        help="simulator port; any free port if it is taken (0 = any)",
    )


def key_env(slug: str) -> str:
    return env_name(slug, "API_KEY")


def write_registry(
    server: SimulatorServer, specs: tuple[StoreSpec, ...], data_dir: Path, start: dt.date
) -> Path:
    """The demo's ``stores.yaml`` and ``demo.env``, pointing at the running simulator."""
    data_dir.mkdir(parents=True, exist_ok=True)
    entries = [
        {
            "slug": s.slug,
            "domain": s.domain,
            "api_key_env": key_env(s.slug),
            "base_url": server.base_url(s.slug),
            "timezone": s.timezone,
            "language": "en",
            "start_date": start.isoformat(),
        }
        for s in specs
    ]
    path = data_dir / "stores.yaml"
    path.write_text(yaml.safe_dump({"stores": entries}, sort_keys=False))
    env = [f"{key_env(s.slug)}={s.api_key}" for s in specs]
    env += [f"TJAR_STORES_FILE={path.absolute()}", f"TJAR_DATA_DIR={data_dir.absolute()}"]
    (data_dir / "demo.env").write_text("\n".join(env) + "\n")
    return path


def expected_orders(server: SimulatorServer, spec: StoreSpec, first: dt.date) -> int:
    store = server.simulator.stores[spec.slug]
    return sum(
        1
        for epoch in list(store.created)
        if dt.datetime.fromtimestamp(epoch, store.zone).date() >= first
    )


def run(args: argparse.Namespace) -> int:
    from tjar_pipelines import sync
    from tjar_pipelines.lake.files import Lake
    from tjar_pipelines.lake.warehouse import Warehouse

    specs = demo_stores(args.stores, orders=args.orders)
    data_dir = Path(args.data_dir)
    first = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=args.days - 1)
    try:
        server = SimulatorServer(SimulatorConfig(stores=specs), port=args.port)
    except OSError:
        server = SimulatorServer(SimulatorConfig(stores=specs), port=0)
    with server:
        print(f"Simulator with {len(specs)} demo stores on {server.url}")
        registry = write_registry(server, specs, data_dir, first)
        saved = dict(os.environ)
        try:
            for line in (data_dir / "demo.env").read_text().splitlines():
                name, value = line.split("=", 1)
                os.environ[name] = value
            code = sync.run(
                argparse.Namespace(
                    store=[],
                    first=first,
                    last=None,
                    assets=",".join(sync.ASSETS),
                    verbose=getattr(args, "verbose", False),
                )
            )
        finally:
            os.environ.clear()
            os.environ.update(saved)
        expected = {s.slug: expected_orders(server, s, first) for s in specs}
    if code != 0:
        return code
    with Warehouse(Lake(data_dir)).connect() as con:
        print("\nRelations in", data_dir / "tjar.duckdb")
        for table in sync.ASSETS:
            [(count,)] = con.execute(f"SELECT count(*) FROM {table}").fetchall()
            print(f"  {table:<14}{count:>8} rows")
        stored = dict(con.execute("SELECT store, count(*) FROM orders GROUP BY store").fetchall())
        print(f"\nExample query:\n{EXAMPLE_QUERY}\n")
        print(con.sql(EXAMPLE_QUERY))
    if stored != expected:
        print(
            f"demo failed: DuckDB holds {stored} orders, the stores hold {expected}",
            file=sys.stderr,
        )
        return 1
    print(f"Every order of the simulator is in DuckDB ({sum(expected.values())} orders).")
    print(
        f"Explore it: duckdb -readonly {data_dir}/tjar.duckdb, or `make demo-ui` for the "
        f"Dagster UI on the same stores (registry {registry})."
    )
    return 0
