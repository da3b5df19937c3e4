"""Automation of the checkpoint partitions: kept in step with the catalog and the selected profile,
and with the hub (new commits of registry repos, new models matching the watch rules).

A new hub revision is fetched here: `hub_revisions_sensor` (or the weekly `weekly_hub_reevaluation`
schedule, `schedules.py`) requests one `checkpoint_job` run for the checkpoint, tagged `xrep/hub_revision=<commit>`;
the checkpoint asset fetches that commit and records it as `revision`. The scoring that follows is
the evaluation stage's (`evaluation/sensors.py`: the condition on `task_scores` and its sensor).
"""

from __future__ import annotations

import logging

import dagster as dg

from xrep_assets.checkpoints.hub_watch import (
    HUB_REPO_TAG,
    HUB_REVISION_TAG,
    RevisionChange,
    hub_changes,
    listing_search,
    read_cursor,
    write_cursor,
)
from xrep_assets.checkpoints.partitions import CHECKPOINTS_PARTITION_NAME
from xrep_assets.checkpoints.resources import HubApi, HubError
from xrep_assets.resources import StudySettings
from xrep_assets.study import HUB_CHECKPOINTS, HUB_WATCH_RULES

CHECKPOINT_JOB = "checkpoint_job"
HUB_POLL_SECONDS = 3600  # the hub rate-limits anonymous clients; new commits are rare


def missing_checkpoint_partitions(instance: dg.DagsterInstance, wanted: tuple[str, ...]) -> list[str]:
    existing = set(instance.get_dynamic_partitions(CHECKPOINTS_PARTITION_NAME))
    return [key for key in wanted if key not in existing]


@dg.sensor(minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING)
def catalog_checkpoints_sensor(context: dg.SensorEvaluationContext, study: StudySettings) -> dg.SensorResult | dg.SkipReason:
    """Adds a checkpoint partition for each checkpoint of the profile, so the UI can materialize it."""
    missing = missing_checkpoint_partitions(context.instance, study.resolved().checkpoints)
    if not missing:
        return dg.SkipReason("every checkpoint of the profile has its partition")
    return dg.SensorResult(dynamic_partitions_requests=[dg.AddDynamicPartitionsRequest(CHECKPOINTS_PARTITION_NAME, missing)])


def hub_fetch_request(change: RevisionChange) -> dg.RunRequest:
    """A `checkpoint_job` run that fetches `change.revision`; its tag is what triggers the rescoring.
    The run key makes each (checkpoint, commit) fetch at most once per sensor."""
    return dg.RunRequest(
        run_key=f"hub:{change.key}@{change.revision}",
        partition_key=change.key,
        tags={HUB_REVISION_TAG: change.revision, HUB_REPO_TAG: change.repo_id},
    )


def skip_with_warning(log: logging.Logger, reason: str) -> dg.SkipReason:
    log.warning(reason)
    return dg.SkipReason(reason)


@dg.sensor(job_name=CHECKPOINT_JOB, minimum_interval_seconds=HUB_POLL_SECONDS, default_status=dg.DefaultSensorStatus.STOPPED)
def hub_revisions_sensor(context: dg.SensorEvaluationContext, hub_api: HubApi) -> dg.SensorResult | dg.SkipReason:
    """Polls the hub for new commits of the registry's repos and for new models matching the watch
    rules; adds a checkpoint partition for each new model and requests a fetch of each new revision
    (scoring follows through evaluation/sensors.py's HUB_RESCORE_CONDITION). The cursor is JSON `{repo_id: last commit seen}`.
    When the hub cannot be asked, the tick is skipped with the reason and the cursor is kept."""
    seen = read_cursor(context.cursor)
    try:
        heads = {entry.repo_id: hub_api.head_revision(entry.repo_id) for entry in HUB_CHECKPOINTS.values()}
        listed = [model for rule in HUB_WATCH_RULES for model in hub_api.list_models(rule.author, listing_search(rule))]
    except HubError as error:
        return skip_with_warning(context.log, f"hub not checked this tick, cursor kept: {error}")

    partitions = set(context.instance.get_dynamic_partitions(CHECKPOINTS_PARTITION_NAME))
    found = hub_changes(heads, listed, seen, partitions)
    cursor = write_cursor(found.cursor)
    if not found.changes:
        return dg.SensorResult(skip_reason=f"no new hub revision among {len(found.cursor)} repos", cursor=cursor)
    for change in found.changes:
        context.log.info(f"{change.repo_id}: {change.previous or 'new model'} -> {change.revision} (checkpoint {change.key})")
    new_partitions = [dg.AddDynamicPartitionsRequest(CHECKPOINTS_PARTITION_NAME, list(found.new_keys))] if found.new_keys else []
    return dg.SensorResult(
        run_requests=[hub_fetch_request(change) for change in found.changes],
        dynamic_partitions_requests=new_partitions,
        cursor=cursor,
    )
