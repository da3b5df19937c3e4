"""Every layer-wise analysis of one checkpoint against encoding its sentences once.

    python benchmarks/analyses.py [--pud DIR] [--languages ar,en,es,fr,ru,zh] [--repeats 3]
                                  [--layers 4] [--hidden 256] [--heads 4] [--ffn 1024] [--threads N]

Data: the PUD treebanks' 1,000 parallel sentences in each of `--languages` (the study's six by
default), read from `--pud` (default `../shared/data/ud`, the real samples; without it, the
shipped 40-sentence fixtures repeated to 1,000 with a counter, which times the same work on
shorter sentences). Model: the seeded random BERT of `encoding.py` / `probing.py` (`_xnli_like.py`),
its tokenizer trained on the fixture corpora.

Timed in one process, the order of the two alternating between `--repeats` repeats:

- one encoding pass: `Encoder.sentence_vectors` of every sentence, last layer, mean pooling: the
  least any analysis of the sentences costs;
- the analyses as the worker and the asset run them (`analysis.work.run_analyses` with the encoder
  loaded: CKA, retrieval, weight spectrum; then `analysis.report`'s tables and plots from the files):
  every layer's vectors from one pass, CKA of each language with English and retrieval in both
  directions of every pair at every layer, the spectrum of every weight matrix, the files written
  and the metadata's tables and plots drawn.

The layer-wise probe is left out: it trains heads on a task's data, not on these sentences
(`probing.py` times the probe protocol against its encoding pass). Printed: the medians, the ratio
analyses / encoding pass against the target (<= 1.5x), where the analyses' time goes (one run,
timed by step), and, untimed in the ratio, the spectrum of a 100,000 x 512 embedding matrix (the
paper profile's vocabulary and width), which the fixture-sized vocabulary here does not show.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _xnli_like import add_model_arguments, build_checkpoint, fixture_texts, load_average, prepare_torch  # noqa: E402

TARGET_RATIO = 1.5  # every analysis / one encoding pass
SENTENCES = 1000
SHARED_UD = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ud"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pud", type=Path, default=SHARED_UD, help="a folder with the UD_<Name>-PUD treebanks")
    parser.add_argument("--languages", default="ar,en,es,fr,ru,zh")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each, order alternating; medians are reported")
    add_model_arguments(parser)
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    return args


def pud_sets(folder: Path, languages: list[str]) -> tuple[dict[str, list[str]], str]:
    """language -> 1,000 texts (the real treebanks, or the fixtures repeated), and where they came from."""
    from xrep_assets.analysis.pud import parallel_pud
    from xrep_assets.fixtures import UD_DIR

    source = folder if (folder / "UD_English-PUD").is_dir() else UD_DIR
    texts = {lang: list(by_item.values()) for lang, by_item in parallel_pud(source, languages).items()}
    if len(texts["en"]) < SENTENCES:
        texts = {lang: [f"{t[i % len(t)]} {i}" for i in range(SENTENCES)] for lang, t in texts.items()}
    return {lang: t[:SENTENCES] for lang, t in texts.items()}, str(source)


def main() -> None:
    args = parse_args()
    wait_policy, size = prepare_torch(args)
    import polars as pl
    import torch

    from xrep_assets.analysis import work
    from xrep_assets.analysis.files import SENTENCES_SCHEMA, analysis_parts
    from xrep_assets.analysis.report import METADATA
    from xrep_assets.analysis.spec import AnalyzeSpec
    from xrep_assets.analysis.spectrum import weight_spectra
    from xrep_assets.checkpoints.encoder import Encoder

    languages = args.languages.split(",")
    if "en" not in languages:
        raise SystemExit("--languages must include en (CKA compares each language with English)")
    texts, source = pud_sets(args.pud, languages)
    quiet = lambda line: None  # noqa: E731

    with tempfile.TemporaryDirectory(prefix="xrep-analyses-bench-") as tmp:
        work_dir = Path(tmp)
        encoder = Encoder(build_checkpoint(work_dir, fixture_texts(), size))
        sentences = work_dir / "sentences.parquet"
        pl.DataFrame([{"dataset": "pud", "item": str(i), "lang": lang, "text": text}
                      for lang, lang_texts in texts.items() for i, text in enumerate(lang_texts)],
                     schema=SENTENCES_SCHEMA).write_parquet(sentences)
        spec = AnalyzeSpec(checkpoint="random-bert", revision="benchmark", checkpoint_dir=str(work_dir / "checkpoint"),
                           analyses=("cka", "retrieval", "spectrum"), sentences=str(sentences),
                           artifacts_root=str(work_dir / "artifacts"))
        total = sum(len(t) for t in texts.values())
        print(f"machine: {os.cpu_count()} CPUs, torch threads {args.threads}, OpenMP wait policy {wait_policy}; "
              f"load average at start {load_average()}")
        print(f"model: {size.describe()}, {encoder.num_layers + 1} hidden states, vocab {len(encoder.tokenizer)}, "
              f"max_length {encoder.max_length}, token budget {encoder.token_budget:,}")
        print(f"data: {len(texts)} languages x {SENTENCES} PUD sentences ({total} texts) from {source}")

        encoder.sentence_vectors(texts["en"][:64])  # warm-up
        encoding: list[float] = []
        analyses: list[float] = []

        def encoding_pass() -> None:
            start = time.perf_counter()
            for lang, lang_texts in texts.items():
                encoder.sentence_vectors(lang_texts)
            encoding.append(time.perf_counter() - start)

        def every_analysis() -> None:
            start = time.perf_counter()
            reports = work.run_analyses(spec, encoder, quiet)
            for analysis in spec.analyses:
                METADATA[analysis](pl.read_parquet(Path(spec.artifacts_root).joinpath(*analysis_parts(spec.checkpoint, analysis))), "b")
            analyses.append(time.perf_counter() - start)
            if set(reports) != {"cka_by_layer", "retrieval_by_layer", "weight_spectrum"}:
                raise SystemExit(f"the analyses reported {sorted(reports)}")

        for repeat in range(args.repeats):
            steps = (encoding_pass, every_analysis)
            for step in steps if repeat % 2 == 0 else reversed(steps):
                step()
            print(f"  repeat {repeat + 1}: encoding pass {encoding[-1]:.2f} s; every analysis {analyses[-1]:.2f} s "
                  f"({analyses[-1] / encoding[-1]:.2f}x)", flush=True)

        # Where the time goes, one run, step by step (as run_analyses does them).
        steps: dict[str, float] = {}
        sets = {"pud": texts}
        start = time.perf_counter()
        vectors = work.encode_sets(encoder, sets, quiet)
        steps["every layer's vectors (one pass)"] = time.perf_counter() - start
        for name, call in (("CKA", partial(work.cka_frame, "b", None, vectors)),
                           ("retrieval", partial(work.retrieval_frame, "b", None, vectors)),
                           ("spectrum", lambda: work.spectrum_frame("b", None, weight_spectra(encoder.stack)))):
            start = time.perf_counter()
            frame = call()
            steps[name] = time.perf_counter() - start
            start = time.perf_counter()
            METADATA[{"CKA": "cka", "retrieval": "retrieval", "spectrum": "spectrum"}[name]](frame, "b")
            steps[f"{name}: tables and plots"] = time.perf_counter() - start

        embedding = torch.randn(100_000, 512, generator=torch.Generator().manual_seed(0))
        start = time.perf_counter()
        torch.linalg.svdvals(embedding)
        paper_embedding = time.perf_counter() - start

    encode = statistics.median(encoding)
    every = statistics.median(analyses)
    ratio = every / encode
    print()
    print(f"{'one encoding pass (last layer)':<42s} {encode:8.2f} s  {total / encode:7.1f} sentences/s")
    print(f"{'every analysis (CKA, retrieval, spectrum)':<42s} {every:8.2f} s  {ratio:6.2f}x")
    for name, seconds in steps.items():
        print(f"    {name:<38s} {seconds:8.2f} s")
    print(f"\nratio: every analysis / encoding pass = {ratio:.2f}x (medians of {args.repeats}; target <= {TARGET_RATIO}x) -> "
          f"{'PASS' if ratio <= TARGET_RATIO else 'FAIL'}")
    print(f"untimed in the ratio: the singular values of a 100,000 x 512 embedding (the paper's vocabulary): "
          f"{paper_embedding:.2f} s on this CPU")
    print(f"load average at the end: {load_average()}")


if __name__ == "__main__":
    main()
