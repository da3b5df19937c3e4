"""The data path at the study's scale (issue 17): a generated multi-parallel corpus at growing sizes
through cleaning -> allocation (with the monolingual text) -> tokenizer, each step in fresh
processes. Per size and step: wall time, peak memory, rows/s and peak bytes per input row; per step
the fitted growth exponents against the targets; then the extrapolation to the full study on a
32-core, 128 GiB node. Sizes count input rows per corpus, summed over its 15 pairs.

    python benchmarks/scale.py                                          # 1M, 4M, 16M rows, both corpora
    python benchmarks/scale.py --rows 1000000 --corpus unpc --json scale.json
    python benchmarks/scale.py --keep /tmp/scale                        # keep corpora and outputs there
    python benchmarks/scale.py --corpus unpc --steps allocation,tokenizer  # without the cleaning

Without ``cleaning`` in ``--steps``, the generated bitexts stand in for the cleaned ones (cleaning
would remove ~5% of them): a quicker measure of the steps after it, whose figures then count the
generated rows.

The corpora are written as `raw_bitext` would (``corpora/raw/<corpus>/<pair>.parquet`` in
``BITEXT_SCHEMA``) under a fresh artifact root per size, from word (Chinese: character)
frequencies of the packaged fixture corpora, so that the `study` cleaning's language ID keeps them
(measured and printed). Generation is seeded and not timed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from xrep_assets.artifacts import ArtifactFolder
from xrep_assets.corpora.allocation import AllocationParams
from xrep_assets.corpora.cleaning import CleaningParams, clean_bitext_batches
from xrep_assets.corpora.layout import clean_bitext_parts, raw_bitext_parts
from xrep_assets.corpora.readers import BITEXT_SCHEMA, read_moses_zip
from xrep_assets.corpora.spec import AllocateSpec
from xrep_assets.execution.launchers import WORKER_ENV
from xrep_assets.execution.pods import ALLOCATE_WORKER, TOKENIZE_WORKER, step_resources
from xrep_assets.fixtures import OPUS_MIRROR, XGLUE_DIR
from xrep_assets.profiles import PROFILES
from xrep_assets.study import (
    CORPORA,
    ENGLISH_PAIRS,
    LANGUAGE_PAIRS,
    LANGUAGES,
    PRETRAINING_LANGUAGES,
    LanguagePair,
)
from xrep_assets.text.langid import identify_languages
from xrep_assets.tokenizers.spec import TokenizeSpec

STEPS = ("cleaning", "allocation", "tokenizer")
# Targets of issue 17.
TARGET_TIME_EXPONENT = 1.1
TARGET_FLAT_MEMORY_EXPONENT = 0.1  # cleaning and tokenizer: memory independent of the corpus size
TARGET_ALLOCATION_BYTES_PER_ROW = 100.0  # marginal: (peak at largest - peak at smallest) / rows added
TARGET_LANGID_KEPT = 0.9
# The full study (k8s/README.md): 2 corpora x 15 pairs of ~25M pairs each, on one node.
STUDY_PARTITION_ROWS = 25_000_000
STUDY_CORPUS_ROWS = STUDY_PARTITION_ROWS * len(LANGUAGE_PAIRS)
NODE_CORES = 32
NODE_MEMORY = 128 * 2**30
# Disk per input row while one size runs (raw, cleaned, study folder, tokenizer): 246 B measured at
# 1M rows of both corpora; checked, with headroom, against the free space before generating.
DISK_BYTES_PER_ROW = 400

# The tokenizer's sample cap here: below the monolingual text of the smallest default size (~580k
# sentences at 1M rows per corpus), so that the sizes measure what grows beyond the sample. The
# paper's cap (10M) binds only from ~35M input rows; sentencepiece's cost at it does not depend on
# the corpus size, and is not measured here.
BENCHMARK_SAMPLE_SENTENCES = 200_000
GENERATED_ROW_GROUP = 100_000
REPO = Path(__file__).resolve().parents[1]

# --------------------------------------------------------------------------------------------------
# Vocabularies from the packaged fixture corpora


@dataclass(frozen=True)
class Vocabulary:
    """One language's tokens with their frequencies, and how sentences are glued."""

    tokens: list[str]
    weights: np.ndarray  # probabilities, summing to 1
    separator: str  # between tokens: " ", or "" for Chinese
    end: str  # the last token of every sentence


WORD = re.compile(r"^[^\W\d_][^\W\d_'’-]*(?:['’-][^\W\d_]+)*$")
EDGE_PUNCTUATION = ".,;:!?¿¡«»\"()[]…،؟。，！？；：、"


def vocabularies() -> dict[str, Vocabulary]:
    """Token frequencies per language from every fixture Moses zip (both corpora, all pairs), over
    the lines fastText identifies as the expected language (the fixtures' noise lines left out).
    Chinese: the words of the fixture POS files (segmented text), since strings of characters drawn
    one by one read to fastText as other languages (~12% of long ones)."""
    lines: dict[str, list[str]] = {lang: [] for lang in PRETRAINING_LANGUAGES}
    for corpus in CORPORA.values():
        for pair in LANGUAGE_PAIRS:
            a, b = corpus.opus_pair(pair)
            path = OPUS_MIRROR / corpus.opus_name / corpus.version / "moses" / f"{a}-{b}.txt.zip"
            for record in read_moses_zip(path, corpus, pair):
                lines[pair.l1].append(record["text_1"])
                lines[pair.l2].append(record["text_2"])
    result = {}
    for lang, texts in lines.items():
        counts: Counter[str] = Counter()
        if LANGUAGES[lang].space_delimited:
            texts = sorted(set(texts))
            kept = [text for text, found in zip(texts, identify_languages(texts)) if found == lang]
            for text in kept:
                counts.update(w for w in (t.strip(EDGE_PUNCTUATION) for t in text.split()) if WORD.match(w))
        else:
            for path in sorted((XGLUE_DIR / "POS").glob(f"{lang}.*")):
                rows = (line.split(" ") for line in path.read_text(encoding="utf-8").splitlines() if line)
                counts.update(word for word, tag in rows if tag not in ("PUNCT", "NUM", "SYM"))
        tokens = sorted(counts)
        weights = np.array([counts[t] for t in tokens], dtype=np.float64)
        separator = " " if LANGUAGES[lang].space_delimited else ""
        result[lang] = Vocabulary(tokens, weights / weights.sum(), separator, "。" if lang == "zh" else ".")
    return result


class SentenceMaker:
    """Sentences of given token counts from one vocabulary, built as bytes with numpy: token
    ``i`` is its entry's bytes (token + separator), and every sentence ends with the end entry."""

    def __init__(self, vocabulary: Vocabulary) -> None:
        entries = [(t + vocabulary.separator).encode() for t in vocabulary.tokens] + [vocabulary.end.encode()]
        self.end_id = len(entries) - 1
        self.weights = vocabulary.weights
        self.lengths = np.array([len(e) for e in entries], dtype=np.int64)
        self.starts = np.concatenate([[0], np.cumsum(self.lengths)[:-1]])
        self.buffer = np.frombuffer(b"".join(entries), dtype=np.uint8)

    def sentences(self, token_counts: np.ndarray, rng: np.random.Generator) -> pa.Array:
        per_sentence = token_counts + 1  # the end entry
        ends = np.cumsum(per_sentence) - 1
        tokens = rng.choice(self.end_id, size=int(per_sentence.sum()), p=self.weights)
        tokens[ends] = self.end_id
        token_bytes = self.lengths[tokens]
        token_offsets = np.concatenate([[0], np.cumsum(token_bytes)])
        # Byte j of the output comes from its token's entry, at j minus the token's output offset.
        source = np.repeat(self.starts[tokens] - token_offsets[:-1], token_bytes) + np.arange(token_offsets[-1])
        data = self.buffer[source]
        offsets = np.concatenate([[0], token_offsets[ends + 1]]).astype(np.int64)
        return pa.LargeStringArray.from_buffers(len(token_counts), pa.py_buffer(offsets), pa.py_buffer(data))


# --------------------------------------------------------------------------------------------------
# The generated corpora


@dataclass(frozen=True)
class Shape:
    """What one corpus looks like: sentence lengths in words, how often a pair holds a sentence (UNPC)
    or a movie (OpenSubtitles), and its header lines."""

    mean_words: float
    word_sigma: float
    max_words: int
    pair_share: float  # UNPC: of the sentences in each pair; OpenSubtitles: of the movies
    line_share: float  # OpenSubtitles: of a movie's lines that a pair's alignment keeps
    headers: tuple[str, ...]


SHAPES = {
    "unpc": Shape(27, 0.45, 90, 0.9, 1.0, ("Distr . GENERAL", "GE.97-12345 ( E )", "A/RES/55/2", "page 3")),
    "opensubtitles": Shape(8, 0.55, 40, 0.5, 0.95, ("♪", "...", "-", "♪ ♪")),
}
ZH_MAX_WORDS = 55
MOVIE_LINES = (300, 900)  # lines per movie, uniform
# Noise per pair, shares of rows: copies of an earlier row, copies with the first side upper-cased
# (a duplicate after normalisation), the second side left in the first language, a header line.
NOISE = {"exact": 0.02, "near": 0.01, "wrong_language": 0.01, "header": 0.005}
SENTENCES_PER_CHUNK = 40_000


def token_counts(words: np.ndarray, lang: str, shape: Shape, rng: np.random.Generator) -> np.ndarray:
    """A sentence's length in ``lang``, in words: its base length, +-10% per language (Chinese
    words of ~2.5 characters kept under the cleaning's 150-character limit)."""
    jitter = rng.uniform(0.9, 1.1, size=words.shape)
    longest = shape.max_words if LANGUAGES[lang].space_delimited else ZH_MAX_WORDS
    return np.clip(np.rint(words * jitter), 1, longest).astype(np.int64)


def base_lengths(n: int, shape: Shape, rng: np.random.Generator) -> np.ndarray:
    mu = math.log(shape.mean_words) - shape.word_sigma**2 / 2  # lognormal with that mean
    return np.clip(rng.lognormal(mu, shape.word_sigma, size=n), 1, shape.max_words)


def parallel_texts(
    n: int, shape: Shape, makers: dict[str, SentenceMaker], rng: np.random.Generator
) -> dict[str, pa.Array]:
    """``n`` sentences in all six languages (sentence ``i`` of every language translates the others)."""
    words = base_lengths(n, shape, rng)
    return {lang: maker.sentences(token_counts(words, lang, shape, rng), rng) for lang, maker in makers.items()}


def chunks(
    corpus: str, rows: int, n_pairs: int, rng: np.random.Generator
) -> Iterator[tuple[int, np.ndarray, np.ndarray | None]]:
    """Chunks of the corpus's sentences: (sentences, pair membership [pairs x sentences], movie of
    each sentence or None). UNPC: a pair holds each sentence with ``pair_share``, in file order.
    OpenSubtitles: movies of ``MOVIE_LINES`` lines; a pair holds a movie with ``pair_share`` and
    each of its lines with ``line_share``."""
    shape = SHAPES[corpus]
    per_sentence = n_pairs * shape.pair_share * shape.line_share
    total = max(1, math.ceil(rows / per_sentence))
    done, movie = 0, 0
    while done < total:
        if corpus == "unpc":
            n = min(SENTENCES_PER_CHUNK, total - done)
            yield n, rng.random((n_pairs, n)) < shape.pair_share, None
        else:
            lengths = []
            while sum(lengths) < min(SENTENCES_PER_CHUNK, total - done):
                lengths.append(int(rng.integers(*MOVIE_LINES)))
            n = sum(lengths)
            movies = np.repeat(np.arange(movie, movie + len(lengths)), lengths)
            in_pair = rng.random((n_pairs, len(lengths))) < shape.pair_share
            members = in_pair[:, movies - movie] & (rng.random((n_pairs, n)) < shape.line_share)
            movie += len(lengths)
            yield n, members, movies
        done += n


def with_noise(frame: pl.DataFrame, shape: Shape, rng: np.random.Generator) -> pl.DataFrame:
    """``frame`` with ``NOISE`` applied: exact and near duplicates, wrong-language and header lines."""
    n = frame.height
    u = rng.random(n)
    cuts = np.cumsum(list(NOISE.values()))
    position = np.arange(n)
    copied = (u < cuts[1]) & (position > 0)
    source = position.copy()
    source[copied] = (rng.random(int(copied.sum())) * position[copied]).astype(np.int64)
    near = pl.Series((u >= cuts[0]) & (u < cuts[1]) & copied)
    wrong = pl.Series((u >= cuts[1]) & (u < cuts[2]))
    header = pl.Series((u >= cuts[2]) & (u < cuts[3]))
    headers = pl.Series(np.array(shape.headers, dtype=object)[rng.integers(len(shape.headers), size=n)], dtype=pl.String)
    text_1, text_2 = (frame.get_column(side).gather(source) for side in ("text_1", "text_2"))
    return frame.with_columns(
        text_1=pl.when(header).then(headers).when(near).then(text_1.str.to_uppercase()).otherwise(text_1),
        text_2=pl.when(header).then(headers).when(wrong).then(text_1).otherwise(text_2),
    )


def write_corpus(
    root: Path, corpus: str, rows: int, pairs: tuple[LanguagePair, ...], makers: dict[str, SentenceMaker], seed: int
) -> dict:
    """The corpus's raw bitexts under ``root``; its row count and the language ID check on its first chunk."""
    rng = np.random.default_rng([seed, list(CORPORA).index(corpus)])
    shape = SHAPES[corpus]
    schema = pl.DataFrame(schema=BITEXT_SCHEMA).to_arrow().schema
    paths = {pair: root.joinpath(*raw_bitext_parts(CORPORA[corpus], pair)) for pair in pairs}
    next_line = dict.fromkeys(pairs, 1)
    langid: dict[str, float] = {}
    written = 0
    for path in paths.values():
        path.parent.mkdir(parents=True, exist_ok=True)
    writers = {pair: pq.ParquetWriter(path, schema) for pair, path in paths.items()}
    try:
        for n, members, movies in chunks(corpus, rows, len(pairs), rng):
            texts = parallel_texts(n, shape, makers, rng)
            if not langid:
                langid = language_id_kept(texts, rng)
            for p, pair in enumerate(pairs):
                index = np.flatnonzero(members[p])
                frame = pl.DataFrame({
                    "line_no": np.arange(next_line[pair], next_line[pair] + len(index)),
                    "doc_id": document_ids(movies[index], pair.l1) if movies is not None else None,
                    "lang_1": pair.l1,
                    "lang_2": pair.l2,
                    "text_1": pl.from_arrow(texts[pair.l1].take(index)),
                    "text_2": pl.from_arrow(texts[pair.l2].take(index)),
                }).cast(BITEXT_SCHEMA)
                writers[pair].write_table(with_noise(frame, shape, rng).to_arrow().cast(schema), GENERATED_ROW_GROUP)
                next_line[pair] += len(index)
                written += len(index)
    finally:
        for writer in writers.values():
            writer.close()
    return {"rows": written, "language_id_kept": langid}


def document_ids(movies: np.ndarray, lang: str) -> pl.Series:
    """``<lang>/<year>/<imdb id>/<subtitle id>.xml.gz``: the first language's subtitle file of each
    line's movie (another pair with the same first language names the same file)."""
    movie = pl.Series(movies)
    year = 1950 + movie * 7919 % 69
    imdb = 100_000 + movie * 104_729 % 9_000_000
    subtitle = 3_000_000 + movie * len(PRETRAINING_LANGUAGES) + PRETRAINING_LANGUAGES.index(lang)
    return pl.select(
        pl.format("{}/{}/{}/{}.xml.gz", pl.lit(lang), year, imdb, subtitle)
    ).to_series()


def language_id_kept(texts: dict[str, pa.Array], rng: np.random.Generator, sample: int = 2000) -> dict[str, float]:
    """Share of a sample of generated sentences that fastText identifies as their language."""
    kept = {}
    for lang, array in texts.items():
        picked = array.take(np.sort(rng.choice(len(array), size=min(sample, len(array)), replace=False)))
        found = identify_languages(picked.to_pylist())
        kept[lang] = sum(f == lang for f in found) / len(found)
    return kept


# --------------------------------------------------------------------------------------------------
# The steps, each run in a fresh process of its own (``--step``)


def clean_partition(root: Path, corpus: str, pair_key: str) -> dict:
    """What the `cleaned_bitext` asset does for one partition, `study` preset."""
    artifacts = ArtifactFolder(str(root))
    corpus_, pair = CORPORA[corpus], LanguagePair.parse(pair_key)
    removed: dict[str, int] = {}
    kept_rows = 0
    schema = pl.DataFrame(schema=BITEXT_SCHEMA).to_arrow().schema
    raw = pl.scan_parquet(artifacts.path(*raw_bitext_parts(corpus_, pair)))
    with artifacts.writing_file(*clean_bitext_parts(corpus_, pair)) as tmp, pq.ParquetWriter(tmp, schema) as writer:
        for kept in clean_bitext_batches(raw, CleaningParams(), removed):
            writer.write_table(kept.select(list(BITEXT_SCHEMA)).to_arrow().cast(schema))
            kept_rows += kept.height
    return {"kept": kept_rows, "removed": removed}


def run_step(step: str, root: Path, *args: str) -> dict:
    """The ``--step`` entry point: one step's work in this (fresh) process; its result as JSON."""
    if step == "clean":
        return clean_partition(root, *args)
    raise SystemExit(f"unknown step {step!r}")


@dataclass
class Measured:
    seconds: float
    peak_bytes: int
    result: dict


# Starts a step and waits for it: ``ru_maxrss`` from ``os.wait4`` is the step's largest resident set
# (or a waited-for descendant's), but it also counts the memory of the process that forked it, so
# the step is forked from this small launcher, not from the benchmark holding its generator.
LAUNCHER = """
import json, os, sys, time
start = time.perf_counter()
pid = os.posix_spawn(sys.argv[2], sys.argv[2:], os.environ)
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as out:
    json.dump({"seconds": time.perf_counter() - start, "maxrss_kib": usage.ru_maxrss}, out)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def measured(command: list[str], log: Path) -> Measured:
    """Wall time and peak resident memory of ``command`` in a fresh process; its output goes to
    ``log``, and its result is its output's last line if that is JSON."""
    # The environment the local launcher gives a worker (its allocator setting included).
    env = dict(os.environ, **WORKER_ENV,
               PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    usage = log.with_suffix(".usage.json")
    with log.open("w") as out:
        done = subprocess.run([sys.executable, "-c", LAUNCHER, str(usage), *command],
                              stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO)
    output = log.read_text()
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}); its output ends:\n{output[-3000:]}")
    measures = json.loads(usage.read_text())
    return Measured(measures["seconds"], measures["maxrss_kib"] * 1024, trailing_json(output))


def trailing_json(output: str) -> dict:
    """The JSON object that ends a step's output (a worker prints its metadata last), else {}."""
    lines = output.rstrip().splitlines()
    for start in range(len(lines) - 1, -1, -1):
        if lines[start].startswith("{"):
            try:
                return json.loads("\n".join(lines[start:]))
            except json.JSONDecodeError:
                return {}
    return {}


def cleaning(root: Path, corpora: list[str], pairs: tuple[LanguagePair, ...]) -> dict:
    """Every partition in a process of its own, one after another: total time, the largest peak."""
    runs = [
        measured([sys.executable, __file__, "--step", "clean", str(root), corpus, pair.key],
                 root / f"clean-{corpus}-{pair.key}.log")
        for corpus in corpora
        for pair in pairs
    ]
    removed: Counter[str] = Counter()
    for run in runs:
        removed.update(run.result.get("removed", {}))
    return {"seconds": sum(r.seconds for r in runs), "peak_bytes": max(r.peak_bytes for r in runs),
            "processes": len(runs), "kept_rows": sum(r.result.get("kept", 0) for r in runs), "removed": dict(removed)}


def stand_in_for_cleaning(root: Path, corpora: list[str], pairs: tuple[LanguagePair, ...]) -> None:
    """The generated bitexts moved to where the cleaning writes (``--steps`` without cleaning)."""
    for corpus in corpora:
        for pair in pairs:
            cleaned = root.joinpath(*clean_bitext_parts(CORPORA[corpus], pair))
            cleaned.parent.mkdir(parents=True, exist_ok=True)
            root.joinpath(*raw_bitext_parts(CORPORA[corpus], pair)).rename(cleaned)


def allocation(root: Path, corpora: list[str], pairs: tuple[LanguagePair, ...]) -> dict:
    """The allocation worker (both corpora, the monolingual text, the study folder), without
    decontamination. It allocates every corpus of the catalog: one left out of the benchmark gets
    empty cleaned bitexts, so that only the benchmarked ones count."""
    for corpus in set(CORPORA) - set(corpora):
        for pair in pairs:
            path = root.joinpath(*clean_bitext_parts(CORPORA[corpus], pair))
            path.parent.mkdir(parents=True, exist_ok=True)
            pl.DataFrame(schema=BITEXT_SCHEMA).write_parquet(path)
    spec = AllocateSpec(artifacts_root=str(root), pairs=tuple(p.key for p in pairs), params=AllocationParams())
    path = spec.write(root / "specs" / "allocate.json")
    run = measured([sys.executable, "-m", "xrep_assets.workers.allocate", str(path)], root / "allocate.log")
    return {"seconds": run.seconds, "peak_bytes": run.peak_bytes, "processes": 1,
            "train_rows": run.result.get("train_rows"), "monolingual_sentences": run.result.get("monolingual_sentences")}


def tokenizer(root: Path, vocab_size: int, sample_sentences: int) -> dict:
    """The tokenizer worker on the study folder, with the paper profile's temperature, on the
    machine's CPUs."""
    spec = TokenizeSpec(
        artifacts_root=str(root),
        vocab_size=vocab_size,
        sample_alpha=PROFILES["paper"].tokenizer_sample_alpha,
        sample_sentences=sample_sentences,
    )
    path = spec.write(root / "specs" / f"tokenize-{sample_sentences}.json")
    run = measured([sys.executable, "-m", "xrep_assets.workers.tokenize", str(path)], root / f"tokenize-{sample_sentences}.log")
    return {"seconds": run.seconds, "peak_bytes": run.peak_bytes, "processes": 1,
            "sample_lines": run.result.get("sample_lines")}


def cleaning_partition(work: Path, sizes: list[int], makers: dict[str, SentenceMaker], seed: int) -> dict:
    """Cleaning of one partition (UNPC-like en-fr) at growing sizes: what one cleaning process holds
    once its batches and the raw file's row groups are at their size, i.e. how its memory grows with
    a partition's rows (the de-duplication's 8-byte keys)."""
    pair = LanguagePair.parse("en-fr")
    runs = []
    for rows in sizes:
        root = work / f"partition-{rows}"
        shutil.rmtree(root, ignore_errors=True)
        generated = write_corpus(root, "unpc", rows, (pair,), makers, seed)
        run = measured([sys.executable, __file__, "--step", "clean", str(root), "unpc", pair.key], root / "clean.log")
        runs.append({"rows": generated["rows"], "seconds": run.seconds, "peak_bytes": run.peak_bytes})
        shutil.rmtree(root)
    per_row = (runs[-1]["peak_bytes"] - runs[0]["peak_bytes"]) / (runs[-1]["rows"] - runs[0]["rows"])
    at_study = runs[-1]["peak_bytes"] + per_row * (STUDY_PARTITION_ROWS - runs[-1]["rows"])
    return {"runs": runs, "bytes_per_row": per_row, "study_partition_rows": STUDY_PARTITION_ROWS,
            "study_partition_gib": at_study / 2**30}


def tokenizer_caps(root: Path, vocab_size: int, caps: list[int], measured_cap: dict) -> dict:
    """The tokenizer's memory and time against its sample cap, on one study folder: what sizes the
    tokenizer pod, since at a fixed cap neither grows with the corpus. Fitted as power laws in the
    sample's lines and extrapolated to the paper profile's cap."""
    runs = {cap: tokenizer(root, vocab_size, cap) for cap in caps}
    runs[measured_cap["cap"]] = measured_cap["run"]
    caps = sorted(runs)
    lines = [runs[cap]["sample_lines"] or cap for cap in caps]
    paper = PROFILES["paper"].tokenizer_sample_sentences
    time_b, time_log_a = power_law(lines, [runs[c]["seconds"] for c in caps])
    # Memory: what is left once the process's fixed start-up (imports) is taken out grows with the sample.
    memory_b, memory_log_a = power_law(lines, [runs[c]["peak_bytes"] for c in caps])
    per_line = (runs[caps[-1]]["peak_bytes"] - runs[caps[0]]["peak_bytes"]) / (lines[-1] - lines[0])
    at_paper = runs[caps[-1]]["peak_bytes"] + per_line * (paper - lines[-1])
    return {
        "caps": caps, "sample_lines": lines, "runs": {str(c): runs[c] for c in caps},
        "time_exponent": time_b, "memory_exponent": memory_b, "bytes_per_sample_line": per_line,
        "paper_cap": paper, "paper_hours": math.exp(time_log_a) * paper ** time_b / 3600,
        "paper_memory_gib": at_paper / 2**30, **pod_check(TOKENIZE_WORKER, at_paper),
    }


# --------------------------------------------------------------------------------------------------
# Fits, targets and the extrapolation


def power_law(rows: list[int], values: list[float]) -> tuple[float, float]:
    """``b``, ``log a`` of ``value = a * rows ** b``, least squares on log-log: ``b`` is the growth exponent."""
    b, log_a = np.polyfit(np.log(rows), np.log(values), 1)
    return float(b), float(log_a)


def fits(sizes: list[dict]) -> dict[str, dict]:
    """Per step: time and memory exponents, the marginal peak bytes per input row, and the fitted
    time law ``seconds = a * rows ** b``."""
    rows = [s["rows"] for s in sizes]
    out = {}
    for step in sizes[0]["steps"]:
        seconds = [s["steps"][step]["seconds"] for s in sizes]
        peaks = [s["steps"][step]["peak_bytes"] for s in sizes]
        time_exponent, time_log_coefficient = power_law(rows, seconds)
        out[step] = {
            "time_exponent": time_exponent,
            "time_log_coefficient": time_log_coefficient,
            "memory_exponent": power_law(rows, peaks)[0],
            "marginal_bytes_per_row": (peaks[-1] - peaks[0]) / (rows[-1] - rows[0]),
            # the slope between the two largest sizes: what still grows once the batches, samples
            # and start-up are at their size (cleaning's batch holds 100k rows of a partition)
            "top_marginal_bytes_per_row": (peaks[-1] - peaks[-2]) / (rows[-1] - rows[-2]),
            "largest_rows": rows[-1],
            "largest_peak_bytes": peaks[-1],
        }
    return out


def targets(fitted: dict[str, dict]) -> list[dict]:
    checks = [
        {"name": f"{step} time exponent", "value": f["time_exponent"], "target": f"<= {TARGET_TIME_EXPONENT}",
         "passed": f["time_exponent"] <= TARGET_TIME_EXPONENT}
        for step, f in fitted.items()
    ]
    for step in ("cleaning", "tokenizer"):
        if step not in fitted:
            continue
        value = fitted[step]["memory_exponent"]
        checks.append({"name": f"{step} memory exponent", "value": value,
                       "target": f"<= {TARGET_FLAT_MEMORY_EXPONENT}", "passed": value <= TARGET_FLAT_MEMORY_EXPONENT})
    if "allocation" in fitted:
        value = fitted["allocation"]["marginal_bytes_per_row"]
        checks.append({"name": "allocation marginal peak bytes per input row", "value": value,
                       "target": f"<= {TARGET_ALLOCATION_BYTES_PER_ROW:g}", "passed": value <= TARGET_ALLOCATION_BYTES_PER_ROW})
    return checks


def at_rows(fit: dict, rows: float) -> tuple[float, float]:
    """Seconds (the time law) and peak bytes (linear from the largest size with the slope between
    the two largest sizes, never below the largest size's peak) of a step's process at ``rows`` input rows."""
    seconds = math.exp(fit["time_log_coefficient"]) * rows ** fit["time_exponent"]
    peak = fit["largest_peak_bytes"] + max(0.0, fit["top_marginal_bytes_per_row"]) * (rows - fit["largest_rows"])
    return seconds, max(peak, fit["largest_peak_bytes"])


def pod_check(worker: str, peak: float) -> dict:
    """The paper profile's pod memory for ``worker`` and whether one process of ``peak`` bytes fits it."""
    quantity = step_resources(worker, "paper").memory
    units = {"Gi": 2**30, "Mi": 2**20}
    if quantity[-2:] not in units:
        raise SystemExit(f"pod memory {quantity!r} of {worker}: expected a quantity in Gi or Mi")
    limit = float(quantity[:-2]) * units[quantity[-2:]]
    return {"pod_memory_gib": limit / 2**30, "fits_pod": peak <= limit}


def extrapolation(fitted: dict[str, dict], corpora: list[str], n_pairs: int, sample_sentences: int) -> dict[str, dict]:
    """The full study (2 corpora x 15 pairs x 25M rows) on one node, from each step's fitted curves.
    The curves are in the benchmark's input rows R (all of ``corpora``), so a study-size process is
    the benchmark's process at the R it would have in the study:

    - cleaning: one process per partition (n_jobs 1), as many at a time as cores and memory allow;
      the benchmark's R rows were 15 x len(corpora) partitions of R / (15 x len(corpora)) rows;
    - allocation: processes like the benchmark's, each on len(corpora) corpora of 375M rows (the
      asset's way with both corpora: one process; one corpus: one process per corpus, all at once);
    - tokenizer: one process on the whole study's text (750M input rows), its sample capped at the
      benchmark's cap (the training at the paper's cap is a constant not measured here).

    Times are this machine's per process (no speed-up is assumed from the node's faster cores)."""
    partitions = n_pairs * len(corpora)
    study_partitions = len(LANGUAGE_PAIRS) * len(CORPORA)
    out: dict[str, dict] = {}
    if "cleaning" in fitted:
        seconds, peak = at_rows(fitted["cleaning"], STUDY_PARTITION_ROWS * partitions)
        per_partition = seconds / partitions
        parallel = max(1, min(NODE_CORES, study_partitions, int(NODE_MEMORY // peak)))
        out["cleaning"] = {
            "hours": math.ceil(study_partitions / parallel) * per_partition / 3600,
            "memory_gib": parallel * peak / 2**30,
            "how": f"{study_partitions} partitions of {STUDY_PARTITION_ROWS / 1e6:g}M rows, {parallel} at a "
                   f"time, {per_partition / 3600:.2f} h and {peak / 2**30:.2f} GiB each",
        }
    if "allocation" in fitted:
        seconds, peak = at_rows(fitted["allocation"], STUDY_CORPUS_ROWS * len(corpora))
        processes = len(CORPORA) // len(corpora)
        out["allocation"] = {
            "hours": seconds / 3600,
            "memory_gib": processes * peak / 2**30,
            "how": f"{processes} process(es) at once, each on {STUDY_CORPUS_ROWS * len(corpora) / 1e6:g}M rows "
                   f"({', '.join(corpora)}), {peak / 2**30:.1f} GiB each",
        }
        out["allocation"] |= pod_check(ALLOCATE_WORKER, peak)
    if "tokenizer" in fitted:
        seconds, peak = at_rows(fitted["tokenizer"], STUDY_CORPUS_ROWS * len(CORPORA))
        out["tokenizer"] = {
            "hours": seconds / 3600,
            "memory_gib": peak / 2**30,
            **pod_check(TOKENIZE_WORKER, peak),
            "how": f"one process on the study's text ({STUDY_CORPUS_ROWS * len(CORPORA) / 1e6:g}M input rows), "
                   f"sample capped at {sample_sentences:,} sentences as measured (the paper's cap: "
                   f"{PROFILES['paper'].tokenizer_sample_sentences:,})",
        }
    for step in out.values():
        step["fits_node"] = step["memory_gib"] <= NODE_MEMORY / 2**30
    return out


# --------------------------------------------------------------------------------------------------
# The benchmark


PAIR_SETS = {"all": LANGUAGE_PAIRS, "english": ENGLISH_PAIRS}


def run_size(root: Path, rows: int, corpora: list[str], pairs: tuple[LanguagePair, ...],
             makers: dict[str, SentenceMaker], args: argparse.Namespace) -> dict:
    """Generate the corpora of one size under ``root`` (not timed), then time the steps of ``args.steps``."""
    start = time.perf_counter()
    generated = {corpus: write_corpus(root, corpus, rows, pairs, makers, args.seed) for corpus in corpora}
    total = sum(g["rows"] for g in generated.values())
    print(f"\n{rows:,} rows per corpus: generated {total:,} rows in {time.perf_counter() - start:.0f} s", flush=True)
    for corpus, g in generated.items():
        kept = g["language_id_kept"]
        print(f"  {corpus}: language ID keeps {sum(kept.values()) / len(kept):.1%} of a sample of generated "
              f"sentences ({', '.join(f'{lang} {v:.1%}' for lang, v in kept.items())})")
    steps = {}
    if "cleaning" in args.steps:
        steps["cleaning"] = cleaning(root, corpora, pairs)
        removed = ", ".join(f"{name} {count:,}" for name, count in steps["cleaning"]["removed"].items() if count)
        print(f"  cleaning removed {removed}; kept {steps['cleaning']['kept_rows']:,} rows")
    else:
        stand_in_for_cleaning(root, corpora, pairs)
    if "allocation" in args.steps:
        steps["allocation"] = allocation(root, corpora, pairs)
        print(f"  allocated for training {steps['allocation']['train_rows']:,} rows, monolingual sentences "
              f"{steps['allocation']['monolingual_sentences']:,}")
    if "tokenizer" in args.steps:
        steps["tokenizer"] = tokenizer(root, args.vocab_size, args.sample_sentences)
        steps["tokenizer"]["cap"] = args.sample_sentences
    for name, step in steps.items():
        print(f"  {name}: {step['seconds']:.1f} s, peak {step['peak_bytes'] / 2**20:,.0f} MiB", flush=True)
    disk = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    return {"rows_per_corpus": rows, "rows": total, "generated": generated, "disk_bytes": disk, "steps": steps}


def print_table(sizes: list[dict]) -> None:
    print("\n| input rows | step | seconds | peak MiB | rows/s | peak B/row |\n|---:|---|---:|---:|---:|---:|")
    for size in sizes:
        for step, s in size["steps"].items():
            print(f"| {size['rows']:,} | {step} | {s['seconds']:.1f} | {s['peak_bytes'] / 2**20:,.0f} "
                  f"| {size['rows'] / s['seconds']:,.0f} | {s['peak_bytes'] / size['rows']:,.0f} |")


def report(sizes: list[dict], corpora: list[str], pairs: tuple[LanguagePair, ...], args: argparse.Namespace,
           caps: dict | None = None, partition: dict | None = None) -> None:
    """The table, the exponents, the extrapolation and the targets; all of it as JSON with ``--json``."""
    print_table(sizes)
    result: dict = {
        "settings": {"rows_per_corpus": [s["rows_per_corpus"] for s in sizes], "corpora": corpora,
                     "pairs": [p.key for p in pairs], "steps": args.steps, "vocab_size": args.vocab_size,
                     "sample_sentences": args.sample_sentences, "seed": args.seed, "cores": os.cpu_count()},
        "sizes": sizes,
    }
    langid = min(v for s in sizes for g in s["generated"].values() for v in g["language_id_kept"].values())
    checks = [{"name": "language ID keeps generated sentences (lowest language)", "value": langid,
               "target": f"> {TARGET_LANGID_KEPT}", "passed": langid > TARGET_LANGID_KEPT}]
    if len(sizes) > 1:
        fitted = fits(sizes)
        print("\ngrowth exponents (least squares on log-log over the sizes):")
        for step, f in fitted.items():
            print(f"  {step}: time {f['time_exponent']:.2f}, memory {f['memory_exponent']:.2f}, "
                  f"marginal peak {f['marginal_bytes_per_row']:,.0f} B/row")
        checks += targets(fitted)
        study = extrapolation(fitted, corpora, len(pairs), args.sample_sentences)
        print(f"\nextrapolation to the full study ({len(CORPORA)} corpora x {len(LANGUAGE_PAIRS)} pairs x "
              f"{STUDY_PARTITION_ROWS / 1e6:g}M rows) on a {NODE_CORES}-core, {NODE_MEMORY / 2**30:g} GiB node:")
        for step, e in study.items():
            pod = ""
            if "pod_memory_gib" in e:
                pod = f"; the paper pod's {e['pod_memory_gib']:g} GiB: {'fits' if e['fits_pod'] else 'does NOT fit'}"
            print(f"  {step}: {e['hours']:.2f} h, {e['memory_gib']:.1f} GiB "
                  f"({'fits' if e['fits_node'] else 'does NOT fit'} the node{pod}): {e['how']}")
        result |= {"fits": fitted, "extrapolation": study}
    else:
        print("\none size: no exponents or extrapolation (give --rows at least two sizes)")
    if caps:
        print("\nthe tokenizer against its sample cap (largest corpus):\n\n| cap | sample lines | seconds | peak MiB |\n|---:|---:|---:|---:|")
        for cap, lines in zip(caps["caps"], caps["sample_lines"]):
            run = caps["runs"][str(cap)]
            print(f"| {cap:,} | {lines:,} | {run['seconds']:.1f} | {run['peak_bytes'] / 2**20:,.0f} |")
        print(f"\n  exponents in the sample's lines: time {caps['time_exponent']:.2f}, memory {caps['memory_exponent']:.2f}; "
              f"{caps['bytes_per_sample_line']:,.0f} B per sample line at the margin")
        print(f"  at the paper's cap ({caps['paper_cap']:,} lines, vocabulary {args.vocab_size:,}): "
              f"{caps['paper_hours']:.2f} h, {caps['paper_memory_gib']:.1f} GiB; the paper pod's "
              f"{caps['pod_memory_gib']:g} GiB: {'fits' if caps['fits_pod'] else 'does NOT fit'}")
        result["tokenizer_caps"] = caps
    if partition:
        print("\ncleaning one partition (UNPC-like en-fr):\n\n| rows | seconds | peak MiB |\n|---:|---:|---:|")
        for run in partition["runs"]:
            print(f"| {run['rows']:,} | {run['seconds']:.1f} | {run['peak_bytes'] / 2**20:,.0f} |")
        print(f"\n  {partition['bytes_per_row']:,.1f} B per partition row at the margin: a "
              f"{partition['study_partition_rows'] / 1e6:g}M-row partition ~{partition['study_partition_gib']:.2f} GiB")
        result["cleaning_partition"] = partition
        rows, peaks = [r["rows"] for r in partition["runs"]], [r["peak_bytes"] for r in partition["runs"]]
        if len(rows) > 1:
            exponent = power_law(rows, peaks)[0]
            checks.append({"name": "cleaning memory exponent over one partition's rows", "value": exponent,
                           "target": f"<= {TARGET_FLAT_MEMORY_EXPONENT}", "passed": exponent <= TARGET_FLAT_MEMORY_EXPONENT})
    print("\ntargets:")
    for check in checks:
        print(f"  {check['name']}: {check['value']:,.3f} ({check['target']}) -> {'PASS' if check['passed'] else 'FAIL'}")
    result["targets"] = checks
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str))
        print(f"\nwritten {args.json}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", default="1000000,4000000,16000000",
                        help="sizes: input rows per corpus, summed over its pairs (comma-separated)")
    parser.add_argument("--corpus", choices=["unpc", "opensubtitles", "both"], default="both")
    parser.add_argument("--pairs", choices=list(PAIR_SETS), default="all",
                        help="the 15 pairs, or the 5 English ones (all six languages; a quicker run)")
    parser.add_argument("--vocab-size", type=int, default=8000, help="tokenizer pieces (the paper's: 100,000)")
    parser.add_argument("--sample-sentences", type=int, default=BENCHMARK_SAMPLE_SENTENCES,
                        help="the tokenizer's sample cap (the paper profile's: "
                             f"{PROFILES['paper'].tokenizer_sample_sentences:,})")
    parser.add_argument("--tokenizer-caps", default="",
                        help="also run the tokenizer at these sample caps (comma-separated) on the largest size's "
                             "corpus, and extrapolate its memory and time to the paper's cap")
    parser.add_argument("--cleaning-partition", default="",
                        help="also clean one partition at these sizes (comma-separated rows): how one cleaning "
                             "process grows with its partition once its batches are full")
    parser.add_argument("--steps", default=",".join(STEPS),
                        help="the steps to time (comma-separated); without cleaning the generated bitexts stand in "
                             "for the cleaned ones, and the tokenizer needs the allocation")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the results there")
    parser.add_argument("--keep", type=Path,
                        help="write corpora and outputs there and keep them (default: a temporary folder, removed)")
    parser.add_argument("--step", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        print(json.dumps(run_step(args.step[0], Path(args.step[1]), *args.step[2:])))
        return
    sizes = sorted({int(s) for s in args.rows.split(",")})
    wanted = set(args.steps.split(","))
    if wanted - set(STEPS) or not wanted or ("tokenizer" in wanted and "allocation" not in wanted):
        parser.error(f"--steps {args.steps}: a choice among {', '.join(STEPS)}, the tokenizer with the allocation")
    args.steps = [step for step in STEPS if step in wanted]
    if args.tokenizer_caps and "tokenizer" not in args.steps:
        parser.error("--tokenizer-caps needs the tokenizer among --steps")
    corpora = list(CORPORA) if args.corpus == "both" else [args.corpus]
    pairs = PAIR_SETS[args.pairs]
    work = args.keep or Path(tempfile.mkdtemp(prefix="xrep-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        need = sizes[-1] * len(corpora) * DISK_BYTES_PER_ROW
        free = shutil.disk_usage(work).free
        if free < need:
            raise SystemExit(f"{work}: {free / 2**30:.1f} GiB free, the largest size needs about {need / 2**30:.1f} "
                             "GiB (--keep DIR on a larger disk, or smaller --rows)")
        makers = {lang: SentenceMaker(v) for lang, v in vocabularies().items()}
        results, caps = [], None
        for rows in sizes:
            root = work / f"rows-{rows}"
            shutil.rmtree(root, ignore_errors=True)
            results.append(run_size(root, rows, corpora, pairs, makers, args))
            if rows == sizes[-1] and args.tokenizer_caps:
                measured_cap = {"cap": args.sample_sentences, "run": results[-1]["steps"]["tokenizer"]}
                wanted = sorted({int(c) for c in args.tokenizer_caps.split(",")} - {args.sample_sentences})
                print(f"\nthe tokenizer at sample caps {', '.join(f'{c:,}' for c in wanted)} on the largest corpus", flush=True)
                caps = tokenizer_caps(root, args.vocab_size, wanted, measured_cap)
            if not args.keep:
                shutil.rmtree(root)  # the next size gets the disk
        partition = None
        if args.cleaning_partition:
            wanted = sorted({int(r) for r in args.cleaning_partition.split(",")})
            print(f"\ncleaning one partition of {', '.join(f'{r:,}' for r in wanted)} rows", flush=True)
            partition = cleaning_partition(work, wanted, makers, args.seed)
        report(results, corpora, pairs, args, caps, partition)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
