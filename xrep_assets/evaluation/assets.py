"""The task-score asset: one partition per checkpoint x task, one row per language kept."""


import json
from importlib.metadata import version

import dagster as dg
import polars as pl

from xrep_assets.checkpoints.assets import checkpoint
from xrep_assets.checkpoints.encoder import Encoder, language_codes_for
from xrep_assets.checkpoints.store import checkpoint_parts, read_record
from xrep_assets.errors import XrepError
from xrep_assets.evaluation.loaders import load_task_split, task_file
from xrep_assets.evaluation.partitions import score_partitions
from xrep_assets.evaluation.probing import probe_task
from xrep_assets.evaluation.store import SCORE_SCHEMA, score_parts
from xrep_assets.markdown import markdown_table
from xrep_assets.resources import ArtifactStore, StudySettings
from xrep_assets.study import SOURCE_LANGUAGE, TASKS

PROTOCOL = "probe"


class ScoreConfig(dg.Config):
    """Which representation the probe reads: the hidden-state index (-1 = last layer)."""

    layer: int = -1


def library_versions() -> str:
    return json.dumps({lib: version(lib) for lib in ("torch", "transformers", "scikit-learn", "xrep")})


@dg.asset(
    partitions_def=score_partitions,
    deps=[checkpoint],
    group_name="scores",
    kinds={"pytorch", "scikitlearn", "parquet"},
)
def task_scores(
    context: dg.AssetExecutionContext, config: ScoreConfig, study: StudySettings, artifacts: ArtifactStore
) -> dg.MaterializeResult:
    """Zero-shot cross-lingual scores of one checkpoint on one XGLUE task: a probe fitted on English
    (selected on English dev) and evaluated on the test set of every task language available."""
    keys = context.partition_key.keys_by_dimension
    checkpoint_key, task = keys["checkpoint"], TASKS[keys["task"]]
    profile = study.resolved()
    if profile.xglue_dir is None:
        raise XrepError("no XGLUE data folder: set XREP_XGLUE_DIR or the study resource's xglue_dir")
    data_dir = profile.xglue_dir
    directory = artifacts.path(*checkpoint_parts(checkpoint_key))
    record = read_record(directory)
    encoder = Encoder(directory, device=profile.device, lang_codes=language_codes_for(record.key))

    train = load_task_split(data_dir, task.key, SOURCE_LANGUAGE, "train")
    dev = load_task_split(data_dir, task.key, SOURCE_LANGUAGE, "dev")
    available = [lang for lang in task.languages if task_file(data_dir, task.key, lang, "test").exists()]
    missing = [lang for lang in task.languages if lang not in available]
    if missing:
        context.log.warning(f"{task.key}: no test file for {', '.join(missing)} in {data_dir}")
    evaluation = {lang: ("test", load_task_split(data_dir, task.key, lang, "test")) for lang in available}

    rows = []
    for seed in profile.eval_seeds:
        result = probe_task(task, encoder, train, dev, evaluation, seed, config.layer, context.log.info)
        rows += [
            {
                "checkpoint": checkpoint_key, "revision": record.revision, "task": task.key,
                "language": s.language, "split": s.split, "metric": s.metric, "value": s.value,
                "seed": seed, "protocol": PROTOCOL, "layer": config.layer, "n_examples": s.n_examples,
                "versions": library_versions(),
            }
            for s in result.scores
        ]
    scores = pl.DataFrame(rows, schema=SCORE_SCHEMA)
    with artifacts.writing_file(*score_parts(checkpoint_key, task.key)) as tmp:
        scores.write_parquet(tmp)

    per_language = scores.group_by("language", maintain_order=True).agg(
        pl.col("value").mean().alias(task.metric), pl.col("n_examples").first().alias("n")
    )
    return dg.MaterializeResult(
        metadata={
            "task_average": float(per_language[task.metric].mean()) if per_language.height else float("nan"),
            "languages": per_language.height,
            "languages_missing": ", ".join(missing) or "none",
            "per_language": dg.MetadataValue.md(markdown_table(per_language, float_precision=4)),
            "revision": record.revision,
        }
    )
