"""The xrep code location: every asset of the study, its jobs, sensors and resources."""

from __future__ import annotations

import dagster as dg

from xrep_assets.analysis.assets import analysis_sentences, layer_analyses
from xrep_assets.analysis.resources import PudSource
from xrep_assets.checkpoints.assets import checkpoint
from xrep_assets.checkpoints.partitions import checkpoint_partitions
from xrep_assets.checkpoints.resources import HubApi, HubSource
from xrep_assets.checkpoints.schedules import weekly_hub_reevaluation
from xrep_assets.checkpoints.sensors import CHECKPOINT_JOB, catalog_checkpoints_sensor, hub_revisions_sensor
from xrep_assets.corpora.assets import cleaned_bitext, pretraining_corpus, raw_bitext
from xrep_assets.corpora.checks import CORPUS_CHECKS
from xrep_assets.corpora.partitions import corpus_pair_partitions
from xrep_assets.corpora.resources import OpusSource
from xrep_assets.environment import ARTIFACTS_REMOTE_ENV_VAR, HUB_DIR_ENV_VAR, env_value
from xrep_assets.evaluation.assets import task_scores
from xrep_assets.evaluation.checks import no_test_contamination
from xrep_assets.evaluation.partitions import score_partitions
from xrep_assets.evaluation.sensors import hub_rescore_sensor
from xrep_assets.execution.launcher_env import launcher_from_env
from xrep_assets.paths import default_artifacts_dir, default_warehouse_path
from xrep_assets.resources import ArtifactStore, default_study_settings
from xrep_assets.tokenizers.assets import joint_tokenizer
from xrep_assets.warehouse.assets import corpus_statistics, cross_lingual_comparison, warehouse_analyses, warehouse_scores
from xrep_assets.warehouse.rebuild import rebuild_warehouse
from xrep_assets.warehouse.resources import DuckDBWarehouse

# Every job of the code location is built here: a job may span stages (allocation_job ends in the
# warehouse's corpus_statistics, scores_job in warehouse_scores), which only the top layer may import.
# One job per stage of the study, in dependency order: `xrep study` runs them partition by partition.
corpora_job = dg.define_asset_job("corpora_job", selection=[raw_bitext, cleaned_bitext], partitions_def=corpus_pair_partitions)
allocation_job = dg.define_asset_job("allocation_job", selection=[pretraining_corpus, corpus_statistics, analysis_sentences])
tokenizer_job = dg.define_asset_job("tokenizer_job", selection=[joint_tokenizer])
checkpoint_job = dg.define_asset_job(CHECKPOINT_JOB, selection=[checkpoint], partitions_def=checkpoint_partitions)
# The layer-wise analyses of one checkpoint (all three in one worker) and their warehouse rows.
analyses_job = dg.define_asset_job(
    "analyses_job", selection=dg.AssetSelection.assets(layer_analyses, warehouse_analyses), partitions_def=checkpoint_partitions
)
scores_job = dg.define_asset_job("scores_job", selection=[task_scores, warehouse_scores], partitions_def=score_partitions)
comparison_job = dg.define_asset_job("comparison_job", selection=[cross_lingual_comparison])
STUDY_JOBS = (corpora_job, allocation_job, tokenizer_job, checkpoint_job, analyses_job, scores_job, comparison_job)


@dg.job(description="Recreates the DuckDB warehouse from the catalog and the per-partition score files.")
def warehouse_rebuild_job() -> None:
    rebuild_warehouse()


def default_resources() -> dict[str, object]:
    """The resources as the environment configures them (`environment.py`); a run's config may
    replace the `study` resource, whose profile then also sizes the worker pods."""
    return {
        "study": default_study_settings(),
        "artifacts": ArtifactStore(root=str(default_artifacts_dir()), remote=env_value(ARTIFACTS_REMOTE_ENV_VAR)),
        "opus": OpusSource(cache_dir=str(default_artifacts_dir() / "opus_cache")),
        "pud": PudSource(cache_dir=str(default_artifacts_dir() / "ud_cache")),
        "hub": HubSource(local_dir=env_value(HUB_DIR_ENV_VAR)),
        "hub_api": HubApi(),
        "launcher": launcher_from_env(),
        "warehouse": DuckDBWarehouse(path=str(default_warehouse_path())),
    }


def build_definitions() -> dg.Definitions:
    """The code location, its resources read from the environment now (tests build one per XREP_HOME)."""
    return dg.Definitions(
        assets=[
            raw_bitext, cleaned_bitext, pretraining_corpus, joint_tokenizer, checkpoint, task_scores, warehouse_scores,
            corpus_statistics, cross_lingual_comparison, analysis_sentences, layer_analyses, warehouse_analyses,
        ],
        asset_checks=[*CORPUS_CHECKS, no_test_contamination],
        jobs=[*STUDY_JOBS, warehouse_rebuild_job],
        sensors=[catalog_checkpoints_sensor, hub_revisions_sensor, hub_rescore_sensor],
        schedules=[weekly_hub_reevaluation],
        resources=default_resources(),
    )


defs = build_definitions()
