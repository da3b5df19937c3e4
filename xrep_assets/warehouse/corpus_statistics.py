"""Size of the pretraining corpus the study allocated, per corpus, pair, split and language."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from xrep_assets.corpora.layout import SPLITS, study_bitext_name, study_corpus_dir
from xrep_assets.errors import EmptyOutputError
from xrep_assets.study import LANGUAGES, LanguagePair
from xrep_assets.warehouse.resources import WarehouseError

CORPUS_STATISTICS_SCHEMA: dict[str, pl.DataType] = {
    "corpus": pl.String(), "pair": pl.String(), "split": pl.String(), "language": pl.String(),
    "sentences": pl.Int64(), "words": pl.Int64(), "characters": pl.Int64(),
}


def side_statistics(frame: pl.DataFrame, pair: str, split: str) -> pl.DataFrame:
    """One row per corpus x language of a study bitext frame (`corpus`, `lang_1/2`, `text_1/2`).
    Words are whitespace tokens, or characters for languages written without spaces (zh, th)."""
    sides = [
        frame.select(pl.col("corpus"), pl.col(f"lang_{i}").alias("language"), pl.col(f"text_{i}").alias("text"))
        for i in (1, 2)
    ]
    text = pl.concat(sides)
    unspaced = [code for code, lang in LANGUAGES.items() if not lang.space_delimited]
    words = pl.when(pl.col("language").is_in(unspaced)).then(pl.col("text").str.count_matches(r"\S")).otherwise(
        pl.col("text").str.count_matches(r"\S+")
    )
    return (
        text.group_by("corpus", "language", maintain_order=True)
        .agg(pl.len().alias("sentences"), words.sum().alias("words"), pl.col("text").str.len_chars().sum().alias("characters"))
        .with_columns(pl.lit(pair).alias("pair"), pl.lit(split).alias("split"))
        .select(list(CORPUS_STATISTICS_SCHEMA))
        .cast(CORPUS_STATISTICS_SCHEMA)
    )


def study_corpus_statistics(root: Path) -> pl.DataFrame:
    """Statistics of every pair and split of the allocated study corpus under the artifact root."""
    folder = study_corpus_dir(root)
    pair_dirs = sorted(p for p in (folder / "bitext").glob("*") if p.is_dir())
    if not pair_dirs:
        raise WarehouseError(f"no study corpus at {folder}: materialize pretraining_corpus first")
    frames = []
    for pair_dir in pair_dirs:
        pair = LanguagePair.parse(pair_dir.name)
        for split in SPLITS:
            path = folder / study_bitext_name(pair, split)
            if path.exists():
                frames.append(side_statistics(pl.read_parquet(path), pair.key, split))
    statistics = pl.concat(frames) if frames else pl.DataFrame(schema=CORPUS_STATISTICS_SCHEMA)
    if statistics.height == 0:  # the table is replaced whole: an empty one would erase the last good one
        raise EmptyOutputError("corpus_statistics", folder, "no sentences in the study corpus")
    return statistics
