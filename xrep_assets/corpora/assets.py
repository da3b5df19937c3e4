"""Corpus assets: raw bitexts read from OPUS Moses zips, then cleaned, per corpus x language pair."""


from dataclasses import replace
from itertools import islice

import dagster as dg
import polars as pl
import pyarrow.parquet as pq

from xrep_assets.corpora.cleaning import CleaningParams, clean_bitext
from xrep_assets.corpora.partitions import corpus_and_pair, corpus_pair_partitions
from xrep_assets.corpora.readers import BITEXT_SCHEMA, read_moses_zip, read_tmx
from xrep_assets.corpora.resources import OpusSource
from xrep_assets.corpora.store import clean_bitext_parts, raw_bitext_parts
from xrep_assets.errors import CorpusFormatError
from xrep_assets.markdown import markdown_table
from xrep_assets.resources import ArtifactStore, StudySettings

WRITE_BATCH_ROWS = 200_000  # rows per parquet row group: memory stays flat on full-size corpora

_DEFAULTS = CleaningParams()
READERS = {"moses": read_moses_zip, "tmx": read_tmx}


class RawBitextConfig(dg.Config):
    """Which OPUS file to read: the Moses zip (default) or the TMX, of the catalog's version unless
    `version` names another one."""

    format: str = "moses"
    version: str | None = None


class CleaningConfig(dg.Config):
    """Cleaning thresholds (OpusFilter's defaults; see `CleaningParams` for where each comes from)."""

    unicode_form: str | None = _DEFAULTS.unicode_form
    min_length: int = _DEFAULTS.min_length
    max_length: int = _DEFAULTS.max_length
    max_length_chars: int = _DEFAULTS.max_length_chars
    chars_per_word: float = _DEFAULTS.chars_per_word
    max_length_ratio: float = _DEFAULTS.max_length_ratio
    max_word_length: int = _DEFAULTS.max_word_length
    min_script_ratio: float = _DEFAULTS.min_script_ratio
    dedup: bool = _DEFAULTS.dedup

    def params(self) -> CleaningParams:
        return CleaningParams(**self.model_dump())


@dg.asset(
    partitions_def=corpus_pair_partitions,
    group_name="corpora",
    kinds={"python", "parquet"},
)
def raw_bitext(
    context: dg.AssetExecutionContext,
    config: RawBitextConfig,
    study: StudySettings,
    opus: OpusSource,
    artifacts: ArtifactStore,
) -> dg.MaterializeResult:
    """The aligned lines of one OPUS corpus and language pair, read from its Moses zip or TMX file
    (downloaded in the `paper` profile, from the local mirror in `tiny`), in a fixed schema as parquet."""
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
    return dg.MaterializeResult(
        metadata={"rows": rows, "source": str(source), "path": str(artifacts.path(*raw_bitext_parts(corpus, pair)))}
    )


@dg.asset(
    partitions_def=corpus_pair_partitions,
    deps=[raw_bitext],
    group_name="corpora",
    kinds={"polars", "parquet"},
)
def cleaned_bitext(
    context: dg.AssetExecutionContext, config: CleaningConfig, artifacts: ArtifactStore
) -> dg.MaterializeResult:
    """The raw bitext after Unicode normalisation and the length, length-ratio, long-word, script and
    duplicate filters. Metadata counts the pairs each filter removed."""
    corpus, pair = corpus_and_pair(context.partition_key)
    raw = pl.scan_parquet(artifacts.path(*raw_bitext_parts(corpus, pair)))
    kept, removed = clean_bitext(raw, config.params())
    if kept.height == 0:
        raise CorpusFormatError(
            artifacts.path(*raw_bitext_parts(corpus, pair)), None,
            f"nothing left after cleaning {corpus.key} {pair.key}: removed {removed}",
        )
    with artifacts.writing_file(*clean_bitext_parts(corpus, pair)) as tmp:
        kept.write_parquet(tmp)
    total = kept.height + sum(removed.values())
    return dg.MaterializeResult(
        metadata={
            "rows_in": total,
            "rows_kept": kept.height,
            "kept_share": kept.height / total if total else 0.0,
            **{f"removed_{name}": count for name, count in removed.items()},
            "preview": dg.MetadataValue.md(markdown_table(kept.head(5).select("text_1", "text_2"))),
        }
    )
