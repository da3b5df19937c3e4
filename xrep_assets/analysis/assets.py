"""The analysis assets: the parallel sentences (`analysis_sentences`), and per checkpoint the layer-wise
analyses (`cka_by_layer`, `retrieval_by_layer`, `weight_spectrum`, `probe_by_layer`: one multi-asset,
one worker, so the checkpoint is loaded and the sentences are encoded once for all of them)."""

import dagster as dg
import polars as pl

from xrep_assets.analysis.files import SENTENCES_PARTS, analysis_parts
from xrep_assets.analysis.parallel import held_out_frame, parallel_sets, pud_frame
from xrep_assets.analysis.pud import PUD_TREEBANKS, parallel_pud
from xrep_assets.analysis.resources import PudSource
from xrep_assets.analysis.spec import ANALYSIS_ASSETS, AnalyzeSpec
from xrep_assets.asset_keys import EVALUATION_TEAM
from xrep_assets.checkpoints.assets import checkpoint
from xrep_assets.checkpoints.partitions import checkpoint_partitions
from xrep_assets.checkpoints.record import checkpoint_parts, read_record
from xrep_assets.corpora.assets import pretraining_corpus
from xrep_assets.errors import SettingError
from xrep_assets.evaluation.assets import task_data_source
from xrep_assets.evaluation.sensors import HUB_RESCORE_CONDITION
from xrep_assets.execution.launchers import WorkerLauncher
from xrep_assets.execution.pods import ANALYZE_WORKER
from xrep_assets.markdown import markdown_table
from xrep_assets.resources import ArtifactStore, StudySettings

ASSET_ANALYSIS = {dg.AssetKey(key): analysis for analysis, key in ANALYSIS_ASSETS.items()}


class SentencesConfig(dg.Config):
    """How many held-out pairs each English pair gives the analyses (its first validation rows)."""

    held_out_sentences: int = 1000


@dg.asset(deps=[pretraining_corpus], group_name="analyses", kinds={"polars", "parquet"}, owners=[EVALUATION_TEAM])
def analysis_sentences(config: SentencesConfig, study: StudySettings, artifacts: ArtifactStore, pud: PudSource) -> dg.MaterializeResult:
    """The parallel sentences every checkpoint's analyses read; unpartitioned.

    `pud`: the PUD treebanks' 1,000 sentences in ar, de, en, es, fr, ru and zh (the profile's folder,
    else the UD release downloaded once); `held-out/<pair>`: each English pair's first
    `held_out_sentences` validation rows of the study corpus, held out of pretraining. One row per
    sentence: dataset, item (what translations share), language, text.
    """
    if config.held_out_sentences < 2:
        raise SettingError(f"held_out_sentences must be at least 2, got {config.held_out_sentences}")
    profile = study.resolved()
    treebanks = pud.treebanks(profile.ud_dir, PUD_TREEBANKS)
    sentences = pl.concat([
        pud_frame(parallel_pud(treebanks, PUD_TREEBANKS)),
        held_out_frame(artifacts.path(), profile.pairs, config.held_out_sentences),
    ])
    path = artifacts.path(*SENTENCES_PARTS)
    sets = parallel_sets(sentences, str(path))  # refused before it is written
    with artifacts.writing_file(*SENTENCES_PARTS) as tmp:
        sentences.write_parquet(tmp)
    counts = sentences.group_by("dataset", "lang", maintain_order=True).len("sentences")
    return dg.MaterializeResult(metadata={
        "sentences": sentences.height,
        **{f"items/{dataset}": len(next(iter(by_lang.values()))) for dataset, by_lang in sets.items()},
        "per_language": dg.MetadataValue.md(markdown_table(counts)),
        "treebanks": str(treebanks),
        "path": str(path),
    })


class AnalysisConfig(dg.Config):
    """How the layer-wise analyses read a checkpoint: sentence vectors pooled over subwords, inputs
    cut at `max_length` subwords (the study's probing cut, eval-monolingual/); and which task the
    layer-wise probe trains, with which frozen-encoder protocol (the scorer's settings)."""

    pooling: str = "mean"  # mean | first | last
    max_length: int = 128
    probe_task: str = "XNLI"  # one of the 8 XGLUE tasks
    probe_protocol: str = "probe"  # probe (the MLP head, as the study's table) | linear
    seeds: list[int] | None = None  # None: the profile's eval_seeds
    max_train_examples: int | None = None  # None: all English training examples
    feature_cache: bool = True  # share the scorer's cached features


# A hub checkpoint fetched at a new revision is analysed again, as it is re-scored (evaluation/sensors.py).
_COMMON = {
    "partitions_def": checkpoint_partitions, "group_name": "analyses", "owners": [EVALUATION_TEAM],
    "automation_condition": HUB_RESCORE_CONDITION,
}


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            ANALYSIS_ASSETS["cka"], deps=[checkpoint, analysis_sentences], kinds={"pytorch", "parquet"}, **_COMMON,
            description="Linear CKA between each language and English on parallel sentences, layer by layer; "
            "partitioned by checkpoint. Rows: set (pud, held-out/<pair>), language, layer.",
        ),
        dg.AssetSpec(
            ANALYSIS_ASSETS["retrieval"], deps=[checkpoint, analysis_sentences], kinds={"pytorch", "parquet"}, **_COMMON,
            description="Parallel sentence retrieval accuracy (cosine nearest neighbour), both directions of every "
            "language pair of each set, layer by layer; partitioned by checkpoint.",
        ),
        dg.AssetSpec(
            ANALYSIS_ASSETS["probe"], deps=[checkpoint], kinds={"pytorch", "scikitlearn", "parquet"}, **_COMMON,
            description="The zero-shot probing curve of one task (config: probe_task, XNLI by default), layer by layer; "
            "partitioned by checkpoint. The scorer's frozen-encoder protocol trained on each layer's features.",
        ),
        dg.AssetSpec(
            ANALYSIS_ASSETS["spectrum"], deps=[checkpoint], kinds={"pytorch", "parquet"}, **_COMMON,
            description="Singular values and effective rank of every weight matrix of the encoder stack, filed by "
            "layer (0: embeddings); partitioned by checkpoint.",
        ),
    ],
    can_subset=True,
    retry_policy=dg.RetryPolicy(max_retries=2),
)
def layer_analyses(
    context: dg.AssetExecutionContext,
    config: AnalysisConfig,
    study: StudySettings,
    artifacts: ArtifactStore,
    launcher: WorkerLauncher,
):
    """The selected analyses of one checkpoint, in one worker (`analysis/work.py`)."""
    key = context.partition_key
    profile = study.resolved()
    analyses = tuple(sorted(ASSET_ANALYSIS[k] for k in context.selected_asset_keys))
    directory = artifacts.path(*checkpoint_parts(key))
    spec = AnalyzeSpec(
        checkpoint=key,
        revision=read_record(directory).revision,
        checkpoint_dir=str(directory),
        analyses=analyses,
        sentences=str(artifacts.path(*SENTENCES_PARTS)),
        artifacts_root=str(artifacts.path()),
        artifacts_remote=artifacts.remote,
        pooling=config.pooling,
        max_length=config.max_length,
        device=profile.device,
        threads=profile.threads,
        run_id=context.run_id,
        probe_task=config.probe_task,
        probe_protocol=config.probe_protocol,
        source=task_data_source(profile) if "probe" in analyses else None,
        seeds=tuple(config.seeds if config.seeds is not None else profile.eval_seeds),
        patience=profile.probe_patience,
        max_train_examples=config.max_train_examples,
        feature_cache=config.feature_cache,
    )
    spec_path = spec.write(artifacts.path("specs", "analyses", f"{key}__{context.run_id}.json"))
    context.log.info(f"analyses {', '.join(spec.analyses)} of {key} with {spec_path}")
    # matplotlib loads here, not at import: the code server imports this module.
    from xrep_assets.analysis.report import METADATA

    for reported in launcher.launch_assets(context, ANALYZE_WORKER, spec_path, profile):
        analysis = ASSET_ANALYSIS[reported.asset_key]
        frame = pl.read_parquet(artifacts.path(*analysis_parts(key, analysis)))
        yield dg.MaterializeResult(asset_key=reported.asset_key,
                                   metadata={**(reported.metadata or {}), **METADATA[analysis](frame, key)})
