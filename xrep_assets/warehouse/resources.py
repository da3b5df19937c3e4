"""The DuckDB warehouse: our own small resource (the DuckDB IO manager cannot load multi-partitions
with a dynamic dimension). Connections are opened per call and closed at once, so heavy compute
never holds DuckDB's file lock."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl

from xrep_assets.paths import SQL_DIR


def read_sql(name: str) -> str:
    return (SQL_DIR / name).read_text(encoding="utf-8")


class DuckDBWarehouse(dg.ConfigurableResource):
    """The warehouse file; `sql/schema.sql` and `sql/views.sql` define its tables and views."""

    path: str

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        if not read_only:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(self.path, read_only=read_only)
        try:
            yield con
        finally:
            con.close()

    def ensure_schema(self, con: duckdb.DuckDBPyConnection) -> None:
        con.execute(read_sql("schema.sql"))
        con.execute(read_sql("views.sql"))

    def replace_table(self, table: str, rows: pl.DataFrame) -> None:
        """Replaces all rows of `table` in one transaction (readers see the old or the new rows)."""
        with self.connect() as con:
            self.ensure_schema(con)
            con.execute("BEGIN TRANSACTION")
            try:
                con.execute(f"DELETE FROM {table}")
                if rows.height:
                    con.register("incoming", rows.to_arrow())
                    columns = ", ".join(rows.columns)
                    con.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM incoming")
                    con.unregister("incoming")
                con.execute("COMMIT")
            except Exception:
                con.execute("ROLLBACK")
                raise

    def query(self, sql: str) -> pl.DataFrame:
        with self.connect(read_only=Path(self.path).exists()) as con:
            return con.sql(sql).pl()
