"""The study's allocation of one corpus's cleaned bitexts to language pairs and splits, in polars
and numpy.

``decide`` reads the cleaned bitext of every language pair of one corpus, batch by batch, and
returns ``Decisions``: per pair, which rows go to training and to validation, in which order, and
counts of what each step did. It holds no text: per input row the pair, the row's position, its
unit and two 64-bit sentence-key hashes (``WORK_SCHEMA``, 29 bytes), and in step 2 an entry of 13
bytes per row side; its steps copy one column at a time, never the frame, so the allocation's peak
grows by ~60 bytes per input row (``benchmarks/scale.py``); ``study_corpus.py`` then gathers the texts
pair by pair into ``ALLOCATED_SCHEMA`` frames (``BITEXT_SCHEMA`` plus the row's ``unit``; the tests'
``allocate`` does it for frames in memory). ``monolingual_firsts`` derives
which sentences make the LM objectives' text; ``overlap`` is what the validation check counts (the
tests' ``tests/allocation_reference.py`` holds the same rules on frames with texts).

**Sentence identity** (``sentence_key``): NFKC, then ``text.dedup.dedup_key`` (lowercase; digits,
punctuation, symbols and whitespace removed), per language. Evaluation sentences become forbidden
keys with ``forbidden_keys``, which also keeps each text's plain ``dedup_key`` so that whatever
``xglue.contamination.contaminated_sentences`` would flag is removed here too.

**Units.** Rows are allocated in units that are never split between pairs or splits (named by
``unit_names``):

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
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain, groupby

import numpy as np
import polars as pl

from xrep_assets.corpora.readers import BITEXT_SCHEMA, TEXT_SIDES
from xrep_assets.errors import XrepError
from xrep_assets.study import LANGUAGES, Corpus, LanguagePair, corpus_named
from xrep_assets.text.dedup import dedup_key

UNIT = "unit"
ALLOCATED_SCHEMA: dict[str, pl.DataType] = {**BITEXT_SCHEMA, UNIT: pl.String()}
# ``decide``'s working rows, no text: the pair (index), the row's position in its pair's input, its
# line, unit code, the two sentence keys' hashes and whether a side is an evaluation sentence.
DECISION_SCHEMA: dict[str, pl.DataType] = {
    "pair": pl.UInt8(), "pos": pl.UInt32(), "line_no": pl.Int64(), UNIT: pl.UInt64(),
    "key_1": pl.UInt64(), "key_2": pl.UInt64(), "contaminated": pl.Boolean(),
}
MOVIE_SCHEMA: dict[str, pl.DataType] = {UNIT: pl.UInt64(), "name": pl.String()}
# What ``decide`` keeps of them while it reads: the contaminated rows set aside, no line numbers
# (the rows come in file order, which ``check_file_order`` makes sure of).
WORK_SCHEMA: dict[str, pl.DataType] = {
    name: DECISION_SCHEMA[name] for name in ("pair", "pos", UNIT, "key_1", "key_2")
}
BLOCK_BIT = 1 << 63  # block units' codes have it; movies' hashes (shifted right by one) never do
MOVIE_SEED = 0x6D6F766965
NO_RIVAL = np.iinfo(np.uint32).max  # a priority no row has
NO_OWNER = 255  # a pair index no pair has (at most 255 pairs)
ENTRY_SLICE = 1 << 20  # step 2's entries per slice of a round: what bounds a round's working arrays
# Per-language seeds of the sentence keys' hashes: one language's key never meets another's.
LANGUAGE_SEEDS: dict[str, int] = {lang: 0x6B6579 + i for i, lang in enumerate(sorted(LANGUAGES))}
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
    """Settings of ``decide``.

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


# --------------------------------------------------------------------------------------------------
# Units, keys and the seeded order


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


@dataclass(frozen=True)
class Decisions:
    """What the allocation of one corpus decided, without a single text: per split, one row per
    allocated bitext row (``pair``: index into ``pairs``; ``pos``: the row's position in its pair's
    input; ``unit``: its unit's code, named in ``units``; ``key_1``, ``key_2``: its sentence keys),
    in seeded order (``priority``)."""

    corpus: str
    params: AllocationParams
    pairs: tuple[str, ...]
    train: pl.DataFrame
    validation: pl.DataFrame
    units: pl.DataFrame  # unit (UInt64 code) -> name (``unit_id``'s string), for the allocated rows
    stats: dict[str, dict[str, int]]
    cap: int | None
    rounds: int

    def selected(self, split: str, pair: str) -> pl.DataFrame:
        """``pos``, ``unit`` (the name) of one pair's rows of ``split``, in seeded order."""
        rows = getattr(self, split).filter(pl.col("pair") == self.pairs.index(pair)).sort("priority")
        return rows.join(self.units, on=UNIT, how="left", maintain_order="left").select("pos", pl.col("name").alias(UNIT))

    def stats_frame(self) -> pl.DataFrame:
        return stats_frame(self.stats)


def decide(
    batches: Mapping[str, Iterable[pl.DataFrame]],
    corpus: Corpus | str,
    params: AllocationParams = AllocationParams(),
    forbidden: pl.DataFrame | None = None,
) -> Decisions:
    """The allocation's decisions for one corpus, given each pair's bitext as ``BITEXT_SCHEMA``
    batches in file order (a parquet file read batch by batch): only ``WORK_SCHEMA`` rows are held,
    29 bytes per input row, never the texts (step 2 adds its entries, ``sentence_entries``)."""
    corpus = resolve_corpus(corpus)
    if params.block_size < 1:
        raise AllocationError(f"block_size must be at least 1, got {params.block_size}")
    pairs = tuple(sorted(batches))
    if len(pairs) > 255:
        raise AllocationError(f"{corpus.key}: {len(pairs)} pairs; the allocation takes at most 255")
    wanted = None if forbidden is None else forbidden_by_language(forbidden)
    parts, tainted, movies = [], [], []
    for index, key in enumerate(pairs):
        offset, last_line = 0, None
        for batch in batches[key]:
            rows, names = decision_rows(batch, corpus, key, index, offset, params.block_size, wanted)
            last_line = check_file_order(rows.get_column("line_no"), last_line, f"{corpus.key} {key}")
            parts.append(rows.filter(~pl.col("contaminated")).select("pair", "pos", UNIT, "key_1", "key_2"))
            tainted.append(rows.filter("contaminated").select("pair", UNIT))
            movies.append(names)
            offset += batch.height
    rows = pl.concat([pl.DataFrame(schema=WORK_SCHEMA), *parts], rechunk=False)
    tainted = pl.concat([pl.DataFrame(schema={"pair": pl.UInt8(), UNIT: pl.UInt64()}), *tainted])
    del parts

    # The seeded order: every unit's place among the units (by seeded hash, then name). From here on
    # a unit is its place (UInt32), and (unit, pair, pos) is the rows' total order.
    codes = pl.concat([rows.get_column(UNIT), tainted.get_column(UNIT)]).unique().sort()
    units = unit_names(codes, pairs, pl.concat([pl.DataFrame(schema=MOVIE_SCHEMA), *movies]))
    order = unit_order(units.get_column("name"), params.seed).sort("rank", UNIT).select(
        pl.col(UNIT).alias("name"), pl.int_range(pl.len(), dtype=pl.UInt32).alias("order")
    )
    units = units.join(order, on="name", how="left").sort(UNIT)
    place = units.get_column("order").to_numpy()
    sorted_codes = units.get_column(UNIT).to_numpy()
    rows = rows.with_columns(pl.Series(UNIT, place[np.searchsorted(sorted_codes, rows.get_column(UNIT).to_numpy())]))
    tainted = tainted.with_columns(pl.Series(UNIT, place[np.searchsorted(sorted_codes, tainted.get_column(UNIT).to_numpy())]))
    units = units.select(pl.col("order").alias(UNIT), "name").sort(UNIT)
    stats = {key: dict.fromkeys(STAT_NAMES, 0) for key in pairs}
    count_into(stats, pairs, pl.concat([rows.select("pair", UNIT), tainted]), "rows_in", "units_in")

    # 0. decontamination (the rows were set aside as they were read)
    count_into(stats, pairs, tainted, "rows_contaminated")
    del tainted

    # 1. documents shared by several pairs
    owners = owners_of_shared_units(rows, units, pairs, params.seed)
    if owners.height:
        owner_of_unit = np.full(units.height, NO_OWNER, dtype=np.uint8)
        owner_of_unit[owners.get_column(UNIT).to_numpy()] = owners.get_column("owner").to_numpy()
        owner = owner_of_unit[rows.get_column(UNIT).to_numpy()]
        given = (owner != NO_OWNER) & (owner != rows.get_column("pair").to_numpy())
        del owner
        count_into(stats, pairs, rows.filter(given), "rows_to_other_pairs", "units_to_other_pairs")
        rows = rows.filter(~given)
        del given

    # 2. sentences used by several pairs. From here the rows are numpy columns in seeded order, the
    # index being the priority: they are in (pair, pos) order, so a stable sort by unit gives (unit,
    # pair, pos); one column is copied at a time, not the frame.
    columns = {}
    for name in WORK_SCHEMA:
        columns[name] = rows.get_column(name).to_numpy()
        rows = rows.drop(name)
    order = np.argsort(columns[UNIT], kind="stable")
    for name in columns:
        columns[name] = columns[name][order]
    del order
    kept, rounds = rows_without_reuse(columns["pair"], columns["key_1"], columns["key_2"], pairs)
    count_into(stats, pairs, pl.DataFrame({"pair": columns["pair"][~kept], UNIT: columns[UNIT][~kept]}), "rows_sentence_reused")
    rows = pl.DataFrame({"priority": np.flatnonzero(kept).astype(np.uint32)})
    for name in list(columns):
        rows = rows.with_columns(pl.Series(name, columns.pop(name)[kept]))
    del kept
    count_into(stats, pairs, rows, None, "units_allocated")

    # 3. validation: the first units of each pair in seeded order
    held_out = validation_units(rows, params)
    validation = rows.join(held_out, on=["pair", UNIT], how="semi")
    train = rows.join(held_out, on=["pair", UNIT], how="anti")
    del rows
    count_into(stats, pairs, validation, "validation_rows", "validation_units")
    held_out_pairs = validation.select("pair", "key_1", "key_2").unique()
    repeats = train.join(held_out_pairs, on=["pair", "key_1", "key_2"], how="semi")
    count_into(stats, pairs, repeats, "rows_repeating_validation")
    train = train.join(repeats.select("priority"), on="priority", how="anti")
    count_into(stats, pairs, train, "train_rows_uncapped", "train_units_uncapped")

    # 4. cap: whole units in seeded order, the last one cut by rows
    cap = None
    if params.cap_to_smallest:
        cap = min((stats[key]["train_rows_uncapped"] for key in pairs), default=0)
        train = train.sort("priority").filter(pl.int_range(pl.len()).over("pair") < cap)
    count_into(stats, pairs, train, "train_rows", "train_units")
    for key in pairs:
        stats[key]["rows_capped"] = stats[key]["train_rows_uncapped"] - stats[key]["train_rows"]

    columns = ["pair", "priority", "pos", UNIT, "key_1", "key_2"]
    train, validation = train.select(columns).sort("priority"), validation.select(columns).sort("priority")
    kept_units = pl.concat([train.get_column(UNIT), validation.get_column(UNIT)]).unique().to_frame()
    units = units.join(kept_units, on=UNIT, how="semi").select(UNIT, "name")
    return Decisions(corpus.key, params, pairs, train, validation, units, stats, cap, rounds)


def decision_rows(
    batch: pl.DataFrame,
    corpus: Corpus,
    key: str,
    index: int,
    offset: int,
    block_size: int,
    forbidden: Mapping[str, pl.Series] | None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One batch of a pair's bitext as ``DECISION_SCHEMA`` rows (``pos`` counted from ``offset``),
    and the ``MOVIE_SCHEMA`` names of its movie units.

    Units are UInt64 codes: a block is ``BLOCK_BIT | pair index << 40 | block number`` (its name
    follows from the code); a movie is a hash of its name halved (named in the second frame). Sentence keys
    are 64-bit hashes of ``sentence_key`` seeded by the language, compared for equality only: two
    different sentences hashing alike (p ~ n^2 / 2^65, ~1e-5 for 2 x 10^7 sentences of one language)
    could only make the allocation drop a row it would have kept, never keep a reused sentence.
    """
    pair = LanguagePair.parse(key)  # a CatalogError for a malformed key or an unknown language
    missing = [column for column in BITEXT_SCHEMA if column not in batch.columns]
    if missing:
        raise AllocationError(f"{corpus.key} {key}: the frame lacks column(s) {', '.join(missing)}")
    rows = batch.select(list(BITEXT_SCHEMA)).cast(BITEXT_SCHEMA)  # type: ignore[arg-type]
    for lang_col, expected in (("lang_1", pair.l1), ("lang_2", pair.l2)):
        wrong = rows.filter(pl.col(lang_col) != expected).head(1)
        if wrong.height:
            raise AllocationError(
                f"{corpus.key} {key}: line {wrong.item(0, 'line_no')} has {lang_col}="
                f"{wrong.item(0, lang_col)!r}, expected {expected!r}"
            )
    block = pl.lit(BLOCK_BIT | index << 40, pl.UInt64) + ((pl.col("line_no") - 1) // block_size).cast(pl.UInt64)
    movie = movie_of(pl.col("doc_id")) if corpus.has_document_ids else pl.lit(None, pl.String)
    keys = {key_col: sentence_key(pl.col(side)) for (side, _), (key_col, _) in zip(TEXT_SIDES, KEY_SIDES)}
    contaminated = pl.lit(False)
    if forbidden is not None:
        for (side, _), lang in zip(TEXT_SIDES, (pair.l1, pair.l2)):
            if lang in forbidden:
                keys_of_lang = forbidden[lang].implode()
                contaminated = contaminated | sentence_key(pl.col(side)).is_in(keys_of_lang) | dedup_key(pl.col(side)).is_in(keys_of_lang)
    work = rows.select(
        pl.lit(index, pl.UInt8).alias("pair"),
        (pl.int_range(pl.len(), dtype=pl.UInt32) + offset).alias("pos"),
        "line_no",
        movie.alias("movie"),
        pl.when(movie.is_not_null()).then(movie.hash(MOVIE_SEED) // 2).otherwise(block).alias(UNIT),
        *(keys[key_col].hash(LANGUAGE_SEEDS[lang]).alias(key_col) for key_col, lang in zip(keys, (pair.l1, pair.l2))),
        contaminated.alias("contaminated"),
    )
    names = work.filter(pl.col("movie").is_not_null()).select(UNIT, pl.col("movie").alias("name")).unique()
    return work.select(list(DECISION_SCHEMA)), names


def check_file_order(lines: pl.Series, previous: int | None, where: str) -> int | None:
    """The last line number of a batch, after checking that the batch continues its pair's file in
    increasing line order (so that position order is line order)."""
    if not lines.len():
        return previous
    values = lines.to_numpy()
    steps = np.diff(values if previous is None else np.concatenate([[previous], values]))
    if (steps <= 0).any():
        at = int(np.flatnonzero(steps <= 0)[0]) + (0 if previous is None else -1)
        before = previous if at < 0 else int(values[at])
        raise AllocationError(
            f"{where}: line {int(values[at + 1])} comes after line {before}; the allocation reads each pair's rows in "
            "increasing line order, as the readers and the cleaning write them"
        )
    return int(values[-1])


def unit_names(units: pl.Series, pairs: Sequence[str], movies: pl.DataFrame) -> pl.DataFrame:
    """``unit`` (code), ``name`` of the distinct units: blocks named from their code, movies from
    ``movies``; two movie names hashing alike are refused (never merged)."""
    codes = units.unique().sort().to_frame()
    movies = movies.unique()
    if movies.get_column(UNIT).n_unique() != movies.height:
        raise AllocationError("two movie names of the corpus hash alike; allocate with another MOVIE_SEED")
    blocks = codes.filter(pl.col(UNIT) >= BLOCK_BIT).with_columns(
        pl.format(
            "{}#{}",
            ((pl.col(UNIT) - BLOCK_BIT) // (1 << 40)).cast(pl.Int64).replace_strict(dict(enumerate(pairs)), return_dtype=pl.String),
            (pl.col(UNIT) % (1 << 40)).cast(pl.String),
        ).alias("name")
    )
    return pl.concat([blocks, codes.join(movies, on=UNIT, how="inner")]).select(UNIT, "name")


def forbidden_by_language(forbidden: pl.DataFrame) -> dict[str, pl.Series]:
    """``forbidden`` (``lang``, ``key``) as each language's keys."""
    missing = [column for column in FORBIDDEN_SCHEMA if column not in forbidden.columns]
    if missing:
        raise AllocationError(f"the forbidden sentences lack column(s) {', '.join(missing)}")
    wanted = forbidden.select(list(FORBIDDEN_SCHEMA)).cast(FORBIDDEN_SCHEMA).unique()  # type: ignore[arg-type]
    return {str(lang): frame.get_column("key") for (lang,), frame in wanted.group_by("lang")}


def owners_of_shared_units(rows: pl.DataFrame, units: pl.DataFrame, pairs: Sequence[str], seed: int) -> pl.DataFrame:
    """``unit``, ``owner`` (pair index) for the units present in several pairs (step 1).

    A loop over shared (unit, pair) entries, not over lines: a few per movie.
    """
    per_pair = rows.group_by(UNIT, "pair").agg(pl.len().alias("rows"))
    shared = per_pair.filter(pl.len().over(UNIT) > 1).join(units.select(UNIT, "name"), on=UNIT, how="left")
    load = dict(
        per_pair.filter(pl.len().over(UNIT) == 1).group_by("pair").agg(pl.col("rows").sum()).iter_rows()
    )
    owners: list[tuple[int, int]] = []
    entries = shared.sort(UNIT, "pair").select(UNIT, "name", "pair", "rows").iter_rows()
    for unit, candidates in groupby(entries, key=lambda entry: entry[0]):
        candidates = list(candidates)
        _, _, owner, rows_taken = min(
            candidates,
            key=lambda entry: (load.get(entry[2], 0), seeded_hash(f"{entry[1]}\x1f{pairs[entry[2]]}", seed)),
        )
        load[owner] = load.get(owner, 0) + rows_taken
        owners.append((unit, owner))
    return pl.DataFrame(owners, schema={UNIT: pl.UInt32(), "owner": pl.UInt8()}, orient="row")


def rows_without_reuse(
    pair: np.ndarray, key_1: np.ndarray, key_2: np.ndarray, pairs: Sequence[str], slice_size: int = ENTRY_SLICE
) -> tuple[np.ndarray, int]:
    """Which rows step 2 keeps (a mask over the rows, which are in seeded order: a row's index is its
    priority), and the number of rounds it took.

    Only sentences that occur in several pairs take part, as *entries* (``sentence_entries``); rows
    without one are kept outright. Each round keeps the rows none of whose entries has a better
    (lower) priority in another pair of its sentence, then drops the rows of other pairs that share a
    sentence with a kept one. A round goes through the entries in slices of whole sentences of one
    language (``slice_size`` entries or so), so that beyond the entries and three flags per row its
    memory is bounded.
    """
    n = pair.size
    key, prio, owner, blocks = sentence_entries(pair, (key_1, key_2), pairs)
    kept = np.ones(n, dtype=bool)
    for lo, hi in blocks:
        kept[prio[lo:hi]] = False  # decided in the rounds
    decided = np.zeros(n, dtype=bool)
    beaten = np.zeros(n, dtype=bool)
    rounds = 0
    while any(hi > lo for lo, hi in blocks):
        rounds += 1
        beaten[:] = False
        slices = [list(sentence_slices(key, lo, hi, slice_size)) for lo, hi in blocks]
        for lo, hi in chain.from_iterable(slices):  # a row is beaten by a better entry of another pair
            k, p, q = key[lo:hi], prio[lo:hi], owner[lo:hi]
            starts, lengths = group_runs(k)
            best_pair = np.repeat(q[starts], lengths)  # entries are sorted by priority within a sentence
            best = np.repeat(p[starts], lengths)
            second = np.repeat(np.minimum.reduceat(np.where(q != best_pair, p, NO_RIVAL), starts), lengths)
            rival = np.where(q == best_pair, second, best)
            beaten[p[p >= rival]] = True
        for lo, hi in chain.from_iterable(slices):  # unbeaten rows are kept; their sentences' other pairs lose
            k, p, q = key[lo:hi], prio[lo:hi], owner[lo:hi]
            starts, lengths = group_runs(k)
            winning = ~beaten[p]
            kept[p[winning]] = True
            # A sentence with a winning entry is owned by that entry's pair (only one pair can win it).
            owned = np.repeat(np.maximum.reduceat(winning, starts), lengths)
            winner = np.repeat(np.maximum.reduceat(np.where(winning, q.astype(np.int16), -1), starts), lengths)
            decided[p[winning]] = True
            decided[p[owned & (q != winner)]] = True
        alive, blocks = 0, []  # the undecided entries move to the front, slice by slice, in place
        for language_slices in slices:
            start = alive
            for lo, hi in language_slices:
                undecided = ~decided[prio[lo:hi]]
                m = int(undecided.sum())
                for column in (key, prio, owner):
                    column[alive:alive + m] = column[lo:hi][undecided]
                alive += m
            blocks.append((start, alive))
    return kept, rounds


def sentence_entries(
    pair: np.ndarray, keys: tuple[np.ndarray, np.ndarray], pairs: Sequence[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[tuple[int, int]]]:
    """Step 2's entries: one per row side whose sentence occurs in several pairs, as ``key``,
    ``prio`` (the row's index) and ``owner`` (its pair), 13 bytes each, in one block per language
    (the ``(lo, hi)`` returned), sorted by (sentence, priority) within it. A key only meets keys of
    its own language, so the sort works one language at a time: its working memory is a language's
    share of the rows, not twice the rows."""
    languages = [(LanguagePair.parse(key).l1, LanguagePair.parse(key).l2) for key in pairs]
    # written from the front; the pages past the last entry are never touched
    key = np.empty(2 * pair.size, dtype=np.uint64)
    prio = np.empty(2 * pair.size, dtype=np.uint32)
    owner = np.empty(2 * pair.size, dtype=np.uint8)
    blocks, filled = [], 0
    for lang in sorted({lang for both in languages for lang in both}):
        side_of_pair = np.array([both.index(lang) + 1 if lang in both else 0 for both in languages], dtype=np.uint8)
        side = side_of_pair[pair]
        rows = np.flatnonzero(side)
        first = side[rows] == 1
        del side
        k = keys[1][rows]
        k[first] = keys[0][rows[first]]
        del first
        order = np.argsort(k, kind="stable")  # rows are in priority order: ties stay in it
        k, rows = k[order], rows[order]
        del order
        q = pair[rows]
        starts, lengths = group_runs(k)
        several = np.repeat(np.maximum.reduceat(q, starts) != np.minimum.reduceat(q, starts), lengths)
        m = int(several.sum())
        key[filled:filled + m], prio[filled:filled + m], owner[filled:filled + m] = k[several], rows[several], q[several]
        blocks.append((filled, filled + m))
        filled += m
    return key, prio, owner, blocks


def sentence_slices(key: np.ndarray, lo: int, hi: int, size: int) -> Iterator[tuple[int, int]]:
    """``key[lo:hi]`` (sorted) in slices of about ``size`` entries that never cut a run of equal keys."""
    while lo < hi:
        end = min(lo + size, hi)
        window = 1024
        while end < hi and key[end] == key[end - 1]:  # on to the end of the run at the slice's end
            different = np.flatnonzero(key[end:min(end + window, hi)] != key[end - 1])
            end = end + int(different[0]) if different.size else min(end + window, hi)
            window *= 2
        yield lo, end
        lo = end


def group_runs(sorted_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each run of equal values begins in a sorted array, and its length."""
    starts = np.flatnonzero(np.concatenate([[True], sorted_keys[1:] != sorted_keys[:-1]])) if sorted_keys.size else np.zeros(0, np.int64)
    return starts, np.diff(np.append(starts, sorted_keys.size))


def validation_units(rows: pl.DataFrame, params: AllocationParams) -> pl.DataFrame:
    """``pair``, ``unit`` of the units held out (step 3)."""
    units = rows.select("pair", UNIT).unique().sort("pair", UNIT)
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
    stats: dict[str, dict[str, int]],
    pairs: Sequence[str],
    rows: pl.DataFrame,
    rows_name: str | None,
    units_name: str | None = None,
) -> None:
    """Add ``rows``' row and distinct-unit counts per pair (an index into ``pairs``) to ``stats``."""
    counted = rows.group_by("pair").agg(pl.len().alias("rows"), pl.col(UNIT).n_unique().alias("units"))
    for pair, n_rows, n_units in counted.iter_rows():
        if rows_name:
            stats[pairs[pair]][rows_name] += n_rows
        if units_name:
            stats[pairs[pair]][units_name] += n_units


def stats_frame(stats: Mapping[str, Mapping[str, int]]) -> pl.DataFrame:
    """One row per pair: ``pair`` and the counts of ``STAT_NAMES``."""
    return pl.DataFrame(
        [{"pair": key, **counts} for key, counts in stats.items()],
        schema={"pair": pl.String(), **{name: pl.Int64() for name in STAT_NAMES}},
    )


# --------------------------------------------------------------------------------------------------
# Outputs and checks


def monolingual_firsts(decisions: Sequence[Decisions], pair_order: Sequence[str]) -> list[pl.DataFrame]:
    """``monolingual_text`` on decisions, without texts: per corpus, ``pair`` (its index), ``priority``,
    ``side`` (1 or 2) and ``first``, whether the side's sentence is the first occurrence of its
    normalised sentence in its language in the order ``monolingual_text`` reads the training rows
    (pairs in ``pair_order``, both corpora's rows of a pair in turn, each in seeded order)."""
    sides = []
    for index, d in enumerate(decisions):
        rank = {i: pair_order.index(key) for i, key in enumerate(d.pairs)}
        for side, (key_col, _) in enumerate(KEY_SIDES, start=1):
            sides.append(d.train.select(
                pl.col("pair").replace_strict(rank, return_dtype=pl.UInt16).alias("rank"),
                pl.lit(index, pl.UInt8).alias("corpus"),
                "pair", "priority", pl.lit(side, pl.UInt8).alias("side"), pl.col(key_col).alias("key"),
            ))
    ordered = pl.concat(sides).sort("rank", "corpus", "side", "priority")
    del sides
    firsts = ordered.select("corpus", "pair", "priority", "side", pl.col("key").is_first_distinct().alias("first"))
    return [firsts.filter(pl.col("corpus") == index).drop("corpus") for index in range(len(decisions))]


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


def overlap(train: pl.DataFrame | Iterable[pl.DataFrame], validation: pl.DataFrame) -> int:
    """Rows of ``validation`` whose unit, or whose normalised pair of sentences, is in ``train`` (a
    frame, or its batches: only the validation rows are held)."""
    keys = [sentence_key(pl.col(side)).alias(key_col) for (side, _), (key_col, _) in zip(TEXT_SIDES, KEY_SIDES)]
    held_out = validation.with_row_index("row").with_columns(keys)
    hits = [pl.Series("row", [], pl.UInt32)]
    for batch in [train] if isinstance(train, pl.DataFrame) else train:
        trained_pairs = batch.select(keys).unique()
        hits.append(held_out.join(batch.select(UNIT).unique(), on=UNIT, how="semi").get_column("row"))
        hits.append(held_out.join(trained_pairs, on=["key_1", "key_2"], how="semi").get_column("row"))
    return pl.concat(hits).n_unique()
