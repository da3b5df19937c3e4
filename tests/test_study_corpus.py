"""The study corpus in bounded memory: the allocation's decisions and the written study corpus are the
ones the in-memory implementation (with the texts in its frames) gave, row for row, on the shipped
fixtures and on a generated multi-parallel corpus; digests of that implementation's output are pinned
below (recorded before the rewrite, commit d4e2471)."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from test_allocation import fixture_frames
from allocation_reference import allocate
from xrep_assets.corpora.allocation import MONOLINGUAL_SCHEMA, AllocationError, AllocationParams, decide, forbidden_keys
from xrep_assets.corpora.layout import clean_bitext_parts
from xrep_assets.corpora.readers import BITEXT_SCHEMA
from xrep_assets.corpora.spec import AllocateSpec
from xrep_assets.corpora.study_corpus import ParquetSink, build_study_corpus, forbidden_file
from xrep_assets.study import CORPORA, LANGUAGE_PAIRS, PRETRAINING_LANGUAGES, Corpus, LanguagePair

# Letters, not digits: the sentence keys drop digits.
WORDS = {lang: [lang + chr(97 + i // 26) + chr(97 + i % 26) for i in range(400)] for lang in PRETRAINING_LANGUAGES}


def generated_frames(corpus: Corpus, sentences: int, seed: int) -> dict[str, pl.DataFrame]:
    """A multi-parallel corpus: sentence s exists in all six languages and each pair holds a random
    ~60% of them, in s order; a few sentences repeat (exactly, or differing in case and punctuation)
    so that keys meet within and across pairs; OpenSubtitles-like corpora group 40 sentences into a
    movie, a third of them subtitled in several pairs (each pair its own subtitle file)."""
    rng = random.Random(seed)
    text = {}
    for s in range(sentences):
        original = s if rng.random() > 0.05 else rng.randrange(max(1, s))  # a repeat of an earlier sentence
        draw = random.Random(original)
        words = {lang: draw.choices(WORDS[lang], k=draw.randint(3, 8)) for lang in PRETRAINING_LANGUAGES}
        variant = rng.random()
        for lang, ws in words.items():
            sentence = " ".join(ws)
            if variant < 0.05:
                sentence = sentence.upper() + " !"  # the same key, another text
            text[lang, s] = sentence
    shared_movies = {m for m in range(sentences // 40 + 1) if rng.random() < 0.3}
    frames = {}
    for index, pair in enumerate(LANGUAGE_PAIRS):
        kept = [s for s in range(sentences) if rng.random() < 0.6]
        movie = {s: s // 40 if s // 40 in shared_movies else 1000 * (index + 1) + s // 40 for s in kept}
        rows = {
            "line_no": [i + 1 for i in range(len(kept))],
            "doc_id": ([f"{pair.l1}/{2000 + movie[s] % 7}/{movie[s]}/{index}{movie[s]}.xml.gz" for s in kept]
                       if corpus.has_document_ids else [None] * len(kept)),
            "lang_1": [pair.l1] * len(kept),
            "lang_2": [pair.l2] * len(kept),
            "text_1": [text[pair.l1, s] for s in kept],
            "text_2": [text[pair.l2, s] for s in kept],
        }
        frames[pair.key] = pl.DataFrame(rows, schema=BITEXT_SCHEMA)
    return frames


def digest(frame: pl.DataFrame) -> str:
    return hashlib.sha256(frame.write_csv().encode("utf-8")).hexdigest()[:16]


def allocation_digest(
    frames: dict[str, pl.DataFrame], corpus: Corpus, params: AllocationParams, forbidden: pl.DataFrame | None = None
) -> str:
    allocation = allocate(frames, corpus, params, forbidden)
    parts = [digest(allocation.stats_frame())]
    for key in sorted(allocation.splits):
        split = allocation.splits[key]
        parts += [digest(split.train), digest(split.validation)]
    return hashlib.sha256(" ".join(parts).encode()).hexdigest()[:16]


def folder_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): digest(pl.read_parquet(p)) for p in sorted(folder.rglob("*.parquet"))}


PARAMS = AllocationParams(seed=3, block_size=20, validation_rate=0.02)


def forbidden_of(frames: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Evaluation sentences: every 50th English and Chinese sentence of the corpus."""
    texts = pl.concat([
        frame.select(pl.col(lang_col).alias("lang"), pl.col(side).alias("text"))
        for frame in frames.values() for side, lang_col in (("text_1", "lang_1"), ("text_2", "lang_2"))
    ]).filter(pl.col("lang").is_in(["en", "zh"])).gather_every(50)
    return forbidden_keys(texts)


# Recorded with the in-memory implementation (d4e2471), which held every text in its frames.
GENERATED_DIGESTS = {"unpc": "3d2e4532095aaecb", "opensubtitles": "e26834b20e85377e"}
FIXTURE_DIGESTS = {"unpc": "ec868e3802cbf523", "opensubtitles": "93f77364fe42d67d"}
STUDY_CORPUS_DIGEST = "f1de7d359a62658f"


@pytest.mark.parametrize("corpus_key", ["unpc", "opensubtitles"])
def test_the_allocation_of_a_generated_multiparallel_corpus_is_unchanged(corpus_key):
    corpus = CORPORA[corpus_key]
    frames = generated_frames(corpus, 1500, 1)
    assert allocation_digest(frames, corpus, PARAMS, forbidden_of(frames)) == GENERATED_DIGESTS[corpus_key]


@pytest.mark.parametrize("corpus_key", ["unpc", "opensubtitles"])
def test_the_allocation_of_the_fixtures_is_unchanged(corpus_key):
    corpus = CORPORA[corpus_key]
    assert allocation_digest(fixture_frames(corpus_key), corpus, AllocationParams()) == FIXTURE_DIGESTS[corpus_key]


def write_cleaned(root: Path) -> None:
    for i, corpus in enumerate(CORPORA.values()):
        for key, frame in generated_frames(corpus, 1500, 10 + i).items():
            path = root.joinpath(*clean_bitext_parts(corpus, LanguagePair.parse(key)))
            path.parent.mkdir(parents=True, exist_ok=True)
            frame.write_parquet(path)


def test_the_study_corpus_written_from_files_is_unchanged(tmp_path):
    root = tmp_path / "artifacts"
    write_cleaned(root)
    frames = generated_frames(CORPORA["unpc"], 1500, 10)
    forbidden = forbidden_file(tmp_path / "forbidden.parquet", forbidden_of(frames))
    spec = AllocateSpec(str(root), tuple(p.key for p in LANGUAGE_PAIRS), PARAMS, forbidden)
    metadata = build_study_corpus(spec, log=lambda line: None)
    digests = folder_digest(root / "corpora" / "study")
    assert len(digests) == 2 * len(LANGUAGE_PAIRS) + len(PRETRAINING_LANGUAGES)
    assert hashlib.sha256(repr(sorted(digests.items())).encode()).hexdigest()[:16] == STUDY_CORPUS_DIGEST
    assert metadata["train_rows"] == sum(pl.read_parquet(root / "corpora" / "study" / "bitext" / p.key / "train.parquet").height
                                         for p in LANGUAGE_PAIRS)


def test_rows_out_of_line_order_are_refused_with_the_line():
    frame = generated_frames(CORPORA["unpc"], 60, 2)["en-fr"]
    shuffled = pl.concat([frame.slice(5), frame.head(5)])
    with pytest.raises(AllocationError, match=r"^unpc en-fr: line 1 comes after line \d+; .*increasing line order"):
        allocate({"en-fr": shuffled}, CORPORA["unpc"], PARAMS)
    batches = [frame.slice(10), frame.head(10)]  # each batch in order, the second going back
    with pytest.raises(AllocationError, match=r"^unpc en-fr: line 1 comes after line \d+"):
        decide({"en-fr": batches}, CORPORA["unpc"], PARAMS)


def test_decisions_hold_no_text_and_about_thirty_bytes_per_row():
    frames = generated_frames(CORPORA["unpc"], 1500, 1)
    decisions = decide({key: [frame.slice(0, 100), frame.slice(100)] for key, frame in frames.items()}, CORPORA["unpc"], PARAMS)
    assert decisions.train.schema == {"pair": pl.UInt8(), "priority": pl.UInt32(), "pos": pl.UInt32(), "unit": pl.UInt32(),
                                      "key_1": pl.UInt64(), "key_2": pl.UInt64()}
    assert decisions.train.estimated_size() / decisions.train.height <= 30
    # Batches or one frame: the same decisions.
    whole = decide({key: [frame] for key, frame in frames.items()}, CORPORA["unpc"], PARAMS)
    assert decisions.train.equals(whole.train) and decisions.validation.equals(whole.validation)


@settings(max_examples=40, deadline=None)
@given(total=st.integers(0, 60), cuts=st.lists(st.integers(0, 60), max_size=6), group=st.integers(1, 16))
def test_the_sinks_row_groups_depend_on_the_rows_alone(tmp_path_factory, total, cuts, group):
    """However the rows arrive (one frame, or pieces of any size, empty ones too), the file holds
    them in order in groups of `group` rows, the last one shorter: pretraining's order is fixed."""
    rows = pl.DataFrame({"lang": ["fr"] * total, "text": [f"s{i}" for i in range(total)]})
    bounds = sorted({0, total, *(min(c, total) for c in cuts)})
    path = tmp_path_factory.mktemp("sink") / "mono.parquet"
    with ParquetSink(path, MONOLINGUAL_SCHEMA, row_group_rows=group) as sink:
        for low, high in zip(bounds, bounds[1:] + [total]):
            sink.write(rows.slice(low, high - low))
    file = pq.ParquetFile(path)
    sizes = [file.metadata.row_group(i).num_rows for i in range(file.num_row_groups)]
    assert sizes == [group] * (total // group) + ([total % group] if total % group else [])
    assert pl.read_parquet(path).equals(rows)


def test_a_failed_write_leaves_its_pending_rows_out(tmp_path):
    path = tmp_path / "mono.parquet"
    with pytest.raises(RuntimeError), ParquetSink(path, MONOLINGUAL_SCHEMA, row_group_rows=4) as sink:
        sink.write(pl.DataFrame({"lang": ["fr"] * 6, "text": list("abcdef")}))
        raise RuntimeError("gather failed")
    assert pl.read_parquet(path).get_column("text").to_list() == list("abcd")
