"""What the warehouse loads: a score partition's rows from its file, the Dagster runs behind them,
and, for a rebuild, every score file at once. Files are read before the database is opened."""

from __future__ import annotations

import json
from datetime import timezone
from pathlib import Path

import dagster as dg
import polars as pl

from xrep_assets.analysis.files import analysis_parts, read_all_analyses, read_analysis_file
from xrep_assets.analysis.spec import ANALYSIS_ASSETS
from xrep_assets.checkpoints.record import REVISION_PREFIX
from xrep_assets.errors import EmptyOutputError
from xrep_assets.evaluation.partitions import score_key
from xrep_assets.evaluation.score_files import (
    SCORE_SCHEMA,
    partition_score_files,
    read_all_scores,
    read_score_files,
    score_dir_parts,
)
from xrep_assets.warehouse.resources import WarehouseError

# By key, not by import: importing the asset would load torch into every warehouse step process.
TASK_SCORES = dg.AssetKey("task_scores")
CHECKPOINT = dg.AssetKey("checkpoint")
# Materializations of a partition searched for the run behind each protocol's file.
RUNS_SEARCHED = 50

WAREHOUSE_SCORE_SCHEMA: dict[str, pl.DataType] = {**SCORE_SCHEMA, "run_id": pl.String()}
RUN_SCHEMA: dict[str, pl.DataType] = {
    "run_id": pl.String(), "kind": pl.String(), "checkpoint": pl.String(), "task": pl.String(),
    "job_name": pl.String(), "config": pl.String(), "versions": pl.String(), "created_at": pl.Datetime("us"),
}


def read_partition_scores(root: Path, checkpoint: str, task: str) -> pl.DataFrame:
    """Every protocol's rows of one partition."""
    files = partition_score_files(root, checkpoint, task)
    if not files:
        directory = root.joinpath(*score_dir_parts(checkpoint, task))
        raise WarehouseError(f"no score file in {directory}: materialize task_scores for {checkpoint}|{task} first")
    rows = read_score_files(files)
    if rows.height == 0:  # loaded, it would delete the partition's rows and put none back
        raise EmptyOutputError(f"warehouse_scores {checkpoint}|{task}", ", ".join(map(str, files)), "no score rows")
    return rows


def scoring_run_ids(instance: dg.DagsterInstance, checkpoint: str, task: str, protocols: list[str]) -> dict[str, str | None]:
    """For each protocol, the run of the partition's latest task_scores materialization that wrote it
    (its metadata lists the protocols it ran); the latest run when none says."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=TASK_SCORES, asset_partitions=[str(score_key(checkpoint, task))]),
        limit=RUNS_SEARCHED,
    ).records
    found: dict[str, str | None] = {}
    for record in records:  # newest first
        metadata = record.asset_materialization.metadata if record.asset_materialization else {}
        written = metadata.get("protocols")
        for protocol in (p.strip() for p in str(written.value).split(",")) if written else ():
            found.setdefault(protocol, record.run_id)
    latest = records[0].run_id if records else None
    return {protocol: found.get(protocol, latest) for protocol in protocols}


def training_run_ids(instance: dg.DagsterInstance, checkpoint: str, revisions: list[str]) -> list[str]:
    """The runs that trained the weights `revisions` name: a trained checkpoint's revision is its
    content digest, found in the metadata of the checkpoint partition's materializations (newest
    first); score files written before that carry the training run's id itself. A hub commit has no
    training run here."""
    wanted = [r for r in revisions if r.startswith(REVISION_PREFIX)]
    found: dict[str, str] = {}
    if wanted:
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=CHECKPOINT, asset_partitions=[checkpoint]), limit=RUNS_SEARCHED
        ).records
        for record in records:
            metadata = record.asset_materialization.metadata if record.asset_materialization else {}
            value = metadata.get("revision")
            found.setdefault(str(getattr(value, "value", value)), record.run_id)
    return [found[r] for r in wanted if r in found] + [r for r in revisions if not r.startswith(REVISION_PREFIX)]


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
    """The partition's rows tagged with their scoring run (per protocol), and the runs behind them:
    those scoring runs and, for a checkpoint xrep trained, the training run (`training_run_ids`)."""
    protocols = rows["protocol"].unique(maintain_order=True).to_list()
    run_ids = scoring_run_ids(instance, checkpoint, task, protocols) if instance is not None else {}
    scores = rows.with_columns(
        pl.col("protocol").replace_strict(run_ids, default=None, return_dtype=pl.String()).alias("run_id")
    )
    runs: list[dict] = []
    if instance is not None:
        for run_id, written in scores.filter(pl.col("run_id").is_not_null()).group_by("run_id", maintain_order=True):
            # One scoring run writes one set of versions; several would be files assembled by hand.
            versions = sorted(written["versions"].unique().to_list())
            scoring_versions = versions[0] if len(versions) == 1 else (json.dumps(versions) if versions else None)
            runs.append(_run_row(instance, run_id[0], "scoring", checkpoint, task, scoring_versions))
        for run_id in training_run_ids(instance, checkpoint, rows["revision"].drop_nulls().unique().sort().to_list()):
            runs.append(_run_row(instance, run_id, "pretraining", checkpoint, None, None))
    return scores, pl.DataFrame([r for r in runs if r is not None], schema=RUN_SCHEMA)


def analysis_rows(root: Path, checkpoint: str) -> dict[str, pl.DataFrame]:
    """One checkpoint's rows of each analysis table, from the analysis files it has; a checkpoint with
    none is an error (loaded, it would only delete rows)."""
    tables = {table: read_analysis_file(root.joinpath(*analysis_parts(checkpoint, analysis)), analysis)
              for analysis, table in ANALYSIS_ASSETS.items()}
    if not any(rows.height for rows in tables.values()):
        raise WarehouseError(
            f"no analysis file of {checkpoint} in {root.joinpath(*analysis_parts(checkpoint, 'cka')).parent}: "
            f"materialize {', '.join(ANALYSIS_ASSETS.values())} for {checkpoint} first"
        )
    return tables


def rebuild_tables(instance: dg.DagsterInstance | None, root: Path) -> dict[str, pl.DataFrame]:
    """`scores` and `runs` as every per-partition score file under `root` and the instance give them,
    and each analysis table from every checkpoint's analysis file."""
    everything = read_all_scores(root)
    loads = [
        partition_load(instance, str(checkpoint), str(task), rows)
        for (checkpoint, task), rows in everything.group_by("checkpoint", "task", maintain_order=True)
    ]
    scores = pl.concat([s for s, _ in loads]) if loads else pl.DataFrame(schema=WAREHOUSE_SCORE_SCHEMA)
    runs = pl.concat([r for _, r in loads]).unique("run_id", keep="last", maintain_order=True) if loads else pl.DataFrame(schema=RUN_SCHEMA)
    # Each analysis's table is named as its asset.
    return {"scores": scores, "runs": runs, **{table: read_all_analyses(root, a) for a, table in ANALYSIS_ASSETS.items()}}
