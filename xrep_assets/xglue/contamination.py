"""Contamination: evaluation sentences that also occur in the pretraining text.

Sentences are compared per language after the de-duplication normalisation of the corpora
(lowercase; digits, punctuation, symbols and spaces removed), so `Hello, world!` in a test set
matches `hello world` in a corpus. Tagging sentences are compared as their words joined.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import polars as pl

from xrep_assets.study import TASKS
from xrep_assets.text.dedup import dedup_key
from xrep_assets.xglue.readers import ArchiveSource, SentenceExamples, TaskSource

EVALUATION_SCHEMA = {"task": pl.String(), "lang": pl.String(), "text": pl.String()}


def task_texts(examples) -> list[str]:
    if isinstance(examples, SentenceExamples):
        frame = examples.frame
        return frame["text_a"].to_list() + frame["text_b"].drop_nulls().to_list()
    return [" ".join(tokens) for tokens in examples.tokens]


def evaluation_sentences(source: TaskSource | Path, splits: Iterable[str] = ("test",)) -> pl.DataFrame:
    """Every text of every task's `splits` the source has (an archive folder given as a path, or a
    hub dataset), with its task and language."""
    source = ArchiveSource(source) if isinstance(source, Path) else source
    frames = []
    for task in TASKS.values():
        for lang in task.languages:
            for split in splits:
                if source.has(task.key, lang, split):
                    texts = task_texts(source.load(task.key, lang, split))
                    frames.append(pl.DataFrame({"task": task.key, "lang": lang, "text": texts}, schema=EVALUATION_SCHEMA))
    return pl.concat(frames) if frames else pl.DataFrame(schema=EVALUATION_SCHEMA)


def contaminated_sentences(pretraining: pl.DataFrame, evaluation: pl.DataFrame) -> pl.DataFrame:
    """The evaluation rows whose normalised text occurs in `pretraining` (`lang`, `text`) in the same language."""
    keyed = pretraining.select("lang", dedup_key(pl.col("text")).alias("key")).unique()
    return (
        evaluation.with_columns(dedup_key(pl.col("text")).alias("key"))
        .join(keyed, on=["lang", "key"], how="semi")
        .drop("key")
    )
