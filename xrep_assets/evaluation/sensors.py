"""Automation of the score partitions (the `task_scores` automation condition and its sensor): a hub
checkpoint fetched at a new revision is re-scored.

How a new hub revision gets scored, in order:
1. `hub_revisions_sensor` (checkpoints/sensors.py) or the weekly `weekly_hub_reevaluation` schedule
   (checkpoints/schedules.py) requests one `checkpoint_job` run for the checkpoint, tagged
   `xrep/hub_revision=<commit>`; the checkpoint asset fetches that commit and records it as `revision`.
2. `task_scores` carries `HUB_RESCORE_CONDITION`: once a checkpoint partition is materialized by a
   run with that tag, the automation sensor `hub_rescore_sensor` requests exactly that checkpoint's
   score partitions (one per task). The scores can never run before the fetch: the condition is
   only true after the new materialization exists.
Only hub-tagged fetches trigger scoring, so the study's own runs (`xrep study`) are never doubled.
"""

from __future__ import annotations

import dagster as dg

from xrep_assets.asset_keys import TASK_SCORES_ASSET
from xrep_assets.checkpoints.hub_watch import HUB_REVISION_TAG

# On `task_scores`: score a checkpoint partition's tasks after a fetch requested for a new hub revision.
HUB_RESCORE_CONDITION = (
    dg.AutomationCondition.any_deps_match(
        # executed_with_tags: the run that last updated the dep had the tag. (any_new_update_has_run_tags
        # did not fire inside any_deps_match on Dagster 1.13.27; tests/test_hub.py checks this one does.)
        dg.AutomationCondition.newly_updated() & dg.AutomationCondition.executed_with_tags(tag_keys={HUB_REVISION_TAG})
    ).since_last_handled()
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
).with_label("rescore_after_hub_fetch")

# Evaluates HUB_RESCORE_CONDITION; running by default, as it only acts on hub-tagged fetches.
hub_rescore_sensor = dg.AutomationConditionSensorDefinition(
    "hub_rescore_sensor",
    target=dg.AssetSelection.assets(TASK_SCORES_ASSET),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=60,
    emit_backfills=False,  # one scores_job-like run per score partition, not a backfill
    description="Scores a hub checkpoint's tasks once it has been fetched at a new revision.",
)
