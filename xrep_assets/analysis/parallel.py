"""The analyses' parallel sentences: sets of items, each item one sentence in several languages.

- `pud`: the Parallel Universal Dependencies test sets, the same 1,000 sentences in ar, de, en, es,
  fr, ru and zh (`pud.py` reads them).
- `held-out/<pair>`: the first sentences of each English pair's validation bitext in the study corpus
  (held out of pretraining; the allocation's seeded order, so a fixed sample).

The sets are one frame in `files.SENTENCES_SCHEMA`, written once by the `analysis_sentences` asset,
read by every checkpoint's analyses (`parallel_sets`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import polars as pl

from xrep_assets.analysis.files import SENTENCES_SCHEMA
from xrep_assets.corpora.layout import study_bitext_batches
from xrep_assets.errors import XrepError
from xrep_assets.study import SOURCE_LANGUAGE, LanguagePair

PUD_DATASET = "pud"
HELD_OUT_PREFIX = "held-out/"


class ParallelSetError(XrepError):
    """Parallel sentences the analyses cannot use."""


def pud_frame(texts: Mapping[str, Mapping[str, str]]) -> pl.DataFrame:
    """The PUD set from `pud.parallel_pud`'s texts (language -> sent_id -> text)."""
    return pl.DataFrame(
        [{"dataset": PUD_DATASET, "item": item, "lang": lang, "text": text}
         for lang, by_item in texts.items() for item, text in by_item.items()],
        schema=SENTENCES_SCHEMA,
    )


def held_out_frame(study_root: Path, pairs: Sequence[LanguagePair], sentences: int) -> pl.DataFrame:
    """The first `sentences` validation rows of each English pair (fewer where the split is smaller)."""
    frames = []
    for pair in pairs:
        if SOURCE_LANGUAGE not in (pair.l1, pair.l2):
            continue
        head = pl.concat([pl.DataFrame(schema={"text_1": pl.String(), "text_2": pl.String()}),
                          *(b.select("text_1", "text_2") for b in study_bitext_batches(study_root, pair, "validation", sentences))]).head(sentences)
        item = pl.format("{}:{}", pl.lit(pair.key), pl.int_range(pl.len()))
        dataset = pl.lit(HELD_OUT_PREFIX + pair.key)
        frames += [
            head.select(dataset.alias("dataset"), item.alias("item"), pl.lit(lang).alias("lang"), pl.col(column).alias("text"))
            for lang, column in ((pair.l1, "text_1"), (pair.l2, "text_2"))
        ]
    return pl.concat([pl.DataFrame(schema=SENTENCES_SCHEMA), *frames])


def parallel_sets(frame: pl.DataFrame, source: str) -> dict[str, dict[str, list[str]]]:
    """dataset -> language -> texts, every language's texts in the dataset's item order (its first
    language's). Every language of a set must hold each item exactly once, and a set at least two
    items and two languages; `source` names the file in errors."""
    sets: dict[str, dict[str, list[str]]] = {}
    for (dataset,), rows in frame.group_by("dataset", maintain_order=True):
        by_lang = {lang: part for (lang,), part in rows.group_by("lang", maintain_order=True)}
        order = next(iter(by_lang.values())).get_column("item")
        for lang, part in by_lang.items():
            items = part.get_column("item")
            if items.n_unique() != items.len():
                raise ParallelSetError(f"{source}: {dataset} {lang} holds item {items.filter(items.is_duplicated())[0]!r} twice")
            if set(items) != set(order):
                missing = sorted(set(order) ^ set(items))[:3]
                raise ParallelSetError(f"{source}: {dataset} {lang} does not hold the same items as the set's other languages (e.g. {missing})")
        if len(order) < 2 or len(by_lang) < 2:
            raise ParallelSetError(f"{source}: {dataset} has {len(order)} items in {len(by_lang)} languages; the analyses need 2 of each")
        position = {item: i for i, item in enumerate(order)}
        sets[str(dataset)] = {
            str(lang): [text for _, text in sorted(zip(part["item"], part["text"]), key=lambda pair: position[pair[0]])]
            for lang, part in by_lang.items()
        }
    if not sets:
        raise ParallelSetError(f"{source}: no parallel sentences")
    return sets
