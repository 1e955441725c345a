"""The Parquet lake (the truth) and the DuckDB database of views over it. No Dagster here."""
