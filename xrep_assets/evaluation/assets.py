"""The task-score asset: one partition per checkpoint x task, one row per language, metric and seed."""


import dagster as dg

from xrep_assets.asset_keys import EVALUATION_TEAM
from xrep_assets.checkpoints.assets import checkpoint
from xrep_assets.checkpoints.record import checkpoint_parts, read_record
from xrep_assets.errors import XrepError
from xrep_assets.evaluation.partitions import score_partitions
from xrep_assets.evaluation.protocols import check_protocol
from xrep_assets.evaluation.sensors import HUB_RESCORE_CONDITION
from xrep_assets.evaluation.spec import ScoreSpec
from xrep_assets.execution.launchers import WorkerLauncher
from xrep_assets.execution.pods import SCORE_WORKER
from xrep_assets.profiles import Profile
from xrep_assets.resources import ArtifactStore, StudySettings
from xrep_assets.xglue.sources import DataSource, profile_data_source

ABOVE_CHANCE_CHECK = "english_dev_above_chance"


class ScoreConfig(dg.Config):
    """How a score partition is computed. Defaults: every protocol of the profile (the later study's
    frozen-encoder probe, then fine-tuning) on the last layer, selected on English dev, over the
    profile's seeds, with the settings table's epochs."""

    protocol: str | None = None  # probe | finetune | linear (evaluation/protocols.py); None: the profile's
    layer: int = -1  # hidden-state index: 0 the embeddings, -1 the last layer
    selection: str = "english-dev"  # english-dev | all-dev (mean of the dev metric over languages)
    pooling: str | None = None  # sum | mean | first | last; None: the protocol's (probe sum, finetune mean)
    seeds: list[int] | None = None  # None: the profile's eval_seeds
    max_epochs: int | None = None  # None: the settings table's
    patience: int | None = None  # early stopping of the probe; None: the profile's (or the table's)
    max_train_examples: int | None = None  # None: all English training examples
    chance_reruns: int | None = None  # re-runs of a seed at chance level; None: the profile's
    feature_cache: bool = True  # keep the probes' encoder features in the artifact store


def task_data_source(profile: Profile) -> DataSource:
    """The configured hub dataset, else the official archive's folder."""
    source = profile_data_source(profile)
    if source is not None:
        return source
    raise XrepError("no XGLUE data: set XREP_XGLUE_DIR (the unpacked archive) or XREP_XGLUE_DATASET (a hub dataset)")


def score_spec(
    checkpoint_key: str, task: str, config: ScoreConfig, profile: Profile, artifacts: ArtifactStore, run_id: str
) -> ScoreSpec:
    protocols = (config.protocol,) if config.protocol else profile.protocols
    for protocol in protocols:
        check_protocol(protocol, config.selection, config.pooling)
    directory = artifacts.path(*checkpoint_parts(checkpoint_key))
    return ScoreSpec(
        checkpoint=checkpoint_key,
        revision=read_record(directory).revision,
        checkpoint_dir=str(directory),
        task=task,
        source=task_data_source(profile),
        protocols=tuple(protocols),
        selection=config.selection,
        layer=config.layer,
        pooling=config.pooling,
        seeds=tuple(config.seeds if config.seeds is not None else profile.eval_seeds),
        max_epochs=config.max_epochs,
        patience=config.patience or profile.probe_patience,
        max_train_examples=config.max_train_examples,
        chance_reruns=config.chance_reruns if config.chance_reruns is not None else profile.chance_reruns,
        artifacts_root=str(artifacts.path()),
        artifacts_remote=artifacts.remote,
        device=profile.device,
        feature_cache=config.feature_cache,
        run_id=run_id,
        threads=profile.threads,
    )


@dg.asset(
    partitions_def=score_partitions,
    deps=[checkpoint],
    group_name="scores",
    kinds={"pytorch", "scikitlearn", "parquet"},
    owners=[EVALUATION_TEAM],
    # Re-scores exactly the checkpoint a hub sensor or schedule re-fetched (evaluation/sensors.py).
    automation_condition=HUB_RESCORE_CONDITION,
    # A lost pod is retried; the probes' features come back from the cache.
    retry_policy=dg.RetryPolicy(max_retries=2),
    check_specs=[
        dg.AssetCheckSpec(
            ABOVE_CHANCE_CHECK, asset="task_scores",
            description="Every kept seed beats the majority-label head on English dev (a seed at chance is re-run).",
        )
    ],
)
def task_scores(
    context: dg.AssetExecutionContext,
    config: ScoreConfig,
    study: StudySettings,
    artifacts: ArtifactStore,
    launcher: WorkerLauncher,
) -> dg.MaterializeResult:
    """Zero-shot cross-lingual scores of one checkpoint on one XGLUE task; partitioned by checkpoint × task.

    Trained on English (a probe on the frozen encoder, and the fine-tuned encoder), selected on dev,
    evaluated on the test set of every task language available, for each seed. The scoring worker
    (evaluation/scoring.py) does the work, in a subprocess or a pod; it writes one score file per
    protocol. Metadata per protocol: `<protocol>/score/<language>` (the task's catalog metric, mean
    over seeds) and their mean `<protocol>/task_average`; `task_average` is the first protocol's.
    """
    keys = context.partition_key.keys_by_dimension
    profile = study.resolved()
    spec = score_spec(keys["checkpoint"], keys["task"], config, profile, artifacts, context.run_id)
    spec_path = spec.write(artifacts.path("specs", "scores", f"{spec.checkpoint}__{spec.task}__{context.run_id}.json"))
    context.log.info(f"scoring {spec.checkpoint} on {spec.task} ({', '.join(spec.protocols)}) with {spec_path}")
    reported = launcher.launch(context, SCORE_WORKER, spec_path, profile)
    metadata = dict(reported.metadata or {})
    report = metadata["at_chance"].value if "at_chance" in metadata else []
    from xrep_assets.evaluation.scoring import still_at_chance  # torch: imported by the run, not the code server

    kept = still_at_chance(report)
    check = dg.AssetCheckResult(
        check_name=ABOVE_CHANCE_CHECK,
        passed=not kept,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"runs_at_chance": dg.MetadataValue.json(report), "kept_at_chance": len(kept)},
    )
    return dg.MaterializeResult(metadata=metadata, check_results=[check])
