"""The warehouse rebuilt from the per-partition score files, whenever needed (after a schema change,
after score files were removed, or to start a fresh warehouse file): the op; `definitions.py` makes
it `warehouse_rebuild_job`, with the other jobs."""

import dagster as dg

from xrep_assets.corpora.layout import study_corpus_dir
from xrep_assets.resources import ArtifactStore
from xrep_assets.warehouse.assets import WAREHOUSE_POOL
from xrep_assets.warehouse.corpus_statistics import study_corpus_statistics
from xrep_assets.warehouse.loading import rebuild_tables
from xrep_assets.warehouse.resources import DuckDBWarehouse


@dg.op(pool=WAREHOUSE_POOL)
def rebuild_warehouse(context: dg.OpExecutionContext, artifacts: ArtifactStore, warehouse: DuckDBWarehouse) -> None:
    """Drops every table and view and recreates them from the catalog, every score file in the
    artifact store and the study corpus (when allocated), in one transaction (readers see the old
    warehouse or the new one)."""
    tables = rebuild_tables(context.instance, artifacts.path())
    if (study_corpus_dir(artifacts.path()) / "bitext").exists():
        tables["corpus_statistics"] = study_corpus_statistics(artifacts.path())
    warehouse.rebuild(tables)
    scores = tables["scores"]
    context.log.info(
        f"rebuilt {warehouse.path}: {scores.height} score rows from "
        f"{scores.select('checkpoint', 'task').n_unique()} partitions, {tables['runs'].height} runs"
    )

