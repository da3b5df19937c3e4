"""The study corpus: both corpora's cleaned bitexts allocated (`allocation.py`) and written as
per-pair bitext (train / validation, both corpora together) and per-language monolingual training
text; `build_study_corpus` is what the allocation worker runs for an `AllocateSpec`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl

from xrep_assets.artifacts import ArtifactFolder, committing_file
from xrep_assets.corpora.allocation import allocate, empty_parts, monolingual_text
from xrep_assets.corpora.layout import STUDY_CORPUS_PARTS, monolingual_name, read_cleaned_bitexts, study_bitext_name
from xrep_assets.corpora.spec import AllocateSpec
from xrep_assets.errors import EmptyOutputError
from xrep_assets.markdown import markdown_table
from xrep_assets.study import CORPORA, LanguagePair


def build_study_corpus(spec: AllocateSpec, log: Callable[[str], None]) -> dict[str, object]:
    """Allocates both corpora, refuses an empty part before anything is written, commits the study
    corpus folder at once (readers never see a mix of two allocations); returns the asset's metadata."""
    store = ArtifactFolder(spec.artifacts_root, spec.artifacts_remote)
    pairs = [LanguagePair.parse(key) for key in spec.pairs]
    forbidden = pl.read_parquet(spec.forbidden) if spec.forbidden else None
    allocations = [
        allocate(read_cleaned_bitexts(store.path(), corpus, pairs), corpus, spec.params, forbidden)
        for corpus in CORPORA.values()
    ]
    bitexts = {
        (pair.key, split): pl.concat(
            [getattr(a, split)()[pair.key].with_columns(pl.lit(a.corpus).alias("corpus")) for a in allocations]
        )
        for pair in pairs
        for split in ("train", "validation")
    }
    monolingual = monolingual_text([frame for (_, split), frame in bitexts.items() if split == "train"])
    lines = dict(monolingual.group_by("lang").len().iter_rows())
    empty = empty_parts({key: frame.height for key, frame in bitexts.items()}, lines, pairs)
    stats = pl.concat([a.stats_frame().with_columns(pl.lit(a.corpus).alias("corpus")) for a in allocations])
    steps = stats.select("corpus", "pair", *[c for c in stats.columns if c not in ("corpus", "pair")])
    if empty:
        log(f"where the rows went:\n{markdown_table(steps)}")
        raise EmptyOutputError(
            "pretraining_corpus", f"cleaned_bitext of {', '.join(CORPORA)} x {len(pairs)} pairs",
            f"{', '.join(empty)} empty after allocation (a pair capped to an empty one? the log shows each step)",
        )
    with store.writing_dir(*STUDY_CORPUS_PARTS) as tmp:
        for (pair_key, split), frame in bitexts.items():
            path = tmp / study_bitext_name(LanguagePair.parse(pair_key), split)
            path.parent.mkdir(parents=True, exist_ok=True)
            frame.write_parquet(path)
        (tmp / "monolingual").mkdir()
        for (lang,), frame in monolingual.group_by("lang", maintain_order=True):
            frame.write_parquet(tmp / monolingual_name(str(lang)))

    sizes = pl.DataFrame(
        [{"pair": pair, "split": split, "rows": frame.height} for (pair, split), frame in bitexts.items()]
    )
    log(f"allocated: {sizes}")
    return {
        "train_rows": int(sizes.filter(pl.col("split") == "train")["rows"].sum()),
        "validation_rows": int(sizes.filter(pl.col("split") == "validation")["rows"].sum()),
        "monolingual_sentences": monolingual.height,
        "sizes": markdown(markdown_table(sizes.pivot("split", index="pair", values="rows"))),
        "allocation_steps": markdown(markdown_table(steps)),
        "path": str(store.path(*STUDY_CORPUS_PARTS)),
    }


def markdown(text: str) -> dict[str, str]:
    """A markdown metadata value as dagster-pipes carries it."""
    return {"raw_value": text, "type": "md"}


def forbidden_file(path: Path, forbidden: pl.DataFrame) -> str:
    """Writes the evaluation sentences' keys for the worker; returns the spec's `forbidden` value."""
    with committing_file(path) as tmp:
        forbidden.write_parquet(tmp)
    return str(path)
