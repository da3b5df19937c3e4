"""The README's first command, end to end: `xrep study` on the tiny profile in a fresh home (the
session fixture `study_home` of conftest.py, shared with the instance tests)."""

import os
import subprocess
import sys

import duckdb
import polars as pl
import pytest

from xrep_assets.profiles import PROFILES
from xrep_assets.study import OBJECTIVES, TASK_KEYS, TASKS


def test_study_prints_the_comparison_with_every_task_column(study_home):
    _, stdout, _ = study_home
    header = next(line for line in stdout.splitlines() if line.startswith("| Role"))
    assert [c.strip() for c in header.strip("|").split("|")] == ["Role", "Checkpoint", "Protocol", *TASK_KEYS, "Average"]
    for checkpoint in PROFILES["tiny"].checkpoints:
        assert f"| {OBJECTIVES[checkpoint].label} " in stdout


def test_comparison_numbers_are_the_scores_tables_numbers(study_home):
    """Every checkpoint has a row per protocol (probe and finetune), each with all 8 tasks."""
    home, _, _ = study_home
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        comparison = con.sql("SELECT * FROM comparison").pl()
        scores = con.sql("SELECT * FROM scores").pl()
    tiny = PROFILES["tiny"]
    assert comparison.height == len(tiny.checkpoints) * len(tiny.protocols)
    assert sorted(comparison["Protocol"].unique()) == sorted(tiny.protocols)
    # Recompute each cell from the raw rows: mean over seeds, then languages, then tasks.
    per_task = (
        scores.filter(pl.col("split") == "test")
        # Only the catalog metric of each task enters the comparison (POS also records token accuracy).
        .filter(pl.col("metric") == pl.col("task").replace_strict({t.key: t.metric for t in TASKS.values()}))
        .group_by("checkpoint", "protocol", "task", "language").agg(pl.col("value").mean())
        .group_by("checkpoint", "protocol", "task").agg(pl.col("value").mean())
    )
    for row in comparison.iter_rows(named=True):
        key = next(o.key for o in OBJECTIVES.values() if o.label == row["Checkpoint"])
        values = per_task.filter((pl.col("checkpoint") == key) & (pl.col("protocol") == row["Protocol"]))
        assert values.height == len(TASK_KEYS)
        # Each cell is the value rounded to one decimal; DuckDB rounds a half away from zero, Python's
        # round() to even (41.25 -> 41.3 vs 41.2), so the check is "within half a unit of the last digit".
        for task in TASK_KEYS:
            expected = values.filter(pl.col("task") == task)["value"].item()
            assert abs(row[task] - 100 * expected) <= 0.05 + 1e-9, (row["Checkpoint"], row["Protocol"], task)
        assert abs(row["Average"] - 100 * values["value"].mean()) <= 0.05 + 1e-9


def test_runs_are_recorded_in_the_dagster_instance(study_home):
    home, _, _ = study_home
    import dagster as dg

    instance = dg.DagsterInstance.from_config(str(home / "dagster_home"))
    runs = instance.get_runs()
    n_corpus_runs = 2 * len(PROFILES["tiny"].pairs)
    n_checkpoints = len(PROFILES["tiny"].checkpoints)
    # corpora, allocation, tokenizer, then per checkpoint its training and its analyses, the scores, the comparison
    assert len(runs) == n_corpus_runs + 2 + 2 * n_checkpoints + n_checkpoints * len(TASK_KEYS) + 1
    assert all(run.is_success for run in runs)


def test_report_and_sql_commands_read_the_same_warehouse(study_home):
    _, stdout, env = study_home
    report = subprocess.run([sys.executable, "-m", "xrep_assets.cli", "report", "--format", "csv"], env=env,
                            capture_output=True, text=True, check=True).stdout
    assert report.splitlines()[0].split(",")[3:] == [*TASK_KEYS, "Average"]
    count = subprocess.run([sys.executable, "-m", "xrep_assets.cli", "sql", "SELECT count(DISTINCT task) AS tasks FROM scores"],
                           env=env, capture_output=True, text=True, check=True).stdout
    assert "| 8 " in count


def test_every_checkpoint_of_the_study_is_analysed_layer_by_layer(study_home):
    """The analyses of each tiny checkpoint reach the warehouse, and its views join them with the scores."""
    from xrep_assets.warehouse.resources import DuckDBWarehouse

    home, _, _ = study_home
    warehouse = DuckDBWarehouse(path=str(home / "warehouse.duckdb"))
    checkpoints = sorted(PROFILES["tiny"].checkpoints)
    for table in ("alignment_by_layer", "probe_by_layer", "weight_spectrum"):
        assert warehouse.query(f"SELECT DISTINCT checkpoint FROM {table} ORDER BY checkpoint")["checkpoint"].to_list() == checkpoints
    # PUD: 6 languages against English at every hidden state of both checkpoints, CKA and retrieval both there
    counts = warehouse.query("SELECT checkpoint, count(*) AS n, count(cka) AS cka, count(retrieval) AS retrieval "
                             "FROM alignment_by_layer WHERE dataset = 'pud' GROUP BY checkpoint ORDER BY checkpoint")
    layers = {"mlm": 3, "mt-transformer": 2}  # the tiny MLM's 2 layers and the MT encoder's 1, with the embeddings
    assert counts.rows() == [(key, 6 * layers[key], 6 * layers[key], 6 * layers[key]) for key in checkpoints]
    # alignment against transfer: a rank correlation per task, set, layer and measure over both checkpoints
    # PUD: both checkpoints x XNLI's PUD languages; a held-out set has one language: 2 pairs, too few (NULL)
    correlations = warehouse.query("SELECT task, dataset, spearman, pairs FROM alignment_vs_transfer WHERE checkpoints = 2")
    xnli = correlations.filter((pl.col("task") == "XNLI") & (pl.col("dataset") == "pud"))
    assert xnli.height > 0 and xnli["pairs"].min() >= 3 and xnli["spearman"].is_not_null().any()
    held_out = correlations.filter(pl.col("dataset") != "pud")
    assert held_out.height > 0 and held_out["spearman"].null_count() == held_out.height
