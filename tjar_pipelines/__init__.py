"""Tjar store data into a Parquet lake and DuckDB, as a Dagster code location."""

import os

__version__ = "0.1.0"

# Arrow allocates with jemalloc unless told otherwise: it hands freed memory back to the
# system, where Arrow's default (mimalloc) keeps what each thread freed. With a store per
# thread that measured 934 MB peak for 10 stores x 6,000 orders against 646 MB, and 616 MB
# against 484 MB for 2 x 50,000, at the same speed (bench/run.py, 2026-11-27). It has to be
# set before pyarrow loads, hence here; a value set by the user wins.
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "jemalloc")
