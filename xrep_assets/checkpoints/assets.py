"""The checkpoint asset: one dynamic partition per checkpoint, trained here or fetched from the hub."""


import dagster as dg
import polars as pl
from transformers import AutoConfig, AutoModel

from xrep_assets.checkpoints.partitions import checkpoint_partitions
from xrep_assets.checkpoints.pretraining import TrainingHyperparams, count_parameters, objective_for, pretrain
from xrep_assets.checkpoints.resources import HubSource
from xrep_assets.checkpoints.store import CheckpointRecord, checkpoint_parts, write_record
from xrep_assets.corpora.store import monolingual_texts
from xrep_assets.errors import XrepError
from xrep_assets.markdown import markdown_table
from xrep_assets.resources import ArtifactStore, StudySettings
from xrep_assets.study import HUB_CHECKPOINTS, OBJECTIVES
from xrep_assets.tokenizers.assets import TOKENIZER_PARTS, joint_tokenizer
from xrep_assets.tokenizers.training import load_tokenizer


class PretrainConfig(dg.Config):
    """Overrides of the profile's training length (e.g. a short smoke run); None keeps the profile's."""

    steps: int | None = None
    seed: int = 0


@dg.asset(
    partitions_def=checkpoint_partitions,
    deps=[joint_tokenizer],
    group_name="checkpoints",
    kinds={"pytorch", "huggingface"},
)
def checkpoint(
    context: dg.AssetExecutionContext,
    config: PretrainConfig,
    study: StudySettings,
    artifacts: ArtifactStore,
    hub: HubSource,
) -> dg.MaterializeResult:
    """A Hugging Face checkpoint directory (`AutoModel.from_pretrained` loads it): trained from scratch
    with one of the study's objectives, or a public hub checkpoint at its pinned revision."""
    key = context.partition_key
    if key in OBJECTIVES:
        return _train(context, key, config, study, artifacts)
    if key in HUB_CHECKPOINTS:
        return _fetch(context, key, artifacts, hub)
    raise XrepError(f"checkpoint {key!r} is neither an objective nor a hub checkpoint of the catalog")


def _train(
    context: dg.AssetExecutionContext, key: str, config: PretrainConfig, study: StudySettings, artifacts: ArtifactStore
) -> dg.MaterializeResult:
    objective = objective_for(key)
    profile = study.resolved()
    tokenizer = load_tokenizer(artifacts.path(*TOKENIZER_PARTS))
    texts = [t for lang_texts in monolingual_texts(artifacts.path()).values() for t in lang_texts]
    hp = TrainingHyperparams(
        steps=config.steps or profile.train_steps,
        batch_size=profile.batch_size,
        max_length=profile.max_length,
        learning_rate=profile.learning_rate,
        warmup_steps=min(profile.warmup_steps, (config.steps or profile.train_steps) // 10),
        seed=config.seed,
    )
    with artifacts.writing_dir(*checkpoint_parts(key)) as tmp:
        result = pretrain(objective, texts, tokenizer, profile.model_size, hp, tmp, profile.device, context.log.info)
        write_record(tmp, CheckpointRecord(key, "trained", context.run_id, objective.family, result.parameters))
    losses = pl.DataFrame(result.losses, schema=["step", "loss"], orient="row")
    return dg.MaterializeResult(
        metadata={
            "objective": objective.name,
            "architecture": objective.family,
            "parameters": result.parameters,
            "final_loss": result.final_loss,
            "tokens_per_second": result.tokens_seen / result.seconds if result.seconds else 0.0,
            "train_seconds": result.seconds,
            "loss_curve": dg.MetadataValue.md(markdown_table(losses, float_precision=4)),
            "path": str(artifacts.path(*checkpoint_parts(key))),
        }
    )


def _fetch(context: dg.AssetExecutionContext, key: str, artifacts: ArtifactStore, hub: HubSource) -> dg.MaterializeResult:
    entry = HUB_CHECKPOINTS[key]
    with artifacts.writing_dir(*checkpoint_parts(key)) as tmp:
        revision = hub.fetch(entry, tmp)
        config = AutoConfig.from_pretrained(str(tmp))
        parameters = count_parameters(AutoModel.from_pretrained(str(tmp)))
        write_record(tmp, CheckpointRecord(key, "hub", revision, entry.family, parameters))
    context.log.info(f"{entry.repo_id}@{revision}: {parameters:,} parameters")
    return dg.MaterializeResult(
        metadata={
            "repo_id": entry.repo_id,
            "revision": revision,
            "role": entry.role,
            "architecture": config.model_type,
            "parameters": parameters,
            "path": str(artifacts.path(*checkpoint_parts(key))),
        }
    )
