"""Runs the whole study through Dagster, stage by stage and partition by partition, so every run is
recorded in the instance (`dagster asset materialize --select '*'` refuses partitioned graphs)."""

from __future__ import annotations

from collections.abc import Callable

import dagster as dg

from xrep_assets.checkpoints.partitions import CHECKPOINTS_PARTITION_NAME
from xrep_assets.corpora.partitions import corpus_pair_key
from xrep_assets.definitions import allocation_job, checkpoint_job, comparison_job, corpora_job, defs, scores_job, tokenizer_job
from xrep_assets.errors import XrepError
from xrep_assets.evaluation.partitions import score_key
from xrep_assets.resources import StudySettings, study_resource_config
from xrep_assets.study import CORPORA, TASK_KEYS


class StudyRunFailed(XrepError):
    """A stage's run failed: names the run, the failed step and the first line of its error."""


def first_failure(result: dg.ExecuteInProcessResult) -> str:
    """`step: error` of the run's first failed step, the innermost cause (the user's error, not
    Dagster's wrapper), on one line."""
    for event in result.get_step_failure_events():
        error = event.step_failure_data.error if event.step_failure_data else None
        while error is not None and error.cause is not None:
            error = error.cause
        if error is None or not error.message.strip():
            return f"{event.step_key}: no message"
        line = error.message.strip().splitlines()[0]  # `module.Class: message`
        return f"{event.step_key}: {error.cls_name}: {line.partition(': ')[2] or line}"
    return "no step failed (the run itself did)"


def study_run_config(settings: StudySettings) -> dict:
    """The run config of every stage: the whole `study` resource (profile and sources), so no run
    falls back to the resource's defaults."""
    return {
        "resources": {"study": study_resource_config(settings)},
        # INFO keeps training progress (loss, tokens/s) and drops Dagster's per-event DEBUG lines.
        "loggers": {"console": {"config": {"log_level": "INFO"}}},
    }


def run_study(
    settings: StudySettings,
    instance: dg.DagsterInstance | None = None,
    log: Callable[[str], None] = print,
    definitions: dg.Definitions | None = None,
) -> None:
    """Materializes corpora -> allocation -> tokenizer -> checkpoints -> scores -> comparison for the
    profile and sources of `settings` (`default_study_settings()`), with the jobs of `definitions`
    (default: the code location's)."""
    profile = settings.resolved()
    instance = instance or dg.DagsterInstance.get()
    definitions = definitions or defs
    run_config = study_run_config(settings)

    existing = set(instance.get_dynamic_partitions(CHECKPOINTS_PARTITION_NAME))
    new = [key for key in profile.checkpoints if key not in existing]
    if new:
        instance.add_dynamic_partitions(CHECKPOINTS_PARTITION_NAME, new)

    def run(job: dg.UnresolvedAssetJobDefinition, partition_key: str | None = None) -> None:
        label = f"{job.name}[{partition_key}]" if partition_key else job.name
        log(f"-> {label}")
        result = definitions.resolve_job_def(job.name).execute_in_process(
            run_config=run_config, instance=instance, partition_key=partition_key, raise_on_error=False
        )
        if not result.success:
            raise StudyRunFailed(f"{label} failed (run {result.run_id}) at {first_failure(result)}; see `dagster dev` for its logs")

    for corpus in CORPORA.values():
        for pair in profile.pairs:
            run(corpora_job, corpus_pair_key(corpus, pair))
    run(allocation_job)
    run(tokenizer_job)
    for key in profile.checkpoints:
        run(checkpoint_job, key)
    for key in profile.checkpoints:
        for task in TASK_KEYS:
            run(scores_job, score_key(key, task))
    run(comparison_job)
