"""3 score partitions loaded into the warehouse by 3 runs launched at once, each in its own process
(as a run launcher starts them) under the multiprocess executor, on an instance configured with
xrep's dagster.yaml: the warehouse pool admits one writer at a time, so no step meets DuckDB's file
lock and the warehouse ends with exactly the 3 partitions' rows. Three runs are enough for the
claim (several queued writers, each admitted after the one before is done); every further run
only adds its Dagster imports to the test's time.

The test holds the pool's one slot while the runs start, so that all 3 queue in the pool. Dagster's
SQLite storage hands out a free slot without a row lock (`has_unassigned_slots`, then
`add_pending_step`), so two runs claiming at the very same instant can both be admitted; queued
runs are then admitted one per freed slot. The resource's wait on DuckDB's lock (`lock_timeout_s`,
tested in test_warehouse.py) covers that first instant; here it is 0, so only the pool serialises.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import polars as pl

from xrep_assets.checkpoints.partitions import CHECKPOINTS_PARTITION_NAME
from xrep_assets.evaluation.partitions import score_key, score_partitions
from xrep_assets.evaluation.score_files import SCORE_SCHEMA, score_parts
from xrep_assets.paths import dagster_yaml
from xrep_assets.resources import ArtifactStore
from xrep_assets.study import TASK_KEYS, TASKS
from xrep_assets.warehouse.assets import WAREHOUSE_POOL, warehouse_scores
from xrep_assets.warehouse.resources import DuckDBWarehouse

# Three of the catalog's tasks: one score partition and one run each.
RUN_TASKS = TASK_KEYS[:3]
# The step processes import Dagster one after the other inside the pool: minutes on a busy machine.
ALL_RUNS_TIMEOUT_S = 540
HOLDER = ("test-holds-the-slot", "hold")  # run id, step key


def warehouse_scores_job() -> dg.JobDefinition:
    """Reconstructable: each step process of the multiprocess executor rebuilds the job from here."""
    defs = dg.Definitions(
        assets=[warehouse_scores],
        jobs=[dg.define_asset_job("warehouse_scores_job", selection=[warehouse_scores], executor_def=dg.multiprocess_executor)],
        resources={"artifacts": ArtifactStore.configure_at_launch(), "warehouse": DuckDBWarehouse.configure_at_launch()},
    )
    return defs.resolve_job_def("warehouse_scores_job")


def run_partition(dagster_home: str, task: str, run_config: dict) -> str:
    """One run of the job for the partition mlm|task, in this process; returns its run id."""
    instance = dg.DagsterInstance.from_config(dagster_home)
    # The step processes import this module by name, with tests/ as their working directory.
    job = dg.build_reconstructable_job(
        "test_warehouse_parallel", "warehouse_scores_job", reconstructor_working_directory=str(Path(__file__).parent)
    )
    result = dg.execute_job(
        job, instance=instance, run_config=run_config,
        tags=score_partitions.get_tags_for_partition_key(score_key("mlm", task)),
    )
    return result.run_id


def partition_rows(task_index: int, task: str) -> pl.DataFrame:
    """Two seeds x the task's first two languages; values distinct across partitions."""
    return pl.DataFrame(
        [
            {"checkpoint": "mlm", "revision": "r1", "task": task, "language": lang, "split": "test", "metric": TASKS[task].metric,
             "value": round(0.1 * task_index + 0.01 * li + 0.001 * seed, 4), "seed": seed, "protocol": "probe", "layer": -1,
             "n_examples": 10, "versions": "{}"}
            for li, lang in enumerate(TASKS[task].languages[:2])
            for seed in (0, 1)
        ],
        schema=SCORE_SCHEMA,
    )


def queued_runs(instance: dg.DagsterInstance) -> set[str]:
    return {step.run_id for step in instance.event_log_storage.get_concurrency_info(WAREHOUSE_POOL).pending_steps} - {HOLDER[0]}


def launch_runs(tmp_path: Path, home: Path, run_config: dict, instance: dg.DagsterInstance) -> list[str]:
    """Starts one process per task at once, lets them go once all 3 queue in the pool, and waits for
    all; each in its own session so that a stuck run (and its step process) is killed whole."""
    logs = {task: tmp_path / f"run-{task}.log" for task in RUN_TASKS}
    processes = {
        task: subprocess.Popen(
            [sys.executable, __file__, str(home), task, json.dumps(run_config)],
            stdout=subprocess.PIPE, stderr=logs[task].open("w"), text=True, start_new_session=True,
        )
        for task in RUN_TASKS
    }
    deadline = time.monotonic() + ALL_RUNS_TIMEOUT_S
    try:
        while len(queued_runs(instance)) < len(RUN_TASKS) and time.monotonic() < deadline:
            time.sleep(0.5)
        instance.event_log_storage.free_concurrency_slot_for_step(*HOLDER)
        outputs = {task: p.communicate(timeout=max(1.0, deadline - time.monotonic()))[0] for task, p in processes.items()}
    finally:
        for p in processes.values():
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
    failed = {task: logs[task].read_text()[-3000:] for task, p in processes.items() if p.returncode != 0}
    assert not failed, failed
    return [outputs[task].strip().splitlines()[-1] for task in RUN_TASKS]


def test_parallel_runs_take_turns_in_the_warehouse_pool(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(dagster_yaml(), encoding="utf-8")
    instance = dg.DagsterInstance.from_config(str(home))
    instance.add_dynamic_partitions(CHECKPOINTS_PARTITION_NAME, ["mlm"])

    expected = pl.concat([partition_rows(i, task) for i, task in enumerate(RUN_TASKS)])
    for (task,), rows in expected.group_by("task"):
        path = tmp_path.joinpath("artifacts", *score_parts("mlm", task, "probe"))
        path.parent.mkdir(parents=True, exist_ok=True)
        rows.write_parquet(path)
    warehouse_path = str(tmp_path / "warehouse.duckdb")
    run_config = {"resources": {
        "artifacts": {"config": {"root": str(tmp_path / "artifacts")}},
        "warehouse": {"config": {"path": warehouse_path, "lock_timeout_s": 0.0}},  # a lock conflict fails at once
    }}

    storage = instance.event_log_storage
    assert storage.initialize_concurrency_limit_to_default(WAREHOUSE_POOL)  # what the executor does on first claim
    assert storage.get_concurrency_info(WAREHOUSE_POOL).slot_count == 1  # the default_limit of xrep's dagster.yaml
    assert storage.claim_concurrency_slot(WAREHOUSE_POOL, *HOLDER).is_claimed

    run_ids = launch_runs(tmp_path, home, run_config, instance)

    errors = [e.message for run_id in run_ids for e in instance.all_logs(run_id) if e.level >= logging.ERROR]
    assert all(instance.get_run_by_id(run_id).is_success for run_id in run_ids), errors
    written = DuckDBWarehouse(path=warehouse_path).query(f"SELECT {', '.join(SCORE_SCHEMA)} FROM scores")
    assert written.sort(list(SCORE_SCHEMA)).equals(expected.sort(list(SCORE_SCHEMA)))

    # The pool held the writers to one at a time: no two steps' start..success intervals overlap.
    intervals = []
    for run_id in run_ids:
        events = {e.dagster_event_type: e.timestamp for e in instance.all_logs(run_id) if e.is_dagster_event}
        intervals.append((events[dg.DagsterEventType.STEP_START], events[dg.DagsterEventType.STEP_SUCCESS]))
    intervals.sort()
    assert all(end <= next_start for (_, end), (next_start, _) in zip(intervals, intervals[1:])), intervals
    assert instance.event_log_storage.get_concurrency_info(WAREHOUSE_POOL).slot_count == 1


if __name__ == "__main__":  # one run, as launch_runs starts it: HOME TASK RUN_CONFIG_JSON
    print(run_partition(sys.argv[1], sys.argv[2], json.loads(sys.argv[3])))
