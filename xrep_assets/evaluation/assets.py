"""The task-score asset: one partition per checkpoint x task, one row per language, metric and seed."""


import json
from collections.abc import Callable
from importlib.metadata import version

import dagster as dg
import polars as pl

from xrep_assets.checkpoints.assets import checkpoint
from xrep_assets.checkpoints.sensors import HUB_RESCORE_CONDITION
from xrep_assets.checkpoints.encoder import Encoder, language_codes_for
from xrep_assets.checkpoints.store import checkpoint_parts, read_record
from xrep_assets.errors import XrepError
from xrep_assets.evaluation.finetuning import finetune_task
from xrep_assets.evaluation.loaders import load_task_split, task_file
from xrep_assets.evaluation.partitions import score_partitions
from xrep_assets.evaluation.probing import linear_probe_task, probe_task, task_features
from xrep_assets.evaluation.protocols import (
    DEFAULT_POOLING,
    ProtocolResult,
    TaskData,
    TrainingSettings,
    check_protocol,
    first_examples,
    protocol_label,
    settings_for,
)
from xrep_assets.evaluation.store import SCORE_SCHEMA, score_parts
from xrep_assets.markdown import markdown_table
from xrep_assets.resources import ArtifactStore, StudySettings
from xrep_assets.study import SOURCE_LANGUAGE, TASKS


class ScoreConfig(dg.Config):
    """How a score partition is computed. Defaults: the later study's frozen-encoder probe on the last
    layer, selected on English dev, over the profile's seeds, with the settings table's epochs."""

    protocol: str = "probe"  # probe | finetune | linear (evaluation/protocols.py)
    layer: int = -1  # hidden-state index: 0 the embeddings, -1 the last layer
    selection: str = "english-dev"  # english-dev | all-dev (mean of the dev metric over languages)
    pooling: str | None = None  # sum | mean | first | last; None: the protocol's (probe sum, finetune mean)
    seeds: list[int] | None = None  # None: the profile's eval_seeds
    max_epochs: int | None = None  # None: the settings table's
    patience: int | None = None  # early stopping of the probe; None: the profile's (or the table's)
    max_train_examples: int | None = None  # None: all English training examples


def library_versions() -> str:
    return json.dumps({lib: version(lib) for lib in ("torch", "transformers", "scikit-learn", "xrep")})


def protocol_results(
    data: TaskData,
    encoder: Encoder,
    protocol: str,
    settings: TrainingSettings,
    seeds: list[int],
    selection: str,
    layer: int,
    pooling: str,
    log: Callable[[str], None],
) -> dict[int, ProtocolResult]:
    """Each seed's run of `protocol`; the probes compute the encoder's features once for all seeds."""
    if protocol == "finetune":
        return {seed: finetune_task(data, encoder, settings, seed, selection, layer, pooling, log) for seed in seeds}
    features = task_features(data, encoder, layer, pooling, log)
    fit = probe_task if protocol == "probe" else linear_probe_task
    return {seed: fit(features, settings, seed, selection, log) for seed in seeds}


@dg.asset(
    partitions_def=score_partitions,
    deps=[checkpoint],
    group_name="scores",
    kinds={"pytorch", "scikitlearn", "parquet"},
    # Re-scores exactly the checkpoint a hub sensor or schedule re-fetched (checkpoints/sensors.py).
    automation_condition=HUB_RESCORE_CONDITION,
)
def task_scores(
    context: dg.AssetExecutionContext, config: ScoreConfig, study: StudySettings, artifacts: ArtifactStore
) -> dg.MaterializeResult:
    """Zero-shot cross-lingual scores of one checkpoint on one XGLUE task: trained on English (a probe
    on the frozen encoder, or the fine-tuned encoder), selected on dev, evaluated on the test set of
    every task language available, for each seed."""
    keys = context.partition_key.keys_by_dimension
    checkpoint_key, task = keys["checkpoint"], TASKS[keys["task"]]
    check_protocol(config.protocol, config.selection, config.pooling)
    profile = study.resolved()
    if profile.xglue_dir is None:
        raise XrepError("no XGLUE data folder: set XREP_XGLUE_DIR or the study resource's xglue_dir")
    data_dir = profile.xglue_dir
    settings = settings_for(config.protocol, task.key, config.max_epochs, config.patience or profile.probe_patience)
    pooling = config.pooling or DEFAULT_POOLING[config.protocol]
    seeds = list(config.seeds) if config.seeds is not None else list(profile.eval_seeds)
    label = protocol_label(config.protocol, config.selection, config.pooling)

    directory = artifacts.path(*checkpoint_parts(checkpoint_key))
    record = read_record(directory)
    encoder = Encoder(directory, device=profile.device, max_length=settings.max_length,
                      lang_codes=language_codes_for(record.key))

    def available(split: str) -> list[str]:
        return [lang for lang in task.languages if task_file(data_dir, task.key, lang, split).exists()]

    tested = available("test")
    missing = [lang for lang in task.languages if lang not in tested]
    if missing:
        context.log.warning(f"{task.key}: no test file for {', '.join(missing)} in {data_dir}")
    dev_languages = available("dev") if config.selection == "all-dev" else [SOURCE_LANGUAGE]
    data = TaskData(
        task,
        train=first_examples(load_task_split(data_dir, task.key, SOURCE_LANGUAGE, "train"), config.max_train_examples),
        dev={lang: load_task_split(data_dir, task.key, lang, "dev") for lang in dev_languages},
        test={lang: load_task_split(data_dir, task.key, lang, "test") for lang in tested},
    )

    results = protocol_results(data, encoder, config.protocol, settings, seeds, config.selection, config.layer,
                               pooling, context.log.info)
    versions = library_versions()
    rows = [
        {
            "checkpoint": checkpoint_key, "revision": record.revision, "task": task.key,
            "language": s.language, "split": s.split, "metric": s.metric, "value": s.value,
            "seed": seed, "protocol": label, "layer": config.layer, "n_examples": s.n_examples,
            "versions": versions,
        }
        for seed, result in results.items()
        for s in result.scores
    ]
    scores = pl.DataFrame(rows, schema=SCORE_SCHEMA)
    with artifacts.writing_file(*score_parts(checkpoint_key, task.key)) as tmp:
        scores.write_parquet(tmp)

    # The comparison reads the catalog metric only; other metrics (POS token accuracy) are in the file.
    per_language = (
        scores.filter(pl.col("metric") == task.metric)
        .group_by("language", maintain_order=True)
        .agg(pl.col("value").mean().alias(task.metric), pl.col("value").std().alias("std over seeds"),
             pl.col("n_examples").first().alias("n"))
    )
    dev_column = f"{config.selection} {task.metric}"
    selected = pl.DataFrame([
        {"seed": seed, "selected": r.selected, "epochs run": r.epochs_run, dev_column: r.dev_value}
        for seed, r in results.items()
    ])
    return dg.MaterializeResult(
        metadata={
            "task_average": float(per_language[task.metric].mean()) if per_language.height else float("nan"),
            "languages": per_language.height,
            "languages_missing": ", ".join(missing) or "none",
            "per_language": dg.MetadataValue.md(markdown_table(per_language, float_precision=4)),
            "protocol": label,
            "selection": config.selection,
            "dev_languages": ", ".join(dev_languages),
            "pooling": pooling if task.head != "tagging" else "first subword",
            "layer": config.layer,
            "seeds": ", ".join(map(str, seeds)),
            "settings": dg.MetadataValue.json(settings.__dict__),
            "training_examples": len(data.train),
            "selected": dg.MetadataValue.md(markdown_table(selected, float_precision=4)),
            "revision": record.revision,
        }
    )
