"""Frozen-encoder throughput on XNLI-like pairs: our length-sorted token-budget batches against fixed-size
batches, same encoder, same rows, one run.

    python benchmarks/encoding.py [--examples 2490] [--max-length-examples 320] [--longest-examples 1024]
                                  [--repeats 3] [--toy-lengths] [--token-budget N]
                                  [--layers 4] [--hidden 256] [--heads 4] [--ffn 1024] [--threads N]

Data (`_xnli_like.py`): `--examples` seeded premise/hypothesis pairs (2,490 by default, an XNLI dev set)
whose lengths in words follow XNLI's: premise lognormal(mu 2.9, sigma 0.6), mean 21.8 words, median 18,
a tail past 100 (cut at 200); hypothesis lognormal(mu 2.2, sigma 0.4), mean 9.8. The words are
consecutive runs of the English fixture corpora (UNPC- and OpenSubtitles-like lines), tokenized by a
joint unigram tokenizer trained on the fixture's English and French sides. That toy tokenizer cuts ~2
subwords a word where XLM-R and mBERT cut English into ~1.2, so by default a text of w drawn words is
given round(1.2 w) subwords (whole words taken until the toy tokenizer's subwords reach that): ~43
subwords a pair, XNLI's under XLM-R (the run prints the mean). `--toy-lengths` keeps the drawn words
instead: ~2x longer rows, which waste less of a 256 pad (in favour of baseline (a)).

Model: a seeded random BERT (`--layers 4 --hidden 256 --heads 4 --ffn 1024`, 512 positions) saved
with `save_pretrained` beside the tokenizer and loaded once by `xrep_assets.checkpoints.encoder.Encoder`
with max_length 256 (Unicoder's XNLI setting; longer pairs are cut as the encoder cuts them). Every
side runs that one encoder's `hidden_states` (last layer, `torch.inference_mode`) and the probe's
pooling (`pool_tokens`, `--pooling sum`), and writes each row's vector at its own index; only the
batches differ:

- ours: `xrep_assets.evaluation.probing.split_features`, as the `probe` protocol calls it: the pairs
  tokenized (`encoder.text_rows`), then `encoder.batches`, rows sorted longest first and filled to the
  encoder's default `token_budget` (4,096 padded tokens on a CPU; printed), each padded to its longest row;
- (a) the XGLUE baseline scripts (Unicoder's run_xglue, transformers' old run_glue): batches of 32 in
  data order, every row padded to max_length 256 (`DataCollatorWithPadding(padding="max_length")`);
- (b) transformers' `DataCollatorWithPadding` (padding to each batch's longest row), batches of 32 in
  data order, unsorted.

Tokenization (`encoder.text_rows`, fast tokenizer) is inside the timed part on every side; so is
collation. Ours runs on all `--examples`: the fewer the rows, the coarser its length buckets. The
baselines' batches are fixed in size and draw independent rows, so their rate does not depend on how
many there are, and they run on the first rows only, to keep the run within minutes: (a) on
`--max-length-examples` (10 batches; every row costs the same, all being 256 long), (b) on
`--longest-examples` (32 batches; their padding is printed beside the whole set's). An untimed warm-up
batch runs first. The sides alternate their order between `--repeats` repeats; OpenMP threads wait
passively (`OMP_WAIT_POLICY=PASSIVE` unless the environment sets it; `_xnli_like.wait_passively` says
why). Printed: each side's examples/s (median), ours over (a) and over (b) against the targets (>= 5x
and >= 1.5x on CPU), the padded tokens each side computes, and the largest difference between ours and
each baseline's vectors on the rows both encoded (the same work, not merely faster work), relative to
the largest vector entry.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _xnli_like import (  # noqa: E402
    SEED,
    SUBWORDS_PER_WORD,
    add_model_arguments,
    build_checkpoint,
    fixture_texts,
    load_average,
    prepare_torch,
    subword_counts,
    word_stream,
    xnli_like_pairs,
)

TARGET_VS_MAX_LENGTH = 5.0  # ours / (a), examples/s on CPU
TARGET_VS_LONGEST = 1.5  # ours / (b)
MAX_LENGTH = 256  # Unicoder's XNLI max_seq_length
BATCH_SIZE = 32
# The largest |ours - baseline| a vector entry may differ by, relative to the largest |entry|: float32
# sums over different batch shapes, never different work.
TOLERANCE = 1e-5

SIDES = ("ours", "max-length", "longest")
NAMES = {
    "ours": "ours (split_features: sorted, token budget)",
    "max-length": "(a) batches of 32 padded to 256",
    "longest": "(b) batches of 32, DataCollatorWithPadding",
}


def fixed_batches(n: int) -> list[list[int]]:
    return [list(range(start, min(start + BATCH_SIZE, n))) for start in range(0, n, BATCH_SIZE)]


def longest_padding(lengths: list[int]) -> int:
    """The tokens (b) computes: each batch of 32 as wide as its longest row."""
    return sum(len(b) * max(lengths[i] for i in b) for b in fixed_batches(len(lengths)))


def encode_fixed(encoder, premises: list[str], hypotheses: list[str], collator, pooling: str):
    """Batches of 32 in data order through `collator`, then the same forward and pooling as ours."""
    import torch

    from xrep_assets.evaluation.heads import pool_tokens

    rows = encoder.text_rows(premises, hypotheses)
    vectors = torch.zeros((len(rows), encoder.hidden_size))
    for batch in fixed_batches(len(rows)):
        inputs = dict(collator([rows[i] for i in batch]))
        hidden = encoder.hidden_states(inputs, -1)
        vectors[batch[0] : batch[-1] + 1] = pool_tokens(hidden, inputs["attention_mask"], pooling).float()
    return vectors


def timed(run: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = run()
    return time.perf_counter() - start, result


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--examples", type=int, default=2490, help="pairs encoded by ours and (b) (an XNLI dev set)")
    parser.add_argument("--max-length-examples", type=int, default=320,
                        help="the first pairs encoded by (a), whose rows all cost the same (default 10 batches)")
    parser.add_argument("--longest-examples", type=int, default=1024,
                        help="the first pairs encoded by (b) (default 32 batches)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per side, order alternating; medians are reported")
    add_model_arguments(parser)
    parser.add_argument("--pooling", choices=("sum", "mean", "first", "last"), default="sum",
                        help="the probe's pooling (sum) by default")
    parser.add_argument("--token-budget", type=int,
                        help="ours' padded tokens per batch (default: the encoder's default, 4,096 on a CPU)")
    parser.add_argument("--toy-lengths", action="store_true",
                        help="keep the drawn words as the toy tokenizer cuts them (~2 subwords a word, not 1.2)")
    args = parser.parse_args()
    if min(args.examples, args.max_length_examples, args.longest_examples, args.repeats) < 1:
        parser.error("--examples, --max-length-examples, --longest-examples and --repeats must be at least 1")
    args.max_length_examples = min(args.max_length_examples, args.examples)
    args.longest_examples = min(args.longest_examples, args.examples)
    return args


def main() -> None:
    args = parse_args()
    wait_policy, size = prepare_torch(args)
    import polars as pl
    import torch
    from transformers import DataCollatorWithPadding

    from xrep_assets.checkpoints.encoder import Encoder
    from xrep_assets.xglue.readers import SENTENCE_COLUMNS, SentenceExamples
    from xrep_assets.evaluation.probing import split_features
    from xrep_assets.study import TASKS

    texts = fixture_texts()
    task = TASKS["XNLI"]

    with tempfile.TemporaryDirectory(prefix="xrep-encoding-bench-") as tmp:
        budget = {} if args.token_budget is None else {"token_budget": args.token_budget}
        encoder = Encoder(build_checkpoint(Path(tmp), texts, size), max_length=MAX_LENGTH, **budget)
        tokenizer = encoder.tokenizer
        words = word_stream(texts["en"])
        premises, hypotheses = xnli_like_pairs(words, subword_counts(tokenizer, words), args.examples, SEED,
                                               None if args.toy_lengths else SUBWORDS_PER_WORD)
        examples = SentenceExamples(Path("xnli-like"), pl.DataFrame(
            {"text_a": premises, "text_b": hypotheses, "label": ["neutral"] * args.examples,
             "group": list(range(args.examples))}, schema=SENTENCE_COLUMNS))
        lengths = [len(row["input_ids"]) for row in encoder.text_rows(premises, hypotheses)]
        rows_of = {"ours": args.examples, "max-length": args.max_length_examples, "longest": args.longest_examples}
        max_length_collator = DataCollatorWithPadding(tokenizer, padding="max_length", max_length=MAX_LENGTH)
        longest_collator = DataCollatorWithPadding(tokenizer)  # padding=True: to the batch's longest row
        runs: dict[str, Callable[[], object]] = {
            "ours": lambda: split_features(task, encoder, examples, -1, args.pooling, "en"),
            "max-length": lambda: encode_fixed(encoder, premises[: rows_of["max-length"]],
                                               hypotheses[: rows_of["max-length"]], max_length_collator, args.pooling),
            "longest": lambda: encode_fixed(encoder, premises[: rows_of["longest"]], hypotheses[: rows_of["longest"]],
                                            longest_collator, args.pooling),
        }
        padded = {
            "ours": sum(len(b) * lengths[b[0]] for b in encoder.batches(lengths)),
            "max-length": rows_of["max-length"] * MAX_LENGTH,
            "longest": longest_padding(lengths[: rows_of["longest"]]),
        }

        print(f"machine: {os.cpu_count()} CPUs, torch threads {args.threads}, OpenMP wait policy {wait_policy}; "
              f"load average at start {load_average()}")
        print(f"model: {size.describe()}, vocab {len(tokenizer)}, max_length {encoder.max_length}, "
              f"pooling {args.pooling}")
        cut = "the toy tokenizer's lengths" if args.toy_lengths else f"{SUBWORDS_PER_WORD} subwords a drawn word"
        print(f"data: {args.examples} XNLI-like pairs (seed {SEED}), {cut}: "
              f"{statistics.fmean(lengths):.1f} subwords a pair, median {statistics.median(lengths):.0f}, "
              f"longest {max(lengths)}, {sum(n >= MAX_LENGTH for n in lengths)} cut at {MAX_LENGTH}")
        print(f"ours: token budget {encoder.token_budget:,} padded tokens, {len(encoder.batches(lengths))} batches; "
              f"(a) on the first {rows_of['max-length']} pairs, (b) on the first {rows_of['longest']}; "
              "tokenization and collation timed on every side")
        print(f"padded tokens per pair computed: ours {padded['ours'] / args.examples:.1f}, "
              f"(a) {MAX_LENGTH}, (b) {padded['longest'] / rows_of['longest']:.1f} "
              f"(on all {args.examples}: {longest_padding(lengths) / args.examples:.1f}); "
              f"real: {statistics.fmean(lengths):.1f}")

        encode_fixed(encoder, premises[:BATCH_SIZE], hypotheses[:BATCH_SIZE], longest_collator, args.pooling)  # warm-up
        seconds: dict[str, list[float]] = {side: [] for side in SIDES}
        vectors: dict[str, torch.Tensor] = {}
        for repeat in range(args.repeats):
            order = SIDES if repeat % 2 == 0 else tuple(reversed(SIDES))
            for side in order:
                elapsed, result = timed(runs[side])
                seconds[side].append(elapsed)
                vectors[side] = result.cpu()
                print(f"  repeat {repeat + 1} {side:<10s} {rows_of[side] / elapsed:>8.1f} examples/s "
                      f"({elapsed:.2f} s for {rows_of[side]} pairs)", flush=True)

    rate = {side: statistics.median(rows_of[side] / s for s in seconds[side]) for side in SIDES}
    print()
    print(f"{'side':<46s} {'examples/s (median)':>20s} {'runs':>26s} {'padded tokens/pair':>19s}")
    for side in SIDES:
        each = ", ".join(f"{rows_of[side] / s:.1f}" for s in seconds[side])
        print(f"{NAMES[side]:<46s} {rate[side]:>20.1f} {each:>26s} {padded[side] / rows_of[side]:>19.1f}")

    scale = float(vectors["ours"].abs().max())
    print()
    all_same = True
    for side in ("max-length", "longest"):
        n = rows_of[side]
        diff = float((vectors["ours"][:n] - vectors[side][:n]).abs().max())
        same = diff <= TOLERANCE * scale
        all_same &= same
        print(f"same vectors, ours vs {side} ({n} pairs): max |diff| {diff:.2e}, largest |entry| {scale:.1f}, "
              f"relative {diff / scale:.1e} (<= {TOLERANCE:.0e}: {'yes' if same else 'NO'})")

    print()
    for side, target in (("max-length", TARGET_VS_MAX_LENGTH), ("longest", TARGET_VS_LONGEST)):
        ratio = rate["ours"] / rate[side]
        passed = ratio >= target
        paired = ", ".join(f"{(rows_of['ours'] / o) / (rows_of[side] / b):.2f}x"
                           for o, b in zip(seconds["ours"], seconds[side], strict=True))
        print(f"ours / {NAMES[side]}: {ratio:.2f}x (target >= {target}x) -> {'PASS' if passed else 'FAIL'}; "
              f"per repeat {paired}")
    print(f"load average at the end: {load_average()}")
    if not all_same:
        raise SystemExit("the sides' vectors differ: the speed-up is not for the same work")


if __name__ == "__main__":
    main()
