"""Rule-based cleaning of bitexts, in the manner of OpusFilter, as polars expressions.

``clean_bitext`` normalises both sides, then applies these filters in this fixed order; a row is
counted at the first filter that removes it:

1. ``empty``: a side is empty after normalisation;
2. ``length``: a side is shorter than ``min_length`` or longer than its maximum (words for
   space-delimited languages, non-space characters for the others);
3. ``length_ratio``: longer side / shorter side >= ``max_length_ratio`` (in word equivalents);
4. ``word_length``: a word of a space-delimited side is longer than ``max_word_length``;
5. ``script``: a side's share of letters in its language's script is below ``min_script_ratio``;
6. ``duplicate``: the pair repeats an earlier kept pair, exactly or after normalisation.

Not in this slice (a later issue): language identification, terminal punctuation and numeral
filters, and the study's allocation of documents to splits.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from xrep_assets.corpora.readers import BITEXT_SCHEMA
from xrep_assets.study import LANGUAGES

# Letters of each script in the catalog, as Rust-regex classes (polars' regex engine).
# Arabic: the Arabic, Arabic Supplement and both presentation-form blocks; the base block includes
# the harakat (U+064B-0652), which Unicode puts in the "Inherited" script.
SCRIPT_LETTERS: dict[str, str] = {
    "Arabic": r"[\x{0600}-\x{06FF}\x{0750}-\x{077F}\x{FB50}-\x{FDFF}\x{FE70}-\x{FEFF}]",
    "Han": r"\p{Han}",
    "Latin": r"\p{Latin}",
    "Cyrillic": r"\p{Cyrillic}",
    "Greek": r"\p{Greek}",
    "Devanagari": r"\p{Devanagari}",
    "Thai": r"\p{Thai}",
}
LETTER = r"\p{Alphabetic}"  # the denominator of the script ratio, as OpusFilter's CharacterScoreFilter
# Stripped for the normalised duplicate key: digits, punctuation, symbols, whitespace.
DEDUP_STRIPPED = r"[\p{N}\p{P}\p{S}\s]+"

FILTERS: tuple[str, ...] = ("empty", "length", "length_ratio", "word_length", "script", "duplicate")
TEXT_SIDES: tuple[tuple[str, str], ...] = (("text_1", "lang_1"), ("text_2", "lang_2"))


@dataclass(frozen=True)
class CleaningParams:
    """Thresholds of ``clean_bitext``; defaults follow OpusFilter's where it has one.

    - ``unicode_form``: NFKC, the normalisation of XLM-R's and mBART's SentencePiece models
      (``nmt_nfkc``); it folds Arabic presentation-form ligatures (U+FEF5-FEFC) into letters and
      full-width punctuation into ASCII. None skips it.
    - ``min_length``, ``max_length``: OpusFilter ``LengthFilter`` defaults (1, 100 words).
    - ``max_length_chars``: the character limit for languages written without spaces (Chinese);
      150 = ``max_length`` x ``chars_per_word``.
    - ``chars_per_word``: Chinese characters per English-like word, ~1.5 (segmented Chinese words
      average 1.5-1.7 characters); converts character counts to word equivalents for the ratio.
    - ``max_length_ratio``: OpusFilter ``LengthRatioFilter`` default threshold (3, exclusive).
    - ``max_word_length``: OpusFilter ``LongWordFilter`` threshold (40). Here it is the longest
      word kept (inclusive); it applies to space-delimited sides only, since an unsegmented
      Chinese sentence is one "word".
    - ``min_script_ratio``: OpusFilter ``CharacterScoreFilter`` ratio (letters in the language's
      script / all letters; 1.0 for a side without letters). 0.5 rather than its default 1.0, so a
      stray Latin letter in a Cyrillic word or an acronym in Arabic text is kept.
    - ``dedup``: drop exact pair duplicates and duplicates after normalisation (OpusFilter's
      ``RemoveDuplicates`` with ``lowercase`` and ``letters_only``).
    """

    unicode_form: str | None = "NFKC"
    min_length: int = 1
    max_length: int = 100
    max_length_chars: int = 150
    chars_per_word: float = 1.5
    max_length_ratio: float = 3.0
    max_word_length: int = 40
    min_script_ratio: float = 0.5
    dedup: bool = True


def clean_bitext(
    frame: pl.DataFrame | pl.LazyFrame, params: CleaningParams = CleaningParams()
) -> tuple[pl.DataFrame, dict[str, int]]:
    """Normalise and filter a bitext frame (``BITEXT_SCHEMA``).

    Returns the kept rows (normalised text, same schema and order) and filter name -> rows removed
    by it, in the order of ``FILTERS`` (every filter listed, 0 where it removed nothing).
    """
    lazy = frame.lazy().select(list(BITEXT_SCHEMA)).cast(BITEXT_SCHEMA)
    languages = languages_in(lazy)
    lazy = lazy.with_columns(normalised_text(pl.col(side), params).alias(side) for side, _ in TEXT_SIDES)
    lazy = lazy.with_columns(
        measure
        for side, lang_col in TEXT_SIDES
        for measure in side_measures(side, lang_col, languages, params)
    )
    lazy = lazy.with_columns(removal_reason(params).alias("removed_by"))
    if params.dedup:
        lazy = lazy.with_columns(
            pl.when(pl.col("removed_by").is_null() & is_repeated_pair())
            .then(pl.lit("duplicate"))
            .otherwise(pl.col("removed_by"))
            .alias("removed_by")
        )
    scored = lazy.collect()
    removed = scored.get_column("removed_by").value_counts()
    counts = dict(zip(removed.get_column("removed_by").to_list(), removed.get_column("count").to_list()))
    kept = scored.filter(pl.col("removed_by").is_null()).select(list(BITEXT_SCHEMA))
    return kept, {name: counts.get(name, 0) for name in FILTERS}


def monolingual_frame(cleaned: pl.DataFrame) -> pl.DataFrame:
    """Both sides of a cleaned bitext stacked as ``lang``, ``text`` (for the LM objectives)."""
    return pl.concat(
        [
            cleaned.select(pl.col(lang_col).alias("lang"), pl.col(side).alias("text"))
            for side, lang_col in TEXT_SIDES
        ]
    )


# --------------------------------------------------------------------------------------------------
# Measures


def languages_in(lazy: pl.LazyFrame) -> list[str]:
    """The languages of either side (a handful; the per-language expressions branch on them)."""
    found = lazy.select(pl.concat([pl.col("lang_1"), pl.col("lang_2")]).unique()).collect()
    codes = sorted(code for code in found.to_series().to_list() if code is not None)
    unknown = [code for code in codes if code not in LANGUAGES]
    if unknown:
        raise ValueError(f"languages not in the study catalog: {', '.join(unknown)}")
    return codes


def normalised_text(text: pl.Expr, params: CleaningParams) -> pl.Expr:
    """Unicode normal form, runs of whitespace as one space, no leading/trailing space."""
    if params.unicode_form:
        text = text.str.normalize(params.unicode_form)  # type: ignore[arg-type]
    return text.str.replace_all(r"\s+", " ").str.strip_chars().fill_null("")


def side_measures(side: str, lang_col: str, languages: list[str], params: CleaningParams) -> list[pl.Expr]:
    """One side's measures: length and its limit, word-equivalent length, longest word, script ratio."""
    text, lang = pl.col(side), pl.col(lang_col)
    spaced = lang.is_in([code for code in languages if LANGUAGES[code].space_delimited])
    words = text.str.count_matches(r"\S+")
    # OpenSubtitles' Chinese is word-segmented: count characters, not the spaces between words.
    characters = text.str.count_matches(r"\S")
    longest_word = text.str.extract_all(r"\S+").list.eval(pl.element().str.len_chars()).list.max()
    return [
        pl.when(spaced).then(words).otherwise(characters).alias(f"{side}_length"),
        pl.when(spaced)
        .then(params.max_length)
        .otherwise(params.max_length_chars)
        .alias(f"{side}_max_length"),
        pl.when(spaced).then(words).otherwise(characters / params.chars_per_word).alias(f"{side}_words"),
        pl.when(spaced).then(longest_word.fill_null(0)).otherwise(0).alias(f"{side}_longest_word"),
        script_ratio(text, lang, languages).alias(f"{side}_script"),
    ]


def script_ratio(text: pl.Expr, lang: pl.Expr, languages: list[str]) -> pl.Expr:
    """Letters in the row's language's script / all letters; 1.0 without letters (OpusFilter)."""
    letters = text.str.count_matches(LETTER)
    in_script = pl.lit(0, dtype=pl.UInt32)
    for script in sorted({LANGUAGES[code].script for code in languages}):
        codes = [code for code in languages if LANGUAGES[code].script == script]
        in_this_script = text.str.count_matches(SCRIPT_LETTERS[script])
        in_script = pl.when(lang.is_in(codes)).then(in_this_script).otherwise(in_script)
    return pl.when(letters == 0).then(1.0).otherwise(in_script / letters)


def removal_reason(params: CleaningParams) -> pl.Expr:
    """The first filter (before deduplication) that removes the row, or null if it is kept."""
    sides = ("text_1", "text_2")

    def either(condition) -> pl.Expr:
        return pl.any_horizontal(condition(side) for side in sides)

    out_of_range = either(
        lambda s: (pl.col(f"{s}_length") < params.min_length)
        | (pl.col(f"{s}_length") > pl.col(f"{s}_max_length"))
    )
    longer = pl.max_horizontal(pl.col(f"{s}_words") for s in sides)
    shorter = pl.min_horizontal(pl.col(f"{s}_words") for s in sides)
    checks = [
        ("empty", either(lambda s: pl.col(s) == "")),
        ("length", out_of_range),
        ("length_ratio", longer / shorter >= params.max_length_ratio),
        ("word_length", either(lambda s: pl.col(f"{s}_longest_word") > params.max_word_length)),
        ("script", either(lambda s: pl.col(f"{s}_script") < params.min_script_ratio)),
    ]
    reason = pl.lit(None, dtype=pl.String)
    for name, fails in reversed(checks):
        reason = pl.when(fails).then(pl.lit(name)).otherwise(reason)
    return reason


def is_repeated_pair() -> pl.Expr:
    """True for a pair equal to an earlier candidate after lowercasing and stripping digits,
    punctuation, symbols and whitespace (so ``Hurry up !`` repeats ``hurry up!``).

    Only rows no other filter removed take part: a removed row cannot hide a later good one.
    A side with nothing left after stripping keeps its exact text as key, so ``3 .`` and ``4 .``
    stay distinct.
    """
    candidate = pl.col("removed_by").is_null()
    keys = [dedup_key(pl.col(side)).alias(side) for side in ("text_1", "text_2")]
    key = pl.when(candidate).then(pl.struct(keys))
    return ~key.is_first_distinct()


def dedup_key(text: pl.Expr) -> pl.Expr:
    stripped = text.str.to_lowercase().str.replace_all(DEDUP_STRIPPED, "")
    return pl.when(stripped == "").then(text).otherwise(stripped)
