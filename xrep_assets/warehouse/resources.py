"""The DuckDB warehouse: our own small resource (the DuckDB IO manager cannot load multi-partitions
with a dynamic dimension). Connections are opened per call and closed at once, so heavy compute
never holds DuckDB's file lock; every write is one transaction."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl

from xrep_assets.errors import XrepError
from xrep_assets.paths import sql_dir
from xrep_assets.warehouse.catalog_tables import catalog_tables


class WarehouseError(XrepError):
    """The warehouse file, or rows written to it, are not what this version of xrep expects."""


def read_sql(name: str) -> str:
    return (sql_dir() / name).read_text(encoding="utf-8")


def schema_hash() -> str:
    """Identifies sql/schema.sql by its statements: editing a comment does not change it."""
    statements = re.sub(r"--[^\n]*", "", read_sql("schema.sql"))
    return hashlib.sha256(" ".join(statements.split()).encode("utf-8")).hexdigest()


class WarehouseQueryError(WarehouseError):
    """A query the warehouse refused: bad SQL, an unknown table, a write on a read-only connection."""


def _is_lock_conflict(error: duckdb.Error) -> bool:
    return isinstance(error, duckdb.IOException) and "lock" in str(error).lower()


def _duckdb_message(error: duckdb.Error) -> str:
    """DuckDB's message on one line: its first paragraph (the caret under the query is left out)."""
    return " ".join(line.strip() for line in str(error).split("\n\n")[0].splitlines() if line.strip())


class DuckDBWarehouse(dg.ConfigurableResource):
    """The warehouse file; `sql/schema.sql` and `sql/views.sql` define its tables and views.

    Writers inside Dagster are serialised by the warehouse pool. `lock_timeout_s` covers the rest:
    a reader outside Dagster (`xrep sql`, a DuckDB client) holding the file for a moment, and two
    steps that Dagster's SQLite storage admitted at the same instant (it assigns a free slot
    without a row lock); a connection waits that long for DuckDB's lock before failing.
    """

    path: str
    lock_timeout_s: float = 30.0

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        if read_only and not Path(self.path).exists():
            raise WarehouseError(f"no warehouse at {self.path}: materialize warehouse_scores (or run warehouse_rebuild_job) first")
        if not read_only:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + self.lock_timeout_s
        while True:
            try:
                con = duckdb.connect(self.path, read_only=read_only)
                break
            except duckdb.Error as error:
                if not _is_lock_conflict(error):  # garbage, a truncated file, a failed checksum
                    raise WarehouseError(
                        f"cannot open the warehouse at {self.path}: {_duckdb_message(error)}; if it is damaged, move "
                        "it aside and run warehouse_rebuild_job (it refills every table from the score files)"
                    ) from error
                if time.monotonic() > deadline:
                    raise WarehouseError(
                        f"the warehouse at {self.path} stayed locked for {self.lock_timeout_s:g} s: {_duckdb_message(error)}"
                    ) from error
                time.sleep(0.2)
        try:
            yield con
        finally:
            con.close()

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A write connection inside one transaction, with the schema checked, the catalog tables and
        the published numbers reseeded, and the views recreated: readers see all of it or none."""
        with self.connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                self._check_schema(con)
                self._create_schema(con)
                yield con
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise

    def _check_schema(self, con: duckdb.DuckDBPyConnection) -> None:
        tables = {row[0] for row in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'").fetchall()}
        if not tables:
            return
        stored = con.execute("SELECT schema_hash FROM schema_info").fetchone() if "schema_info" in tables else None
        if stored is None or stored[0] != schema_hash():
            raise WarehouseError(
                f"the warehouse at {self.path} was written with another sql/schema.sql: run warehouse_rebuild_job "
                "(it recreates every table from the catalog and the score files) or delete the file"
            )

    def _create_schema(self, con: duckdb.DuckDBPyConnection) -> None:
        con.execute(read_sql("schema.sql"))
        if con.execute("SELECT count(*) FROM schema_info").fetchone()[0] == 0:
            con.execute("INSERT INTO schema_info VALUES (?)", [schema_hash()])
        for table, rows in catalog_tables().items():
            self._replace_rows(con, table, rows)
        con.execute(read_sql("published.sql"), [str(sql_dir() / "published_ji2024.csv")])
        con.execute(read_sql("views.sql"))

    @staticmethod
    def _insert(con: duckdb.DuckDBPyConnection, table: str, rows: pl.DataFrame, verb: str = "INSERT") -> None:
        if rows.height == 0:
            return
        # No unregister on failure: the transaction is rolled back and the connection closed anyway.
        con.register("incoming", rows.to_arrow())
        columns = ", ".join(f'"{c}"' for c in rows.columns)
        con.execute(f"{verb} INTO {table} ({columns}) SELECT {columns} FROM incoming")
        con.unregister("incoming")

    def _replace_rows(self, con: duckdb.DuckDBPyConnection, table: str, rows: pl.DataFrame) -> None:
        con.execute(f"DELETE FROM {table}")
        self._insert(con, table, rows)

    def replace_tables(self, tables: Mapping[str, pl.DataFrame]) -> None:
        """Replaces all rows of each table, all tables in one transaction."""
        with self.transaction() as con:
            for table, rows in tables.items():
                self._replace_rows(con, table, rows)

    def replace_table(self, table: str, rows: pl.DataFrame) -> None:
        self.replace_tables({table: rows})

    def replace_partition(self, checkpoint: str, task: str, rows: pl.DataFrame, runs: pl.DataFrame | None = None) -> int:
        """Replaces exactly the score rows of one partition (checkpoint x task) in one transaction, and
        upserts the runs behind them; returns how many rows it replaced. Re-writing a partition
        never duplicates a row, and no other partition's rows are touched."""
        for column, expected in (("checkpoint", checkpoint), ("task", task)):
            strays = rows.filter(pl.col(column) != expected)[column].unique().to_list()
            if strays:
                raise WarehouseError(f"rows for partition {checkpoint}|{task} hold {column} {strays[0]!r}")
        with self.transaction() as con:
            replaced = con.execute("DELETE FROM scores WHERE checkpoint = ? AND task = ?", [checkpoint, task]).fetchone()[0]
            self._insert(con, "scores", rows)
            if runs is not None:
                self._insert(con, "runs", runs, verb="INSERT OR REPLACE")
        return int(replaced)

    def replace_checkpoint(self, checkpoint: str, tables: Mapping[str, pl.DataFrame]) -> dict[str, int]:
        """Replaces exactly one checkpoint's rows in each of `tables` (the analyses), all in one
        transaction; returns how many rows each table had for it before."""
        for table, rows in tables.items():
            strays = rows.filter(pl.col("checkpoint") != checkpoint)["checkpoint"].unique().to_list()
            if strays:
                raise WarehouseError(f"{table} rows for checkpoint {checkpoint} hold checkpoint {strays[0]!r}")
        replaced = {}
        with self.transaction() as con:
            for table, rows in tables.items():
                replaced[table] = int(con.execute(f"DELETE FROM {table} WHERE checkpoint = ?", [checkpoint]).fetchone()[0])
                self._insert(con, table, rows)
        return replaced

    def rebuild(self, tables: Mapping[str, pl.DataFrame]) -> None:
        """Drops every table and view, recreates the schema and fills `tables`, in one transaction:
        the way back from a schema change, or from rows whose score files are gone."""
        with self.connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                for (view,) in con.execute("SELECT view_name FROM duckdb_views() WHERE schema_name = 'main' AND NOT internal").fetchall():
                    con.execute(f'DROP VIEW "{view}"')
                for (table,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'").fetchall():
                    con.execute(f'DROP TABLE "{table}"')
                self._create_schema(con)
                for table, rows in tables.items():
                    self._replace_rows(con, table, rows)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise

    def query(self, sql: str, params: list[object] | None = None) -> pl.DataFrame:
        """Runs `sql` on a read-only connection (a reader never blocks another reader). What DuckDB
        refuses (bad SQL, a write, a damaged page) is a `WarehouseQueryError` naming the query."""
        with self.connect(read_only=True) as con:
            try:
                result = con.sql(sql, params=params)
                if result is None:
                    raise WarehouseQueryError(f"the query {sql!r} is empty or returns no table")
                return result.pl()
            except duckdb.InternalError:  # a DuckDB bug, not the query: keep its traceback
                raise
            except duckdb.Error as error:
                raise WarehouseQueryError(f"the query {sql!r} failed on {self.path}: {_duckdb_message(error)}") from error
