"""What the warehouse loads: a score partition's rows from its file, the Dagster runs behind them,
and, for a rebuild, every score file at once. Files are read before the database is opened."""

from __future__ import annotations

import json
from datetime import timezone
from pathlib import Path

import dagster as dg
import polars as pl

from xrep_assets.evaluation.partitions import score_key
from xrep_assets.evaluation.store import SCORE_SCHEMA, read_all_scores, score_parts
from xrep_assets.warehouse.resources import WarehouseError

# By key, not by import: importing the asset would load torch into every warehouse step process.
TASK_SCORES = dg.AssetKey("task_scores")

WAREHOUSE_SCORE_SCHEMA: dict[str, pl.DataType] = {**SCORE_SCHEMA, "run_id": pl.String()}
RUN_SCHEMA: dict[str, pl.DataType] = {
    "run_id": pl.String(), "kind": pl.String(), "checkpoint": pl.String(), "task": pl.String(),
    "job_name": pl.String(), "config": pl.String(), "versions": pl.String(), "created_at": pl.Datetime("us"),
}


def read_partition_scores(root: Path, checkpoint: str, task: str) -> pl.DataFrame:
    path = root.joinpath(*score_parts(checkpoint, task))
    if not path.exists():
        raise WarehouseError(f"no score file at {path}: materialize task_scores for {checkpoint}|{task} first")
    return pl.read_parquet(path).select(list(SCORE_SCHEMA)).cast(SCORE_SCHEMA)


def scoring_run_id(instance: dg.DagsterInstance, checkpoint: str, task: str) -> str | None:
    """The run of the latest task_scores materialization of the partition, if this instance has one."""
    result = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=TASK_SCORES, asset_partitions=[str(score_key(checkpoint, task))]), limit=1
    )
    return result.records[0].run_id if result.records else None


def _run_row(instance: dg.DagsterInstance, run_id: str, kind: str, checkpoint: str, task: str | None, versions: str | None) -> dict | None:
    record = instance.get_run_record_by_id(run_id)
    if record is None:
        return None
    run = record.dagster_run
    return {
        "run_id": run_id, "kind": kind, "checkpoint": checkpoint, "task": task, "job_name": run.job_name,
        "config": json.dumps(run.run_config, sort_keys=True, default=str), "versions": versions,
        "created_at": record.create_timestamp.astimezone(timezone.utc).replace(tzinfo=None),
    }


def partition_load(instance: dg.DagsterInstance | None, checkpoint: str, task: str, rows: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The partition's rows tagged with their scoring run, and the runs behind them: that scoring run
    and, for a checkpoint xrep trained (its revision is a run id of this instance), the training run."""
    run_id = scoring_run_id(instance, checkpoint, task) if instance is not None else None
    scores = rows.with_columns(pl.lit(run_id, pl.String()).alias("run_id"))
    runs: list[dict] = []
    if instance is not None:
        versions = sorted(rows["versions"].unique().to_list())
        if run_id is not None:
            # One scoring run writes one set of versions; several would be a file assembled by hand.
            scoring_versions = versions[0] if len(versions) == 1 else (json.dumps(versions) if versions else None)
            runs.append(_run_row(instance, run_id, "scoring", checkpoint, task, scoring_versions))
        for revision in rows["revision"].unique().sort().to_list():
            runs.append(_run_row(instance, revision, "pretraining", checkpoint, None, None))
    return scores, pl.DataFrame([r for r in runs if r is not None], schema=RUN_SCHEMA)


def rebuild_tables(instance: dg.DagsterInstance | None, root: Path) -> dict[str, pl.DataFrame]:
    """`scores` and `runs` as every per-partition score file under `root` and the instance give them."""
    everything = read_all_scores(root)
    loads = [
        partition_load(instance, str(checkpoint), str(task), rows)
        for (checkpoint, task), rows in everything.group_by("checkpoint", "task", maintain_order=True)
    ]
    scores = pl.concat([s for s, _ in loads]) if loads else pl.DataFrame(schema=WAREHOUSE_SCORE_SCHEMA)
    runs = pl.concat([r for _, r in loads]).unique("run_id", keep="last", maintain_order=True) if loads else pl.DataFrame(schema=RUN_SCHEMA)
    return {"scores": scores, "runs": runs}
