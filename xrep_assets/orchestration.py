"""Runs the whole study through Dagster, stage by stage and partition by partition, so every run is
recorded in the instance (`dagster asset materialize --select '*'` refuses partitioned graphs)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import dagster as dg

from xrep_assets.checkpoints.partitions import CHECKPOINTS_PARTITION_NAME
from xrep_assets.corpora.partitions import corpus_pair_key
from xrep_assets.definitions import (
    allocation_job,
    analyses_job,
    checkpoint_job,
    comparison_job,
    corpora_job,
    defs,
    scores_job,
    tokenizer_job,
)
from xrep_assets.errors import SettingError, XrepError
from xrep_assets.evaluation.partitions import score_key
from xrep_assets.profiles import Profile
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


@dataclass(frozen=True)
class StudySlice:
    """What one `xrep study` materializes: every corpus x pair partition, the allocation and the
    tokenizer (the checkpoints' shared inputs), then the chosen checkpoints, their chosen tasks and
    the comparison. The whole study by default; `--checkpoint` / `--task` narrow the last stages, and
    `--rescore` leaves out everything before the scores (`upstream`), reusing the checkpoints there are."""

    corpus_keys: tuple[str, ...]
    checkpoints: tuple[str, ...]
    score_keys: tuple[dg.MultiPartitionKey, ...]
    upstream: bool = True


def study_slice(profile: Profile, checkpoints: Sequence[str] = (), tasks: Sequence[str] = (), rescore: bool = False) -> StudySlice:
    """The profile's study, narrowed to `checkpoints` (of the profile's) and `tasks` when given;
    `rescore`: only the scores and the comparison."""
    for key in checkpoints:
        if key not in profile.checkpoints:
            raise SettingError(f"checkpoint {key!r} is not in the {profile.name} profile; it has: {', '.join(profile.checkpoints)}")
    for task in tasks:
        if task not in TASK_KEYS:
            raise SettingError(f"unknown task {task!r}; known: {', '.join(TASK_KEYS)}")
    chosen = tuple(k for k in profile.checkpoints if not checkpoints or k in checkpoints)
    chosen_tasks = tuple(t for t in TASK_KEYS if not tasks or t in tasks)
    return StudySlice(
        corpus_keys=tuple(corpus_pair_key(corpus, pair) for corpus in CORPORA.values() for pair in profile.pairs),
        checkpoints=chosen,
        score_keys=tuple(score_key(key, task) for key in chosen for task in chosen_tasks),
        upstream=not rescore,
    )


def register_checkpoints(instance: dg.DagsterInstance, keys: Sequence[str]) -> None:
    """Adds the checkpoint partitions the instance does not know yet."""
    existing = set(instance.get_dynamic_partitions(CHECKPOINTS_PARTITION_NAME))
    new = [key for key in keys if key not in existing]
    if new:
        instance.add_dynamic_partitions(CHECKPOINTS_PARTITION_NAME, new)


def run_study(
    settings: StudySettings,
    instance: dg.DagsterInstance | None = None,
    log: Callable[[str], None] = print,
    definitions: dg.Definitions | None = None,
    checkpoints: Sequence[str] = (),
    tasks: Sequence[str] = (),
    rescore: bool = False,
) -> None:
    """Materializes corpora -> allocation -> tokenizer -> checkpoints -> scores -> comparison in this
    process, one stage after another, for the profile and sources of `settings`
    (`default_study_settings()`) and the slice `checkpoints` x `tasks` (default: all; `rescore`: from
    the scores on), with the jobs of `definitions` (default: the code location's)."""
    chosen = study_slice(settings.resolved(), checkpoints, tasks, rescore)
    instance = instance or dg.DagsterInstance.get()
    definitions = definitions or defs
    run_config = study_run_config(settings)
    register_checkpoints(instance, chosen.checkpoints)

    def run(job: dg.UnresolvedAssetJobDefinition, partition_key: str | None = None) -> None:
        label = f"{job.name}[{partition_key}]" if partition_key else job.name
        log(f"-> {label}")
        result = definitions.resolve_job_def(job.name).execute_in_process(
            run_config=run_config, instance=instance, partition_key=partition_key, raise_on_error=False
        )
        if not result.success:
            raise StudyRunFailed(f"{label} failed (run {result.run_id}) at {first_failure(result)}; see `dagster dev` for its logs")

    if chosen.upstream:
        for key in chosen.corpus_keys:
            run(corpora_job, key)
        run(allocation_job)
        run(tokenizer_job)
        for key in chosen.checkpoints:
            run(checkpoint_job, key)
            run(analyses_job, key)
    for key in chosen.score_keys:
        run(scores_job, key)
    run(comparison_job)
