"""Cleaning filters on hand-made pairs: which filter removes each row, and what is kept."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from xrep_assets.corpora.cleaning import FILTERS, CleaningParams, clean_bitext, monolingual_frame
from xrep_assets.corpora.readers import BITEXT_SCHEMA, bitext_frame, read_moses_zip
from xrep_assets.study import CORPORA, LanguagePair

DEFAULTS = CleaningParams()


def frame(pairs: list[tuple[str, str]], l1: str = "en", l2: str = "fr") -> pl.DataFrame:
    return bitext_frame(
        {"line_no": i, "doc_id": None, "lang_1": l1, "lang_2": l2, "text_1": t1, "text_2": t2}
        for i, (t1, t2) in enumerate(pairs, start=1)
    )


def counts(**removed: int) -> dict[str, int]:
    return {name: removed.get(name, 0) for name in FILTERS}


def kept_pairs(kept: pl.DataFrame) -> list[tuple[int, str, str]]:
    return list(kept.select("line_no", "text_1", "text_2").iter_rows())


def test_each_row_is_counted_at_its_first_failing_filter():
    pairs = [
        ("Hello world .", "Bonjour le monde ."),  # 1 kept
        ("", "Vide"),  # 2 empty
        ("   ", "x"),  # 3 empty once whitespace is normalised
        ("", " ".join(["mot"] * 200)),  # 4 empty (also too long: the first filter counts)
        (" ".join(["word"] * 101), " ".join(["mot"] * 100)),  # 5 length: 101 words
        (" ".join(["word"] * 100), " ".join(["mot"] * 100)),  # 6 kept: 100 words is the maximum
        ("a b c", "un deux trois quatre cinq six sept huit neuf"),  # 7 length_ratio: 9 / 3 = 3
        ("a b c", "un deux trois quatre cinq six sept huit"),  # 8 kept: 8 / 3 < 3
        ("Look at " + "x" * 41, "Regarde ça"),  # 9 word_length: 41 characters
        ("Look at " + "y" * 40, "Regarde ça"),  # 10 kept: 40 characters is the maximum
        ("Hello friend", "Привет друг"),  # 11 script: the French side is Cyrillic
        ("Hurry up !", "Dépêche-toi !"),  # 12 kept
        ("hurry up!", "Dépêche-toi!"),  # 13 duplicate of 12 after normalisation
        ("Hello world .", "Bonjour le monde ."),  # 14 exact duplicate of 1
        ("Hello friend", "Привет друг"),  # 15 script again, not "duplicate": 11 was not kept
        ("3 .", "3 ."),  # 16 kept: no letters, script ratio 1.0
        ("4 .", "4 ."),  # 17 kept: not a duplicate of 16 although nothing is left after stripping
    ]
    kept, removed = clean_bitext(frame(pairs), DEFAULTS)
    assert removed == counts(empty=3, length=1, length_ratio=1, word_length=1, script=2, duplicate=2)
    assert list(removed) == ["empty", "length", "length_ratio", "word_length", "script", "duplicate"]
    assert kept.get_column("line_no").to_list() == [1, 6, 8, 10, 12, 16, 17]
    assert kept.schema == pl.Schema(BITEXT_SCHEMA)
    assert sum(removed.values()) + kept.height == len(pairs)


def test_kept_text_is_normalised():
    kept, _ = clean_bitext(frame([("  Two   spaces\there ", "Deux\u00a0espaces ")]), DEFAULTS)
    assert kept_pairs(kept) == [(1, "Two spaces here", "Deux espaces")]


def test_arabic_presentation_form_ligature_is_normalised():
    # U+FEF7 (lam-alef with hamza above, isolated form) becomes lam U+0644 + alef-hamza U+0623.
    kept, removed = clean_bitext(frame([("اﻷربعون", "fortieth")], "ar", "en"), DEFAULTS)
    assert removed == counts()
    assert kept.get_column("text_1").to_list() == ["\u0627\u0644\u0623\u0631\u0628\u0639\u0648\u0646"]


def test_arabic_side_in_latin_script_is_removed():
    _, removed = clean_bitext(frame([("Distr .", "Distr ."), ("10 May 1993", "10 May 1993")], "ar", "en"))
    assert removed == counts(script=2)


def test_latin_c_in_cyrillic_word_passes_script_filter():
    pairs = [
        ("Agreements", "Cоглашения"),  # 9 of 10 letters Cyrillic: kept
        ("ab", "ab вг"),  # exactly 0.5: kept
        ("abc", "abc в"),  # 0.25: removed
    ]
    kept, removed = clean_bitext(frame(pairs, "en", "ru"), DEFAULTS)
    assert kept_pairs(kept) == [(1, "Agreements", "Cоглашения"), (2, "ab", "ab вг")]
    assert removed == counts(script=1)


def test_chinese_length_counts_characters_not_spaces():
    params = CleaningParams(max_length_chars=4)
    pairs = [
        ("Carl Hans", "卡里 加利"),  # 4 characters (OpenSubtitles-style segmented): kept
        ("Carl Hans", "卡里 加利 博"),  # 5 characters: too long
        ("Dr Carl", "卡里博士"),  # 4 characters unsegmented (UNPC-style): kept
    ]
    kept, removed = clean_bitext(frame(pairs, "en", "zh"), params)
    assert kept.get_column("line_no").to_list() == [1, 3]
    assert removed == counts(length=1)


def test_chinese_default_limit_and_no_word_length():
    english = " ".join(["word"] * 60)
    pairs = [
        (english, "中" * 150),  # kept: 150 characters is the maximum; one 150-character "word"
        (english, "中" * 151),  # length
    ]
    kept, removed = clean_bitext(frame(pairs, "en", "zh"), DEFAULTS)
    assert kept.get_column("line_no").to_list() == [1]
    assert removed == counts(length=1)


def test_chinese_length_ratio_in_word_equivalents():
    # 30 characters ~ 20 words (1.5 characters per word): against 6 English words the ratio is 3.33.
    pairs = [(" ".join(["w"] * 6), "中" * 30), (" ".join(["w"] * 7), "中" * 30)]
    kept, removed = clean_bitext(frame(pairs, "en", "zh"), DEFAULTS)
    assert kept.get_column("line_no").to_list() == [2]
    assert removed == counts(length_ratio=1)


def test_normalised_duplicates_keep_the_first():
    pairs = [
        ("Hurry up !", "¡ Date prisa !"),
        ("hurry up!", "¡Date prisa!"),
        ("Hurry up 2 !", "¡ Date prisa !"),
    ]
    kept, removed = clean_bitext(frame(pairs, "en", "es"), DEFAULTS)
    assert kept_pairs(kept) == [(1, "Hurry up !", "¡ Date prisa !")]
    assert removed == counts(duplicate=2)


def test_dedup_can_be_switched_off():
    pairs = [("Hurry up !", "Vite !"), ("Hurry up !", "Vite !")]
    kept, removed = clean_bitext(frame(pairs), CleaningParams(dedup=False))
    assert kept.height == 2
    assert removed == counts()


def test_lazy_and_empty_input():
    kept, removed = clean_bitext(frame([("Hello", "Bonjour")]).lazy(), DEFAULTS)
    assert kept.height == 1
    kept, removed = clean_bitext(frame([]), DEFAULTS)
    assert kept.height == 0 and kept.schema == pl.Schema(BITEXT_SCHEMA)
    assert removed == counts()


def test_unknown_language_raises():
    with pytest.raises(ValueError, match="xx"):
        clean_bitext(frame([("a", "b")], "en", "xx"), DEFAULTS)


def test_monolingual_frame_stacks_both_sides():
    kept, _ = clean_bitext(frame([("Hello", "Bonjour"), ("Good night", "Bonne nuit")]), DEFAULTS)
    mono = monolingual_frame(kept)
    assert mono.columns == ["lang", "text"]
    assert list(mono.iter_rows()) == [
        ("en", "Hello"), ("en", "Good night"), ("fr", "Bonjour"), ("fr", "Bonne nuit"),
    ]


SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.mark.skipif(not SHARED.exists(), reason="shared/data samples not present")
def test_sample_unpc_ar_en_loses_its_english_headers():
    path = SHARED / "opus" / "UNPC" / "v1.0" / "moses" / "ar-en.txt.zip"
    pair = LanguagePair("ar", "en")
    raw = bitext_frame(read_moses_zip(path, CORPORA["unpc"], pair))
    kept, removed = clean_bitext(raw, DEFAULTS)
    assert sum(removed.values()) + kept.height == 84
    assert "Distr ." not in kept.get_column("text_1").to_list()  # English on the Arabic side
    assert not kept.get_column("text_1").str.contains("[\ufef5-\ufefc]").any()  # ligatures folded
