"""The `probe` protocol's cost against one encoding pass over the same data: the feature cache at work.

    python benchmarks/probing.py [--train 2000] [--dev 500] [--test 500] [--repeats 3]
                                 [--layers 4] [--hidden 256] [--heads 4] [--ffn 1024] [--threads N]

Data (`_xnli_like.py`): XNLI-like premise/hypothesis pairs (lengths in words as XNLI's, ~43 subwords a
pair as under XLM-R) with labels drawn at random from XNLI's three, as a `TaskData` of the XNLI task:
`--train` English training pairs, `--dev` English dev pairs, `--test` test pairs in English and in
French (French words from the fixture corpora's French side). Model: the same seeded random BERT as
`encoding.py` (`--layers 4 --hidden 256 --heads 4 --ffn 1024`), loaded by `Encoder` with the probe's
max length (256), as `scoring.score_partition` loads it.

Timed, in one process (OpenMP threads waiting passively, `OMP_WAIT_POLICY=PASSIVE` unless the
environment sets it: `_xnli_like.wait_passively` says why), the order of the two alternating between
`--repeats` repeats:

- one encoding pass: `probing.task_features` over every split (tokenizing included), the probe's
  sum pooling of the last layer;
- the protocol as the scorer runs it: `cached_task_features` with a cold cache (computes the features
  and saves them), then `probe_task` for seeds 0, 1, 2 with `PROBE_SETTINGS["XNLI"]` forced to exactly
  10 epochs (`max_epochs=10, patience=None`: no early stop). The scorer's re-runs of a seed whose dev
  value is at chance are left out: on random labels every seed would be.

Then, untimed in the ratio: `cached_task_features` again on the warm cache (a load, no encoder), and
what the protocol would cost without the cache (every seed encoding the data itself: 3 encoding passes
+ the heads). Printed: medians of each, the ratio protocol / encoding pass against the target
(<= 1.5x), and that the cached features are the encoding pass's vectors.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _xnli_like import (  # noqa: E402
    SEED,
    add_model_arguments,
    build_checkpoint,
    fixture_texts,
    load_average,
    prepare_torch,
    subword_counts,
    word_stream,
    xnli_like_pairs,
)

TARGET_RATIO = 1.5  # (cold-cache features + 3 seeds x 10 epochs of heads) / one encoding pass
SEEDS = (0, 1, 2)
EPOCHS = 10
TASK_KEY = "XNLI"


def quiet(_: str) -> None:
    pass


def xnli_like_data(tokenizer, texts: dict[str, list[str]], args: argparse.Namespace):
    """English train and dev, English and French test, random XNLI labels (seeded)."""
    import polars as pl

    from xrep_assets.xglue.readers import SENTENCE_COLUMNS, XNLI_LABELS, SentenceExamples
    from xrep_assets.evaluation.protocols import TaskData
    from xrep_assets.study import TASKS

    streams = {lang: word_stream(texts[lang]) for lang in ("en", "fr")}
    counts = {lang: subword_counts(tokenizer, words) for lang, words in streams.items()}
    labels = sorted(XNLI_LABELS)

    def split(lang: str, n: int, seed: int) -> SentenceExamples:
        premises, hypotheses = xnli_like_pairs(streams[lang], counts[lang], n, seed)
        rng = random.Random(seed)
        frame = pl.DataFrame({"text_a": premises, "text_b": hypotheses, "label": [rng.choice(labels) for _ in range(n)],
                              "group": list(range(n))}, schema=SENTENCE_COLUMNS)
        return SentenceExamples(Path(f"xnli-like.{lang}"), frame)

    return TaskData(TASKS[TASK_KEY], split("en", args.train, SEED), {"en": split("en", args.dev, SEED + 1)},
                    {"en": split("en", args.test, SEED + 2), "fr": split("fr", args.test, SEED + 3)})


def largest_difference(a, b) -> float:
    """The largest |difference| between two `TaskFeatures`' vectors, over every split."""
    pairs = [(a.train, b.train)] + [(a.dev[k], b.dev[k]) for k in a.dev] + [(a.test[k], b.test[k]) for k in a.test]
    return max(float((x.vectors - y.vectors).abs().max()) for x, y in pairs)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train", type=int, default=2000, help="English training pairs")
    parser.add_argument("--dev", type=int, default=500, help="English dev pairs")
    parser.add_argument("--test", type=int, default=500, help="test pairs in each of English and French")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each, order alternating; medians are reported")
    add_model_arguments(parser)
    args = parser.parse_args()
    if min(args.train, args.dev, args.test, args.repeats) < 1:
        parser.error("--train, --dev, --test and --repeats must be at least 1")
    return args


def main() -> None:
    args = parse_args()
    wait_policy, size = prepare_torch(args)
    import torch

    from xrep_assets.checkpoints.encoder import Encoder
    from xrep_assets.evaluation.probing import TaskFeatures, cached_task_features, probe_task, task_features
    from xrep_assets.evaluation.protocols import DEFAULT_POOLING, PROBE_SETTINGS

    settings = replace(PROBE_SETTINGS[TASK_KEY], max_epochs=EPOCHS, patience=None)
    pooling = DEFAULT_POOLING["probe"]
    texts = fixture_texts()

    with tempfile.TemporaryDirectory(prefix="xrep-probing-bench-") as tmp:
        work = Path(tmp)
        encoder = Encoder(build_checkpoint(work, texts, size), max_length=settings.max_length)
        data = xnli_like_data(encoder.tokenizer, texts, args)
        identity = {"checkpoint": "random-bert", "revision": "benchmark", "max_length": encoder.max_length,
                    "lang_codes": None}
        splits = [data.train, *data.dev.values(), *data.test.values()]
        rows = sum(len(s) for s in splits)
        print(f"machine: {os.cpu_count()} CPUs, torch threads {args.threads}, OpenMP wait policy {wait_policy}; "
              f"load average at start {load_average()}")
        print(f"model: {size.describe()}, vocab {len(encoder.tokenizer)}, max_length {encoder.max_length}, "
              f"token budget {encoder.token_budget:,}, pooling {pooling}")
        print(f"data: {TASK_KEY}-like, train en {len(data.train)}, dev en {len(data.dev['en'])}, "
              f"test en {len(data.test['en'])} + fr {len(data.test['fr'])}: {rows} pairs, random labels")
        print(f"probe: {len(SEEDS)} seeds x {settings.max_epochs} epochs (patience {settings.patience}), "
              f"batch {settings.batch_size}, lr {settings.learning_rate}, head hidden {settings.head_hidden}")

        task_features(replace(data, train=data.dev["en"], test={}), encoder, -1, pooling, quiet)  # warm-up
        encoding: list[float] = []
        features_cold: list[float] = []
        heads: list[float] = []
        loads: list[float] = []
        last: dict[str, TaskFeatures] = {}

        def encoding_pass() -> None:
            start = time.perf_counter()
            last["encoded"] = task_features(data, encoder, -1, pooling, quiet)
            encoding.append(time.perf_counter() - start)

        def probe_protocol(cache: Path) -> None:
            start = time.perf_counter()
            features = cached_task_features(data, encoder, -1, pooling, cache, identity, quiet)
            computed = time.perf_counter()
            for seed in SEEDS:
                result = probe_task(features, settings, seed, log=quiet)
                if result.epochs_run != EPOCHS:
                    raise SystemExit(f"seed {seed} ran {result.epochs_run} epochs, not {EPOCHS}")
            features_cold.append(computed - start)
            heads.append(time.perf_counter() - computed)
            last["protocol"] = features

        for repeat in range(args.repeats):
            cache = work / f"cache-{repeat}"
            steps = (encoding_pass, partial(probe_protocol, cache))
            for step in steps if repeat % 2 == 0 else reversed(steps):
                step()
            start = time.perf_counter()
            last["warm"] = cached_task_features(data, encoder, -1, pooling, cache, identity, quiet)
            loads.append(time.perf_counter() - start)
            if len(list(cache.glob("*.pt"))) != 1:
                raise SystemExit(f"expected one feature file in {cache}")
            diff = max(largest_difference(last[name], last["encoded"]) for name in ("protocol", "warm"))
            print(f"  repeat {repeat + 1}: encoding pass {encoding[-1]:.2f} s; protocol "
                  f"{features_cold[-1] + heads[-1]:.2f} s (features, cold cache {features_cold[-1]:.2f} s + heads "
                  f"{heads[-1]:.2f} s); warm-cache load {loads[-1] * 1e3:.0f} ms; the protocol's and the cached "
                  f"vectors vs the pass's: max |diff| {diff:.1e}", flush=True)
            if diff > 1e-3:
                raise SystemExit("the protocol's features are not the encoding pass's")

    encode = statistics.median(encoding)
    total = statistics.median(f + h for f, h in zip(features_cold, heads, strict=True))
    head = statistics.median(heads)
    load = statistics.median(loads)
    ratio = total / encode
    print()
    lines = [
        (f"one encoding pass ({rows} pairs)", encode, f"{rows / encode:.1f} pairs/s"),
        ("protocol, cold cache", total, f"features {statistics.median(features_cold):.2f} s + {len(SEEDS)} seeds x "
                                        f"{EPOCHS} epochs of heads {head:.2f} s ({head / len(SEEDS):.2f} s a seed)"),
        ("protocol, warm cache", load + head, f"load {load * 1e3:.0f} ms + heads {head:.2f} s"),
        ("without the cache (3 x encoding + heads)", len(SEEDS) * encode + head, "every seed encodes the data"),
    ]
    for label, seconds, detail in lines:
        print(f"{label:<42s} {seconds:8.2f} s {seconds / encode:6.2f}x  {detail}")
    per_repeat = ", ".join(f"{(f + h) / e:.2f}x" for e, f, h in zip(encoding, features_cold, heads, strict=True))
    print(f"\nratio: protocol / encoding pass = {ratio:.2f}x (medians of {args.repeats}; target <= {TARGET_RATIO}x) -> "
          f"{'PASS' if ratio <= TARGET_RATIO else 'FAIL'}; per repeat {per_repeat}")
    print(f"load average at the end: {load_average()}")


if __name__ == "__main__":
    main()
