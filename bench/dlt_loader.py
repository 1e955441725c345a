"""The same Tjar load done with dlt's declarative ``rest_api`` source, into DuckDB. A baseline.

``run`` builds one ``rest_api_source`` per store (dlt's ``RESTAPIConfig``, as its REST API docs
show it) and runs every store's source through one pipeline, one store after another:

* client: the store's ``base_url``, ``{"type": "bearer", "token": api_key}`` auth, and a
  ``page_number`` paginator (``base_page=1``, ``page_param="page"``,
  ``total_path="data.pagination.last_page"``; dlt also stops on an empty page).
* resource defaults: ``per_page=100``, ``write_disposition="merge"`` with
  ``primary_key=["store", "identifier"]``, and a ``map`` processing step that adds the
  ``store`` column to every record, so two stores' orders with the same identifier stay apart.
* resources: ``orders`` (``data_selector="data.orders"``, ``date_from``/``date_to`` params) and
  ``products`` (``data_selector="data.products"``).

dlt infers the schema and unnests lists into child tables: ``order_details`` becomes
``orders__order_details`` (counted as ``order_items``), joined to ``orders`` by
``_dlt_parent_id``/``_dlt_root_id``. dlt's type detection turns ``created_at``/``updated_at``
into ``TIMESTAMP WITH TIME ZONE`` read as UTC, although Tjar sends store-local times.

The destination is ``dlt.destinations.duckdb(db_path)``, dataset ``tjar``. The loader file format
is ``parquet``, which dlt's DuckDB page suggests over its default ``insert_values`` when pyarrow
is installed; ``--format insert_values`` measures the default. Each call uses a new pipeline name
and a temporary ``pipelines_dir``, so no local state carries over; loading the same stores into
the same file again merges (no duplicates). dlt's anonymous telemetry is turned off.
Standalone, the window ends tomorrow, as the store's local date can be ahead.

    .venv/bin/python bench/dlt_loader.py [--orders 10000] [--stores 1] [--format parquet]
"""

# dlt comes with the `bench` extra only; `make test` type-checks this file without it.
# pyright: reportMissingImports=false

from __future__ import annotations

import os
import tempfile
import time
import uuid

import dlt
import duckdb
from dlt.common.destination import TLoaderFileFormat
from dlt.sources.rest_api import rest_api_source
from dlt.sources.rest_api.typing import RESTAPIConfig

DATASET = "tjar"
TABLES = {"orders": "orders", "order_items": "orders__order_details", "products": "products"}


def store_source(slug: str, base_url: str, api_key: str, date_from: str, date_to: str):
    config: RESTAPIConfig = {
        "client": {
            "base_url": base_url,
            "auth": {"type": "bearer", "token": api_key},
            "paginator": {
                "type": "page_number",
                "base_page": 1,
                "page_param": "page",
                "total_path": "data.pagination.last_page",
            },
        },
        "resource_defaults": {
            "primary_key": ["store", "identifier"],
            "write_disposition": "merge",
            "endpoint": {"params": {"per_page": 100}},
            "processing_steps": [{"map": lambda record: {**record, "store": slug}}],
        },
        "resources": [
            {
                "name": "orders",
                "endpoint": {
                    "path": "orders",
                    "data_selector": "data.orders",
                    "params": {"date_from": date_from, "date_to": date_to},
                },
            },
            {
                "name": "products",
                "endpoint": {"path": "products", "data_selector": "data.products"},
            },
        ],
    }
    return rest_api_source(config, name="tjar")


def run(
    stores: list[tuple[str, str, str]],
    db_path: str,
    date_from: str,
    date_to: str,
    loader_file_format: TLoaderFileFormat = "parquet",
) -> dict:
    os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"
    with tempfile.TemporaryDirectory(prefix="dlt-bench-") as pipelines_dir:
        pipeline = dlt.pipeline(
            pipeline_name=f"tjar_bench_{uuid.uuid4().hex[:8]}",
            pipelines_dir=pipelines_dir,
            destination=dlt.destinations.duckdb(db_path),
            dataset_name=DATASET,
        )
        for slug, base_url, api_key in stores:
            source = store_source(slug, base_url, api_key, date_from, date_to)
            pipeline.run(source, loader_file_format=loader_file_format)
    with duckdb.connect(db_path, read_only=True) as con:
        return {
            name: con.execute(f"SELECT count(*) FROM {DATASET}.{table}").fetchone()[0]  # type: ignore[index]
            for name, table in TABLES.items()
        }


if __name__ == "__main__":
    import argparse
    import datetime as dt
    import resource
    from pathlib import Path

    from tjar_pipelines.simulator import SimulatorConfig, SimulatorServer, StoreSpec

    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--orders", type=int, default=10_000, help="orders per store")
    parser.add_argument("--stores", type=int, default=1)
    parser.add_argument("--format", default="parquet", choices=("parquet", "insert_values"))
    args = parser.parse_args()
    specs = tuple(
        StoreSpec(f"s{n}", f"k{n}", "x", orders=args.orders, products=200, history_days=30)
        for n in range(1, args.stores + 1)
    )
    today = dt.date.today()
    window = (str(today - dt.timedelta(days=40)), str(today + dt.timedelta(days=1)))
    with (
        SimulatorServer(SimulatorConfig(stores=specs)) as server,
        tempfile.TemporaryDirectory() as tmp,
    ):
        stores = [(s.slug, server.base_url(s.slug), s.api_key) for s in specs]
        started = time.perf_counter()
        counts = run(stores, str(Path(tmp) / "dlt.duckdb"), *window, args.format)
        seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{counts} in {seconds:.1f} s, peak RSS {peak_mb:.0f} MB (simulator included)")
