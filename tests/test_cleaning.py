"""Cleaning filters on hand-made pairs: which filter removes each row, and what is kept."""

from __future__ import annotations

import difflib
import math
import random
from pathlib import Path

import polars as pl
import pytest

from xrep_assets.corpora.cleaning import (
    FILTERS,
    CleaningParams,
    clean_bitext,
    clean_bitext_batches,
    terminal_penalty_limit,
)
from xrep_assets.corpora.readers import BITEXT_SCHEMA, bitext_frame, read_moses_zip
from xrep_assets.study import CORPORA, LanguagePair
from xrep_assets.text.chars import PYTHON_WHITESPACE

DEFAULTS = CleaningParams()
# The rule-based filters alone: language identification has its own tests.
RULES = CleaningParams(language_id=False)
OPUSFILTER = CleaningParams.opusfilter()


def frame(pairs: list[tuple[str, str]], l1: str = "en", l2: str = "fr") -> pl.DataFrame:
    return bitext_frame(
        {"line_no": i, "doc_id": None, "lang_1": l1, "lang_2": l2, "text_1": t1, "text_2": t2}
        for i, (t1, t2) in enumerate(pairs, start=1)
    )


def counts(**removed: int) -> dict[str, int]:
    return {name: removed.get(name, 0) for name in FILTERS}


def kept_pairs(kept: pl.DataFrame) -> list[tuple[int, str, str]]:
    return list(kept.select("line_no", "text_1", "text_2").iter_rows())


def kept_lines(pairs: list[tuple[str, str]], params: CleaningParams, l1: str = "en", l2: str = "fr") -> list[int]:
    kept, _ = clean_bitext(frame(pairs, l1, l2), params)
    return kept.get_column("line_no").to_list()


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
        ("Call 555-0199 or 555-0123", "Appelez le 555-0199"),  # 11 alphabet_ratio: 6 letters of 20
        ("Hello friend", "Привет друг"),  # 12 script: the French side is Cyrillic
        ("Please wait for me!!!!!", "Attendez-moi un instant !"),  # 13 terminal_punctuation: 4 + 4 > 6
        ("The meeting is in room 1234", "La réunion est dans la salle 5678"),  # 14 numerals: none shared
        ("Hurry up !", "Dépêche-toi !"),  # 15 kept
        ("hurry up!", "Dépêche-toi!"),  # 16 duplicate of 15 after normalisation
        ("Hello world .", "Bonjour le monde ."),  # 17 exact duplicate of 1
        ("Hello friend", "Привет друг"),  # 18 script again, not "duplicate": 12 was not kept
    ]
    kept, removed = clean_bitext(frame(pairs), RULES)
    assert removed == counts(
        empty=3,
        length=1,
        length_ratio=1,
        word_length=1,
        alphabet_ratio=1,
        script=2,
        terminal_punctuation=1,
        numerals=1,
        duplicate=2,
    )
    assert list(removed) == list(FILTERS)
    assert list(FILTERS) == [
        "empty",
        "length",
        "length_ratio",
        "word_length",
        "alphabet_ratio",
        "script",
        "terminal_punctuation",
        "numerals",
        "language_id",
        "duplicate",
    ]
    assert kept.get_column("line_no").to_list() == [1, 6, 8, 10, 15]
    assert kept.schema == pl.Schema(BITEXT_SCHEMA)
    assert sum(removed.values()) + kept.height == len(pairs)


def test_pairs_without_letters_are_distinct_when_nothing_is_left_of_them():
    # With the alphabet filter off, "3 ." and "4 ." both pass: their normalised keys would both be
    # empty, so each keeps its exact text as key.
    params = CleaningParams(language_id=False, min_alphabet_ratio=0, min_numeral_similarity=0)
    kept, removed = clean_bitext(frame([("3 .", "3 ."), ("4 .", "4 ."), ("3 .", "3 .")]), params)
    assert kept.get_column("line_no").to_list() == [1, 2]
    assert removed == counts(duplicate=1)


def test_kept_text_is_normalised():
    kept, _ = clean_bitext(frame([("  Two   spaces\there ", "Deux\u00a0espaces ")]), RULES)
    assert kept_pairs(kept) == [(1, "Two spaces here", "Deux espaces")]


def test_arabic_presentation_form_ligature_is_normalised():
    # U+FEF7 (lam-alef with hamza above, isolated form) becomes lam U+0644 + alef-hamza U+0623.
    kept, removed = clean_bitext(frame([("اﻷربعون", "fortieth")], "ar", "en"), RULES)
    assert removed == counts()
    assert kept.get_column("text_1").to_list() == ["\u0627\u0644\u0623\u0631\u0628\u0639\u0648\u0646"]


def test_arabic_side_in_latin_script_is_removed():
    _, removed = clean_bitext(
        frame([("Distr .", "Distr ."), ("General Assembly", "General Assembly")], "ar", "en"), RULES
    )
    assert removed == counts(script=2)


def test_latin_c_in_cyrillic_word_passes_script_filter():
    pairs = [
        ("Agreements", "Cоглашения"),  # 9 of 10 letters Cyrillic: kept
        ("ab", "ab вг"),  # exactly 0.5: kept
        ("abc", "abc в"),  # 0.25: removed
    ]
    kept, removed = clean_bitext(frame(pairs, "en", "ru"), RULES)
    assert kept_pairs(kept) == [(1, "Agreements", "Cоглашения"), (2, "ab", "ab вг")]
    assert removed == counts(script=1)


def test_chinese_length_counts_characters_not_spaces():
    params = CleaningParams(language_id=False, max_length_chars=4)
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
    kept, removed = clean_bitext(frame(pairs, "en", "zh"), RULES)
    assert kept.get_column("line_no").to_list() == [1]
    assert removed == counts(length=1)


def test_chinese_length_ratio_in_word_equivalents():
    # 30 characters ~ 20 words (1.5 characters per word): against 6 English words the ratio is 3.33.
    pairs = [(" ".join(["w"] * 6), "中" * 30), (" ".join(["w"] * 7), "中" * 30)]
    kept, removed = clean_bitext(frame(pairs, "en", "zh"), RULES)
    assert kept.get_column("line_no").to_list() == [2]
    assert removed == counts(length_ratio=1)


def test_normalised_duplicates_keep_the_first():
    pairs = [
        ("Hurry up !", "¡ Date prisa !"),
        ("hurry up!", "¡Date prisa!"),
        ("Hurry up 2 !", "¡ Date prisa !"),
    ]
    kept, removed = clean_bitext(frame(pairs, "en", "es"), CleaningParams(language_id=False, min_numeral_similarity=0))
    assert kept_pairs(kept) == [(1, "Hurry up !", "¡ Date prisa !")]
    assert removed == counts(duplicate=2)


def test_dedup_can_be_switched_off():
    pairs = [("Hurry up !", "Vite !"), ("Hurry up !", "Vite !")]
    kept, removed = clean_bitext(frame(pairs), CleaningParams(language_id=False, dedup=False))
    assert kept.height == 2
    assert removed == counts()


def test_lazy_and_empty_input():
    kept, removed = clean_bitext(frame([("Hello", "Bonjour")]).lazy(), RULES)
    assert kept.height == 1
    kept, removed = clean_bitext(frame([]), RULES)
    assert kept.height == 0 and kept.schema == pl.Schema(BITEXT_SCHEMA)
    assert removed == counts()


def test_unknown_language_raises():
    from xrep_assets.study import CatalogError

    with pytest.raises(CatalogError, match="languages not in the study catalog: xx"):
        clean_bitext(frame([("a", "b")], "en", "xx"), RULES)


def test_rows_of_several_language_pairs_keep_their_order():
    pairs = (
        frame([("Good morning", "Bonjour")], "en", "fr")
        .vstack(frame([("Good morning", "早上好"), ("Good morning to all of you", "早")], "en", "zh"))
        .vstack(frame([("Good evening", "Bonsoir")], "en", "fr"))
    )
    kept, removed = clean_bitext(pairs.with_columns(line_no=pl.int_range(1, 5)), RULES)
    assert kept_pairs(kept) == [
        (1, "Good morning", "Bonjour"),
        (2, "Good morning", "早上好"),
        (4, "Good evening", "Bonsoir"),
    ]
    assert removed == counts(length_ratio=1)  # 6 words against 1 character (0.67 word)


# --------------------------------------------------------------------------------------------------
# The filters added to the rule set


def test_alphabet_ratio_leaves_whitespace_out_by_default():
    pairs = [
        ("abc1 def", "abc1 def"),  # 6 letters / 7 non-space characters = 0.86: kept
        ("ab12 cd", "ab12 cd"),  # 4 / 6 = 0.67: removed
        ("abc1", "abc1"),  # 3 / 4 = 0.75 exactly: kept
    ]
    params = CleaningParams(language_id=False, min_script_ratio=0)
    assert kept_lines(pairs, params) == [1, 3]
    # Counting the space (OpusFilter's exclude_whitespace: False), 6 / 8 still passes, 3 / 4 too.
    assert kept_lines(pairs, CleaningParams.opusfilter()) == [1, 3]
    assert kept_lines([("ab cd", "ab cd"), ("ab c.", "ab c.")], CleaningParams.opusfilter()) == [1]  # 4/5, 3/5


def test_terminal_punctuation_knows_chinese_and_arabic_marks():
    assert terminal_penalty_limit(-2.0) == 6  # -log(7) = -1.95 passes, -log(8) = -2.08 does not
    assert terminal_penalty_limit(0.0) == 0 and terminal_penalty_limit(0.5) == -1
    assert terminal_penalty_limit(-math.inf) is None
    four = "One. Two. Three. Four."
    chinese = "第一个。第二个。第三个。第四个。"  # 12 letters of 16 characters
    # 4 marks each side: 0 + 3 + 3 = 6, kept. Counting only .?!… (OpusFilter): |4 - 0| + 3 = 7.
    assert kept_lines([(four, chinese)], RULES, "en", "zh") == [1]
    assert (
        kept_lines([(four, chinese)], CleaningParams(language_id=False, terminal_punctuation=".?!…"), "en", "zh") == []
    )
    arabic = "لماذا؟ لماذا؟ لماذا؟ لماذا؟"
    assert kept_lines([("Why? Why? Why? Why?", arabic)], RULES, "en", "ar") == [1]
    attends = "Attendez-moi un instant"
    pairs = [
        ("Please wait for me!!!!", f"{attends} !"),
        ("Please wait for me!!!!!", f"{attends} !"),
        ("Please wait for us…", "Attendez-nous un instant…"),
    ]  # 6, 8, 0
    _, removed = clean_bitext(frame(pairs), RULES)
    assert removed == counts(terminal_punctuation=1)


def test_numerals_ignore_zeros_separators_and_know_arabic_indic_digits():
    pairs = [
        ("It costs 1,000 euros today", "Cela coûte 1000 euros aujourd'hui"),  # 1 vs 1: kept
        ("The meeting is in room 1234", "La réunion est dans la salle 5678"),  # nothing shared: 0.0
        # 199521 vs 211995: longest block 1995, then nothing: 2 * 4 / 12 = 0.67, kept
        ("The society was founded in 1995 and renamed in 2001", "La société fut renommée en 2001 et fondée en 1995"),
        ("See pages 12 and 34 of the report", "Voir les pages 34 du rapport"),  # 1234 vs 34: 2 * 2 / 6
        ("See pages 12 and 345 of the report", "Voir la page 3 du rapport"),  # 12345 vs 3: 2 * 1 / 6
        ("There is no number here", "Voir la page 7 du rapport"),  # one side without digits: 0.0
    ]
    _, removed = clean_bitext(frame(pairs), RULES)
    assert removed == counts(numerals=3)
    assert kept_lines(pairs, RULES) == [1, 3, 4]
    page = "انظر الصفحة {} من التقرير"
    arabic = [
        (page.format("٤٥"), "See page 45 of the report"),
        (page.format("۴۵"), "See page 45 of the report"),
        (page.format("٤٥"), "See page 67 of the report"),
    ]
    distinct = CleaningParams(language_id=False, dedup=False)  # 1 and 2 differ only in digits
    assert kept_lines(arabic, distinct, "ar", "en") == [1, 2]
    # OpusFilter sees no digit in Arabic-Indic numbers: 0.0 against 45.
    assert (
        kept_lines(arabic, CleaningParams(language_id=False, dedup=False, arabic_indic_digits=False), "ar", "en") == []
    )


def test_numerals_match_difflib_where_the_bounds_cannot_decide():
    rng = random.Random(7)
    pairs, expected = [], []
    for _ in range(300):
        a = "".join(rng.choice("123456789") for _ in range(rng.choice([2, 5, 9, 150, 210])))
        b = "".join(rng.sample(a, len(a))) if rng.random() < 0.5 else a[::-1][: rng.randint(1, len(a))]
        pairs.append((" ".join(a) + " words", " ".join(b) + " mots"))
        expected.append(difflib.SequenceMatcher(None, a, b).ratio() >= 0.5)
    params = CleaningParams.opusfilter(max_length=10_000, min_alphabet_ratio=0, max_length_ratio=1e9, dedup=False)
    kept = set(kept_lines(pairs, params))
    assert [i in kept for i in range(1, len(pairs) + 1)] == expected
    assert 0 < sum(expected) < len(expected)


# --------------------------------------------------------------------------------------------------
# OpusFilter parity


def test_opusfilter_preset_splits_words_as_python_does():
    pairs = [
        ("a\x1cb c", "x y"),  # \x1c separates words for str.split(): 3 words
        ("a\u200bb c", "x y"),  # a zero-width space does not: 2 words
        ("a\u3000b", "x y"),  # an ideographic space does: 2 words
    ]
    assert kept_lines(pairs, CleaningParams.opusfilter(max_length=2, min_alphabet_ratio=0)) == [2, 3]


def test_a_letter_beside_the_ideographs_is_looked_up():
    kept = kept_lines([("Good", "好一"), ("Good", "好Ⅻ")], CleaningParams.opusfilter(), "en", "zh")
    assert kept == [1]  # Ⅻ (U+216B) is alphabetic but not Han


def test_opusfilter_preset_keeps_text_as_read_less_trailing_whitespace():
    kept, _ = clean_bitext(frame([("ﬁne  day \u3000\t", "beau  jour\x1c")]), CleaningParams.opusfilter())
    assert kept_pairs(kept) == [(1, "ﬁne  day", "beau  jour")]


def test_opusfilter_preset_thresholds():
    assert kept_lines([("Look " + "x" * 39, "Regarde ça"), ("Look " + "x" * 40, "Regarde ça")], OPUSFILTER) == [1]
    # Wide whitespace separates words too (the 61 bytes without ASCII whitespace are two words).
    assert kept_lines([("Look " + "x" * 30 + "\u3000" + "x" * 30, "Regarde ça")], OPUSFILTER) == [1]
    # CharacterScoreFilter at 1.0 with the Script property: a haraka (script Inherited) fails it.
    vowelled = [("كَتَبَ الولد", "The boy wrote"), ("كتب الولد", "The boy wrote")]
    assert kept_lines(vowelled, OPUSFILTER, "ar", "en") == [2]
    assert kept_lines(vowelled, RULES, "ar", "en") == [1, 2]
    # Its length ratio counts an unsegmented Chinese sentence as one word.
    assert kept_lines([("Good morning to you", "早上好")], OPUSFILTER, "en", "zh") == []
    # remove_duplicates compares the exact pair.
    assert kept_lines([("Hurrying everybody", "Vitement"), ("hurrying everybody", "vitement")], OPUSFILTER) == [1, 2]
    assert kept_lines([("Hurrying everybody", "Vitement"), ("hurrying everybody", "vitement")], RULES) == [1]


def opusfilter_keeps(pair: tuple[str, str], scripts: tuple[str, str], regex) -> bool:
    """OpusFilter 3.3.1's default filter chain on a pair, as its documentation and source define
    it (LengthFilter, LengthRatioFilter, LongWordFilter, AlphabetRatioFilter, CharacterScoreFilter,
    TerminalPunctuationFilter, NonZeroNumeralsFilter), for texts read with rstrip()."""
    texts = [text.rstrip() for text in pair]
    words = [len(text.split()) for text in texts]
    if not all(1 <= n <= 100 for n in words):
        return False
    shorter, longer = sorted(words)
    if (longer / shorter if shorter else (math.inf if longer else 0)) >= 3:
        return False
    if any(max((len(w) for w in text.split()), default=0) >= 40 for text in texts):
        return False
    for text, script in zip(texts, scripts):
        letters = regex.sub(r"\p{Alphabetic=No}", "", text)
        if text and len(letters) / len(text) < 0.75:
            return False
        if letters and len(regex.sub(rf"\p{{^Script={script}}}", "", letters)) / len(letters) < 1:
            return False
    marks = [sum(c in ".?!…" for c in text) for text in texts]
    penalty = abs(marks[0] - marks[1]) + max(marks[0] - 1, 0) + max(marks[1] - 1, 0)
    if -math.log(penalty + 1) < -2:
        return False
    digits = ["".join(c for c in text if c in "123456789") for text in texts]
    return difflib.SequenceMatcher(None, digits[0], digits[1]).ratio() >= 0.5


@pytest.mark.parametrize("l1, l2", [("en", "fr"), ("en", "zh"), ("ar", "ru")])
def test_opusfilter_preset_decides_as_opusfilter_on_random_pairs(l1, l2):
    regex = pytest.importorskip("regex")
    letters = {
        "en": "abcdefghijklmnopqrstuvwxyzéçßñ",
        "fr": "abcdefghijklmnopqrstuvwxyzéèàçœ",
        "zh": "中文字的是在不了有和人这上大为𠀀",
        "ar": "ابتثجحخدذرسشصضطظعغفقكلمنهوي\u064e\u0640",
        "ru": "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
    }
    extras = (
        list(PYTHON_WHITESPACE) + list(".?!…。,;-«»0123456789٣۴") + ["\u200b", "\x07", "😀", "\u0301", "ﬁ", "ª", "Ⅻ"]
    )
    scripts = {"en": "Latin", "fr": "Latin", "zh": "Han", "ar": "Arabic", "ru": "Cyrillic"}
    rng = random.Random(f"{l1}-{l2}")

    def text(lang: str) -> str:
        words = []
        for _ in range(rng.choice([0, 1, 2, 3, 5, 8, 13, 40, 101])):
            if rng.random() < 0.85:
                words.append("".join(rng.choice(letters[lang]) for _ in range(rng.choice([1, 2, 3, 5, 8, 39, 40]))))
            else:
                words.append(rng.choice(extras) * rng.randint(1, 3))
        return "".join(w + (" " if rng.random() < 0.9 else rng.choice(extras)) for w in words)

    pairs = [(text(l1), text(l2)) for _ in range(3000)]
    expected = [opusfilter_keeps(pair, (scripts[l1], scripts[l2]), regex) for pair in pairs]
    kept = set(kept_lines(pairs, CleaningParams.opusfilter(dedup=False), l1, l2))
    assert [i in kept for i in range(1, len(pairs) + 1)] == expected
    assert sum(expected) > 30


# --------------------------------------------------------------------------------------------------
# Language identification


def test_language_id_filter_removes_untranslated_and_wrong_language_sides():
    pairs = [
        ("The committee adopted the report.", "Le comité a adopté le rapport."),  # kept
        ("The committee adopted the report.", "The committee adopted the report."),  # untranslated
        ("The committee adopted the report.", "El comité aprobó el informe."),  # Spanish
    ]
    kept, removed = clean_bitext(frame(pairs), DEFAULTS)
    assert kept.get_column("line_no").to_list() == [1]
    assert removed == counts(language_id=2)
    _, removed = clean_bitext(frame(pairs), CleaningParams(min_language_confidence=1.01))
    assert removed == counts(language_id=3)


# --------------------------------------------------------------------------------------------------
# Batches


def test_batches_give_the_same_result_and_deduplicate_across_batches(tmp_path):
    rng = random.Random(3)
    base = [
        ("Hello world .", "Bonjour le monde ."),
        ("Good night .", "Bonne nuit ."),
        ("See you !", "À bientôt !"),
        ("hello world.", "bonjour le monde."),
        ("Call 555", "Appelez 556"),
        ("", "Vide"),
    ]
    pairs = [rng.choice(base) for _ in range(200)]
    whole, whole_removed = clean_bitext(frame(pairs), DEFAULTS)
    path = tmp_path / "raw.parquet"
    frame(pairs).write_parquet(path)
    removed: dict[str, int] = {}
    batches = list(clean_bitext_batches(pl.scan_parquet(path), CleaningParams(batch_rows=7), removed))
    assert len(batches) == 29  # 200 rows, 7 at a time
    assert pl.concat(batches).equals(whole)
    assert removed == whole_removed
    assert whole.height == 3  # each distinct good pair once, whatever batch it first came in


def test_kept_rows_do_not_hold_the_batch_text(tmp_path):
    # polars' string views of the few kept rows would otherwise keep the texts of their batch alive.
    name = ["zero", "one", "two", "three", "four"]
    english = [f"A sentence long enough to be stored apart from its view, {name[i // 1000]}. " for i in range(5000)]
    french = [f"Une phrase bien assez longue, numéro {name[i // 1000]}." for i in range(5000)]
    pairs = [(english[i], french[i] if i % 1000 == 0 else "1 2 3 4 5 6.") for i in range(5000)]
    path = tmp_path / "raw.parquet"
    frame(pairs).write_parquet(path)
    kept, removed = clean_bitext(pl.scan_parquet(path), OPUSFILTER)
    assert kept.get_column("text_1").to_list() == [english[i].rstrip() for i in range(0, 5000, 1000)]
    assert removed == counts(alphabet_ratio=4995)
    buffers = kept.get_column("text_1").to_arrow(compat_level=pl.CompatLevel.newest()).buffers()[2:]
    assert sum(buffer.size for buffer in buffers) < 1000


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
