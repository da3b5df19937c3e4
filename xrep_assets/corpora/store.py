"""Where the corpus artifacts live in the artifact store, and how later stages read them."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import polars as pl

from xrep_assets.corpora.cleaning import monolingual_frame
from xrep_assets.errors import XrepError
from xrep_assets.study import CORPORA, Corpus, LanguagePair


def raw_bitext_parts(corpus: Corpus, pair: LanguagePair) -> tuple[str, ...]:
    return ("corpora", "raw", corpus.key, f"{pair.key}.parquet")


def clean_bitext_parts(corpus: Corpus, pair: LanguagePair) -> tuple[str, ...]:
    return ("corpora", "clean", corpus.key, f"{pair.key}.parquet")


def read_cleaned_bitexts(root: Path, pairs: Iterable[LanguagePair]) -> pl.DataFrame:
    """All cleaned bitexts of both corpora for `pairs`; a missing one is an error, not a gap."""
    frames = []
    for corpus in CORPORA.values():
        for pair in pairs:
            path = root.joinpath(*clean_bitext_parts(corpus, pair))
            if not path.exists():
                raise XrepError(
                    f"cleaned corpus {corpus.key} {pair.key} is missing at {path}: "
                    "materialize cleaned_bitext for that partition first"
                )
            frames.append(pl.read_parquet(path).with_columns(pl.lit(corpus.key).alias("corpus")))
    return pl.concat(frames)


def monolingual_texts(root: Path, pairs: Iterable[LanguagePair]) -> dict[str, list[str]]:
    """Both sides of every cleaned bitext, per language, duplicates across pairs removed."""
    mono = monolingual_frame(read_cleaned_bitexts(root, pairs)).unique(maintain_order=True)
    grouped = mono.group_by("lang", maintain_order=True).agg("text")
    return dict(zip(grouped["lang"].to_list(), grouped["text"].to_list()))
