"""Warehouse assets: the DuckDB scores table and the study's comparison view."""


import dagster as dg

from xrep_assets.evaluation.assets import task_scores
from xrep_assets.evaluation.store import read_all_scores
from xrep_assets.markdown import markdown_table
from xrep_assets.resources import ArtifactStore
from xrep_assets.warehouse.catalog_tables import checkpoint_rows, task_rows
from xrep_assets.warehouse.resources import DuckDBWarehouse

# One writer at a time: parallel runs never fight over DuckDB's file lock.
WAREHOUSE_POOL = "duckdb_warehouse"


@dg.asset(deps=[task_scores], group_name="comparison", kinds={"duckdb"}, pool=WAREHOUSE_POOL)
def score_warehouse(artifacts: ArtifactStore, warehouse: DuckDBWarehouse) -> dg.MaterializeResult:
    """The DuckDB `scores`, `checkpoints` and `tasks` tables, rebuilt from the per-partition score
    files and the catalog (each table replaced in one transaction)."""
    scores = read_all_scores(artifacts.path())
    warehouse.replace_table("checkpoints", checkpoint_rows())
    warehouse.replace_table("tasks", task_rows())
    warehouse.replace_table("scores", scores)
    return dg.MaterializeResult(
        metadata={
            "score_rows": scores.height,
            "checkpoints": scores["checkpoint"].n_unique(),
            "warehouse": warehouse.path,
        }
    )


@dg.asset(deps=[score_warehouse], group_name="comparison", kinds={"duckdb", "sql"}, pool=WAREHOUSE_POOL)
def cross_lingual_comparison(warehouse: DuckDBWarehouse) -> dg.MaterializeResult:
    """The study's table from the `comparison` view of `sql/views.sql`: rows = checkpoints by role,
    columns = the 8 XGLUE tasks (mean over languages, English included) and their average."""
    table = warehouse.query("SELECT * FROM comparison")
    return dg.MaterializeResult(
        metadata={"rows": table.height, "comparison": dg.MetadataValue.md(markdown_table(table))}
    )
