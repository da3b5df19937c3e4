"""The weekly hub schedule: re-fetches (and so re-scores) the hub checkpoints whose branch head moved
since they were fetched. The polling sensor and the fetch requests both use are in `sensors.py`."""

from __future__ import annotations

import dagster as dg

from xrep_assets.asset_keys import CHECKPOINT_ASSET
from xrep_assets.checkpoints.hub_watch import RevisionChange, hub_keys, repo_id_of_key, stale_revisions
from xrep_assets.checkpoints.partitions import CHECKPOINTS_PARTITION_NAME
from xrep_assets.checkpoints.resources import HubApi, HubError
from xrep_assets.checkpoints.sensors import CHECKPOINT_JOB, hub_fetch_request, skip_with_warning


def recorded_revision(instance: dg.DagsterInstance, key: str) -> str | None:
    """The `revision` the latest materialization of checkpoint partition `key` recorded (None: never
    materialized, or no revision recorded)."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=CHECKPOINT_ASSET, asset_partitions=[key]), limit=1
    ).records
    materialization = records[0].asset_materialization if records else None
    if materialization is None or "revision" not in materialization.metadata:
        return None
    value = materialization.metadata["revision"]
    return str(getattr(value, "value", value))


@dg.schedule(
    cron_schedule="0 4 * * 1",
    execution_timezone="UTC",
    job_name=CHECKPOINT_JOB,
    default_status=dg.DefaultScheduleStatus.STOPPED,
)
def weekly_hub_reevaluation(context: dg.ScheduleEvaluationContext, hub_api: HubApi) -> list[dg.RunRequest] | dg.SkipReason:
    """Mondays 04:00 UTC: re-fetches (and so re-scores) each hub checkpoint whose branch head moved
    away from the revision its latest materialization recorded. Checkpoints never fetched, or fetched
    from a local folder, are left alone."""
    partitions = context.instance.get_dynamic_partitions(CHECKPOINTS_PARTITION_NAME)
    recorded = {key: recorded_revision(context.instance, key) for key in hub_keys(partitions)}
    fetched = {key: revision for key, revision in recorded.items() if revision is not None and not revision.startswith("local:")}
    try:
        heads = {key: hub_api.head_revision(repo_id_of_key(key)) for key in fetched}
    except HubError as error:
        return skip_with_warning(context.log, f"hub not checked this week: {error}")
    stale = stale_revisions(fetched, heads)
    if not stale:
        return dg.SkipReason(f"no hub checkpoint changed revision ({len(fetched)} checked)")
    for key, revision in stale.items():
        context.log.info(f"{key}: recorded {fetched[key]}, hub head {revision}")
    return [hub_fetch_request(RevisionChange(key, repo_id_of_key(key), fetched[key], revision)) for key, revision in stale.items()]
