"""Resumable streams of training rows read from the study corpus's parquet files.

Every source (a language's monolingual text, or a pair's bitext) is read one parquet row group at a
time, groups and rows in a seeded order that changes each epoch; sources take turns row by row. The
whole position fits in a small dict (`state()`), saved with each training checkpoint, so a resumed
run sees exactly the rows an uninterrupted run would have seen.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from xrep_assets.corpora.layout import monolingual_name, study_bitext_name
from xrep_assets.errors import XrepError
from xrep_assets.study import LanguagePair


class CorpusTooSmallError(XrepError):
    """The pretraining corpus cannot fill one batch."""


@dataclass(frozen=True)
class Row:
    """One training row: a sentence (lang_2/text_2 empty) or a translation pair."""

    source: str
    lang_1: str
    text_1: str
    lang_2: str = ""
    text_2: str = ""


class SourceReader:
    """One parquet file read group by group in a per-epoch seeded order."""

    def __init__(self, name: str, path: Path, seed: int, bitext: bool):
        if not path.exists():
            raise XrepError(f"pretraining corpus file {path} is missing: materialize pretraining_corpus first")
        self.name, self.path, self.seed, self.bitext = name, path, seed, bitext
        self.file = pq.ParquetFile(path)
        self.rows = self.file.metadata.num_rows
        self.epoch, self.group_pos, self.row_pos = 0, 0, 0
        self._loaded: tuple[int, int, list[Row]] | None = None  # (epoch, group_pos, shuffled rows)

    def _group_order(self) -> list[int]:
        order = list(range(self.file.num_row_groups))
        random.Random(f"{self.seed}/{self.name}/{self.epoch}").shuffle(order)
        return order

    def _group_rows(self) -> list[Row]:
        key = (self.epoch, self.group_pos)
        if self._loaded is None or self._loaded[:2] != key:
            group = self._group_order()[self.group_pos]
            columns = ["lang_1", "text_1", "lang_2", "text_2"] if self.bitext else ["lang", "text"]
            table = self.file.read_row_group(group, columns=columns).to_pydict()
            if self.bitext:
                rows = [Row(self.name, *values) for values in zip(*(table[c] for c in columns))]
            else:
                rows = [Row(self.name, lang, text) for lang, text in zip(table["lang"], table["text"])]
            random.Random(f"{self.seed}/{self.name}/{self.epoch}/{group}").shuffle(rows)
            self._loaded = (*key, rows)
        return self._loaded[2]

    def next_row(self) -> Row:
        rows = self._group_rows()
        while self.row_pos >= len(rows):  # end of a group (or an empty one): move on, maybe wrap
            self.group_pos, self.row_pos = self.group_pos + 1, 0
            if self.group_pos == self.file.num_row_groups:
                self.epoch, self.group_pos = self.epoch + 1, 0
            rows = self._group_rows()
        row = rows[self.row_pos]
        self.row_pos += 1
        return row

    def state(self) -> dict:
        return {"epoch": self.epoch, "group_pos": self.group_pos, "row_pos": self.row_pos}

    def restore(self, state: dict) -> None:
        self.epoch, self.group_pos, self.row_pos = state["epoch"], state["group_pos"], state["row_pos"]


class RowStream:
    """Interleaves the sources round-robin; each source wraps into its next epoch on its own."""

    def __init__(self, readers: list[SourceReader]):
        self.readers = [r for r in readers if r.rows > 0]
        if not self.readers:
            raise CorpusTooSmallError(
                "the pretraining corpus is empty: no rows in " + ", ".join(str(r.path) for r in readers)
            )
        self.turn = 0

    def __iter__(self) -> Iterator[Row]:
        while True:
            reader = self.readers[self.turn]
            self.turn = (self.turn + 1) % len(self.readers)
            yield reader.next_row()

    @property
    def total_rows(self) -> int:
        return sum(r.rows for r in self.readers)

    @property
    def completed_epochs(self) -> int:
        """Passes completed by every source (the slowest one's)."""
        return min(r.epoch for r in self.readers)

    def state(self) -> dict:
        return {"turn": self.turn, "sources": {r.name: r.state() for r in self.readers}}

    def restore(self, state: dict) -> None:
        self.turn = state["turn"]
        for reader in self.readers:
            reader.restore(state["sources"][reader.name])


def monolingual_stream(corpus: Path, languages: tuple[str, ...], seed: int) -> RowStream:
    return RowStream([SourceReader(lang, corpus / monolingual_name(lang), seed, bitext=False) for lang in languages])


def bitext_stream(corpus: Path, pairs: tuple[str, ...], seed: int) -> RowStream:
    return RowStream(
        [SourceReader(pair, corpus / study_bitext_name(LanguagePair.parse(pair), "train"), seed, bitext=True) for pair in pairs]
    )
