"""The allocation's rules on frames that hold the texts, as the in-memory implementation applied them
before issue 17: the tests' references for what `allocation.decide` and `study_corpus` compute on
keys and hashes (units by name, monolingual text, contamination), and the old in-memory readers of
the corpus layout; `allocate`, the allocation of frames in memory on top of `decide`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import polars as pl

from dataclasses import dataclass

from xrep_assets.corpora.allocation import (
    decide,
    stats_frame,
    FORBIDDEN_SCHEMA,
    MONOLINGUAL_SCHEMA,
    UNIT,
    AllocationError,
    AllocationParams,
    movie_of,
    resolve_corpus,
    sentence_key,
)
from xrep_assets.corpora.layout import cleaned_bitext_file, monolingual_name, study_corpus_dir
from xrep_assets.corpora.readers import BITEXT_SCHEMA, TEXT_SIDES
from xrep_assets.errors import XrepError
from xrep_assets.study import PRETRAINING_LANGUAGES, Corpus, LanguagePair
from xrep_assets.text.dedup import dedup_key


def unit_id(corpus: Corpus | str, pair: str, block_size: int = AllocationParams.block_size) -> pl.Expr:
    """The allocation unit of each row of one pair's bitext (see the module docstring)."""
    corpus = resolve_corpus(corpus)
    block = pl.format("{}#{}", pl.lit(pair), ((pl.col("line_no") - 1) // block_size).cast(pl.String))
    if not corpus.has_document_ids:
        return block.alias(UNIT)
    return pl.coalesce(movie_of(pl.col("doc_id")), block).alias(UNIT)


def monolingual_text(frames: Mapping[str, pl.DataFrame] | Iterable[pl.DataFrame]) -> pl.DataFrame:
    """``lang``, ``text``: both sides of the given bitexts (the training frames: the LM objectives
    see no validation text), each normalised sentence once per language, first occurrence kept,
    grouped by language in the order pairs (by key) and rows come."""
    if isinstance(frames, Mapping):
        frames = [frames[key] for key in sorted(frames)]
    stacked = [
        frame.select(pl.col(lang_col).alias("lang"), pl.col(side).alias("text"))
        for frame in frames
        for side, lang_col in TEXT_SIDES
    ]
    if not stacked:
        return pl.DataFrame(schema=MONOLINGUAL_SCHEMA)
    text = pl.concat(stacked).cast(MONOLINGUAL_SCHEMA)  # type: ignore[arg-type]
    first = pl.struct("lang", sentence_key(pl.col("text"))).is_first_distinct()
    return text.filter(first).sort("lang", maintain_order=True)


def contamination_mask(frame: pl.DataFrame, forbidden: pl.DataFrame) -> pl.Series:
    """True for the rows with a forbidden sentence: either side of a bitext frame, or the text of a
    monolingual one (``lang``, ``text``). ``forbidden`` is ``lang``, ``key`` (``forbidden_keys``)."""
    missing = [column for column in FORBIDDEN_SCHEMA if column not in forbidden.columns]
    if missing:
        raise AllocationError(f"the forbidden sentences lack column(s) {', '.join(missing)}")
    wanted = forbidden.select(list(FORBIDDEN_SCHEMA)).cast(FORBIDDEN_SCHEMA).unique()  # type: ignore[arg-type]
    sides = [("text", "lang")] if {"lang", "text"} <= set(frame.columns) else list(TEXT_SIDES)
    indexed = frame.with_row_index("row")
    keys = pl.concat(
        [
            indexed.select("row", pl.col(lang_col).cast(pl.String).alias("lang"), to_key(pl.col(side)).alias("key"))
            for side, lang_col in sides
            for to_key in (sentence_key, dedup_key)
        ]
    )
    hits = keys.join(wanted, on=["lang", "key"], how="semi").get_column("row").unique()
    return indexed.select(pl.col("row").is_in(hits.implode()).alias("contaminated")).to_series()


def decontaminate(frame: pl.DataFrame, forbidden: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """``frame`` without its rows that contain a forbidden sentence, and how many were removed."""
    mask = contamination_mask(frame, forbidden)
    return frame.filter(~mask), int(mask.sum())


def read_cleaned_bitexts(root: Path, corpus: Corpus, pairs: Iterable[LanguagePair]) -> dict[str, pl.DataFrame]:
    """The cleaned bitext of each pair of one corpus, in memory (small corpora and tests)."""
    return {pair.key: pl.read_parquet(cleaned_bitext_file(root, corpus, pair)) for pair in pairs}


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


@dataclass(frozen=True)
class PairSplit:
    """One pair's share: ``train`` and ``validation`` (``ALLOCATED_SCHEMA``) and its counts."""

    train: pl.DataFrame
    validation: pl.DataFrame
    stats: dict[str, int]


@dataclass(frozen=True)
class Allocation:
    """Pair key -> ``PairSplit`` for every pair given, and the training size all were cut to."""

    corpus: str
    params: AllocationParams
    splits: dict[str, PairSplit]
    cap: int | None  # None when ``cap_to_smallest`` is off
    rounds: int = 0  # rounds step 2 took (for the logs)

    def train(self) -> dict[str, pl.DataFrame]:
        return {key: split.train for key, split in self.splits.items()}

    def validation(self) -> dict[str, pl.DataFrame]:
        return {key: split.validation for key, split in self.splits.items()}

    def frames(self) -> dict[str, pl.DataFrame]:
        """Pair key -> training and validation rows together (what the reuse checks read)."""
        return {key: pl.concat([split.train, split.validation]) for key, split in self.splits.items()}

    def stats_frame(self) -> pl.DataFrame:
        """One row per pair: ``pair`` and the counts of ``STAT_NAMES``."""
        return stats_frame({key: split.stats for key, split in self.splits.items()})


def allocate(
    frames: Mapping[str, pl.DataFrame],
    corpus: Corpus | str,
    params: AllocationParams = AllocationParams(),
    forbidden: pl.DataFrame | None = None,
) -> Allocation:
    """Allocate the cleaned bitexts of one corpus (pair key -> ``BITEXT_SCHEMA`` frame) to pairs,
    validation and training (steps 0-4 of the module docstring). ``forbidden`` (``lang``, ``key``,
    see ``forbidden_keys``) drops rows with an evaluation test sentence before anything else.

    The frames' texts are only read for their keys: ``decide`` works on ``decision_rows``, and the
    allocated rows are gathered from the frames at the end."""
    decisions = decide({key: [frame] for key, frame in frames.items()}, corpus, params, forbidden)
    splits = {}
    for key in decisions.pairs:
        frame = frames[key].select(list(BITEXT_SCHEMA)).cast(BITEXT_SCHEMA)  # type: ignore[arg-type]
        parts = {}
        for split in ("train", "validation"):
            chosen = decisions.selected(split, key)
            parts[split] = frame[chosen.get_column("pos")].with_columns(chosen.get_column(UNIT))
        splits[key] = PairSplit(parts["train"], parts["validation"], decisions.stats[key])
    return Allocation(decisions.corpus, params, splits, decisions.cap, decisions.rounds)
