"""Allocation of documents / blocks to pairs and splits: hand-made frames with known answers, the
shipped fixtures (all 15 pairs of both corpora) and the real samples when present."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xrep_assets.corpora.allocation import (
    ALLOCATED_SCHEMA,
    STAT_NAMES,
    AllocationError,
    UNIT,
    AllocationParams,
    forbidden_keys,
    overlap,
    rows_without_reuse,
    seeded_hash,
    sentence_key,
    unit_order,
)
from allocation_reference import allocate, contamination_mask, decontaminate, monolingual_text, unit_id
from xrep_assets.corpora.readers import BITEXT_SCHEMA, bitext_frame, read_moses_zip
from xrep_assets.fixtures import OPUS_MIRROR
from xrep_assets.study import CORPORA, LANGUAGE_PAIRS, PRETRAINING_LANGUAGES, CatalogError, LanguagePair

UNPC, OPENSUBTITLES = CORPORA["unpc"], CORPORA["opensubtitles"]
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
# No validation and no cap: the steps before them can be checked alone.
ALL_TRAIN = AllocationParams(validation_rate=0.0, min_validation_units=0, cap_to_smallest=False)


def bitext(pair: str, rows: list[tuple], doc_id: str | None = None) -> pl.DataFrame:
    """A pair's frame from (text_1, text_2) or (text_1, text_2, doc_id) rows, lines numbered from 1."""
    l1, l2 = pair.split("-")
    return bitext_frame(
        {"line_no": i, "doc_id": row[2] if len(row) > 2 else doc_id, "lang_1": l1, "lang_2": l2,
         "text_1": row[0], "text_2": row[1]}
        for i, row in enumerate(rows, start=1)
    )


def numbered(pair: str, n: int, start: int = 0) -> pl.DataFrame:
    """n rows of distinct sentences (words spelled out so normalisation keeps them apart)."""
    words = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]

    def spelled(i: int) -> str:
        return " ".join(words[int(digit)] for digit in str(i))

    l1, l2 = pair.split("-")
    return bitext(pair, [(f"{l1} {pair} {spelled(i)}", f"{l2} {pair} {spelled(i)}") for i in range(start, start + n)])


# The allocation's invariants, as the tests count them (the allocation itself never needs to).


def contaminated_rows(frame: pl.DataFrame, forbidden: pl.DataFrame) -> int:
    """Rows of ``frame`` (bitext or monolingual) with a forbidden sentence: 0 for clean text."""
    return int(contamination_mask(frame, forbidden).sum())


def reused_units(frames: dict[str, pl.DataFrame]) -> int:
    """Units that rows of more than one pair use (0 after ``allocate``); frames carry ``unit``."""
    units = [frame.select(pl.col(UNIT), pl.lit(pair).alias("pair")) for pair, frame in frames.items()]
    if not units:
        return 0
    return pl.concat(units).group_by(UNIT).agg(pl.col("pair").n_unique()).filter(pl.col("pair") > 1).height


def reused_sentences(frames: dict[str, pl.DataFrame]) -> int:
    """(language, normalised sentence)s that rows of more than one pair use (0 after ``allocate``)."""
    sides = [
        frame.select(
            pl.col(lang_col).alias("lang"), sentence_key(pl.col(side)).alias("key"), pl.lit(pair).alias("pair")
        )
        for pair, frame in frames.items()
        for side, lang_col in (("text_1", "lang_1"), ("text_2", "lang_2"))
    ]
    if not sides:
        return 0
    return pl.concat(sides).group_by("lang", "key").agg(pl.col("pair").n_unique()).filter(pl.col("pair") > 1).height


def texts(frame: pl.DataFrame) -> set[str]:
    return set(frame.get_column("text_1").to_list()) | set(frame.get_column("text_2").to_list())


def assert_invariants(allocation) -> None:
    frames = allocation.frames()
    assert reused_units(frames) == 0
    assert reused_sentences(frames) == 0
    for key, split in allocation.splits.items():
        assert overlap(split.train, split.validation) == 0, key
        assert set(split.train.get_column("unit")).isdisjoint(split.validation.get_column("unit")), key
        assert split.train.schema == pl.Schema(ALLOCATED_SCHEMA)
        assert list(split.stats) == list(STAT_NAMES)
        stats = split.stats
        assert stats["train_rows"] == split.train.height and stats["validation_rows"] == split.validation.height
        # every input row is accounted for by exactly one step
        assert stats["rows_in"] == (
            stats["rows_contaminated"] + stats["rows_to_other_pairs"] + stats["rows_sentence_reused"]
            + stats["rows_repeating_validation"] + stats["rows_capped"] + stats["train_rows"]
            + stats["validation_rows"]
        ), key
    if allocation.params.cap_to_smallest:
        assert {split.train.height for split in allocation.splits.values()} == {allocation.cap}


# --------------------------------------------------------------------------------------------------
# Units and the seeded order


def test_units_are_movies_across_pairs_and_blocks_within_a_pair():
    subtitles = bitext("ar-en", [
        ("a", "b", "ar/1191/3276470/5637565.xml.gz"),
        ("c", "d", "en/1191/3276470/6159145.xml.gz"),
        ("e", "f", "xml/en/1920/10323/6009214.xml.gz"),
        ("g", "h", None),
    ])
    movies = subtitles.select(unit_id(OPENSUBTITLES, "ar-en", block_size=100)).to_series().to_list()
    assert movies == ["1191/3276470", "1191/3276470", "1920/10323", "ar-en#0"]

    blocks = numbered("en-fr", 201).select(unit_id(UNPC, "en-fr", block_size=100)).to_series()
    assert blocks.value_counts(sort=True).rows() == [("en-fr#0", 100), ("en-fr#1", 100), ("en-fr#2", 1)]
    assert blocks[99] == "en-fr#0" and blocks[100] == "en-fr#1"  # lines 100 and 101


def test_seeded_hash_is_fixed_across_runs_and_versions():
    # blake2b of "0\x1fen-fr#0": a pinned value, so a library upgrade cannot reshuffle the study.
    assert seeded_hash("en-fr#0", 0) == 0xB5F97DB8BDD5B856
    assert seeded_hash("en-fr#0", 0) != seeded_hash("en-fr#0", 1)
    order = unit_order(pl.Series(["b", "a", "b"]), seed=3)
    assert order.get_column("unit").to_list() == ["a", "b"]
    assert order.get_column("rank").to_list() == [seeded_hash("a", 3), seeded_hash("b", 3)]


# --------------------------------------------------------------------------------------------------
# 1. documents


def test_a_movie_shared_by_two_pairs_lands_in_exactly_one_the_smaller():
    shared = "2001/100"
    frames = {
        # en-fr already has 10 rows of another movie; en-es has only the shared one
        "en-fr": pl.concat([
            bitext("en-fr", [(f"en fr shared {w}", f"fr en shared {w}") for w in "abc"], "en/2001/100/1.xml.gz"),
            bitext("en-fr", [(f"en fr own {w}", f"fr en own {w}") for w in "defghijklm"], "en/2002/200/2.xml.gz")
            .with_columns(pl.col("line_no") + 3),
        ]),
        "en-es": bitext("en-es", [(f"en es shared {w}", f"es en shared {w}") for w in "abcd"], "en/2001/100/7.xml.gz"),
        "es-fr": bitext("es-fr", [(f"es fr other {w}", f"fr es other {w}") for w in "ab"], "es/1999/300/9.xml.gz"),
    }
    allocation = allocate(frames, OPENSUBTITLES, ALL_TRAIN)
    owners = {key for key, frame in allocation.frames().items() if shared in frame.get_column("unit").to_list()}
    assert owners == {"en-es"}  # the pair with fewer rows gets it
    assert allocation.splits["en-fr"].stats["rows_to_other_pairs"] == 3
    assert allocation.splits["en-fr"].stats["units_to_other_pairs"] == 1
    assert allocation.splits["en-fr"].train.height == 10
    assert allocation.splits["en-es"].train.height == 4
    assert_invariants(allocation)


def test_a_movie_shared_by_equal_pairs_is_a_seeded_choice():
    frames = {
        key: bitext(key, [(f"{key} x {w}", f"{key} y {w}") for w in "abc"], f"{key[:2]}/2001/100/{i}.xml.gz")
        for i, key in enumerate(["ar-en", "en-fr", "en-es", "en-ru"])
    }
    owners = set()
    for seed in range(8):
        allocation = allocate(frames, OPENSUBTITLES, AllocationParams(seed=seed, validation_rate=0, min_validation_units=0, cap_to_smallest=False))
        holding = [key for key, split in allocation.splits.items() if split.train.height]
        assert len(holding) == 1 and allocation.splits[holding[0]].train.height == 3
        assert_invariants(allocation)
        owners.add(holding[0])
    assert len(owners) > 1  # the seed decides, not the pair's name


# --------------------------------------------------------------------------------------------------
# 2. sentences


def test_a_sentence_shared_across_unpc_pairs_survives_in_exactly_one_pair():
    frames = {
        "en-fr": bitext("en-fr", [("The report .", "Le rapport ."), ("Only English French", "Seulement anglais français")]),
        "en-es": bitext("en-es", [("the report", "El informe"), ("Only English Spanish", "Solo inglés español")]),
        "es-fr": bitext("es-fr", [("El informe .", "le rapport"), ("Solo español francés", "Seulement espagnol français")]),
    }
    allocation = allocate(frames, UNPC, ALL_TRAIN)
    # the three "report" rows pairwise share a sentence: exactly one of them is kept
    kept = [key for key, split in allocation.splits.items()
            if split.train.filter(pl.col("text_1").str.to_lowercase().str.contains("report|informe")).height]
    assert len(kept) == 1
    assert sum(split.stats["rows_sentence_reused"] for split in allocation.splits.values()) == 2
    assert sum(split.train.height for split in allocation.splits.values()) == 4
    assert_invariants(allocation)


def test_a_six_way_parallel_sentence_keeps_a_perfect_matching():
    sentence = {lang: f"{lang} the committee met" for lang in PRETRAINING_LANGUAGES}
    frames = {p.key: bitext(p.key, [(sentence[p.l1], sentence[p.l2])]) for p in LANGUAGE_PAIRS}
    for seed in range(5):
        allocation = allocate(frames, UNPC, AllocationParams(seed=seed, validation_rate=0, min_validation_units=0, cap_to_smallest=False))
        kept = [LanguagePair.parse(key) for key, split in allocation.splits.items() if split.train.height]
        # 15 rows, each language's sentence used once: three pairs covering the six languages
        assert len(kept) == 3
        assert sorted(lang for pair in kept for lang in (pair.l1, pair.l2)) == sorted(PRETRAINING_LANGUAGES)
        assert_invariants(allocation)


def test_sentence_rule_equals_the_sequential_walk_in_seeded_order():
    # Overlapping vocabularies across pairs, many conflicts; blocks of 3 lines.
    vocab = {lang: [f"{lang} {w}" for w in ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta"]]
             for lang in PRETRAINING_LANGUAGES}
    frames = {}
    for n, p in enumerate(LANGUAGE_PAIRS):
        rows = [(vocab[p.l1][(n + 2 * i) % 7], vocab[p.l2][(3 * n + i) % 7]) for i in range(9)]
        frames[p.key] = bitext(p.key, rows)
    params = AllocationParams(seed=11, block_size=3, validation_rate=0, min_validation_units=0, cap_to_smallest=False)
    allocation = allocate(frames, UNPC, params)

    # reference: walk all rows in (unit rank, unit, pair, line) order, keep a row unless a sentence
    # of it is already kept in another pair
    rows = []
    for key, frame in frames.items():
        units = frame.select(unit_id(UNPC, key, 3)).to_series().to_list()
        for (line, _, l1, l2, t1, t2), unit in zip(frame.iter_rows(), units):
            rows.append(((seeded_hash(unit, 11), unit, key, line), key, ((l1, t1.lower()), (l2, t2.lower()))))
    owner: dict[tuple[str, str], str] = {}
    expected = set()
    for _, key, sentences in sorted(rows):
        if all(owner.get(s, key) == key for s in sentences):
            expected.add((key, sentences))
            owner.update((s, key) for s in sentences)
    got = {
        (key, ((l1, t1.lower()), (l2, t2.lower())))
        for key, split in allocation.splits.items()
        for l1, l2, t1, t2 in split.train.select("lang_1", "lang_2", "text_1", "text_2").iter_rows()
    }
    assert got == expected
    assert allocation.rounds >= 2
    assert_invariants(allocation)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    rows=st.lists(st.tuples(st.integers(0, 14), st.integers(0, 5), st.integers(0, 5)), max_size=60),
    slice_size=st.sampled_from([1, 2, 3, 7, 1 << 20]),
)
def test_the_rounds_keep_what_the_sequential_walk_keeps_in_slices_of_any_size(rows, slice_size):
    # Rows in priority order: (pair, key_1, key_2) with few distinct keys, so that sentences meet
    # across pairs and languages; equal numbers in two languages are different sentences.
    pairs = [pair.key for pair in LANGUAGE_PAIRS]
    pair = np.array([r[0] for r in rows], dtype=np.uint8)
    key_1, key_2 = (np.array([r[side] for r in rows], dtype=np.uint64) for side in (1, 2))
    kept, _ = rows_without_reuse(pair, key_1, key_2, pairs, slice_size)
    owner: dict[tuple[str, int], int] = {}
    expected = []
    for index, k1, k2 in rows:
        p = LANGUAGE_PAIRS[index]
        sentences = ((p.l1, k1), (p.l2, k2))
        keep = all(owner.get(s, index) == index for s in sentences)
        if keep:
            owner.update((s, index) for s in sentences)
        expected.append(keep)
    assert kept.tolist() == expected


# --------------------------------------------------------------------------------------------------
# 3. validation, 4. cap


def test_validation_units_are_whole_and_disjoint_from_train():
    frames = {"en-fr": numbered("en-fr", 20), "en-es": numbered("en-es", 20)}
    params = AllocationParams(seed=5, block_size=2, validation_rate=0.2, cap_to_smallest=False)
    allocation = allocate(frames, UNPC, params)
    for key, split in allocation.splits.items():
        assert split.stats["units_allocated"] == 10
        assert split.stats["validation_units"] == 2 and split.validation.height == 4  # round(10 * 0.2)
        assert split.train.height == 16
        units = split.validation.get_column("unit").unique().to_list()
        assert split.validation.group_by("unit").len().get_column("len").to_list() == [2, 2]
        # the held-out units are the pair's first two in seeded order
        order = unit_order(pl.concat([split.train, split.validation]).get_column("unit"), 5).sort("rank", "unit")
        assert sorted(units) == sorted(order.get_column("unit").head(2).to_list())
        assert overlap(split.train, split.validation) == 0
    # overlap counts what leaks: a validation row's unit or normalised pair seen in training
    split = allocation.splits["en-fr"]
    leaked = pl.concat([split.train, split.validation.head(1)])
    assert overlap(leaked, split.validation) == 2  # the whole unit of that row
    retyped = split.validation.head(1).with_columns(pl.lit("elsewhere").alias("unit"), pl.col("text_1").str.to_uppercase() + " !")
    assert overlap(pl.concat([split.train, retyped]), split.validation) == 1


def test_training_rows_repeating_a_validation_pair_are_dropped():
    rows = [("Hello !", "Bonjour !"), ("one", "un"), ("hello", "bonjour"), ("two", "deux")]
    allocation = allocate({"en-fr": bitext("en-fr", rows)}, UNPC, AllocationParams(block_size=2))
    split = allocation.splits["en-fr"]
    assert split.stats["validation_units"] == 1 and split.stats["validation_rows"] == 2
    assert split.stats["rows_repeating_validation"] == 1 and split.train.height == 1
    assert overlap(split.train, split.validation) == 0


def test_min_validation_units_on_a_tiny_corpus():
    frames = {"en-fr": numbered("en-fr", 30)}  # 3 blocks of 10: 3 / 2000 rounds to 0
    split = allocate(frames, UNPC, AllocationParams(block_size=10)).splits["en-fr"]
    assert split.stats["validation_units"] == 1 and split.validation.height == 10 and split.train.height == 20
    split = allocate(frames, UNPC, AllocationParams(block_size=10, min_validation_units=2)).splits["en-fr"]
    assert split.stats["validation_units"] == 2 and split.train.height == 10
    # never the last unit: a pair with one unit keeps it for training
    split = allocate(frames, UNPC, AllocationParams(block_size=10, min_validation_units=5)).splits["en-fr"]
    assert split.stats["validation_units"] == 2 and split.train.height == 10
    split = allocate(frames, UNPC, AllocationParams(block_size=100)).splits["en-fr"]
    assert split.stats["validation_units"] == 0 and split.train.height == 30


def test_cap_makes_every_pair_as_large_as_the_smallest():
    frames = {"en-fr": numbered("en-fr", 30), "en-es": numbered("en-es", 45), "en-ru": numbered("en-ru", 70)}
    params = AllocationParams(block_size=10, validation_rate=0, min_validation_units=0)
    allocation = allocate(frames, UNPC, params)
    assert allocation.cap == 30
    assert {key: split.train.height for key, split in allocation.splits.items()} == {"en-fr": 30, "en-es": 30, "en-ru": 30}
    assert {key: split.stats["rows_capped"] for key, split in allocation.splits.items()} == {"en-fr": 0, "en-es": 15, "en-ru": 40}
    for key, split in allocation.splits.items():
        # whole units in seeded order; only the last one taken may be cut
        sizes = split.train.group_by("unit", maintain_order=True).len().get_column("len").to_list()
        full = frames[key].select(unit_id(UNPC, key, 10)).to_series().value_counts()
        full_sizes = dict(full.iter_rows())
        units = split.train.get_column("unit").unique(maintain_order=True).to_list()
        assert all(size == full_sizes[unit] for size, unit in zip(sizes[:-1], units[:-1]))
        ranks = unit_order(pl.Series(units), 0)
        assert units == ranks.sort("rank", "unit").get_column("unit").to_list()
        first_units = unit_order(frames[key].select(unit_id(UNPC, key, 10)).to_series(), 0).sort("rank", "unit")
        assert units == first_units.get_column("unit").head(len(units)).to_list()
    assert_invariants(allocation)


# --------------------------------------------------------------------------------------------------
# Determinism


def fixture_frames(corpus_key: str, root: Path = OPUS_MIRROR) -> dict[str, pl.DataFrame]:
    corpus = CORPORA[corpus_key]
    frames = {}
    for pair in LANGUAGE_PAIRS:
        path = root / corpus.opus_name / corpus.version / "moses" / f"{'-'.join(corpus.opus_pair(pair))}.txt.zip"
        if path.exists():
            frames[pair.key] = bitext_frame(read_moses_zip(path, corpus, pair))
    return frames


@pytest.fixture(scope="module", params=["unpc", "opensubtitles"])
def fixture_corpus(request):
    return request.param, fixture_frames(request.param)


def test_same_seed_same_allocation_other_seed_another(fixture_corpus):
    corpus, frames = fixture_corpus
    first = allocate(frames, corpus, AllocationParams(seed=7))
    again = allocate(dict(reversed(list(frames.items()))), corpus, AllocationParams(seed=7))
    other = allocate(frames, corpus, AllocationParams(seed=8))
    for key in frames:
        assert first.splits[key].train.equals(again.splits[key].train)
        assert first.splits[key].validation.equals(again.splits[key].validation)
        assert first.splits[key].stats == again.splits[key].stats
    assert any(not first.splits[key].train.equals(other.splits[key].train) for key in frames)


# --------------------------------------------------------------------------------------------------
# Contamination and monolingual text


def test_decontaminate_removes_exactly_the_rows_with_forbidden_sentences():
    frame = bitext("en-fr", [
        ("The cat sleeps .", "Le chat dort ."),  # forbidden English, tokenised differently
        ("A dog", "Le chien dort !"),  # forbidden French
        ("Le chien dort", "The cat sleeps"),  # the same strings in the other languages: kept
        ("The cat sleeps on the mat", "Le chat dort sur le tapis"),  # longer sentence: kept
        ("Hello", "Bonjour"),
    ])
    forbidden = forbidden_keys(pl.DataFrame({"lang": ["en", "fr", "de"], "text": ["The cat sleeps.", "le chien dort", "Hallo"]}))
    assert forbidden.rows() == [("de", "hallo"), ("en", "thecatsleeps"), ("fr", "lechiendort")]
    assert contaminated_rows(frame, forbidden) == 2
    clean, removed = decontaminate(frame, forbidden)
    assert removed == 2 and clean.get_column("line_no").to_list() == [3, 4, 5]
    assert contaminated_rows(clean, forbidden) == 0
    # monolingual text is checked on its one text column
    mono = monolingual_text([frame])
    assert contaminated_rows(mono, forbidden) == 2
    assert decontaminate(mono, forbidden)[1] == 2

    allocation = allocate({"en-fr": frame, "en-es": numbered("en-es", 3)}, UNPC, AllocationParams(validation_rate=0, min_validation_units=0), forbidden=forbidden)
    assert allocation.splits["en-fr"].stats["rows_contaminated"] == 2
    assert allocation.cap == 3
    assert all(contaminated_rows(split.train, forbidden) == 0 for split in allocation.splits.values())


def test_monolingual_text_comes_from_training_rows_only():
    frames = {"en-fr": numbered("en-fr", 20), "en-es": numbered("en-es", 20)}
    allocation = allocate(frames, UNPC, AllocationParams(block_size=5, validation_rate=0.25, cap_to_smallest=False))
    mono = monolingual_text(allocation.train())
    assert mono.schema == pl.Schema({"lang": pl.String(), "text": pl.String()})
    assert mono.get_column("lang").to_list() == sorted(mono.get_column("lang").to_list())
    train_texts = set().union(*(texts(split.train) for split in allocation.splits.values()))
    validation_texts = set().union(*(texts(split.validation) for split in allocation.splits.values()))
    assert validation_texts and set(mono.get_column("text")) == train_texts
    assert set(mono.get_column("text")).isdisjoint(validation_texts)
    assert mono.group_by("lang").len().sort("lang").rows() == [("en", 30), ("es", 15), ("fr", 15)]


def test_monolingual_text_keeps_each_normalised_sentence_once_per_language():
    frame = bitext("en-fr", [("Hurry up !", "Vite !"), ("hurry up!", "Dépêche-toi !"), ("Vite", "vite")])
    mono = monolingual_text({"en-fr": frame})
    assert mono.rows() == [("en", "Hurry up !"), ("en", "Vite"), ("fr", "Vite !"), ("fr", "Dépêche-toi !")]


# --------------------------------------------------------------------------------------------------
# Errors and edge cases


def test_frames_in_the_wrong_languages_are_refused():
    with pytest.raises(AllocationError, match="en-fr: line 1 has lang_2='es'"):
        allocate({"en-fr": bitext("en-es", [("a", "b")])}, UNPC)
    with pytest.raises(CatalogError, match="not of the form"):
        allocate({"english": bitext("en-fr", [("a", "b")])}, UNPC)
    with pytest.raises(CatalogError, match="unknown corpus"):
        allocate({}, "europarl")


def test_empty_inputs():
    allocation = allocate({}, UNPC)
    assert allocation.splits == {} and allocation.cap == 0
    allocation = allocate({"en-fr": numbered("en-fr", 5), "en-es": pl.DataFrame(schema=BITEXT_SCHEMA)}, UNPC)
    assert allocation.cap == 0 and allocation.splits["en-fr"].train.height == 0
    assert allocation.stats_frame().height == 2


def test_sentence_key_meets_tokenised_and_untokenised_text():
    keys = pl.DataFrame({"t": ["I 'm here .", "I'm here.", "ﻻ", "3 ."]}).select(sentence_key(pl.col("t"))).to_series()
    assert keys.to_list() == ["imhere", "imhere", "لا", "3 ."]


# --------------------------------------------------------------------------------------------------
# Shipped fixtures and real samples


def test_fixtures_allocation_keeps_every_invariant(fixture_corpus):
    corpus, frames = fixture_corpus
    assert len(frames) == 15
    allocation = allocate(frames, corpus)
    assert_invariants(allocation)
    assert allocation.cap > 0
    assert all(split.validation.height > 0 for split in allocation.splits.values())
    mono = monolingual_text(allocation.train())
    assert set(mono.get_column("lang")) == set(PRETRAINING_LANGUAGES)


@pytest.mark.skipif(not (SHARED / "opus").exists(), reason="../shared/data is not present")
@pytest.mark.parametrize("corpus", ["unpc", "opensubtitles"])
def test_real_samples_allocation_keeps_every_invariant(corpus):
    frames = fixture_frames(corpus, SHARED / "opus")
    assert len(frames) == 5
    allocation = allocate(frames, corpus)
    assert_invariants(allocation)
    if corpus == "opensubtitles":
        # ar-en, en-es, en-fr and en-ru all subtitle movie 1191/3276470: one pair keeps it
        sharing = ["ar-en", "en-es", "en-fr", "en-ru"]
        holders = [key for key in sharing if allocation.splits[key].stats["units_allocated"]]
        assert len(holders) == 1
        assert [key for key in sharing if allocation.splits[key].stats["units_to_other_pairs"]] == sorted(
            set(sharing) - set(holders)
        )
        assert allocation.cap == 0  # three pairs are left empty, and every pair is cut to the smallest
    else:
        # UNPC's sample pages share English boilerplate ("Distr .", "GENERAL"): used by one pair only
        assert sum(split.stats["rows_sentence_reused"] for split in allocation.splits.values()) > 0
