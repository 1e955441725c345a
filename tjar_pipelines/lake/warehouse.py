"""The analysts' DuckDB database: views over the Parquet lake, so pipelines never lock it.

Pipelines write Parquet slices only. ``tjar.duckdb`` holds views that read the lake at query
time, so any number of analysts can keep read-only sessions open while runs write, and each
query sees every slice either before or after its replacement, never half of it. The database
file is only written when the view definitions change (first run, upgrade, or a moved data
directory); a sidecar file records what was last written so that ordinary runs never open it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import duckdb

from tjar_pipelines.lake.files import Lake

VIEWS_VERSION = 1


def _quote(path: str) -> str:
    return "'" + path.replace("'", "''") + "'"


def view_sql(lake: Lake) -> dict[str, str]:
    """The ``CREATE VIEW`` statement of every relation analysts query."""

    def scan(table: str) -> str:
        return f"read_parquet({_quote(lake.glob(table))}, union_by_name = true)"

    return {
        "orders": f"""
            CREATE OR REPLACE VIEW orders AS
            SELECT * REPLACE (raw::JSON AS raw) FROM {scan("orders")}""",
        "order_items": f"""
            CREATE OR REPLACE VIEW order_items AS
            SELECT * REPLACE (raw::JSON AS raw) FROM {scan("order_items")}""",
        "products": f"""
            CREATE OR REPLACE VIEW products AS
            SELECT * REPLACE (raw::JSON AS raw) FROM {scan("products")}""",
        "daily_sales": f"CREATE OR REPLACE VIEW daily_sales AS SELECT * FROM {scan('daily_sales')}",
        "product_sales": f"""
            CREATE OR REPLACE VIEW product_sales AS SELECT * FROM {scan("product_sales")}""",
    }


class Warehouse:
    """``{data_dir}/tjar.duckdb`` and its views.

    Args:
        lake: The lake the views read.
        lock_timeout: Seconds to keep retrying when another process holds the database while
            the views must be (re)written.
        sleep: Injected for tests.
    """

    def __init__(
        self, lake: Lake, *, lock_timeout: float = 30.0, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.lake = lake
        self.path = lake.data_dir / "tjar.duckdb"
        self._marker = lake.data_dir / ".tjar.duckdb.views.json"
        self._lock_timeout = lock_timeout
        self._sleep = sleep

    def _wanted(self) -> dict[str, object]:
        return {"version": VIEWS_VERSION, "lake": str(self.lake.root)}

    def views_current(self) -> bool:
        try:
            return json.loads(self._marker.read_text()) == self._wanted() and self.path.exists()
        except (OSError, ValueError):
            return False

    def ensure_views(self) -> bool:
        """Creates or updates the views if needed; returns whether the database was written.

        Raises:
            RuntimeError: The database stayed locked by another process for ``lock_timeout``.
        """
        if self.views_current():
            return False
        self.lake.ensure()
        deadline = time.monotonic() + self._lock_timeout
        while True:
            try:
                with duckdb.connect(str(self.path)) as con:
                    for statement in view_sql(self.lake).values():
                        con.execute(statement)
                break
            except duckdb.IOException as exc:
                if time.monotonic() >= deadline:
                    raise RuntimeError(
                        f"{self.path} is held open by another process, so its views could not "
                        f"be created or updated ({exc}); close other sessions on it once and "
                        "run again. Later runs do not need to write it."
                    ) from exc
                self._sleep(0.5)
        self._marker.write_text(json.dumps(self._wanted()))
        return True

    def connect(self, *, read_only: bool = True) -> duckdb.DuckDBPyConnection:
        """A connection to the database, read-only by default, as analysts use it."""
        self.ensure_views()
        return duckdb.connect(str(self.path), read_only=read_only)
