"""Automation of the score partitions (the `task_scores` automation condition) and the sensor that
evaluates every automation condition from `task_scores` and the layer-wise analyses down: a hub
checkpoint fetched at a new revision is re-scored and re-analysed, and its rows and the comparison
follow.

How a new hub revision gets scored, in order:
1. `hub_revisions_sensor` (checkpoints/sensors.py) or the weekly `weekly_hub_reevaluation` schedule
   (checkpoints/schedules.py) requests one `checkpoint_job` run for the checkpoint, tagged
   `xrep/hub_revision=<commit>`; the checkpoint asset fetches that commit and records it as `revision`.
2. `task_scores` carries `HUB_RESCORE_CONDITION`: once a checkpoint partition is materialized by a
   run with that tag, the automation sensor `hub_rescore_sensor` requests exactly that checkpoint's
   score partitions (one per task). The scores can never run before the fetch: the condition is
   only true after the new materialization exists. The layer-wise analyses (analysis/assets.py)
   carry the same condition: one run re-analyses the checkpoint, `warehouse_analyses` in it.
3. `warehouse_scores` and `cross_lingual_comparison` carry the conditions of warehouse/assets.py: each
   score partition's rows are loaded in the same run as its scores, and the comparison runs once,
   after every requested partition of the wave has landed.
Only hub-tagged fetches trigger scoring, so the study's own runs (`xrep study`) are never doubled.
"""

from __future__ import annotations

import dagster as dg

from xrep_assets.asset_keys import LAYER_ANALYSES_ASSETS, TASK_SCORES_ASSET
from xrep_assets.checkpoints.hub_watch import HUB_REVISION_TAG

# On `task_scores` and the layer-wise analyses: score (analyse) a checkpoint partition after a fetch
# requested for a new hub revision.
HUB_RESCORE_CONDITION = (
    dg.AutomationCondition.any_deps_match(
        # executed_with_tags: the run that last updated the dep had the tag. (any_new_update_has_run_tags
        # did not fire inside any_deps_match on Dagster 1.13.27; tests/test_hub.py checks this one does.)
        dg.AutomationCondition.newly_updated() & dg.AutomationCondition.executed_with_tags(tag_keys={HUB_REVISION_TAG})
    ).since_last_handled()
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
).with_label("rescore_after_hub_fetch")

# Evaluates HUB_RESCORE_CONDITION and the warehouse's conditions below it (selected by key: this stage
# may not import the analysis stage or the warehouse); running by default, as the chain starts only
# at hub-tagged fetches.
hub_rescore_sensor = dg.AutomationConditionSensorDefinition(
    "hub_rescore_sensor",
    target=dg.AssetSelection.assets(TASK_SCORES_ASSET, *LAYER_ANALYSES_ASSETS).downstream(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=60,
    # One run per score partition (its scores and its rows together, as scores_job), not a backfill.
    emit_backfills=False,
    description="Scores and analyses a hub checkpoint once it has been fetched at a new revision, then loads "
    "their rows into DuckDB and refreshes the comparison.",
)
