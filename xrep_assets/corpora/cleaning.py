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
UTF-8 bytes (``text/utf8.py``, with the character classes of ``text/chars.py``); no Python runs
per line except ``difflib`` on undecided numeral rows.

**Language identification** is fastText's ``lid.176.ftz`` (``text/langid.py``, where the choice
is argued); each distinct input of a batch is identified once. **De-duplication** keys are
``text/dedup.py``'s.

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
import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import polars as pl

from xrep_assets.corpora.readers import BITEXT_SCHEMA, TEXT_SIDES
from xrep_assets.errors import SettingError
from xrep_assets.study import LANGUAGES, CatalogError, Language
from xrep_assets.text.chars import ARABIC_BLOCK_BIT, PYTHON_WHITESPACE, SCRIPT_BITS, SPACE
from xrep_assets.text.dedup import SeenKeys, dedup_keys
from xrep_assets.text.langid import LanguageIdentifier, identified, language_id_input
from xrep_assets.text.utf8 import (
    Digits,
    Threads,
    Whitespace,
    chunked,
    compare_digits,
    letter_counts,
    long_words,
    nfkc_candidates_chunk,
    utf8_chunks,
    whitespace_counts,
)

OPUSFILTER_TERMINAL_PUNCTUATION = ".?!…"
DIFFLIB_AUTOJUNK_LENGTH = 200  # SequenceMatcher junks popular elements of a second sequence this long

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
            raise SettingError(f"length_unit must be one of {LENGTH_UNITS}, not {self.length_unit!r}")
        if self.batch_rows < 1 or self.n_jobs < 1:
            raise SettingError(f"batch_rows and n_jobs must be positive (got {self.batch_rows}, {self.n_jobs})")

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
    # The language-ID processes are forked first, before any thread or batch exists.
    with (
        LanguageIdentifier(params.n_jobs if params.language_id else 1) as identifier,
        Threads(params.n_jobs) as threads,
    ):
        for batch in input_batches(frame, params.batch_rows):
            kept, batch_removed = clean_batch(batch, params, seen, threads, identifier)
            del batch  # before the next batch is read, so that its memory can be reused
            for name, count in batch_removed.items():
                removed[name] += count
            yield kept


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
    batch: pl.DataFrame, params: CleaningParams, seen: SeenKeys, threads: Threads, identifier: LanguageIdentifier
) -> tuple[pl.DataFrame, dict[str, int]]:
    """Kept rows of one batch and filter name -> rows removed (see ``clean_bitext``).

    The filters run as a cascade: each stage sees only the rows that the earlier ones kept, so
    ``alive`` (row indices) and ``texts`` (their normalised texts) shrink as it goes."""
    texts = [normalised_text(batch.get_column(side), params, threads) for side, _ in TEXT_SIDES]
    reason = np.zeros(batch.height, dtype=np.int8)  # 0: kept, else 1 + index in FILTERS
    alive, texts = scored_rows(batch, texts, reason, params, threads)
    if params.language_id:
        languages = [batch.get_column(lang).gather(alive) for _, lang in TEXT_SIDES]
        wrong = wrong_languages(languages, texts, params, identifier)
        alive, texts = dropped(alive, texts, wrong, reason, "language_id")
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
    batch: pl.DataFrame, texts: list[pl.Series], reason: np.ndarray, params: CleaningParams, threads: Threads
) -> tuple[np.ndarray, list[pl.Series]]:
    """``scored_pair`` for each language pair of the batch: sets ``reason`` and returns the rows
    kept (ascending) with their texts."""
    pairs = language_pairs(batch)
    if len(pairs) == 1:  # one language pair per partition in practice: no rows to gather
        pair_reason, kept = scored_pair(*texts, *pairs[0], params, threads)
        reason[:] = pair_reason
        return np.flatnonzero(reason == 0), kept
    rows, kept_texts = [], []
    for lang_1, lang_2 in pairs:
        at = ((batch.get_column("lang_1") == lang_1) & (batch.get_column("lang_2") == lang_2)).arg_true()
        pair_reason, kept = scored_pair(texts[0].gather(at), texts[1].gather(at), lang_1, lang_2, params, threads)
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
    """The (lang_1, lang_2) pairs of the batch, in order; raises CatalogError for a language the
    study catalog does not have."""
    first = batch.row(0, named=True)
    columns = [batch.get_column(col) for col in ("lang_1", "lang_2")]
    if all(column.null_count() == 0 and (column == first[column.name]).all() for column in columns):
        pairs = [(first["lang_1"], first["lang_2"])]
    else:
        pairs = list(batch.select("lang_1", "lang_2").unique(maintain_order=True).iter_rows())
    unknown = sorted({str(code) for pair in pairs for code in pair if code not in LANGUAGES})
    if unknown:
        raise CatalogError(f"languages not in the study catalog: {', '.join(unknown)}")
    return pairs


def reason_code(name: str) -> int:
    return FILTERS.index(name) + 1


def mark(reason: np.ndarray, fails: np.ndarray, name: str) -> None:
    """Give ``name`` to the rows that fail it and no earlier filter removed."""
    reason[(reason == 0) & fails] = reason_code(name)


# --------------------------------------------------------------------------------------------------
# Normalisation


def normalised_text(texts: pl.Series, params: CleaningParams, threads: Threads) -> pl.Series:
    """Unicode normal form; whitespace collapsed to single spaces and stripped, or (OpusFilter)
    only trailing whitespace stripped, as Python's ``rstrip()`` does. Only the rows that can
    change are rewritten (ASCII is invariant under every normal form)."""
    texts = texts.fill_null("")
    if params.unicode_form:
        # Only texts with a character that NFKC may change (none is ASCII) are rewritten.
        changing = np.concatenate(chunked(nfkc_candidates_chunk, texts, threads) or [np.zeros(0, bool)])
        texts = rewritten(texts, pl.Series(changing), lambda t: t.str.normalize(params.unicode_form))  # type: ignore[arg-type]
    if params.collapse_whitespace:
        odd_space = r"[^\S ]|[\x1C-\x1F]|  |^ | $"
        return rewritten(texts, odd_space, lambda t: t.str.replace_all(SPACE + "+", " ").str.strip_chars(" "))
    return texts  # trailing whitespace: found by whitespace_counts, stripped in scored_pair


def rewritten(texts: pl.Series, needs: str | pl.Series, rewrite) -> pl.Series:
    at = (texts.str.contains(needs) if isinstance(needs, str) else needs).arg_true()
    if at.len() == 0:
        return texts
    return texts.scatter(at, rewrite(texts.gather(at)))


# --------------------------------------------------------------------------------------------------
# The vectorised filters


def scored_pair(
    text_1: pl.Series, text_2: pl.Series, lang_1: str, lang_2: str, params: CleaningParams, threads: Threads
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
    spacing = [side_whitespace(text, language, params, threads) for text, language in zip(texts, languages)]
    mark_lengths(reason, texts, languages, spacing, params)
    alive = np.flatnonzero(reason == 0)
    survivors = [survivor_texts(text, whitespace, alive) for text, whitespace in zip(texts, spacing)]
    stage = content_reasons(survivors, languages, params, threads)
    reason[alive] = stage
    keep = pl.Series(stage == 0)
    return reason, [text.filter(keep) for text, _ in survivors]


def side_whitespace(text: pl.Series, language: Language, params: CleaningParams, threads: Threads) -> Whitespace:
    """The whitespace measures one side needs: words, and whitespace characters for character
    lengths and for the alphabet ratio without whitespace."""
    spaces = params.alphabet_ratio_excludes_whitespace or not in_words(language, params)
    return whitespace_counts(text, threads, spaces=spaces)


def mark_lengths(
    reason: np.ndarray,
    texts: tuple[pl.Series, pl.Series],
    languages: tuple[Language, Language],
    spacing: list[Whitespace],
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
    text: pl.Series, whitespace: Whitespace, alive: np.ndarray
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
    threads: Threads,
) -> np.ndarray:
    """Reason codes of ``word_length`` to ``numerals`` for the rows that passed the length filters:
    one measure of letters, punctuation and digits per side serves the last four."""
    stage = np.zeros(survivors[0][0].len(), dtype=np.int8)
    if stage.size == 0:
        return stage
    chunks = [utf8_chunks(text) for text, _ in survivors]
    if params.max_word_length >= 0:
        fails = [
            long_words(text, side_chunks, params.max_word_length + 1, threads)
            for (text, _), side_chunks, language in zip(survivors, chunks, languages)
            if in_words(language, params)
        ]
        mark(stage, np.logical_or.reduce(fails) if fails else np.zeros(stage.size, bool), "word_length")
    letters = [
        letter_counts(
            side_chunks, script_bit(language, params), params.terminal_punctuation, params.arabic_indic_digits, threads
        )
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


def numerals_fail(digits_1: Digits, digits_2: Digits, stage: np.ndarray, threshold: float) -> np.ndarray:
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


def script_bit(language: Language, params: CleaningParams) -> int:
    """The class bit of the letters of the language's script (``text.chars.SCRIPT_BITS``; the Arabic
    blocks under ``arabic_script_by_block``)."""
    if language.script == "Arabic" and params.arabic_script_by_block:
        return ARABIC_BLOCK_BIT
    return SCRIPT_BITS[language.script]


# --------------------------------------------------------------------------------------------------
# Language identification and de-duplication


def wrong_languages(
    languages: list[pl.Series], texts: list[pl.Series], params: CleaningParams, identifier: LanguageIdentifier
) -> np.ndarray:
    """``language_id``: rows with a side identified as another language than its ``languages``
    entry (or with less than ``min_language_confidence``). Each distinct input is identified once."""
    if texts[0].len() == 0:
        return np.zeros(0, dtype=bool)
    inputs = pl.DataFrame(
        {"lang_1": languages[0], "lang_2": languages[1], "input_1": texts[0], "input_2": texts[1]}
    ).with_columns(language_id_input(pl.col("input_1")), language_id_input(pl.col("input_2")))
    distinct = pl.concat([inputs.get_column("input_1"), inputs.get_column("input_2")]).unique().rename("input")
    found = identified(distinct, identifier)
    wrong = np.zeros(inputs.height, dtype=bool)
    for i in (1, 2):
        side = inputs.join(found.rename({"input": f"input_{i}"}), on=f"input_{i}", how="left", maintain_order="left")
        fails = (pl.col("language") != pl.col(f"lang_{i}")) | (pl.col("confidence") < params.min_language_confidence)
        wrong |= side.select(fails).to_series().to_numpy()
    return wrong


def duplicates(texts: list[pl.Series], params: CleaningParams, seen: SeenKeys) -> np.ndarray:
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
