"""The study corpus: both corpora's cleaned bitexts allocated (`allocation.py`) and written as
per-pair bitext (train / validation, both corpora together) and per-language monolingual training
text; `build_study_corpus` is what the allocation worker runs for an `AllocateSpec`.

Bounded memory: the decisions hold no text (`allocation.decide`); the texts are then gathered pair by
pair, one pass over each cleaned file, so at most one pair's allocated rows (both corpora) are in
memory while they are written. ~60 bytes per input row at the peak (`benchmarks/scale.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from xrep_assets.artifacts import ArtifactFolder, committing_file
from xrep_assets.corpora.allocation import (
    ALLOCATED_SCHEMA,
    MONOLINGUAL_SCHEMA,
    UNIT,
    Decisions,
    decide,
    empty_parts,
    monolingual_firsts,
    stats_frame,
)
from xrep_assets.corpora.layout import STUDY_CORPUS_PARTS, cleaned_bitext_file, monolingual_name, study_bitext_name
from xrep_assets.corpora.readers import BITEXT_SCHEMA, TEXT_SIDES
from xrep_assets.corpora.spec import AllocateSpec
from xrep_assets.errors import EmptyOutputError
from xrep_assets.markdown import markdown_table
from xrep_assets.study import CORPORA, LanguagePair

READ_BATCH_ROWS = 50_000  # rows per read of a cleaned bitext: its texts and keys are what a read holds besides the decisions
STUDY_BITEXT_SCHEMA: dict[str, pl.DataType] = {**ALLOCATED_SCHEMA, "corpus": pl.String()}
SPLITS = ("train", "validation")
# rows per row group of the study corpus files (polars' nominal default); pretraining shuffles whole
# groups, then rows within one, so a group is also the span of its row shuffle
ROW_GROUP_ROWS = 512**2


def build_study_corpus(spec: AllocateSpec, log: Callable[[str], None]) -> dict[str, object]:
    """Allocates both corpora, refuses an empty part before anything is written, commits the study
    corpus folder at once (readers never see a mix of two allocations); returns the asset's metadata."""
    store = ArtifactFolder(spec.artifacts_root, spec.artifacts_remote)
    pairs = [LanguagePair.parse(key) for key in spec.pairs]
    forbidden = pl.read_parquet(spec.forbidden) if spec.forbidden else None
    files = {(corpus.key, pair.key): cleaned_bitext_file(store.path(), corpus, pair)
             for corpus in CORPORA.values() for pair in pairs}
    decisions = []
    for corpus in CORPORA.values():
        batches = {pair.key: parquet_batches(files[corpus.key, pair.key]) for pair in pairs}
        decisions.append(decide(batches, corpus, spec.params, forbidden))
        log(f"allocated {corpus.key}: {decisions[-1].train.height:,} training rows, step 2 in {decisions[-1].rounds} rounds")
    firsts = monolingual_firsts(decisions, spec.pairs)

    sizes = {(pair.key, split): sum(d.selected(split, pair.key).height for d in decisions) for pair in pairs for split in SPLITS}
    lines = monolingual_lines(decisions, firsts)
    empty = empty_parts(sizes, lines, pairs)
    stats = pl.concat([d.stats_frame().with_columns(pl.lit(d.corpus).alias("corpus")) for d in decisions])
    steps = stats.select("corpus", "pair", *[c for c in stats.columns if c not in ("corpus", "pair")])
    if empty:
        log(f"where the rows went:\n{markdown_table(steps)}")
        raise EmptyOutputError(
            "pretraining_corpus", f"cleaned_bitext of {', '.join(CORPORA)} x {len(pairs)} pairs",
            f"{', '.join(empty)} empty after allocation (a pair capped to an empty one? the log shows each step)",
        )
    with store.writing_dir(*STUDY_CORPUS_PARTS) as tmp:
        write_study_corpus(tmp, pairs, decisions, firsts, files)

    sizes_frame = pl.DataFrame([{"pair": pair, "split": split, "rows": rows} for (pair, split), rows in sizes.items()])
    log(f"allocated: {sizes_frame}")
    return {
        "train_rows": sum(rows for (_, split), rows in sizes.items() if split == "train"),
        "validation_rows": sum(rows for (_, split), rows in sizes.items() if split == "validation"),
        "monolingual_sentences": sum(lines.values()),
        "sizes": markdown(markdown_table(sizes_frame.pivot("split", index="pair", values="rows"))),
        "allocation_steps": markdown(markdown_table(steps)),
        "path": str(store.path(*STUDY_CORPUS_PARTS)),
    }


def monolingual_lines(decisions: Sequence[Decisions], firsts: Sequence[pl.DataFrame]) -> dict[str, int]:
    """Lines of each language's monolingual text, counted on the first-occurrence flags."""
    lines: dict[str, int] = {}
    for d, flags in zip(decisions, firsts):
        for index, side, count in flags.group_by("pair", "side").agg(pl.col("first").sum()).iter_rows():
            pair = LanguagePair.parse(d.pairs[index])
            lang = (pair.l1, pair.l2)[side - 1]
            lines[lang] = lines.get(lang, 0) + count
    return lines


def write_study_corpus(
    folder: Path,
    pairs: Sequence[LanguagePair],
    decisions: Sequence[Decisions],
    firsts: Sequence[pl.DataFrame],
    files: Mapping[tuple[str, str], Path],
) -> None:
    """The study folder's files, pair by pair: each split's rows of both corpora in turn, and each
    side's first occurrences appended to its language's monolingual text."""
    (folder / "monolingual").mkdir()
    with ExitStack() as open_files:
        monolingual = {
            lang: open_files.enter_context(ParquetSink(folder / monolingual_name(lang), MONOLINGUAL_SCHEMA))
            for lang in dict.fromkeys(lang for pair in pairs for lang in (pair.l1, pair.l2))
        }
        for pair in pairs:
            gathered = [gather(files[d.corpus, pair.key], d, pair.key) for d in decisions]
            for split in SPLITS:
                path = folder / study_bitext_name(pair, split)
                path.parent.mkdir(parents=True, exist_ok=True)
                with ParquetSink(path, STUDY_BITEXT_SCHEMA) as bitext:
                    for rows in gathered:
                        bitext.write(rows[split])
            for d, flags, rows in zip(decisions, firsts, gathered):
                flags = flags.filter(pl.col("pair") == d.pairs.index(pair.key)).sort("priority")
                for side, (text_col, _), lang in zip((1, 2), TEXT_SIDES, (pair.l1, pair.l2)):
                    first = flags.filter(pl.col("side") == side).get_column("first")
                    monolingual[lang].write(
                        rows["train"].filter(first).select(pl.lit(lang).alias("lang"), pl.col(text_col).alias("text"))
                    )


def parquet_batches(path: Path) -> Iterator[pl.DataFrame]:
    """A cleaned bitext in ``BITEXT_SCHEMA`` batches, in file order (read when iterated)."""
    for batch in pq.ParquetFile(path).iter_batches(batch_size=READ_BATCH_ROWS, columns=list(BITEXT_SCHEMA)):
        yield pl.DataFrame(pl.from_arrow(batch))


def gather(path: Path, decisions: Decisions, pair: str) -> dict[str, pl.DataFrame]:
    """One pair's allocated rows of one corpus, per split in seeded order, in ``STUDY_BITEXT_SCHEMA``:
    one pass over its cleaned file, keeping the chosen positions of each batch. Arrow's ``take``
    copies the chosen texts out of each batch (polars' would keep views into every batch's buffers,
    so the pair's whole file would stay in memory)."""
    chosen = pl.concat([
        decisions.selected(split, pair).with_columns(pl.lit(split).alias("split"), pl.int_range(pl.len()).alias("rank"))
        for split in SPLITS
    ]).sort("pos")
    positions = chosen.get_column("pos").to_numpy()
    pieces, offset = [], 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=READ_BATCH_ROWS, columns=list(BITEXT_SCHEMA)):
        low, high = np.searchsorted(positions, [offset, offset + batch.num_rows])
        pieces.append(batch.take(positions[low:high] - offset))
        offset += batch.num_rows
    rows = pl.concat([pl.DataFrame(schema=BITEXT_SCHEMA), *(pl.DataFrame(pl.from_arrow(p)) for p in pieces)]).with_columns(
        chosen.get_column(UNIT), chosen.get_column("split"), chosen.get_column("rank"),
        pl.lit(decisions.corpus).alias("corpus"),
    )
    return {
        split: rows.filter(pl.col("split") == split).sort("rank").select(list(STUDY_BITEXT_SCHEMA))
        for split in SPLITS
    }


class ParquetSink:
    """A parquet file written frame by frame in a fixed schema (an empty file if none comes), in row
    groups of `ROW_GROUP_ROWS` whatever the frames' sizes: pretraining reads the study corpus row group
    by row group (`checkpoints/streams.py`), so its data order must depend on the rows alone."""

    def __init__(self, path: Path, schema: dict[str, pl.DataType], row_group_rows: int = ROW_GROUP_ROWS):
        self.schema = pl.DataFrame(schema=schema).to_arrow().schema
        self.writer = pq.ParquetWriter(path, self.schema)
        self.row_group_rows = row_group_rows
        self.pending: list[pa.Table] = []
        self.pending_rows = 0

    def write(self, frame: pl.DataFrame) -> None:
        if not frame.height:
            return
        self.pending.append(frame.to_arrow().cast(self.schema))
        self.pending_rows += frame.height
        if self.pending_rows >= self.row_group_rows:
            table = pa.concat_tables(self.pending)
            full = self.pending_rows - self.pending_rows % self.row_group_rows
            self.writer.write_table(table.slice(0, full), row_group_size=self.row_group_rows)
            self.pending, self.pending_rows = [table.slice(full)], self.pending_rows - full

    def __enter__(self) -> "ParquetSink":
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if self.pending_rows and exc_type is None:
            self.writer.write_table(pa.concat_tables(self.pending), row_group_size=self.row_group_rows)
        self.writer.close()


def markdown(text: str) -> dict[str, str]:
    """A markdown metadata value as dagster-pipes carries it."""
    return {"raw_value": text, "type": "md"}


def forbidden_file(path: Path, forbidden: pl.DataFrame) -> str:
    """Writes the evaluation sentences' keys for the worker; returns the spec's `forbidden` value."""
    with committing_file(path) as tmp:
        forbidden.write_parquet(tmp)
    return str(path)
