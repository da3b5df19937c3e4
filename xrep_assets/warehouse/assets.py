"""Warehouse assets: score partitions loaded into DuckDB, corpus statistics, and the study's comparison.

Every asset here that opens the database runs in one Dagster pool (`WAREHOUSE_POOL`, limit 1 in
xrep's dagster.yaml), so parallel runs take turns instead of fighting over DuckDB's file lock; each
reads its files before it opens the database, and holds it only for one transaction.
"""

import dagster as dg
import polars as pl

from xrep_assets.analysis.spec import ANALYSIS_ASSETS
from xrep_assets.asset_keys import CORPORA_TEAM, EVALUATION_TEAM
from xrep_assets.checkpoints.partitions import checkpoint_partitions
from xrep_assets.evaluation.partitions import score_partitions
from xrep_assets.markdown import markdown_table
from xrep_assets.resources import ArtifactStore
from xrep_assets.study import TASK_KEYS, CatalogError
from xrep_assets.warehouse.corpus_statistics import study_corpus_statistics
from xrep_assets.warehouse.loading import TASK_SCORES, analysis_rows, partition_load, read_partition_scores
from xrep_assets.warehouse.report import VALUE_COLUMNS, comparison_numbers, for_display, report, vs_published_table
from xrep_assets.warehouse.resources import DuckDBWarehouse

WAREHOUSE_POOL = "duckdb_warehouse"

# A score partition's rows follow its scores: `eager()` requests the partition when its task_scores
# partition is updated or requested in the same tick (the automation then runs both in one run, as
# scores_job does), and never while task_scores is missing or running. The study's scores_job
# materializes both in one run, which counts as handled: nothing is requested after it.
WAREHOUSE_SCORES_CONDITION = dg.AutomationCondition.eager()

# The comparison reads every partition, so it runs once per wave, not once per partition: triggered by
# any newly loaded partition (remembered until handled), it waits while any warehouse_scores partition
# is requested this tick or in a run. Not eager(): its any_deps_missing would block it for as long as
# any registered checkpoint is unscored, and its any_deps_updated also fires on a dep only requested in
# the same tick, which would put the comparison in a run beside the loads instead of after them.
COMPARISON_CONDITION = (
    dg.AutomationCondition.any_deps_match(dg.AutomationCondition.newly_updated()).since_last_handled()
    & ~dg.AutomationCondition.any_deps_match(dg.AutomationCondition.will_be_requested())
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
).with_label("once_per_wave")


@dg.asset(
    partitions_def=score_partitions,
    deps=[TASK_SCORES],
    group_name="comparison",
    kinds={"duckdb"},
    owners=[EVALUATION_TEAM],
    pool=WAREHOUSE_POOL,
    automation_condition=WAREHOUSE_SCORES_CONDITION,
)
def warehouse_scores(context: dg.AssetExecutionContext, artifacts: ArtifactStore, warehouse: DuckDBWarehouse) -> dg.MaterializeResult:
    """One score partition's rows in the DuckDB `scores` table; partitioned by checkpoint × task, like task_scores.

    The partition's score files replace exactly that partition's rows in one transaction
    (re-materializing never duplicates), with the runs that produced them in `runs`; the catalog
    tables and views are refreshed with it. Follows each new task_scores partition (automation).
    """
    keys = context.partition_key.keys_by_dimension
    checkpoint, task = keys["checkpoint"], keys["task"]
    rows, runs = partition_load(context.instance, checkpoint, task, read_partition_scores(artifacts.path(), checkpoint, task))
    replaced = warehouse.replace_partition(checkpoint, task, rows, runs)
    test = rows.filter(pl.col("split") == "test")
    return dg.MaterializeResult(
        metadata={
            "rows": rows.height,
            "rows_replaced": replaced,
            "languages": test["language"].n_unique(),
            "seeds": test["seed"].n_unique(),
            "scoring_run": rows["run_id"].first() or "unknown",
            "warehouse": warehouse.path,
        }
    )


# By key, like task_scores (warehouse/loading.py): the corpora module loads the cleaning stack.
# Owned by the corpora team: its numbers describe their corpus.
@dg.asset(deps=[dg.AssetKey("pretraining_corpus")], group_name="comparison", kinds={"duckdb", "polars"},
          owners=[CORPORA_TEAM], pool=WAREHOUSE_POOL)
def corpus_statistics(artifacts: ArtifactStore, warehouse: DuckDBWarehouse) -> dg.MaterializeResult:
    """The DuckDB `corpus_statistics` table of the allocated study corpus; unpartitioned (one for the study).

    Sentences, words and characters per corpus, language pair, split and side, replaced whole in
    one transaction.
    """
    statistics = study_corpus_statistics(artifacts.path())
    warehouse.replace_table("corpus_statistics", statistics)
    return dg.MaterializeResult(
        metadata={"rows": statistics.height, "statistics": dg.MetadataValue.md(markdown_table(statistics))}
    )


class ComparisonConfig(dg.Config):
    """Which tasks get per-language bars in the metadata (default: all 8)."""

    per_language_tasks: list[str] = list(TASK_KEYS)


@dg.asset(
    deps=[warehouse_scores],
    group_name="comparison",
    kinds={"duckdb", "sql"},
    owners=[EVALUATION_TEAM],
    pool=WAREHOUSE_POOL,
    automation_condition=COMPARISON_CONDITION,
)
def cross_lingual_comparison(config: ComparisonConfig, warehouse: DuckDBWarehouse) -> dg.MaterializeResult:
    """The study's comparison of every scored checkpoint; unpartitioned, it follows each wave of scores.

    The `comparison` view of `sql/views.sql`: rows = checkpoints by role, columns = the 8 XGLUE tasks
    (mean over languages, English included) and their average, as mean ± std over seeds; with a
    heatmap, per-language bars, MT-vs-LM deltas and the distance to the study's published numbers.
    Numbers to chart, in percent: `average/<checkpoint>/<protocol>` (once every task is scored) and
    `mt_minus_lm/<checkpoint>/<protocol>` (an MT or CP checkpoint's average minus its LM's).
    """
    # matplotlib loads here, not at import: every warehouse step process imports this module.
    from xrep_assets.plots import comparison_heatmap, per_language_bars, png_markdown

    unknown = [t for t in config.per_language_tasks if t not in TASK_KEYS]
    if unknown:
        raise CatalogError(f"per_language_tasks: unknown task {unknown[0]!r}; known: {', '.join(TASK_KEYS)}")
    comparison = report(warehouse)
    per_language = warehouse.query("SELECT * FROM comparison_per_language").filter(
        pl.col("Task").is_in(config.per_language_tasks)
    )
    mt_vs_lm = warehouse.query("SELECT * FROM mt_vs_lm")
    vs_published = vs_published_table(warehouse.query("SELECT * FROM vs_published"))
    return dg.MaterializeResult(
        metadata={
            "rows": comparison.height,
            "comparison": dg.MetadataValue.md(markdown_table(report(warehouse, spread=True))),
            "heatmap": dg.MetadataValue.md(
                png_markdown(comparison_heatmap(comparison, VALUE_COLUMNS, "XGLUE, zero-shot (%)"), "comparison heatmap")
            ),
            "per_language": dg.MetadataValue.md(
                png_markdown(per_language_bars(per_language, config.per_language_tasks), "per-language scores")
            ),
            "mt_vs_lm": dg.MetadataValue.md(markdown_table(for_display(mt_vs_lm))),
            "vs_published": dg.MetadataValue.md(markdown_table(for_display(vs_published))),
            **comparison_numbers(comparison, mt_vs_lm),
        }
    )


@dg.asset(
    partitions_def=checkpoint_partitions,
    deps=[dg.AssetKey(key) for key in ANALYSIS_ASSETS.values()],
    group_name="comparison",
    kinds={"duckdb"},
    owners=[EVALUATION_TEAM],
    pool=WAREHOUSE_POOL,
    automation_condition=WAREHOUSE_SCORES_CONDITION,
)
def warehouse_analyses(context: dg.AssetExecutionContext, artifacts: ArtifactStore, warehouse: DuckDBWarehouse) -> dg.MaterializeResult:
    """One checkpoint's layer-wise analyses in DuckDB; partitioned by checkpoint, like the analyses.

    The tables `cka_by_layer`, `retrieval_by_layer` and `weight_spectrum`: the checkpoint's analysis files replace its rows of each table in one transaction (an analysis not
    materialized yet leaves its table's rows of the checkpoint empty); the views `alignment_by_layer`
    and `alignment_vs_transfer` (alignment at each layer against the task scores, rank correlation
    per task) read them. Follows the analyses in their run (`analyses_job`; the automation, after a
    hub checkpoint's re-analysis), as warehouse_scores follows the scores.
    """
    checkpoint = context.partition_key
    tables = analysis_rows(artifacts.path(), checkpoint)
    replaced = warehouse.replace_checkpoint(checkpoint, tables)
    return dg.MaterializeResult(
        metadata={
            **{f"rows/{table}": rows.height for table, rows in tables.items()},
            "rows_replaced": sum(replaced.values()),
            "warehouse": warehouse.path,
        }
    )
