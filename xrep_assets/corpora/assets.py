"""Corpus assets: raw bitexts read from OPUS Moses zips, then cleaned, per corpus x language pair."""


from dataclasses import fields as dataclass_fields
from dataclasses import replace
from typing import Any, Optional, get_type_hints
from itertools import islice

import dagster as dg
import polars as pl
import pyarrow.parquet as pq
from pydantic import create_model

from xrep_assets.asset_keys import CORPORA_TEAM
from xrep_assets.corpora.allocation import AllocationParams, forbidden_keys
from xrep_assets.corpora.cleaning import CleaningParams, clean_bitext_batches
from xrep_assets.corpora.partitions import corpus_and_pair, corpus_pair_partitions
from xrep_assets.corpora.readers import BITEXT_SCHEMA, read_moses_zip, read_tmx
from xrep_assets.corpora.resources import OpusSource
from xrep_assets.corpora.layout import clean_bitext_parts, raw_bitext_parts
from xrep_assets.corpora.spec import AllocateSpec
from xrep_assets.corpora.study_corpus import forbidden_file
from xrep_assets.execution.launchers import WorkerLauncher
from xrep_assets.execution.pods import ALLOCATE_WORKER
from xrep_assets.errors import CorpusFormatError, EmptyOutputError, SettingError
from xrep_assets.markdown import markdown_table
from xrep_assets.resources import ArtifactStore, StudySettings
from xrep_assets.xglue.contamination import evaluation_sentences
from xrep_assets.xglue.sources import profile_data_source

WRITE_BATCH_ROWS = 200_000  # rows per parquet row group: memory stays flat on full-size corpora

READERS = {"moses": read_moses_zip, "tmx": read_tmx}


class RawBitextConfig(dg.Config):
    """Which OPUS file to read: the Moses zip (default) or the TMX, of the catalog's version unless
    `version` names another one."""

    format: str = "moses"
    version: str | None = None


def _overrides_config(params_type: type, name: str, doc: str) -> type[dg.Config]:
    """A run-config class whose fields are the dataclass's fields, each optional (None keeps the
    preset's or the dataclass's value), so the settings are declared once, in the pure module."""
    hints = get_type_hints(params_type)
    fields = {f.name: (Optional[hints[f.name]], None) for f in dataclass_fields(params_type)}
    return create_model(name, __base__=dg.Config, __doc__=doc, **fields)  # type: ignore[call-overload]


def _overrides(config: dg.Config, *exclude: str) -> dict[str, Any]:
    """The dataclass fields that the run config sets (not None)."""
    return {k: v for k, v in config.model_dump(exclude=set(exclude)).items() if v is not None}


_CleaningOverrides = _overrides_config(
    CleaningParams, "_CleaningOverrides", "Any CleaningParams field; None keeps the preset's value."
)


class CleaningConfig(_CleaningOverrides):
    """Cleaning: the `study` preset (script-aware, language ID on) or `opusfilter` (OpusFilter 3.3.1's
    filters and defaults, decision for decision), plus any threshold overridden by name."""

    preset: str = "study"

    def params(self) -> CleaningParams:
        presets = {"study": CleaningParams(), "opusfilter": CleaningParams.opusfilter()}
        if self.preset not in presets:
            raise SettingError(f"unknown cleaning preset {self.preset!r}; choose one of {sorted(presets)}")
        return replace(presets[self.preset], **_overrides(self, "preset"))


@dg.asset(
    partitions_def=corpus_pair_partitions,
    group_name="corpora",
    kinds={"python", "parquet"},
    owners=[CORPORA_TEAM],
)
def raw_bitext(
    context: dg.AssetExecutionContext,
    config: RawBitextConfig,
    study: StudySettings,
    opus: OpusSource,
    artifacts: ArtifactStore,
) -> dg.MaterializeResult:
    """One OPUS corpus's sentence pairs in one language pair, as OPUS ships them; one partition per corpus × pair.

    Read from the corpus's Moses zip or TMX file (downloaded in the `paper` profile, from the local
    mirror in `tiny`) into a fixed schema, as parquet. Metadata: the `rows` read and the `source` file.
    """
    corpus, pair = corpus_and_pair(context.partition_key)
    if config.format not in READERS:
        raise CorpusFormatError(corpus.opus_name, None, f"unknown OPUS format {config.format!r}; known: {sorted(READERS)}")
    if config.version:
        corpus = replace(corpus, version=config.version)
    source = opus.corpus_file(corpus, pair, config.format, study.resolved().opus_mirror)  # type: ignore[arg-type]
    context.log.info(f"reading {source}")
    rows = 0
    schema = pl.DataFrame(schema=BITEXT_SCHEMA).to_arrow().schema
    # Written under a temporary name: a reader error leaves the previous parquet untouched.
    with artifacts.writing_file(*raw_bitext_parts(corpus, pair)) as tmp:
        with pq.ParquetWriter(tmp, schema) as writer:
            records = READERS[config.format](source, corpus, pair)
            while batch := list(islice(records, WRITE_BATCH_ROWS)):
                writer.write_table(pl.DataFrame(batch, schema=BITEXT_SCHEMA).to_arrow())
                rows += len(batch)
        # Every partition is a pair the corpus has: no rows means empty members or an empty TMX body.
        if rows == 0:
            raise EmptyOutputError(f"raw_bitext {corpus.key} {pair.key}", source, "no sentence pairs")
    return dg.MaterializeResult(
        metadata={"rows": rows, "source": str(source), "path": str(artifacts.path(*raw_bitext_parts(corpus, pair)))}
    )


@dg.asset(
    partitions_def=corpus_pair_partitions,
    deps=[raw_bitext],
    group_name="corpora",
    kinds={"polars", "parquet"},
    owners=[CORPORA_TEAM],
)
def cleaned_bitext(
    context: dg.AssetExecutionContext, config: CleaningConfig, artifacts: ArtifactStore
) -> dg.MaterializeResult:
    """One corpus's sentence pairs in one language pair after cleaning; one partition per corpus × pair.

    Unicode normalisation, then the length, length-ratio, long-word, alphabet, script,
    terminal-punctuation, numeral, language-ID and duplicate filters in this order
    (`corpora/cleaning.py`): a removed pair counts at the first filter that removes it. Metadata:
    `removed/<filter>` for every filter (0 included, so each charts across materializations),
    `rows_in`, `rows_kept`, `kept_share` and a preview of the kept pairs.
    """
    corpus, pair = corpus_and_pair(context.partition_key)
    raw = pl.scan_parquet(artifacts.path(*raw_bitext_parts(corpus, pair)))
    removed: dict[str, int] = {}
    kept_rows = 0
    preview = None
    schema = pl.DataFrame(schema=BITEXT_SCHEMA).to_arrow().schema
    # Batch by batch into a temporary file: flat memory on full corpora, nothing half-written.
    with artifacts.writing_file(*clean_bitext_parts(corpus, pair)) as tmp:
        with pq.ParquetWriter(tmp, schema) as writer:
            for kept in clean_bitext_batches(raw, config.params(), removed):
                writer.write_table(kept.select(list(BITEXT_SCHEMA)).to_arrow().cast(schema))
                kept_rows += kept.height
                if preview is None and kept.height:
                    preview = kept
        if kept_rows == 0:
            removals = ", ".join(f"{name} {count}" for name, count in removed.items() if count)
            raise EmptyOutputError(
                f"cleaned_bitext {corpus.key} {pair.key}", artifacts.path(*raw_bitext_parts(corpus, pair)),
                f"no pair kept of {sum(removed.values())}, removed by filter: {removals or 'none (the raw bitext is empty)'}",
            )
    total = kept_rows + sum(removed.values())
    return dg.MaterializeResult(
        metadata={
            "rows_in": total,
            "rows_kept": kept_rows,
            "kept_share": kept_rows / total if total else 0.0,
            **{f"removed/{name}": count for name, count in removed.items()},
            "preview": dg.MetadataValue.md(markdown_table(preview.head(5).select("text_1", "text_2"))),
        }
    )


_AllocationOverrides = _overrides_config(
    AllocationParams, "_AllocationOverrides", "Any AllocationParams field; None keeps its default."
)


class AllocationConfig(_AllocationOverrides):
    """The study's allocation (see `corpora/allocation.py`), any `AllocationParams` field overridden
    by name; seeded, so re-materializing reproduces it."""

    # Drop pretraining rows holding a sentence of any XGLUE test set (the profile's XGLUE source, the
    # one scoring reads); the no_test_contamination check then guards the result.
    decontaminate: bool = True

    def params(self) -> AllocationParams:
        return replace(AllocationParams(), **_overrides(self, "decontaminate"))


@dg.asset(deps=[cleaned_bitext], group_name="corpora", kinds={"polars", "parquet"}, owners=[CORPORA_TEAM],
          retry_policy=dg.RetryPolicy(max_retries=2))
def pretraining_corpus(
    context: dg.AssetExecutionContext,
    config: AllocationConfig,
    study: StudySettings,
    artifacts: ArtifactStore,
    launcher: WorkerLauncher,
) -> dg.MaterializeResult:
    """The study's pretraining data, allocated from the cleaned bitexts; unpartitioned (one for the study).

    Documents (or blocks) of each corpus allocated to the profile's language pairs with no document
    or sentence reused across pairs, ~1 in 2,000 held out for validation, every pair capped to the
    smallest; written as per-pair bitext (train / validation, both corpora together) and
    per-language monolingual training text. The allocation worker does it (a subprocess here, a pod
    sized for the corpus in Kubernetes). Four blocking checks guard it before the tokenizer and the
    models read it. Metadata: `train_rows`, `validation_rows`, `monolingual_sentences`, the sizes per
    pair and where the rows went at each allocation step.
    """
    profile = study.resolved()
    specs = artifacts.path("specs", "allocation")
    forbidden = None
    source = profile_data_source(profile)
    if config.decontaminate and source is not None:
        keys = forbidden_keys(evaluation_sentences(source.open()))
        context.log.info(f"decontaminating against {keys.height:,} XGLUE test sentence keys of {source.describe()}")
        forbidden = forbidden_file(specs / f"{context.run_id}.forbidden.parquet", keys)
    spec = AllocateSpec(str(artifacts.path()), tuple(pair.key for pair in profile.pairs), config.params(), forbidden,
                        artifacts.remote)
    return launcher.launch(context, ALLOCATE_WORKER, spec.write(specs / f"{context.run_id}.json"), profile)
