"""Character classes: which code points are whitespace as Python splits text, letters, letters of
each script, stripped from the de-duplication key, or may change under NFKC.

The classes are those of polars' regex engine, the same as the ``regex`` module's for every code
point assigned up to Unicode 15, so that the counts taken on UTF-8 bytes (``text/utf8.py``) agree
with polars' own expressions. Per code point they are looked up as code points are met (a corpus
uses a few thousand), in tables allocated on first use.
"""

from __future__ import annotations

import functools
import unicodedata

import numpy as np
import polars as pl

# Python's str.isspace() (what str.split() and str.rstrip() use): Unicode White_Space, which is the
# regex engine's \s, plus the information separators U+001C-001F. Written out rather than found by
# testing 1.1M code points on every start; a test checks it against str.isspace().
PYTHON_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
SPACE = r"[\s\x1C-\x1F]"
NON_SPACE = r"[^\s\x1C-\x1F]"

# Letters of each script in the catalog, as Rust-regex classes (polars' regex engine).
# Arabic: the Arabic, Arabic Supplement and both presentation-form blocks; the base block includes
# the harakat (U+064B-0652), which Unicode puts in the "Inherited" script, and the tatweel (Common).
SCRIPT_LETTERS: dict[str, str] = {
    "Arabic": r"[\x{0600}-\x{06FF}\x{0750}-\x{077F}\x{FB50}-\x{FDFF}\x{FE70}-\x{FEFF}]",
    "Han": r"\p{sc=Han}",
    "Latin": r"\p{sc=Latin}",
    "Cyrillic": r"\p{sc=Cyrillic}",
    "Greek": r"\p{sc=Greek}",
    "Devanagari": r"\p{sc=Devanagari}",
    "Thai": r"\p{sc=Thai}",
}
LETTER = r"\p{Alphabetic}"  # the denominator of the script ratio, as OpusFilter's CharacterScoreFilter
# Stripped for the normalised duplicate key (``text/dedup.py``): digits, punctuation, symbols, whitespace.
DEDUP_STRIPPED = r"[\p{N}\p{P}\p{S}\s]+"

# CJK Unified Ideographs U+4E00-U+9FFF, UTF-8 E4 B8 80 to E9 BF BF: all assigned, alphabetic and
# of the Han script (a test checks them against the regex classes). Told by their first two bytes,
# they spare Chinese text the decoding and lookup of nearly all its characters.
IDEOGRAPHS = (0x4E00, 0x9FFF)

# One bit per class in the code point table.
ALPHA_BIT, ARABIC_BLOCK_BIT, STRIP_BIT = 1, 4, 8
SCRIPT_BITS = {script: 32 << i for i, script in enumerate(SCRIPT_LETTERS)}
CLASS_PATTERNS = {
    ALPHA_BIT: LETTER,
    ARABIC_BLOCK_BIT: SCRIPT_LETTERS["Arabic"],
    STRIP_BIT: DEDUP_STRIPPED,
    **{bit: rf"\p{{sc={script}}}" for script, bit in SCRIPT_BITS.items()},
}


@functools.cache
def class_table() -> tuple[np.ndarray, np.ndarray]:
    """The class bits of each code point, and which of them are known: filled in by
    ``code_point_classes`` as code points are met, one class at a time as a caller needs it."""
    return np.zeros(0x110000, dtype=np.uint16), np.zeros(0x110000, dtype=np.uint16)


def code_point_classes(points: np.ndarray, wanted: int) -> np.ndarray:
    """The ``wanted`` class bits of each code point (alphabetic, stripped from the duplicate key,
    Arabic block, each catalog script), the others zero."""
    bits, known = class_table()
    unknown = (known[points] & wanted) != wanted
    if unknown.any():
        new = distinct(points[unknown])
        bits[new] = (bits[new] & ~np.uint16(wanted)) | classify_code_points(new, wanted)
        known[new] |= np.uint16(wanted)
    return bits[points] & np.uint16(wanted)


def distinct(points: np.ndarray) -> np.ndarray:
    """The distinct code points, ascending (a bitmap over the code space beats sorting)."""
    present = np.zeros(0x110000, dtype=bool)
    present[points] = True
    return np.flatnonzero(present)


def classify_code_points(points: np.ndarray, wanted: int) -> np.ndarray:
    """The ``wanted`` class bits from the same regex classes as the rest of polars."""
    series = pl.Series("c", [chr(point) for point in points.tolist()], dtype=pl.String)
    bits = np.zeros(points.size, dtype=np.uint16)
    for bit, pattern in CLASS_PATTERNS.items():
        if bit & wanted:
            bits[series.str.contains(pattern).to_numpy()] |= bit
    return bits


@functools.cache
def nfkc_table() -> np.ndarray:
    """Per code point, whether a text with it may change under NFKC (1 or 0; 2: not looked up yet),
    filled in by ``nfkc_may_change`` as code points are met."""
    return np.full(0x110000, 2, dtype=np.uint8)


def nfkc_may_change(points: np.ndarray) -> np.ndarray:
    """Whether a text with each code point may change under NFKC (looked up as met)."""
    table = nfkc_table()
    flags = table[points]
    unknown = flags == 2
    if unknown.any():
        new = distinct(points[unknown])
        table[new] = [may_change_under_nfkc(chr(point)) for point in new.tolist()]
        flags = table[points]
    return flags == 1


@functools.cache
def composing_marks() -> frozenset[str]:
    """Characters that can compose with a preceding one (the second of a canonical pair)."""
    seconds = set()
    for point in range(0x30000):  # no character above U+2FA1D decomposes
        decomposition = unicodedata.decomposition(chr(point)).split()
        if len(decomposition) == 2 and not decomposition[0].startswith("<"):
            seconds.add(chr(int(decomposition[1], 16)))
    return frozenset(seconds)


def may_change_under_nfkc(char: str) -> bool:
    """Whether a text with ``char`` may change under NFKC: it changes alone, reorders or composes
    with its neighbour (combining marks, Hangul jamo, second halves of canonical pairs), or is
    unknown to Python's Unicode data (newer than it)."""
    return (
        unicodedata.normalize("NFKC", char) != char
        or unicodedata.combining(char) != 0
        or unicodedata.category(char) == "Cn"
        or "\u1160" <= char <= "\u11ff"
        or char in composing_marks()
    )
