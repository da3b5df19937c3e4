"""The study's allocation of one corpus's cleaned bitexts to language pairs and splits, in polars.

``allocate`` takes the cleaned bitext of every language pair of one corpus and returns, per pair, a
training and a validation frame (``ALLOCATED_SCHEMA``: ``BITEXT_SCHEMA`` plus the row's ``unit``)
and counts of what each step did. ``monolingual_text`` derives the LM objectives' text from the
training frames; ``decontaminate``, ``contaminated_rows``, ``overlap``, ``reused_units`` and
``reused_sentences`` are what the asset checks count (each is 0 on ``allocate``'s output).

**Sentence identity** (``sentence_key``): NFKC, then ``text.dedup.dedup_key`` (lowercase; digits,
punctuation, symbols and whitespace removed), per language. Evaluation sentences become forbidden
keys with ``forbidden_keys``, which also keeps each text's plain ``dedup_key`` so that whatever
``xglue.contamination.contaminated_sentences`` would flag is removed here too.

**Units.** Rows are allocated in units that are never split between pairs or splits
(``unit_id``):

- corpora with document ids (OpenSubtitles): the *movie*, ``year/imdb id`` from the document path
  (``en/1191/3276470/6159145.xml.gz`` -> ``1191/3276470``). The path names the first language's
  subtitle file, so the language prefix and the subtitle id differ between pairs while the movie
  is the same: the movie is what several pairs share.
- corpora without (UNPC's Moses files) and rows without a document id: blocks of ``block_size``
  consecutive lines of the raw file, ``f"{pair}#{(line_no - 1) // block_size}"``. Blocks follow the
  raw line numbers, so changing a cleaning threshold does not move a line to another block.

**One seeded order.** Every unit gets ``seeded_hash(unit, seed)`` (blake2b of the seed and the
unit id: stable across machines, Python and polars versions, unlike ``pl.Expr.hash``), computed
over the distinct units only. Sorting units by it (ties by id) is a random permutation that every
step below reads; rows are ordered by (unit order, pair, line_no).

**Steps, in this order** (counted per pair in ``PairSplit.stats``, keys ``STAT_NAMES``):

0. *decontamination* (optional ``forbidden``): rows with an evaluation test sentence on either side
   are dropped first, so the cap below still equalises the pairs.
1. *documents*: a unit present in several pairs goes to exactly one. Shared units are taken in
   seeded order and each goes to the candidate pair holding the fewest rows so far (rows of its
   unshared units included; ties by a seeded hash of unit and pair). Because every pair is capped
   to the smallest, feeding the smallest pair is what keeps the most data after the cap.
2. *sentences*: no normalised sentence (``sentence_key`` per language) is used by two pairs. The
   rule is the sequential one: walk the rows in seeded order and keep a row unless one of its two
   sentences is already kept in *another* pair (repeats inside one pair are left to cleaning's
   deduplication). It is computed in rounds without a per-row loop: each round keeps the rows
   that precede every competing row of other pairs, then drops the rows of other pairs that share
   a sentence with a kept one; this gives exactly the sequential result (the lexicographically
   first maximal independent set), in O(log n) rounds for a random order. For multi-parallel
   corpora like UNPC, whose Moses files carry no document ids, this is the rule that matters: a
   6-way parallel sentence keeps three rows (a perfect matching of the six languages) rather than
   the 15 / 9 (about 1.7) that keeping a row only where its pair wins both of its sentences' votes
   keeps on average.
3. *validation*: per pair, the first units in seeded order, ``max(min_validation_units,
   round(n_units * validation_rate))`` of them, go to validation, the rest to training; never a
   pair's last unit, so a pair with one unit has no validation set (it would otherwise have no
   training data). Training rows repeating a validation row's normalised pair are then dropped, so
   ``overlap`` is 0 even for inputs that were not deduplicated.
4. *cap* (``cap_to_smallest``): every pair's training rows are cut to the smallest pair's training
   size, taking whole units in seeded order; the last unit taken is cut by rows (lines in order),
   since equal sizes are the point of the cap. Validation sets are not capped. A pair left empty
   (all its movies went to other pairs, as in the real OpenSubtitles samples, which subtitle one
   movie in four pairs) makes the cap 0: ``stats_frame`` shows where the rows went.

Training and validation frames come in seeded order: units shuffled, lines of a unit contiguous
and in file order (the LM objectives see documents whole).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import groupby

import polars as pl

from xrep_assets.corpora.readers import BITEXT_SCHEMA, TEXT_SIDES
from xrep_assets.errors import XrepError
from xrep_assets.study import Corpus, LanguagePair, corpus_named
from xrep_assets.text.dedup import dedup_key

UNIT = "unit"
ALLOCATED_SCHEMA: dict[str, pl.DataType] = {**BITEXT_SCHEMA, UNIT: pl.String()}
# ``allocate``'s working rows: the bitext, its pair, unit and the two sentence keys.
ROWS_SCHEMA: dict[str, pl.DataType] = {
    **BITEXT_SCHEMA, "pair": pl.String(), UNIT: pl.String(), "key_1": pl.String(), "key_2": pl.String()
}
FORBIDDEN_SCHEMA: dict[str, pl.DataType] = {"lang": pl.String(), "key": pl.String()}
MONOLINGUAL_SCHEMA: dict[str, pl.DataType] = {"lang": pl.String(), "text": pl.String()}
KEY_SIDES: tuple[tuple[str, str], ...] = (("key_1", "lang_1"), ("key_2", "lang_2"))
# ``year/imdb id`` just before the subtitle file name: ``en/1191/3276470/6159145.xml.gz``.
MOVIE_PATTERN = r"([^/]+/[^/]+)/[^/]+$"

STAT_NAMES: tuple[str, ...] = (
    "rows_in",
    "units_in",
    "rows_contaminated",  # step 0: a side is an evaluation test sentence
    "rows_to_other_pairs",  # step 1: rows of units given to another pair
    "units_to_other_pairs",
    "rows_sentence_reused",  # step 2: a sentence is kept in another pair
    "units_allocated",  # units with a row left after steps 0-2
    "validation_units",
    "validation_rows",
    "rows_repeating_validation",  # step 3: training rows equal to a validation pair
    "train_rows_uncapped",
    "train_units_uncapped",
    "rows_capped",  # step 4
    "train_rows",
    "train_units",
)


class AllocationError(XrepError):
    """The frames handed to the allocation do not fit it (pair keys, languages, columns)."""


@dataclass(frozen=True)
class AllocationParams:
    """Settings of ``allocate``.

    - ``seed``: the seeded order of units, hence every choice; same inputs and seed, same output.
    - ``block_size``: lines per unit where the corpus has no document ids (UNPC).
    - ``validation_rate``: share of each pair's units held out, ~1 in 2,000 as in the study.
    - ``min_validation_units``: held out at least, so small corpora still have a validation set.
    - ``cap_to_smallest``: cut every pair's training rows to the smallest pair's.
    """

    seed: int = 0
    block_size: int = 100
    validation_rate: float = 1 / 2000
    min_validation_units: int = 1
    cap_to_smallest: bool = True


@dataclass(frozen=True)
class PairSplit:
    """One pair's share: ``train`` and ``validation`` (``ALLOCATED_SCHEMA``) and its counts."""

    train: pl.DataFrame
    validation: pl.DataFrame
    stats: dict[str, int]


@dataclass(frozen=True)
class Allocation:
    """Pair key -> ``PairSplit`` for every pair given, and the training size all were cut to."""

    corpus: str
    params: AllocationParams
    splits: dict[str, PairSplit]
    cap: int | None  # None when ``cap_to_smallest`` is off
    rounds: int = 0  # rounds step 2 took (for the logs)

    def train(self) -> dict[str, pl.DataFrame]:
        return {key: split.train for key, split in self.splits.items()}

    def validation(self) -> dict[str, pl.DataFrame]:
        return {key: split.validation for key, split in self.splits.items()}

    def frames(self) -> dict[str, pl.DataFrame]:
        """Pair key -> training and validation rows together (what the reuse checks read)."""
        return {key: pl.concat([split.train, split.validation]) for key, split in self.splits.items()}

    def stats_frame(self) -> pl.DataFrame:
        """One row per pair: ``pair`` and the counts of ``STAT_NAMES``."""
        return pl.DataFrame(
            [{"pair": key, **split.stats} for key, split in self.splits.items()],
            schema={"pair": pl.String(), **{name: pl.Int64() for name in STAT_NAMES}},
        )


# --------------------------------------------------------------------------------------------------
# Units, keys and the seeded order


def unit_id(corpus: Corpus | str, pair: str, block_size: int = AllocationParams.block_size) -> pl.Expr:
    """The allocation unit of each row of one pair's bitext (see the module docstring)."""
    corpus = resolve_corpus(corpus)
    block = pl.format("{}#{}", pl.lit(pair), ((pl.col("line_no") - 1) // block_size).cast(pl.String))
    if not corpus.has_document_ids:
        return block.alias(UNIT)
    return pl.coalesce(movie_of(pl.col("doc_id")), block).alias(UNIT)


def movie_of(doc_id: pl.Expr) -> pl.Expr:
    """``year/imdb id`` of an OpenSubtitles document path; the path itself if it has no such form."""
    return pl.coalesce(doc_id.str.extract(MOVIE_PATTERN, 1), doc_id)


def sentence_key(text: pl.Expr) -> pl.Expr:
    """A sentence's identity for reuse and contamination: NFKC, then ``text.dedup.dedup_key``
    (lowercase, no digits, punctuation, symbols or whitespace), so tokenised OPUS text (``I 'm``)
    and untokenised task text (``I'm``) meet; NFKC makes raw and cleaned text meet too."""
    return dedup_key(text.str.normalize("NFKC"))


def seeded_hash(text: str, seed: int) -> int:
    """A 64-bit hash of ``text`` under ``seed``, the same on every machine and version."""
    digest = hashlib.blake2b(f"{seed}\x1f{text}".encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def unit_order(units: pl.Series, seed: int) -> pl.DataFrame:
    """``unit``, ``rank`` (UInt64) for the distinct units: the seeded order is (rank, unit)."""
    distinct = units.unique().sort().to_list()
    return pl.DataFrame(
        {UNIT: distinct, "rank": [seeded_hash(unit, seed) for unit in distinct]},
        schema={UNIT: pl.String(), "rank": pl.UInt64()},
    )


def resolve_corpus(corpus: Corpus | str) -> Corpus:
    return corpus if isinstance(corpus, Corpus) else corpus_named(corpus)


# --------------------------------------------------------------------------------------------------
# The allocation


def allocate(
    frames: Mapping[str, pl.DataFrame],
    corpus: Corpus | str,
    params: AllocationParams = AllocationParams(),
    forbidden: pl.DataFrame | None = None,
) -> Allocation:
    """Allocate the cleaned bitexts of one corpus (pair key -> ``BITEXT_SCHEMA`` frame) to pairs,
    validation and training (steps 0-4 of the module docstring). ``forbidden`` (``lang``, ``key``,
    see ``forbidden_keys``) drops rows with an evaluation test sentence before anything else."""
    corpus = resolve_corpus(corpus)
    if params.block_size < 1:
        raise AllocationError(f"block_size must be at least 1, got {params.block_size}")
    pairs = sorted(frames)
    prepared = [prepared_rows(frames[key], corpus, key, params.block_size) for key in pairs]
    rows = pl.concat([pl.DataFrame(schema=ROWS_SCHEMA), *prepared])
    stats = {key: dict.fromkeys(STAT_NAMES, 0) for key in pairs}
    count_into(stats, rows, "rows_in", "units_in")

    # 0. decontamination
    if forbidden is not None:
        contaminated = contamination_mask(rows, forbidden)
        count_into(stats, rows.filter(contaminated), "rows_contaminated")
        rows = rows.filter(~contaminated)

    # The seeded order: every row gets its unit's rank; (rank, unit, pair, line_no) is total.
    rows = rows.join(unit_order(rows.get_column(UNIT), params.seed), on=UNIT, how="left")

    # 1. documents shared by several pairs
    owners = owners_of_shared_units(rows, params.seed)
    given_away = rows.join(owners, on=UNIT, how="inner").filter(pl.col("pair") != pl.col("owner"))
    count_into(stats, given_away, "rows_to_other_pairs", "units_to_other_pairs")
    rows = rows.join(given_away.select("pair", UNIT).unique(), on=["pair", UNIT], how="anti")

    # 2. sentences used by several pairs
    rows = rows.sort("rank", UNIT, "pair", "line_no").with_row_index("priority")
    kept, rounds = rows_without_reuse(rows)
    count_into(stats, rows.join(kept.to_frame(), on="priority", how="anti"), "rows_sentence_reused")
    rows = rows.join(kept.to_frame(), on="priority", how="semi")
    count_into(stats, rows, None, "units_allocated")

    # 3. validation: the first units of each pair in seeded order
    held_out = validation_units(rows, params)
    validation = rows.join(held_out, on=["pair", UNIT], how="semi")
    train = rows.join(held_out, on=["pair", UNIT], how="anti")
    count_into(stats, validation, "validation_rows", "validation_units")
    held_out_pairs = validation.select("pair", "key_1", "key_2").unique()
    repeats = train.join(held_out_pairs, on=["pair", "key_1", "key_2"], how="semi")
    count_into(stats, repeats, "rows_repeating_validation")
    train = train.join(repeats.select("priority"), on="priority", how="anti")
    count_into(stats, train, "train_rows_uncapped", "train_units_uncapped")

    # 4. cap: whole units in seeded order, the last one cut by rows
    cap = None
    if params.cap_to_smallest:
        cap = min((stats[key]["train_rows_uncapped"] for key in pairs), default=0)
        train = train.sort("priority").filter(pl.int_range(pl.len()).over("pair") < cap)
    count_into(stats, train, "train_rows", "train_units")
    for key in pairs:
        stats[key]["rows_capped"] = stats[key]["train_rows_uncapped"] - stats[key]["train_rows"]

    splits = {
        key: PairSplit(
            train=allocated_frame(train, key),
            validation=allocated_frame(validation, key),
            stats=stats[key],
        )
        for key in pairs
    }
    return Allocation(corpus=corpus.key, params=params, splits=splits, cap=cap, rounds=rounds)


def prepared_rows(frame: pl.DataFrame, corpus: Corpus, key: str, block_size: int) -> pl.DataFrame:
    """One pair's rows in ``BITEXT_SCHEMA`` with ``pair``, ``unit`` and the two sentence keys."""
    pair = LanguagePair.parse(key)  # a CatalogError for a malformed key or an unknown language
    missing = [column for column in BITEXT_SCHEMA if column not in frame.columns]
    if missing:
        raise AllocationError(f"{corpus.key} {key}: the frame lacks column(s) {', '.join(missing)}")
    rows = frame.select(list(BITEXT_SCHEMA)).cast(BITEXT_SCHEMA)  # type: ignore[arg-type]
    for lang_col, expected in (("lang_1", pair.l1), ("lang_2", pair.l2)):
        wrong = rows.filter(pl.col(lang_col) != expected).head(1)
        if wrong.height:
            raise AllocationError(
                f"{corpus.key} {key}: line {wrong.item(0, 'line_no')} has {lang_col}="
                f"{wrong.item(0, lang_col)!r}, expected {expected!r}"
            )
    return rows.with_columns(
        pl.lit(key).alias("pair"),
        unit_id(corpus, key, block_size),
        *(sentence_key(pl.col(side)).alias(key_col) for (side, _), (key_col, _) in zip(TEXT_SIDES, KEY_SIDES)),
    )


def owners_of_shared_units(rows: pl.DataFrame, seed: int) -> pl.DataFrame:
    """``unit``, ``owner`` for the units present in several pairs (step 1).

    A loop over shared (unit, pair) entries, not over lines: a few per movie.
    """
    per_pair = rows.group_by(UNIT, "pair").agg(pl.len().alias("rows"), pl.col("rank").first())
    shared = per_pair.filter(pl.len().over(UNIT) > 1)
    load = dict(
        per_pair.filter(pl.len().over(UNIT) == 1).group_by("pair").agg(pl.col("rows").sum()).iter_rows()
    )
    owners: list[tuple[str, str]] = []
    entries = shared.sort("rank", UNIT, "pair").select(UNIT, "pair", "rows").iter_rows()
    for unit, candidates in groupby(entries, key=lambda entry: entry[0]):
        candidates = list(candidates)
        _, owner, rows_taken = min(
            candidates,
            key=lambda entry: (load.get(entry[1], 0), seeded_hash(f"{entry[0]}\x1f{entry[1]}", seed)),
        )
        load[owner] = load.get(owner, 0) + rows_taken
        owners.append((unit, owner))
    return pl.DataFrame(owners, schema={UNIT: pl.String(), "owner": pl.String()}, orient="row")


def rows_without_reuse(rows: pl.DataFrame) -> tuple[pl.Series, int]:
    """The ``priority`` of the rows step 2 keeps, and the number of rounds it took.

    ``rows`` carries ``priority`` (the seeded order), ``pair`` and the sentence keys. Only
    sentences that occur in several pairs take part, as integer ids; rows without one are kept
    outright.
    """
    pair_names = sorted(rows.get_column("pair").unique().to_list())
    pair_index = pl.col("pair").cast(pl.Enum(pair_names)).to_physical().alias("pair")
    sides = pl.concat(
        [
            rows.select("priority", pair_index, pl.col(lang_col).alias("lang"), pl.col(key_col).alias("key"))
            for key_col, lang_col in KEY_SIDES
        ]
    )
    # Sentence ids (integers, in no particular order) for the sentences of several pairs.
    alive = (
        sides.group_by("lang", "key")
        .agg(pl.col("pair").n_unique().alias("pairs"), "priority", "pair")
        .filter(pl.col("pairs") > 1)
        .with_row_index("sentence")
        .select("sentence", "priority", "pair")
        .explode("priority", "pair")
    )
    kept = [rows.join(alive.select("priority"), on="priority", how="anti").get_column("priority")]
    rounds = 0
    while alive.height:
        rounds += 1
        # Per sentence, the two best pairs: a side competes with the best row of the *other* pairs.
        best = (
            alive.group_by("sentence", "pair")
            .agg(pl.col("priority").min().alias("first"))
            .sort("first")
            .group_by("sentence")
            .agg(
                pl.col("pair").first().alias("best_pair"),
                pl.col("first").first().alias("best"),
                pl.col("first").slice(1, 1).first().alias("second"),
            )
        )
        rival = pl.when(pl.col("pair") == pl.col("best_pair")).then(pl.col("second")).otherwise(pl.col("best"))
        winners = (
            alive.join(best, on="sentence", how="left")
            .group_by("priority")
            .agg((rival.is_null() | (pl.col("priority") < rival)).all().alias("wins"))
            .filter(pl.col("wins"))
            .select("priority")
        )
        kept.append(winners.get_column("priority"))
        owned = (
            alive.join(winners, on="priority", how="semi")
            .select("sentence", pl.col("pair").alias("owner"))
            .unique()
        )
        losers = (
            alive.join(owned, on="sentence", how="inner")
            .filter(pl.col("pair") != pl.col("owner"))
            .select("priority")
            .unique()
        )
        alive = alive.join(winners, on="priority", how="anti").join(losers, on="priority", how="anti")
    return pl.concat(kept).sort(), rounds


def validation_units(rows: pl.DataFrame, params: AllocationParams) -> pl.DataFrame:
    """``pair``, ``unit`` of the units held out (step 3)."""
    units = rows.group_by("pair", UNIT).agg(pl.col("rank").first()).sort("pair", "rank", UNIT)
    counts = units.group_by("pair").agg(pl.len().alias("n"))
    wanted = {pair: validation_count(n, params) for pair, n in counts.iter_rows()}
    return units.filter(
        pl.int_range(pl.len()).over("pair")
        < pl.col("pair").replace_strict(wanted, default=0, return_dtype=pl.Int64)
    ).select("pair", UNIT)


def validation_count(n_units: int, params: AllocationParams) -> int:
    """``max(min_validation_units, round(n_units * validation_rate))``, never all of a pair's units."""
    if n_units < 2:
        return 0
    wanted = max(params.min_validation_units, math.floor(n_units * params.validation_rate + 0.5))
    return min(wanted, n_units - 1)


def count_into(
    stats: dict[str, dict[str, int]], rows: pl.DataFrame, rows_name: str | None, units_name: str | None = None
) -> None:
    """Add ``rows``' row and distinct-unit counts per pair to ``stats``."""
    counted = rows.group_by("pair").agg(pl.len().alias("rows"), pl.col(UNIT).n_unique().alias("units"))
    for pair, n_rows, n_units in counted.iter_rows():
        if rows_name:
            stats[pair][rows_name] += n_rows
        if units_name:
            stats[pair][units_name] += n_units


def allocated_frame(rows: pl.DataFrame, pair: str) -> pl.DataFrame:
    """One pair's rows in seeded order, in ``ALLOCATED_SCHEMA``."""
    return rows.filter(pl.col("pair") == pair).sort("priority").select(list(ALLOCATED_SCHEMA))


# --------------------------------------------------------------------------------------------------
# Outputs and checks


def monolingual_text(frames: Mapping[str, pl.DataFrame] | Iterable[pl.DataFrame]) -> pl.DataFrame:
    """``lang``, ``text``: both sides of the given bitexts (the training frames: the LM objectives
    see no validation text), each normalised sentence once per language, first occurrence kept,
    grouped by language in the order pairs (by key) and rows come."""
    if isinstance(frames, Mapping):
        frames = [frames[key] for key in sorted(frames)]
    stacked = [
        frame.select(pl.col(lang_col).alias("lang"), pl.col(side).alias("text"))
        for frame in frames
        for side, lang_col in TEXT_SIDES
    ]
    if not stacked:
        return pl.DataFrame(schema=MONOLINGUAL_SCHEMA)
    text = pl.concat(stacked).cast(MONOLINGUAL_SCHEMA)  # type: ignore[arg-type]
    first = pl.struct("lang", sentence_key(pl.col("text"))).is_first_distinct()
    return text.filter(first).sort("lang", maintain_order=True)


def empty_parts(rows: Mapping[tuple[str, str], int], lines: Mapping[str, int], pairs: Iterable[LanguagePair]) -> list[str]:
    """The parts of a study corpus that are empty, named (``en-fr validation``, ``fr monolingual``):
    ``rows`` counts each (pair key, split), ``lines`` each language's monolingual text. Every pair
    needs training and validation rows, and every language of the pairs needs text, across both
    corpora; one corpus alone may leave a pair empty (see *cap* above)."""
    pairs = list(pairs)
    languages = list(dict.fromkeys(lang for pair in pairs for lang in (pair.l1, pair.l2)))
    empty = [f"{pair.key} {split}" for pair in pairs for split in ("train", "validation") if not rows.get((pair.key, split))]
    return empty + [f"{lang} monolingual" for lang in languages if not lines.get(lang)]


def forbidden_keys(texts: pl.DataFrame) -> pl.DataFrame:
    """``lang``, ``key`` (distinct, sorted) of evaluation sentences given as ``lang``, ``text`` (e.g.
    ``xglue.contamination.evaluation_sentences``). Each text gives its ``sentence_key`` and,
    where NFKC changes it, its plain ``dedup_key`` too: what the evaluation side's
    ``contaminated_sentences`` compares is then removed as well."""
    lang, text = pl.col("lang").cast(pl.String), pl.col("text").cast(pl.String)
    return (
        pl.concat([
            texts.select(lang, sentence_key(text).alias("key")),
            texts.select(lang, dedup_key(text).alias("key")),
        ])
        .unique()
        .sort("lang", "key")
    )


def contamination_mask(frame: pl.DataFrame, forbidden: pl.DataFrame) -> pl.Series:
    """True for the rows with a forbidden sentence: either side of a bitext frame, or the text of a
    monolingual one (``lang``, ``text``). ``forbidden`` is ``lang``, ``key`` (``forbidden_keys``)."""
    missing = [column for column in FORBIDDEN_SCHEMA if column not in forbidden.columns]
    if missing:
        raise AllocationError(f"the forbidden sentences lack column(s) {', '.join(missing)}")
    wanted = forbidden.select(list(FORBIDDEN_SCHEMA)).cast(FORBIDDEN_SCHEMA).unique()  # type: ignore[arg-type]
    sides = [("text", "lang")] if {"lang", "text"} <= set(frame.columns) else list(TEXT_SIDES)
    indexed = frame.with_row_index("row")
    keys = pl.concat(
        [
            indexed.select("row", pl.col(lang_col).cast(pl.String).alias("lang"), to_key(pl.col(side)).alias("key"))
            for side, lang_col in sides
            for to_key in (sentence_key, dedup_key)
        ]
    )
    hits = keys.join(wanted, on=["lang", "key"], how="semi").get_column("row").unique()
    return indexed.select(pl.col("row").is_in(hits.implode()).alias("contaminated")).to_series()


def decontaminate(frame: pl.DataFrame, forbidden: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """``frame`` without its rows that contain a forbidden sentence, and how many were removed."""
    mask = contamination_mask(frame, forbidden)
    return frame.filter(~mask), int(mask.sum())


def overlap(train: pl.DataFrame, validation: pl.DataFrame) -> int:
    """Rows of ``validation`` whose unit, or whose normalised pair of sentences, is in ``train``."""
    keys = [sentence_key(pl.col(side)).alias(key_col) for (side, _), (key_col, _) in zip(TEXT_SIDES, KEY_SIDES)]
    held_out = validation.with_row_index("row").with_columns(keys)
    trained_pairs = train.select(keys).unique()
    same_unit = held_out.join(train.select(UNIT).unique(), on=UNIT, how="semi")
    same_pair = held_out.join(trained_pairs, on=["key_1", "key_2"], how="semi")
    return pl.concat([same_unit.get_column("row"), same_pair.get_column("row")]).n_unique()
