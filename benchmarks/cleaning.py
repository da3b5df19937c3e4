"""Bitext cleaning against OpusFilter 3.3.1, on the same corpus in the same run.

    python benchmarks/cleaning.py [--pairs 200000] [--langid-pairs 20000] [--full-pairs 1000000]
                                  [--skip-opusfilter]

Builds en-fr and en-zh benchmark corpora (``--pairs`` pairs each) from the parallel UD PUD
sentences in ../shared/data/ud, joined and perturbed so that every filter has something to remove
(duplicates, ratio breaks, numeral mismatches, wrong language or script, over-long lines and words,
punctuation runs, symbol lines, odd whitespace), as one text file per side (OpusFilter's input) and
a parquet in the bitext schema (ours, as the raw_bitext asset hands it over). Then, each in its own
process and timed inside it (reading its input and writing the kept pairs included):

- OpusFilter 3.3.1 (in its own virtual environment, ``benchmarks/.opusfilter-venv``, created on
  first use with py3langid 0.3.0: 0.4.0 breaks its LangidFilter) runs its LengthFilter,
  LengthRatioFilter, LongWordFilter, AlphabetRatioFilter, CharacterScoreFilter,
  TerminalPunctuationFilter and NonZeroNumeralsFilter (default thresholds) and remove_duplicates,
  with n_jobs 1 and 2, and once more with its LangidFilter added (n_jobs 2) on the first
  ``--langid-pairs`` pairs (py3langid takes ~1 ms a sentence: the whole corpus would take minutes);
- ours runs ``CleaningParams.opusfilter()`` (the same filters) with n_jobs 1 and 2 (polars limited
  to as many threads), then on the language-ID subset with language identification
  (``CleaningParams.opusfilter(language_id=True)``, and the project defaults), n_jobs 2.

It prints pairs/s, peak memory (resident set of a run's process, or proportional set size of its
processes together when it forks workers), our throughput over OpusFilter's, and the share of
pairs on which both take the same keep/drop decision. Last, it streams ``--full-pairs`` en-fr
pairs from parquet to parquet through the full default pipeline (language identification
included, n_jobs 2) and checks the time and memory targets.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
OPUSFILTER_VENV = BENCHMARKS / ".opusfilter-venv"
OPUSFILTER_PINS = ["opusfilter==3.3.1", "py3langid==0.3.0"]

TARGET_FILTERS_1_JOB = 12.0  # x OpusFilter, filters + de-duplication, n_jobs 1
TARGET_FILTERS_2_JOBS = 6.0  # x OpusFilter, n_jobs 2
TARGET_LANGID_2_JOBS = 3.0  # x OpusFilter with its LangidFilter, n_jobs 2
TARGET_PEAK_MB = 1024
TARGET_FULL_SECONDS = 60.0

PUD_LANGUAGES = ("en", "fr", "zh", "es", "de", "ru", "ar")
SCRIPTS = {"en": "Latin", "fr": "Latin", "zh": "Han"}

# --------------------------------------------------------------------------------------------------
# The corpus


def pud_sentences() -> dict[str, list[str]]:
    """The 1000 PUD sentences of each language, aligned by sent_id."""
    by_language = {}
    for lang in PUD_LANGUAGES:
        (path,) = (SHARED / "ud").glob(f"UD_*-PUD/{lang}_pud-ud-test.conllu")
        sentences, sent_id = {}, None
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("# sent_id = "):
                sent_id = line.removeprefix("# sent_id = ").strip()
            elif line.startswith("# text = ") and sent_id:
                sentences[sent_id] = line.removeprefix("# text = ").strip()
        by_language[lang] = sentences
    ids = sorted(set.intersection(*(set(s) for s in by_language.values())))
    return {lang: [by_language[lang][i] for i in ids] for lang in PUD_LANGUAGES}


# Perturbation -> share of pairs. "clean" joins 1-3 aligned sentences, so most pairs are distinct.
MIX = {
    "clean": 0.40,
    "duplicate": 0.08,
    "near_duplicate": 0.05,
    "ratio": 0.05,
    "numerals": 0.07,
    "wrong_language": 0.04,
    "wrong_script": 0.03,
    "untranslated": 0.02,
    "long_line": 0.03,
    "long_word": 0.04,
    "terminal": 0.05,
    "symbols": 0.04,
    "whitespace": 0.05,
    "empty": 0.01,
    "mixed_script": 0.02,
    "punctuation": 0.02,
}
ODD_SPACES = ["\u00a0", "\u3000", "\u2009", "\x1c", "\x1f", "\x85", "\u2028", "\t", "  ", "\u200b"]
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


def build_corpus(pud: dict[str, list[str]], l2: str, pairs: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """``pairs`` (English, ``l2``) pairs: joined PUD sentences, perturbed per ``MIX``."""
    rng = random.Random(seed)
    en_pud, l2_pud = pud["en"], pud[l2]
    n = len(en_pud)
    glue = "" if l2 == "zh" else " "
    kinds, weights = list(MIX), list(MIX.values())
    en_out: list[str] = []
    l2_out: list[str] = []

    def joined(k: int) -> tuple[str, str]:
        picked = rng.sample(range(n), k)
        return " ".join(en_pud[i] for i in picked), glue.join(l2_pud[i] for i in picked)

    def number() -> str:
        return rng.choice(
            [
                str(rng.randint(1, 99)),
                str(rng.randint(1900, 2030)),
                f"{rng.randint(1, 999)},{rng.randint(0, 999):03d}",
                f"{rng.randint(1, 99)}.{rng.randint(0, 9)}",
            ]
        )

    for _ in range(pairs):
        kind = rng.choices(kinds, weights)[0]
        en, other = joined(rng.choice((1, 1, 2)))
        if kind == "duplicate" and en_out:
            i = rng.randrange(max(0, len(en_out) - 20_000), len(en_out))
            en, other = en_out[i], l2_out[i]
            if rng.random() < 0.3:
                en, other = en + " ", other + rng.choice([" ", "\t", "\u3000"])
        elif kind == "near_duplicate" and en_out:
            i = rng.randrange(max(0, len(en_out) - 20_000), len(en_out))
            en, other = en_out[i].lower(), re.sub(r"\s+([.,!?;:])", r"\1", l2_out[i]).replace("。", ".")
        elif kind == "ratio":
            words = other.split() if l2 != "zh" else list(other)
            cut = " ".join(words[: rng.randint(1, 3)]) if l2 != "zh" else "".join(words[: rng.randint(1, 6)])
            en, other = (en, cut) if rng.random() < 0.6 else (" ".join(en.split()[: rng.randint(1, 3)]), other)
        elif kind == "numerals":
            a = number()
            b = rng.choice(
                [a, a, a.replace(",", ""), a.replace(",", " "), number(), a[::-1], a + number()[:1], "0" + a]
            )
            if rng.random() < 0.2:
                b = b.translate(ARABIC_INDIC)
            where = rng.random()
            en = f"{en} {a}" if where < 0.5 else f"{a} {en}"
            other = f"{other} {b}" if where < 0.5 else f"{b}{glue}{other}"
            if rng.random() < 0.3:  # several numbers, in another order on one side
                c = number()
                en, other = f"{en} {c}", f"{c} {other}" if rng.random() < 0.5 else f"{other} {c}"
        elif kind == "wrong_language":
            other = pud[rng.choice(("es", "de"))][rng.randrange(n)]
        elif kind == "wrong_script":
            other = pud[rng.choice(("ru", "ar"))][rng.randrange(n)]
        elif kind == "untranslated":
            other = en
        elif kind == "long_line":
            en, other = joined(rng.randint(5, 9))
        elif kind == "long_word":
            token = "https://example.org/" + "".join(rng.choices("abcdefghij/-_", k=rng.randint(15, 25)))
            if rng.random() < 0.5:
                en = f"{en} {token}"
            else:
                other = f"{other} {token}" if l2 != "zh" else other + token
        elif kind == "terminal":
            marks = rng.choice(["!", "?", "...", "!!!", "?!?!", "…", "....", "。", "！？", "?!!!!!!"])
            if rng.random() < 0.5:
                en += marks
            else:
                other += marks
            if rng.random() < 0.3:
                en = en.rstrip(".!?")
        elif kind == "symbols":
            junk = " ".join(
                rng.choice(["12", "345", "-", "%", "|", "$", "6,7", "(8)", "/", "*", "=", "A"])
                for _ in range(rng.randint(3, 12))
            )
            en, other = (junk, junk) if rng.random() < 0.5 else (en, junk)
        elif kind == "whitespace":
            space = rng.choice(ODD_SPACES)
            en = en.replace(" ", space, rng.randint(1, 4))
            other = other.replace(" ", rng.choice(ODD_SPACES), rng.randint(0, 4))
            if rng.random() < 0.3:
                en = rng.choice([" ", "\t", "\u3000 "]) + en
            if rng.random() < 0.3:
                other += rng.choice([" ", "\u00a0", "\x1c", " \t"])
        elif kind == "empty":
            en, other = (en, rng.choice(["", " ", "\u3000"])) if rng.random() < 0.5 else ("", other)
        elif kind == "mixed_script":
            if l2 == "zh":
                other = (
                    other[: len(other) // 2] + rng.choice(["iPhone", "UN", "Obama", "OK"]) + other[len(other) // 2 :]
                )
            else:
                other = other.replace("o", "о", 1)  # a Cyrillic o in a French word
        elif kind == "punctuation" and l2 == "zh":
            other = other.replace("。", rng.choice([".", "。。", "？", "！", ""]))
        elif kind == "punctuation":
            other = other.replace(".", rng.choice(["。", "؟", "..", "!"]))
        en_out.append(en.replace("\n", " ").replace("\r", " "))
        l2_out.append(other.replace("\n", " ").replace("\r", " "))
    return en_out, l2_out


def write_corpus(folder: Path, l2: str, en: list[str], other: list[str]) -> None:
    """One text file per side for OpusFilter, and a parquet in the bitext schema for ours (what
    the raw_bitext asset writes)."""
    for lang, lines in (("en", en), (l2, other)):
        (folder / f"input.{lang}").write_text("".join(line + "\n" for line in lines), encoding="utf-8", newline="\n")
    bitext_frame(en, l2, other).write_parquet(folder / "input.parquet", row_group_size=100_000)


def bitext_frame(en: list[str], l2: str, other: list[str]):
    import polars as pl

    return pl.DataFrame(
        {"line_no": range(1, len(en) + 1), "doc_id": None, "lang_1": "en", "lang_2": l2, "text_1": en, "text_2": other},
        schema_overrides={"line_no": pl.Int64, "doc_id": pl.String},
    )


def read_lines(path: Path) -> list[str]:
    # Split on \n only, as our readers and OpusFilter's files do (not on \x1c, \x85, \u2028).
    return path.read_text(encoding="utf-8").split("\n")[:-1]


# --------------------------------------------------------------------------------------------------
# Runs (each in a fresh process, which reports its own time and peak memory)


@dataclass
class Run:
    label: str
    seconds: float
    peak_mb: float
    kept: list[bool]


def measured(command: list[str], env: dict[str, str] | None = None) -> tuple[str, float]:
    """Run ``command``; its stdout and the peak memory of it and its descendants together, in
    MiB, sampled every 50 ms (``tree_memory``). getrusage's maxrss would not do: Linux carries it
    across exec, so a child reports at least the size of the parent that started it.

    Sampling must not slow the run: reading every process's /proc/<pid>/stat to find the
    descendants and the run's smaps_rollup (a walk of its page tables, ~6 ms for ours) at every
    sample slowed our sub-second runs, which map and fault in memory all along, by a quarter or
    more on this busy 2-core machine, OpusFilter's pure-Python runs far less. So descendants are
    looked for every 0.5 s, and a lone process is measured by its resident set."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(command, stdout=out, stderr=err, text=True, env=env)
        peak, tree, samples = 0, {process.pid}, 0
        while process.poll() is None:
            if samples % 10 == 0:
                tree = process_tree(process.pid)
            peak = max(peak, tree_memory(tree))
            samples += 1
            time.sleep(0.05)
        out.seek(0), err.seek(0)
        if process.returncode != 0:
            raise RuntimeError(f"{command[:3]} failed:\n{err.read()[-3000:]}")
        return out.read(), peak / 2**20


def tree_memory(tree: set[int]) -> int:
    """Memory in bytes of the processes ``tree``: the resident set of a lone process (statm, a
    counter), the sum of proportional set sizes of several (PSS, from smaps_rollup: a page shared
    by forked workers counts once). A resident set is no smaller than the PSS."""
    if len(tree) == 1:
        try:
            return int(Path(f"/proc/{next(iter(tree))}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            return 0
    total = 0
    for pid in tree:
        try:
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        total += sum(int(line.split()[1]) * 1024 for line in rollup.splitlines() if line.startswith("Pss:"))
    return total


def process_tree(root: int) -> set[int]:
    """Process ``root`` and all its descendants."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in tree]
        tree.update(children)
        frontier += children
    return tree


OPUSFILTER_RUNNER = r"""
import json, sys, time
from opusfilter.opusfilter import OpusFilter
config = json.loads(sys.argv[1])
start = time.perf_counter()
OpusFilter(config).execute_steps(overwrite=True)
print(json.dumps({"seconds": time.perf_counter() - start}))
"""


def opusfilter_filters(l2: str, langid: bool) -> list[dict]:
    filters = [
        {"LengthFilter": {"unit": "word", "min_length": 1, "max_length": 100}},
        {"LengthRatioFilter": {"unit": "word", "threshold": 3}},
        {"LongWordFilter": {"threshold": 40}},
        {"AlphabetRatioFilter": {"threshold": 0.75}},
        {"CharacterScoreFilter": {"scripts": [SCRIPTS["en"], SCRIPTS[l2]]}},
        {"TerminalPunctuationFilter": {"threshold": -2}},
        {"NonZeroNumeralsFilter": {"threshold": 0.5}},
    ]
    if langid:
        filters.append({"LangidFilter": {"languages": ["en", l2]}})
    return filters


def run_opusfilter(folder: Path, l2: str, n_jobs: int, langid: bool) -> Run:
    """OpusFilter's filter step (n_jobs) then its remove_duplicates, as in a usual config."""
    out = folder / f"opusfilter-{n_jobs}-{int(langid)}"
    out.mkdir(exist_ok=True)
    inputs = [str(folder / "input.en"), str(folder / f"input.{l2}")]
    config = {
        "common": {"output_directory": str(out)},
        "steps": [
            {
                "type": "filter",
                "parameters": {
                    "inputs": inputs,
                    "outputs": ["filtered.en", f"filtered.{l2}"],
                    "filters": opusfilter_filters(l2, langid),
                    "n_jobs": n_jobs,
                },
            },
            {
                "type": "remove_duplicates",
                "parameters": {"inputs": ["filtered.en", f"filtered.{l2}"], "outputs": ["kept.en", f"kept.{l2}"]},
            },
        ],
    }
    runner = folder / "opusfilter_runner.py"
    runner.write_text(OPUSFILTER_RUNNER)
    stdout, peak = measured([str(OPUSFILTER_VENV / "bin" / "python"), str(runner), json.dumps(config)])
    report = json.loads(stdout.strip().splitlines()[-1])
    kept = opusfilter_decisions(
        list(zip(read_lines(folder / "input.en"), read_lines(folder / f"input.{l2}"))),
        list(zip(read_lines(out / "kept.en"), read_lines(out / f"kept.{l2}"))),
    )
    label = f"OpusFilter 3.3.1, n_jobs {n_jobs}" + (" + LangidFilter" if langid else "")
    return Run(label, report["seconds"], peak, kept)


def opusfilter_decisions(inputs: list[tuple[str, str]], kept: list[tuple[str, str]]) -> list[bool]:
    """Which input pairs OpusFilter kept: its output is an order-preserving subsequence of the
    input (rstripped), and identical pairs get identical filter decisions, so a greedy walk finds
    each kept pair at its first occurrence."""
    decisions, at = [], 0
    for en, other in inputs:
        hit = at < len(kept) and kept[at] == (en.rstrip(), other.rstrip())
        decisions.append(hit)
        at += hit
    if at != len(kept):
        raise RuntimeError(f"matched {at} of OpusFilter's {len(kept)} kept pairs")
    return decisions


def run_ours(folder: Path, l2: str, n_jobs: int, preset: str, language_id: bool) -> Run:
    env = dict(os.environ, POLARS_MAX_THREADS=str(n_jobs))
    command = [sys.executable, __file__, "--worker", str(folder), l2, str(n_jobs), preset, str(int(language_id))]
    stdout, peak = measured(command, env)
    report = json.loads(stdout.strip().splitlines()[-1])
    kept_rows = set(json.loads((folder / "ours-kept.json").read_text()))
    total = len(read_lines(folder / "input.en"))
    what = "CleaningParams.opusfilter()" if preset == "opusfilter" else "CleaningParams() defaults"
    label = f"ours, {what}, n_jobs {n_jobs}" + (" + language ID" if language_id and preset == "opusfilter" else "")
    return Run(label, report["seconds"], peak, [i in kept_rows for i in range(1, total + 1)])


def worker(folder: Path, l2: str, n_jobs: int, preset: str, language_id: bool) -> None:
    """One run of ours in this process, as the cleaned_bitext asset does it: the raw bitext
    from parquet, cleaned, the kept rows written to parquet."""
    import polars as pl

    from xrep_assets.corpora.cleaning import CleaningParams, clean_bitext

    if preset == "opusfilter":
        params = CleaningParams.opusfilter(language_id=language_id, n_jobs=n_jobs)
    else:
        params = CleaningParams(language_id=language_id, n_jobs=n_jobs)
    start = time.perf_counter()
    kept, removed = clean_bitext(pl.scan_parquet(folder / "input.parquet"), params)
    kept.write_parquet(folder / "ours-kept.parquet")
    seconds = time.perf_counter() - start
    (folder / "ours-kept.json").write_text(json.dumps(kept.get_column("line_no").to_list()))
    print(json.dumps({"seconds": seconds, "removed": removed}))


def full_worker(path: Path, out: Path) -> None:
    """The default pipeline (language ID included, n_jobs 2) streamed from parquet to parquet."""
    import polars as pl
    import pyarrow.parquet as pq

    from xrep_assets.corpora.cleaning import FILTERS, CleaningParams, clean_bitext_batches
    from xrep_assets.corpora.readers import BITEXT_SCHEMA

    start = time.perf_counter()
    removed = dict.fromkeys(FILTERS, 0)
    rows = 0
    schema = pl.DataFrame(schema=BITEXT_SCHEMA).to_arrow().schema
    with pq.ParquetWriter(out, schema) as writer:
        for batch in clean_bitext_batches(pl.scan_parquet(path), CleaningParams(n_jobs=2), removed):
            writer.write_table(batch.to_arrow())
            rows += batch.height
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "kept": rows, "removed": removed}))


# --------------------------------------------------------------------------------------------------
# The benchmark


def ensure_opusfilter() -> bool:
    """Create the OpusFilter environment on first use; False (with a message) if that fails."""
    python = OPUSFILTER_VENV / "bin" / "python"
    if (
        python.exists()
        and subprocess.run([str(python), "-c", "import opusfilter, py3langid"], capture_output=True).returncode == 0
    ):
        return True
    print(f"creating {OPUSFILTER_VENV} with {' '.join(OPUSFILTER_PINS)} (a few minutes, once) ...", flush=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(OPUSFILTER_VENV)], check=True)
        (OPUSFILTER_VENV / ".gitignore").write_text("*\n")  # keeps it out of git without touching ours
        subprocess.run([str(python), "-m", "pip", "install", "-q", *OPUSFILTER_PINS], check=True)
    except (subprocess.CalledProcessError, OSError) as error:
        print(f"could not install OpusFilter ({error}): benchmarking ours only")
        return False
    return True


def same_share(a: list[bool], b: list[bool]) -> float:
    return sum(x == y for x, y in zip(a, b, strict=True)) / len(a)


def report(pairs: int, runs: list[Run], baseline: dict[str, Run]) -> None:
    print(f"{'run':62s} {'pairs/s':>10s} {'peak MiB':>9s} {'x OpusFilter':>13s} {'same decision':>14s} {'kept':>8s}")
    for run in runs:
        base = baseline.get(run.label)
        speedup = f"{base.seconds / run.seconds:12.1f}x" if base else ""
        same = f"{same_share(run.kept, base.kept):13.4%}" if base else ""
        print(
            f"{run.label:62s} {pairs / run.seconds:10,.0f} {run.peak_mb:9.0f} {speedup:>13s} {same:>14s} {sum(run.kept):8,d}"
        )


def check(label: str, value: float, target: float, at_least: bool = True) -> str:
    ok = value >= target if at_least else value < target
    return f"{label}: {value:,.1f} ({'>=' if at_least else '<'} {target:g}) -> {'OK' if ok else 'MISSED'}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=200_000, help="pairs per language pair")
    parser.add_argument(
        "--langid-pairs", type=int, default=20_000, help="first pairs of each corpus for the language-ID runs"
    )
    parser.add_argument("--full-pairs", type=int, default=1_000_000, help="pairs of the full-pipeline run (0: skip)")
    parser.add_argument("--skip-opusfilter", action="store_true")
    parser.add_argument("--worker", nargs=5, help=argparse.SUPPRESS)
    parser.add_argument("--full-worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        folder, l2, n_jobs, preset, language_id = args.worker
        return worker(Path(folder), l2, int(n_jobs), preset, bool(int(language_id)))
    if args.full_worker:
        return full_worker(Path(args.full_worker[0]), Path(args.full_worker[1]))
    if not (SHARED / "ud").is_dir():
        print(f"skipped: the PUD sentences are not there ({SHARED / 'ud'})")
        return
    with_opusfilter = not args.skip_opusfilter and ensure_opusfilter()
    pud = pud_sentences()
    checks = []
    with tempfile.TemporaryDirectory() as tmp:
        for l2 in ("fr", "zh"):
            en, other = build_corpus(pud, l2, args.pairs, seed=1 if l2 == "fr" else 2)
            folder, lid_folder = Path(tmp) / f"en-{l2}", Path(tmp) / f"en-{l2}-langid"
            for where, size in ((folder, args.pairs), (lid_folder, min(args.langid_pairs, args.pairs))):
                where.mkdir()
                write_corpus(where, l2, en[:size], other[:size])
            checks += compare(folder, l2, args.pairs, with_opusfilter, language_id=False)
            checks += compare(lid_folder, l2, min(args.langid_pairs, args.pairs), with_opusfilter, language_id=True)
        if args.full_pairs:
            checks += full_pipeline(Path(tmp), pud, args.full_pairs)
    print()
    print("\n".join(checks))


def compare(folder: Path, l2: str, pairs: int, with_opusfilter: bool, language_id: bool) -> list[str]:
    """Ours against OpusFilter on one corpus: filters + de-duplication with n_jobs 1 and 2, or
    with language identification (n_jobs 2). Prints the table, returns the target checks."""
    print(f"\nen-{l2}: {pairs:,} pairs" + (", with language identification" if language_id else ""), flush=True)
    if language_id:
        ours = {
            "lid": run_ours(folder, l2, 2, "opusfilter", True),
            "defaults": run_ours(folder, l2, 2, "defaults", True),
        }
    else:
        ours = {1: run_ours(folder, l2, 1, "opusfilter", False), 2: run_ours(folder, l2, 2, "opusfilter", False)}
    runs, baseline, checks = [], {}, []
    if with_opusfilter:
        if language_id:
            theirs = {"lid": run_opusfilter(folder, l2, 2, True)}
            baseline = {ours["lid"].label: theirs["lid"], ours["defaults"].label: theirs["lid"]}
            checks.append(
                check(
                    f"en-{l2} with language ID, n_jobs 2, x OpusFilter + LangidFilter",
                    theirs["lid"].seconds / ours["lid"].seconds,
                    TARGET_LANGID_2_JOBS,
                )
            )
        else:
            theirs = {1: run_opusfilter(folder, l2, 1, False), 2: run_opusfilter(folder, l2, 2, False)}
            baseline = {ours[1].label: theirs[1], ours[2].label: theirs[2]}
            checks += [
                check(
                    f"en-{l2} filters + dedup, n_jobs 1, x OpusFilter",
                    theirs[1].seconds / ours[1].seconds,
                    TARGET_FILTERS_1_JOB,
                ),
                check(
                    f"en-{l2} filters + dedup, n_jobs 2, x OpusFilter",
                    theirs[2].seconds / ours[2].seconds,
                    TARGET_FILTERS_2_JOBS,
                ),
                check(
                    f"en-{l2} identical decisions with CleaningParams.opusfilter(), %",
                    100 * min(same_share(ours[k].kept, theirs[k].kept) for k in (1, 2)),
                    100.0,
                ),
            ]
        runs += list(theirs.values())
    runs += list(ours.values())
    report(pairs, runs, baseline)
    checks += [
        check(f"en-{l2} peak MiB, {run.label}", run.peak_mb, TARGET_PEAK_MB, at_least=False) for run in ours.values()
    ]
    return checks


def full_pipeline(tmp: Path, pud: dict[str, list[str]], pairs: int) -> list[str]:
    source, out = tmp / "full.parquet", tmp / "full-kept.parquet"
    en, fr = build_corpus(pud, "fr", pairs, seed=3)
    bitext_frame(en, "fr", fr).write_parquet(source, row_group_size=100_000)
    del en, fr
    env = dict(os.environ, POLARS_MAX_THREADS="2")
    stdout, peak = measured([sys.executable, __file__, "--full-worker", str(source), str(out)], env)
    report = json.loads(stdout.strip().splitlines()[-1])
    print(
        f"\nfull pipeline (defaults + language ID, n_jobs 2), {pairs:,} en-fr pairs from parquet to parquet: "
        f"{report['seconds']:.1f} s ({pairs / report['seconds']:,.0f} pairs/s), peak {peak:.0f} MiB, "
        f"kept {report['kept']:,}; removed {report['removed']}"
    )
    return [
        check(
            f"full pipeline, {pairs:,} pairs, seconds",
            report["seconds"],
            TARGET_FULL_SECONDS * pairs / 1_000_000,
            at_least=False,
        ),
        check("full pipeline peak MiB", peak, TARGET_PEAK_MB, at_least=False),
    ]


if __name__ == "__main__":
    main()
