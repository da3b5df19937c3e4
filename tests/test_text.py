"""The shared text package: whitespace and character classes as Python and polars see them, counts
on UTF-8 bytes, language identification and de-duplication keys."""

from __future__ import annotations

import random
import subprocess
import sys

import numpy as np
import polars as pl
import pytest

from xrep_assets.text.chars import ALPHA_BIT, IDEOGRAPHS, PYTHON_WHITESPACE, SCRIPT_BITS, classify_code_points
from xrep_assets.text.dedup import dedup_key, dedup_keys
from xrep_assets.text.langid import identify_languages
from xrep_assets.text.utf8 import Threads, ideograph_leads, whitespace_counts

# --------------------------------------------------------------------------------------------------
# Characters and counts on the bytes


def test_python_whitespace_is_what_str_isspace_says():
    assert PYTHON_WHITESPACE == "".join(chr(c) for c in range(0x110000) if chr(c).isspace())


def test_nothing_is_built_on_import():
    # The code point tables and the wide-whitespace table are built on first use, not on import.
    script = (
        "import xrep_assets.corpora.cleaning\n"
        "from xrep_assets.text import chars, utf8\n"
        "built = [f.cache_info().currsize for f in (chars.class_table, chars.nfkc_table, utf8.wide_space_table)]\n"
        "assert built == [0, 0, 0], built\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True)


def test_words_split_as_python_does():
    texts = pl.Series([f"a{ch}b" for ch in PYTHON_WHITESPACE] + ["a\u200bb", "a\x07b", "a\x85b"])
    words = whitespace_counts(texts, Threads(1), spaces=False).words
    assert words.tolist() == [len(t.split()) for t in texts.to_list()]


def test_words_and_whitespace_match_python_for_every_code_point():
    points = [c for c in range(0x80, 0x110000) if not 0xD800 <= c <= 0xDFFF]
    texts = pl.Series([f"a{chr(c)}b " for c in points])
    whitespace = whitespace_counts(texts, Threads(1))
    python_words = np.array([2 if chr(c).isspace() else 1 for c in points])
    assert np.array_equal(whitespace.words, python_words)
    assert np.array_equal(whitespace.spaces, python_words)  # the trailing space, plus the character if it is one
    assert whitespace.trailing.all()


@pytest.mark.parametrize("sliced", [False, True])
def test_words_and_whitespace_match_python_where_the_bytes_lie(monkeypatch, sliced):
    # Texts of every length (inline in their Arrow views up to 12 bytes, in a data buffer beyond),
    # read in 64-byte slices so that wide whitespace characters are cut at slice ends; sliced from
    # a larger column, they are copied instead.
    monkeypatch.setattr("xrep_assets.text.utf8.CHUNK_BYTES", 64)
    rng = random.Random(11)
    alphabet = ["a", "é", "中", "😀", " ", "\t", "\x1c", "\x07", "\u00a0", "\u3000", "\u2009", "\u200b", "\x85"]
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(2000)]
    series = pl.Series("t", texts * 5).slice(2000, 2000) if sliced else pl.Series("t", texts)
    whitespace = whitespace_counts(series, Threads(1))
    assert whitespace.words.tolist() == [len(text.split()) for text in texts]
    assert whitespace.spaces.tolist() == [sum(char.isspace() for char in text) for text in texts]
    assert whitespace.trailing.tolist() == [text != text.rstrip() for text in texts]


def test_ideographs_told_by_their_bytes_are_han_letters():
    # The characters of IDEOGRAPHS are counted as Han letters from their first two bytes, without
    # a lookup: all of them must be so for the regex classes, and those bytes must tell them.
    points = np.arange(IDEOGRAPHS[0], IDEOGRAPHS[1] + 1)
    han_letter = ALPHA_BIT | SCRIPT_BITS["Han"]
    assert (classify_code_points(points, han_letter) == han_letter).all()
    data = np.frombuffer("".join(chr(point) for point in range(0x3000, 0xA100)).encode(), dtype=np.uint8)
    assert np.flatnonzero(ideograph_leads(data)).tolist() == [3 * (point - 0x3000) for point in points.tolist()]


# --------------------------------------------------------------------------------------------------
# Language identification


def test_identify_languages_on_clear_sentences():
    sentences = {
        "en": "The committee adopted the report without a vote.",
        "fr": "Le comité a adopté le rapport sans le mettre aux voix.",
        "es": "El comité aprobó el informe sin someterlo a votación.",
        "ru": "Комитет принял доклад без голосования.",
        "ar": "واعتمدت اللجنة التقرير دون تصويت.",
        "zh": "委员会未经表决通过了该报告。",
        "de": "Der Ausschuss nahm den Bericht ohne Abstimmung an.",
    }
    assert identify_languages(list(sentences.values())) == list(sentences)
    # All capitals and traditional characters without kana are still English and Chinese.
    assert identify_languages(
        ["THE COMMITTEE ADOPTED THE REPORT WITHOUT A VOTE", "委員會未經表決通過了該報告", " "]
    ) == ["en", "zh", ""]


# --------------------------------------------------------------------------------------------------
# De-duplication keys


def test_dedup_keys_on_the_bytes_equal_the_expression():
    rng = random.Random(5)
    alphabet = list("abcXYZ 1.,!?-") + [
        "İ",
        "ß",
        "Σ",
        "ﬁ",
        "\u3000",
        "。",
        "٣",
        "€",
        "\u0301",
        "é",
        "中",
        "\x00",
        "😀",
        "\u200b",
    ]
    texts = pl.Series("t", ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12))) for _ in range(5000)])
    expected = texts.to_frame().select(dedup_key(pl.col("t"))).to_series()
    assert dedup_keys(texts).to_list() == expected.to_list()
