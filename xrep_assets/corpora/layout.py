"""Where the corpus artifacts live in the artifact store, and how later stages read them."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

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


def study_corpus_dir(root: Path) -> Path:
    return root.joinpath(*STUDY_CORPUS_PARTS)


def read_study_bitext(root: Path, pair: LanguagePair, split: str) -> pl.DataFrame:
    return pl.read_parquet(study_corpus_dir(root) / study_bitext_name(pair, split))


MONOLINGUAL_BATCH_ROWS = 65_536  # rows per streamed batch of monolingual text: a few MB


def monolingual_line_counts(corpus_dir: Path, languages: Sequence[str]) -> dict[str, int]:
    """Each language's lines in the study corpus (0 for a language without a file), from the parquet
    footers alone."""
    folder = corpus_dir / "monolingual"
    if not folder.exists():
        raise XrepError(f"no pretraining corpus at {corpus_dir}: materialize pretraining_corpus first")
    return {
        lang: pq.ParquetFile(corpus_dir / monolingual_name(lang)).metadata.num_rows
        if (corpus_dir / monolingual_name(lang)).exists() else 0
        for lang in languages
    }


def read_monolingual_lines(
    corpus_dir: Path, lang: str, positions: Sequence[int], batch_rows: int = MONOLINGUAL_BATCH_ROWS
) -> list[str]:
    """The `text` of the language's lines at `positions`, in that order, streamed batch by batch;
    reading stops after the last position wanted."""
    if not positions:
        return []
    wanted = np.asarray(positions, dtype=np.int64)
    order = np.argsort(wanted, kind="stable")
    ascending = wanted[order]
    lines: list[str] = [""] * len(wanted)
    done = start = 0
    path = corpus_dir / monolingual_name(lang)
    with pq.ParquetFile(path) as file:
        for batch in file.iter_batches(batch_size=batch_rows, columns=["text"]):
            end = start + batch.num_rows
            upto = int(np.searchsorted(ascending, end))  # the wanted positions before `end`
            texts = batch.column(0).take(pa.array(ascending[done:upto] - start)).to_pylist()
            for slot, text in zip(order[done:upto].tolist(), texts):
                lines[slot] = text
            done, start = upto, end
            if done == len(wanted):
                return lines
    raise XrepError(f"{path}: {start} lines, but line {int(ascending[-1])} was asked for")


def monolingual_batches(root: Path, batch_rows: int = MONOLINGUAL_BATCH_ROWS) -> Iterator[pl.DataFrame]:
    """Every language's monolingual text as `lang`, `text` batches, language by language."""
    folder = study_corpus_dir(root)
    for lang, count in monolingual_line_counts(folder, PRETRAINING_LANGUAGES).items():
        if count:
            with pq.ParquetFile(folder / monolingual_name(lang)) as file:
                for batch in file.iter_batches(batch_size=batch_rows, columns=["lang", "text"]):
                    yield pl.DataFrame(pl.from_arrow(batch))


def study_bitext_rows(root: Path, pair: LanguagePair, split: str) -> int:
    """Rows of one pair's study bitext of `split`, from the parquet footer."""
    return pq.ParquetFile(study_corpus_dir(root) / study_bitext_name(pair, split)).metadata.num_rows


def study_bitext_batches(root: Path, pair: LanguagePair, split: str, batch_rows: int = MONOLINGUAL_BATCH_ROWS) -> Iterator[pl.DataFrame]:
    """One pair's study bitext of `split`, batch by batch."""
    with pq.ParquetFile(study_corpus_dir(root) / study_bitext_name(pair, split)) as file:
        for batch in file.iter_batches(batch_size=batch_rows):
            yield pl.DataFrame(pl.from_arrow(batch))


def monolingual_head(root: Path, lang: str, lines: int) -> list[str]:
    """The first `lines` lines of a language's monolingual text (the allocation's seeded order makes
    them a random sample), without reading the rest."""
    folder = study_corpus_dir(root)
    available = monolingual_line_counts(folder, [lang])[lang]
    return read_monolingual_lines(folder, lang, range(min(lines, available)))
