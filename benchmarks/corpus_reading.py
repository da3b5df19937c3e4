"""Corpus reading + cleaning throughput against the bare cost of reading the zip's lines.

    python benchmarks/corpus_reading.py [--lines 200000]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
import zipfile
from pathlib import Path

from xrep_assets.corpora.cleaning import CleaningParams, clean_bitext
from xrep_assets.corpora.readers import bitext_frame, read_moses_zip
from xrep_assets.study import CORPORA, LanguagePair

TARGET_RATIO = 15.0


EN_WORDS = "the committee adopted report agenda council member states session resolution draft".split()
FR_WORDS = "le comité a adopté rapport ordre conseil membres états session résolution projet".split()


def make_zip(path: Path, lines: int) -> None:
    """Distinct random sentences, so the duplicate filter keeps (almost) all of them."""
    rng = random.Random(0)
    en = "\n".join(" ".join(rng.choices(EN_WORDS, k=12)) + " ." for _ in range(lines)) + "\n"
    fr = "\n".join(" ".join(rng.choices(FR_WORDS, k=13)) + " ." for _ in range(lines)) + "\n"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("UNPC.en-fr.en", en)
        z.writestr("UNPC.en-fr.fr", fr)


def raw_read(path: Path) -> int:
    n = 0
    with zipfile.ZipFile(path) as z:
        for name in ("UNPC.en-fr.en", "UNPC.en-fr.fr"):
            with z.open(name) as f:
                n += sum(1 for _ in f)
    return n


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=200_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "en-fr.txt.zip"
        make_zip(path, args.lines)
        start = time.perf_counter()
        raw_read(path)
        baseline = time.perf_counter() - start
        start = time.perf_counter()
        # Rule filters only: language ID has its own benchmark (benchmarks/cleaning.py).
        params = CleaningParams(language_id=False)
        kept, removed = clean_bitext(bitext_frame(read_moses_zip(path, CORPORA["unpc"], LanguagePair("en", "fr"))), params)
        measured = time.perf_counter() - start
    ratio = measured / baseline
    print(f"lines: {args.lines:,}  kept: {kept.height:,}  removed: {removed}")
    print(f"raw zip read: {baseline:.2f} s   read + clean: {measured:.2f} s ({args.lines / measured:,.0f} pairs/s)")
    print(f"ratio: {ratio:.1f}x the raw read (target <= {TARGET_RATIO}x) -> {'OK' if ratio <= TARGET_RATIO else 'SLOW'}")


if __name__ == "__main__":
    main()
