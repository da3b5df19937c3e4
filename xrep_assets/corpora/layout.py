"""Where the corpus artifacts live in the artifact store, and how later stages read them."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import polars as pl

from xrep_assets.errors import XrepError
from xrep_assets.study import PRETRAINING_LANGUAGES, Corpus, LanguagePair

STUDY_CORPUS_PARTS = ("corpora", "study")
SPLITS = ("train", "validation")


def raw_bitext_parts(corpus: Corpus, pair: LanguagePair) -> tuple[str, ...]:
    return ("corpora", "raw", corpus.key, f"{pair.key}.parquet")


def clean_bitext_parts(corpus: Corpus, pair: LanguagePair) -> tuple[str, ...]:
    return ("corpora", "clean", corpus.key, f"{pair.key}.parquet")


def study_bitext_name(pair: LanguagePair, split: str) -> str:
    """Inside the study corpus folder: one parquet per pair and split, both corpora together."""
    return f"bitext/{pair.key}/{split}.parquet"


def monolingual_name(lang: str) -> str:
    return f"monolingual/{lang}.parquet"


def cleaned_bitext_file(root: Path, corpus: Corpus, pair: LanguagePair) -> Path:
    """Where one partition's cleaned bitext is; a missing one is an error, not a gap."""
    path = root.joinpath(*clean_bitext_parts(corpus, pair))
    if not path.exists():
        raise XrepError(
            f"cleaned corpus {corpus.key} {pair.key} is missing at {path}: "
            "materialize cleaned_bitext for that partition first"
        )
    return path


def read_cleaned_bitexts(root: Path, corpus: Corpus, pairs: Iterable[LanguagePair]) -> dict[str, pl.DataFrame]:
    """The cleaned bitext of each pair of one corpus, in memory (small corpora and tests)."""
    return {pair.key: pl.read_parquet(cleaned_bitext_file(root, corpus, pair)) for pair in pairs}


def study_corpus_dir(root: Path) -> Path:
    return root.joinpath(*STUDY_CORPUS_PARTS)


def read_study_bitext(root: Path, pair: LanguagePair, split: str) -> pl.DataFrame:
    return pl.read_parquet(study_corpus_dir(root) / study_bitext_name(pair, split))


def monolingual_texts(root: Path) -> dict[str, list[str]]:
    """The LM objectives' training text per language (the allocated training split only)."""
    folder = study_corpus_dir(root)
    if not (folder / "monolingual").exists():
        raise XrepError(f"no pretraining corpus at {folder}: materialize pretraining_corpus first")
    return {
        lang: pl.read_parquet(folder / monolingual_name(lang))["text"].to_list()
        for lang in PRETRAINING_LANGUAGES
        if (folder / monolingual_name(lang)).exists()
    }
