"""The GPU path in one short run: training throughput and MFU of all six objectives at the paper's size,
and the scoring worker's encoding throughput, through the project's own code.

    python benchmarks/gpu_path.py --json gpu_path.json                    # one CUDA card, paper size, bf16
    python benchmarks/gpu_path.py --precision fp16 --json gpu_path.json   # fp16 autocast + GradScaler
    python benchmarks/gpu_path.py --device cpu --size small               # the same script in seconds on a CPU

Made for one H100 in one call of under ~8 minutes, model builds included: each objective's timed loop
stops at `--max-seconds` (paper: 45 s) even if its steps are not done; an out-of-memory error retries
the objective with half the tokens a step (twice at most, recorded in `out_of_memory_at`); any other
failure is recorded in the objective's row and the run goes on; the JSON file is rewritten after every
row, so a run cut short still leaves what it measured.

Inputs (a temporary folder, offline): the fixture's joint unigram tokenizer padded to the size's
vocabulary (paper: `PROFILES["paper"].tokenizer_vocab_size`, 100,000) and the study corpus layout from
the shipped UNPC fixture zips (monolingual en/fr/zh, bitext en-fr/en-zh), written with
`benchmarks/pretraining.py`'s helpers (`fixture_texts`, `write_tokenizer`, `write_corpus`), the text
repeated as often as a batch needs.

Training, per objective (`--objectives`, default all six): a `PretrainSpec` built with keyword
arguments (paper: `model_size` for mlm/clm/tlm, `seq2seq_size` per stack for bart-denoising/
mt-transformer/mt-bart; `max_length` = `--seq-length`, 512), then the pieces `checkpoints.training.train`
runs, in its order: `build_model` after `torch.manual_seed(seed)`, `optimizer_for` (fused AdamW), a
linear schedule, `ExampleSource` over the corpus streams, `collate` with `micro_batch_generator`, the
`LossModule` (`objective_loss`: the sparse MLM head, the models' own losses), the finite-loss check,
clipping, and the loss's `.item()` each step (the worker's sync point). `train` itself is not called:
it also builds and saves, and always runs bf16 on a GPU, where this script needs fp16 with a GradScaler
too and a clock per step. Precision: autocast to `--precision` (bf16; fp16 with `torch.amp.GradScaler`,
unscaled before clipping; or fp32), TF32 matmuls on a GPU as `train` sets them.

- Batch: ~`--tokens-per-step` model input tokens a step (paper 16,384, one micro-batch). Packed MLM/CLM
  blocks are `--seq-length` long: 32 blocks of 512. For the others the batch is the tokens over the
  mean example's, measured on a sample first. The fixture's sentences are short: at 512, a TLM pair has
  ~28 tokens (~600 pairs a step), an MT source ~15 (~1,075 pairs, their targets ~13k tokens more), a
  BART document ~420 (~39 a step). TLM and MT batches pad to their longest row, as the worker's do:
  ~50 % and ~65 % of their input positions at these batch sizes.
- Timed: steps `--warmup + 1 .. --warmup + --steps` (paper 20 + 200; small 2 + 4), from the end of
  one step (its `.item()`) to the end of the last; data preparation (reading, tokenizing, collating,
  host-to-device copy) is inside, as in the worker, and its part is reported (`data ms`).
- tokens/s: non-padding model input tokens (`attention_mask.sum()`, what the worker's log counts: the
  encoder's input for the encoder-decoders) per second. The decoder's target tokens/s and the padded
  share of the input positions are in the JSON.
- N: `models.count_parameters` of the built model (a tied embedding once, the Transformer's sinusoidal
  table not at all).
- MFU (6N): 6 x N x tokens/s / peak, the convention this benchmark was asked for. Its limits: N
  includes the token embedding (100k x d), free as a lookup but also the (tied) output layer, so 6N
  fits GPT-2 (dense head at every position) and overstates the MLM, whose sparse head runs on the
  ~15 % masked positions only (`benchmarks/pretraining.py`'s convention credits it there only); it
  leaves attention out (12 x L x s x h a token); for an encoder-decoder N is both stacks and the tokens
  the source's, right when source and target are equally long.
- counted TFLOP/s, util (counted): the FLOPs the step executes, counted by `torch.utils.flop_counter`
  (forward + backward matmuls and the GPU's fused attention kernels; the embedding lookup free, the MLM
  head on the masked positions only, causal attention counted whole) on the first three warm-up steps,
  per padded input position, times the padded input positions a second of the timed steps; util divides
  by the peak. Padding is work done here: where batches pad (TLM, MT, BART) the required-work MFU is
  lower by about the padded share. On a CPU the attention kernel is not one the counter knows: matmuls
  only.
- Peak: the card's dense bf16 tensor FLOP/s from `xrep_assets/plan.py` (`peak_bf16_flops`, matched
  on the device name), used for fp16 too (the H100, H200 and A100 datasheets give equal dense bf16 and
  fp16 tensor peaks); none for fp32 or a CPU, where MFU is "n/a" unless `--peak-tflops` gives a figure.

Encoding (`--encode`, default mlm and mt-transformer): the trained model is saved with `save_pretrained`
beside the tokenizer, as the worker saves it, then loaded by `checkpoints.encoder.Encoder` the way
`evaluation.scoring.score_partition` loads it (the device, XNLI's max length over the probe and finetune
protocols, `language_codes_for(objective)`, the encoder's default token budget for the device: 16,384
padded tokens on a GPU); `evaluation.probing.split_features` encodes `--encode-examples` XNLI-like pairs
(`_xnli_like.py`, ~43 subwords a pair) with the probe's pooling, tokenization included, as
`benchmarks/encoding.py` times it. As in the scoring worker, fp32 without TF32 (training's TF32 switch
is put back first). sentences/s: pairs (one input row each) a second; tokens/s: their non-padding
subwords a second; the median of `--encode-repeats` passes after an untimed warm-up pass.

Output: a markdown table (a row per objective, a row per encoded model) on stdout, progress on stderr,
and with `--json PATH` the numbers with the device name, torch version and precision.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
import traceback
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCHMARKS))

from _xnli_like import SEED, subword_counts, wait_passively, word_stream, xnli_like_pairs  # noqa: E402
from pretraining import LANGUAGES, fixture_texts, write_corpus, write_tokenizer  # noqa: E402

OBJECTIVE_KEYS = ("mlm", "clm", "tlm", "bart-denoising", "mt-transformer", "mt-bart")
PAIRS = ("en-fr", "en-zh")
ENCODE_TASK = "XNLI"


@dataclass(frozen=True)
class SizeSettings:
    """What `--size` sets; every field can be overridden on the command line where it has an option."""

    single: tuple[int, int, int, int, int]  # layers, hidden, heads, ffn, max_positions
    seq2seq: tuple[int, int, int, int, int]  # per stack
    vocab: int
    seq_length: int
    tokens_per_step: int
    steps: int
    warmup: int
    max_seconds: float
    learning_rate: float
    encode_examples: int
    encode_repeats: int


def size_settings(name: str) -> SizeSettings:
    if name == "paper":
        from xrep_assets.profiles import PROFILES

        paper = PROFILES["paper"]
        return SizeSettings(
            single=tuple(asdict(paper.model_size).values()),
            seq2seq=tuple(asdict(paper.seq2seq_size).values()),
            vocab=paper.tokenizer_vocab_size,
            seq_length=512,
            tokens_per_step=16_384,
            steps=200,
            warmup=20,
            max_seconds=45.0,
            learning_rate=paper.learning_rate,
            encode_examples=20_000,
            encode_repeats=3,
        )
    # Tiny layers, the fixture tokenizer padded to the tiny profile's 2,000 pieces, short sequences.
    return SizeSettings(
        single=(2, 32, 2, 64, 64),
        seq2seq=(1, 32, 2, 64, 64),
        vocab=2000,
        seq_length=64,
        tokens_per_step=256,
        steps=4,
        warmup=2,
        max_seconds=60.0,
        learning_rate=1e-3,
        encode_examples=48,
        encode_repeats=1,
    )


# --------------------------------------------------------------------------------------------------
# Inputs


def write_bitext(work: Path, copies: int) -> None:
    """`bitext/{pair}/train.parquet` of the study corpus from the UNPC fixture zips, `copies` times over."""
    import polars as pl

    from xrep_assets.corpora.readers import bitext_frame, read_moses_zip
    from xrep_assets.corpora.layout import study_bitext_name
    from xrep_assets.fixtures import OPUS_MIRROR
    from xrep_assets.study import CORPORA, ENGLISH_PAIRS

    corpus = CORPORA["unpc"]
    for pair in (p for p in ENGLISH_PAIRS if p.key in PAIRS):
        zip_path = OPUS_MIRROR / corpus.opus_name / corpus.version / "moses" / f"{'-'.join(corpus.opus_pair(pair))}.txt.zip"
        frame = bitext_frame(read_moses_zip(zip_path, corpus, pair))
        path = work / "corpus" / study_bitext_name(pair, "train")
        path.parent.mkdir(parents=True, exist_ok=True)
        pl.concat([frame] * copies).write_parquet(path)


def make_spec(args: argparse.Namespace, work: Path, objective: str, batch_size: int, device: str):
    """The worker's spec for `objective`, keyword arguments only and no more fields than the pieces read."""
    from xrep_assets.checkpoints.models import architecture_for
    from xrep_assets.checkpoints.spec import PretrainSpec
    from xrep_assets.profiles import ModelSize
    from xrep_assets.study import ENGLISH_PAIRS, directions_for

    size = ModelSize(*(args.seq2seq if architecture_for(objective).two_stack else args.single))
    total = args.warmup + args.steps
    return PretrainSpec(
        objective=objective,
        tokenizer=str(work / "tokenizer"),
        corpus=str(work / "corpus"),
        languages=LANGUAGES,
        pairs=PAIRS,
        directions=tuple(d.key for d in directions_for(tuple(p for p in ENGLISH_PAIRS if p.key in PAIRS))),
        out_dir=str(work / objective / "out"),
        work_dir=str(work / objective / "work"),
        size=size,
        steps=total,
        batch_size=batch_size,
        max_length=args.seq_length,
        learning_rate=args.learning_rate,
        warmup_steps=max(1, min(total // 10, total - 1)),
        seed=SEED,
        device=device,
    )


def example_source(spec, tokenizer, ids):
    from xrep_assets.checkpoints.batches import ExampleSource
    from xrep_assets.checkpoints.streams import bitext_stream, monolingual_stream

    corpus = Path(spec.corpus)
    stream = bitext_stream(corpus, spec.pairs, spec.seed) if spec.uses_bitext else monolingual_stream(corpus, spec.languages, spec.seed)
    return ExampleSource(spec, tokenizer, ids, stream)


def batch_size_for(args, work: Path, objective: str, tokenizer, ids, tokens_per_step: int) -> tuple[int, float]:
    """Examples a step so that it holds ~`tokens_per_step` model input tokens, and the mean input tokens
    of an example (measured on a sample; packed blocks are exactly `seq_length`)."""
    from xrep_assets.checkpoints.batches import collate
    from xrep_assets.checkpoints.training import micro_batch_generator

    if objective in ("mlm", "clm"):
        return max(1, tokens_per_step // args.seq_length), float(args.seq_length)
    probe = make_spec(args, work, objective, 1, args.device)
    sample = max(32, 2 * math.ceil(tokens_per_step / args.seq_length))
    examples = example_source(probe, tokenizer, ids).take(sample, micro_batch_generator(SEED, 0, 0, 0))
    batch = collate(objective, examples, ids, micro_batch_generator(SEED, 0, 0, 1))
    mean = float(batch["attention_mask"].sum()) / len(examples)
    return max(1, round(tokens_per_step / mean)), mean


# --------------------------------------------------------------------------------------------------
# Training one objective


def autocast_and_scaler(device, precision: str):
    import torch

    if precision == "fp32":
        return nullcontext(), None
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    scaler = torch.amp.GradScaler(device.type) if precision == "fp16" else None
    return torch.autocast(device.type, dtype=dtype), scaler


def train_objective(
    args, work: Path, objective: str, tokenizer, ids, peak: float | None, log, tokens_per_step: int
) -> tuple[dict, object]:
    """The worker's step loop on `objective` (see the module docstring); its row, and the model."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    from transformers import get_scheduler

    from xrep_assets.checkpoints.batches import collate
    from xrep_assets.checkpoints.models import IGNORE_INDEX, architecture_for, build_model, count_parameters
    from xrep_assets.checkpoints.training import LossModule, micro_batch_generator, optimizer_for, rank_device
    from xrep_assets.study import RECIPES

    batch_size, mean_example = batch_size_for(args, work, objective, tokenizer, ids, tokens_per_step)
    spec = make_spec(args, work, objective, batch_size, args.device)
    device = rank_device(spec.device, 0)
    two_stack = architecture_for(objective).two_stack

    began = time.perf_counter()
    torch.manual_seed(spec.seed)
    model = build_model(spec.objective, ids, spec.size)
    model.to(device)
    optimizer = optimizer_for(model, spec)
    scheduler = get_scheduler("linear", optimizer, num_warmup_steps=spec.warmup_steps, num_training_steps=spec.steps)
    examples = example_source(spec, tokenizer, ids)
    # The recipe's loss: label-smoothed cross-entropy for the BART-recipe objectives (study.RECIPES).
    wrapped = LossModule(spec.objective, model, RECIPES[objective].label_smoothing)
    autocast, scaler = autocast_and_scaler(device, args.precision)
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    build_seconds = time.perf_counter() - began
    parameters = count_parameters(model)
    log(f"{objective}: {parameters:,} parameters, batch {batch_size} (~{mean_example:.0f} input tokens an example), "
        f"built in {build_seconds:.1f} s")

    model.train()
    count_steps = min(args.warmup, 3)  # FLOPs counted on these (warm-up, untimed) steps
    counted_flops, counted_positions = 0, 0
    losses: list[float] = []
    timed = {"tokens": 0, "targets": 0, "positions": 0, "data": 0.0, "steps": 0}
    start = None
    for step in range(1, spec.steps + 1):
        step_began = time.perf_counter()
        taken = examples.take(spec.batch_size, micro_batch_generator(spec.seed, step, 0, 0))
        collated = collate(spec.objective, taken, ids, micro_batch_generator(spec.seed, step, 0, 1))
        tokens = int(collated["attention_mask"].sum())
        positions = collated["attention_mask"].numel()
        targets = int((collated["labels"] != IGNORE_INDEX).sum()) if two_stack else 0
        batch = {k: v.to(device, non_blocking=True) for k, v in collated.items()}
        data_seconds = time.perf_counter() - step_began
        counter = FlopCounterMode(display=False) if step <= count_steps else nullcontext()
        with counter:
            with autocast:
                loss = wrapped(batch)
            (scaler.scale(loss) if scaler else loss).backward()
        if step <= count_steps:
            counted_flops += counter.get_total_flops()
            counted_positions += positions
        if not torch.isfinite(loss):
            raise RuntimeError(f"{objective}: loss is {loss.item()} at step {step}")
        if scaler:
            scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(model.parameters(), spec.max_grad_norm)
        if scaler:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())  # the worker's per-step sync
        now = time.perf_counter()
        if step == args.warmup:
            start = now
        elif start is not None:
            timed["steps"] += 1
            timed["tokens"] += tokens
            timed["targets"] += targets
            timed["positions"] += positions
            timed["data"] += data_seconds
            if now - start >= args.max_seconds and step < spec.steps:
                log(f"{objective}: stopped after {timed['steps']} timed steps ({args.max_seconds:.0f} s cap)")
                break
    seconds = now - start
    tokens_per_s = timed["tokens"] / seconds
    flops_per_position = counted_flops / counted_positions if counted_positions else None
    row = {
        "objective": objective,
        "model": type(model).__name__,
        "size": asdict(spec.size),
        "parameters": parameters,
        "tokens_per_step": tokens_per_step,
        "batch_size": batch_size,
        "mean_input_tokens": mean_example,
        "timed_steps": timed["steps"],
        "seconds": seconds,
        "step_ms": 1000 * seconds / timed["steps"],
        "data_ms": 1000 * timed["data"] / timed["steps"],
        "tokens_per_s": tokens_per_s,
        "target_tokens_per_s": timed["targets"] / seconds if two_stack else None,
        "padded_share": 1 - timed["tokens"] / timed["positions"],
        "mfu_6n": 6 * parameters * tokens_per_s / peak if peak else None,
        "counted_flops_per_position": flops_per_position,
        "counted_flops_per_s": flops_per_position * timed["positions"] / seconds if flops_per_position else None,
        "util_counted": flops_per_position * timed["positions"] / seconds / peak if peak and flops_per_position else None,
        "loss_first": losses[0],
        "loss_last": losses[-1],
        "build_seconds": build_seconds,
        "gpu_peak_bytes": torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None,
        "error": None,
    }
    del optimizer, scheduler, wrapped, examples, batch, loss
    return row, model


# --------------------------------------------------------------------------------------------------
# Encoding as the scoring worker does


def encode_model(args, work: Path, objective: str, model, tokenizer, log) -> dict:
    import polars as pl
    import torch

    from xrep_assets.checkpoints.encoder import Encoder, language_codes_for
    from xrep_assets.checkpoints.models import count_parameters
    from xrep_assets.xglue.readers import SENTENCE_COLUMNS, SentenceExamples
    from xrep_assets.evaluation.probing import split_features
    from xrep_assets.evaluation.protocols import DEFAULT_POOLING, settings_for
    from xrep_assets.study import TASKS

    checkpoint = work / objective / "checkpoint"
    model.eval()
    model.save_pretrained(str(checkpoint))
    tokenizer.save_pretrained(str(checkpoint))
    task = TASKS[ENCODE_TASK]
    max_length = max(settings_for(p, task.key).max_length for p in ("probe", "finetune"))
    budget = {"token_budget": args.token_budget} if args.token_budget else {}
    encoder = Encoder(checkpoint, device=args.device, max_length=max_length, lang_codes=language_codes_for(objective), **budget)
    words = word_stream(args.texts["en"])
    premises, hypotheses = xnli_like_pairs(words, subword_counts(encoder.tokenizer, words), args.encode_examples, SEED)
    n = len(premises)
    examples = SentenceExamples(Path("xnli-like"), pl.DataFrame(
        {"text_a": premises, "text_b": hypotheses, "label": ["neutral"] * n, "group": list(range(n))},
        schema=SENTENCE_COLUMNS))
    lengths = [len(row["input_ids"]) for row in encoder.text_rows(premises, hypotheses, "en")]
    pooling = DEFAULT_POOLING["probe"]
    cuda = str(args.device).startswith("cuda")

    def run() -> float:
        began = time.perf_counter()
        vectors = split_features(task, encoder, examples, -1, pooling, "en")
        float(vectors.sum())  # waits for the device; the worker's next use of the vectors does too
        return time.perf_counter() - began

    warm = SentenceExamples(Path("warm-up"), examples.frame.head(min(n, 256)))
    split_features(task, encoder, warm, -1, pooling, "en")
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    seconds = [run() for _ in range(args.encode_repeats)]
    median = statistics.median(seconds)
    padded = sum(len(b) * lengths[b[0]] for b in encoder.batches(lengths))
    row = {
        "objective": objective,
        "model": type(encoder.stack).__name__,
        "parameters": count_parameters(encoder.stack),
        "sentences": n,
        "tokens": sum(lengths),
        "padded_share": 1 - sum(lengths) / padded,
        "token_budget": encoder.token_budget,
        "max_length": encoder.max_length,
        "batches": len(encoder.batches(lengths)),
        "pooling": pooling,
        "precision": "fp32",
        "matmul_tf32": bool(torch.backends.cuda.matmul.allow_tf32) if cuda else None,
        "seconds": seconds,
        "sentences_per_s": n / median,
        "tokens_per_s": sum(lengths) / median,
        "gpu_peak_bytes": torch.cuda.max_memory_allocated() if cuda else None,
        "error": None,
    }
    log(f"encode {objective}: {row['sentences_per_s']:,.0f} sentences/s, {row['tokens_per_s']:,.0f} tokens/s")
    del encoder
    return row


# --------------------------------------------------------------------------------------------------
# Report


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} ({os.cpu_count()} CPUs)"
    except OSError:
        pass
    return platform.processor() or platform.machine() or "CPU"


def fmt(value, spec: str = ",.0f", missing: str = "n/a") -> str:
    return missing if value is None else format(value, spec)


def gib(value: int | None) -> str:
    return "–" if value is None else f"{value / 2**30:.1f} GiB"


def markdown(result: dict) -> str:
    header = ("| kind | objective | model | N | batch | tokens/s | sentences/s | MFU (6N) | counted TFLOP/s "
              "| util (counted) | step ms (data ms) | pad % | peak GPU mem |")
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    for row in result["training"]:
        if row["error"]:
            lines.append(f"| train | {row['objective']} | | | | error: {row['error']} | | | | | | | |")
            continue
        lines.append(
            f"| train | {row['objective']} | {row['model']} | {row['parameters']:,} | {row['batch_size']} "
            f"| {row['tokens_per_s']:,.0f} | – | {fmt(row['mfu_6n'], '.1%')} "
            f"| {fmt(row['counted_flops_per_s'] and row['counted_flops_per_s'] / 1e12, ',.3g')} "
            f"| {fmt(row['util_counted'], '.1%')} | {row['step_ms']:,.1f} ({row['data_ms']:,.1f}) "
            f"| {row['padded_share']:.0%} | {gib(row['gpu_peak_bytes'])} |"
        )
    for row in result["encoding"]:
        if row["error"]:
            lines.append(f"| encode | {row['objective']} | | | | error: {row['error']} | | | | | | | |")
            continue
        lines.append(
            f"| encode | {row['objective']} | {row['model']} | {row['parameters']:,} | {row['token_budget']:,} tok "
            f"| {row['tokens_per_s']:,.0f} | {row['sentences_per_s']:,.0f} | – | – | – "
            f"| {1000 * statistics.median(row['seconds']) / row['batches']:,.1f} / batch "
            f"| {row['padded_share']:.0%} | {gib(row['gpu_peak_bytes'])} |"
        )
    return "\n".join(lines)


def write_json(path: Path | None, result: dict) -> None:
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(result, indent=2), encoding="utf-8")
    os.replace(tmp, path)


# --------------------------------------------------------------------------------------------------


def failed(objective: str, error: BaseException) -> dict:
    traceback.print_exc()
    return {"objective": objective, "error": f"{type(error).__name__}: {str(error)[:200]}"}


def train_with_retries(args, work: Path, objective: str, tokenizer, ids, peak, log) -> tuple[dict, object]:
    """`train_objective`; after an out-of-memory error again with half the tokens a step (twice at most).
    Any other failure becomes the row's error: one objective must not end the one GPU call."""
    import torch

    tokens, oom = args.tokens_per_step, []
    for _ in range(3):
        try:
            row, model = train_objective(args, work, objective, tokenizer, ids, peak, log, tokens)
            row["out_of_memory_at"] = oom
            return row, model
        except torch.OutOfMemoryError as error:
            row = failed(objective, error)
        except Exception as error:  # noqa: BLE001
            return failed(objective, error), None
        # Out of the except block: the traceback and the failed step's tensors are gone.
        if torch.cuda.is_available():
            gc.collect()
            torch.cuda.empty_cache()
        oom.append(tokens)
        log(f"{objective}: out of memory at {tokens:,} tokens a step; trying {tokens // 2:,}")
        tokens //= 2
    row["out_of_memory_at"] = oom
    return row, None


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu")
    parser.add_argument("--size", choices=("paper", "small"), help="paper (default on cuda) or small (default on cpu)")
    parser.add_argument("--precision", choices=("bf16", "fp16", "fp32"), default="bf16",
                        help="autocast dtype of training; fp16 adds a GradScaler")
    parser.add_argument("--objectives", default=",".join(OBJECTIVE_KEYS), help="comma-separated, in this order")
    parser.add_argument("--encode", default="mlm,mt-transformer",
                        help="objectives whose trained model is encoded with (comma-separated; '' for none)")
    parser.add_argument("--steps", type=int, help="timed steps per objective (paper 200, small 4)")
    parser.add_argument("--warmup", type=int, help="untimed steps first (paper 20, small 2)")
    parser.add_argument("--max-seconds", type=float, help="cap on an objective's timed steps (paper 45 s)")
    parser.add_argument("--tokens-per-step", type=int, help="model input tokens a step (paper 16384, small 256)")
    parser.add_argument("--seq-length", type=int, help="max_length of the examples (paper 512, small 64)")
    parser.add_argument("--vocab", type=int, help="tokenizer size (paper 100000, small 2000)")
    parser.add_argument("--encode-examples", type=int, help="XNLI-like pairs encoded (paper 20000, small 48)")
    parser.add_argument("--encode-repeats", type=int, help="timed encoding passes, median reported (paper 3, small 1)")
    parser.add_argument("--token-budget", type=int, help="encoder's padded tokens a batch (default: its own for the device)")
    parser.add_argument("--peak-tflops", type=float,
                        help="the device's dense peak for --precision in TFLOP/s, where the table lacks it (never guessed)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="torch CPU threads")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)
    args.size = args.size or ("small" if args.device == "cpu" else "paper")
    settings = size_settings(args.size)
    for name, value in asdict(settings).items():
        if getattr(args, name, None) is None:
            setattr(args, name, value)
    args.objectives = [o for o in args.objectives.split(",") if o]
    args.encode = [o for o in args.encode.split(",") if o]
    unknown = [o for o in args.objectives + args.encode if o not in OBJECTIVE_KEYS]
    if unknown:
        parser.error(f"unknown objectives {unknown}; known: {', '.join(OBJECTIVE_KEYS)}")
    missing = [o for o in args.encode if o not in args.objectives]
    if missing:
        parser.error(f"--encode {missing}: only trained objectives can be encoded (add them to --objectives)")
    if args.steps < 1 or args.warmup < 1:
        parser.error("--steps and --warmup must be at least 1 (the clock starts at the end of a warm-up step)")
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    wait_passively()
    import torch
    import transformers
    from transformers import AutoTokenizer
    from transformers.utils import logging as hf_logging

    from xrep_assets.checkpoints.vocabulary import token_ids

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    torch.set_num_threads(args.threads)
    cuda = args.device.startswith("cuda")
    if cuda and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device (use --device cpu --size small on a CPU)")
    card = torch.cuda.get_device_name() if cuda else cpu_name()
    # The same dense tensor peak for bf16 and fp16 (module docstring); fp32 and CPUs: none known here.
    from xrep_assets.plan import peak_bf16_flops  # imports torch: after the OpenMP setting above

    peak = peak_bf16_flops(card) if cuda and args.precision in ("bf16", "fp16") else None
    peak_source = "xrep_assets/plan.py PEAK_BF16_FLOPS (dense)" if peak else None
    if args.peak_tflops:
        peak, peak_source = args.peak_tflops * 1e12, "--peak-tflops"
    tf32_default = torch.backends.cuda.matmul.allow_tf32
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = True  # as `train` sets it

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    result = {
        "device": card, "device_type": "cuda" if cuda else "cpu", "torch": torch.__version__,
        "transformers": transformers.__version__, "cuda": torch.version.cuda if cuda else None,
        "precision": args.precision, "size": args.size, "peak_flops": peak,
        "peak_source": peak_source,
        "settings": {"steps": args.steps, "warmup": args.warmup, "max_seconds": args.max_seconds,
                     "tokens_per_step": args.tokens_per_step, "seq_length": args.seq_length, "vocab": args.vocab,
                     "single": list(args.single), "seq2seq": list(args.seq2seq), "threads": args.threads,
                     "encode_examples": args.encode_examples, "encode_repeats": args.encode_repeats},
        "training": [], "encoding": [],
    }
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="xrep-gpu-path-") as tmp:
        work = Path(tmp)
        args.texts = fixture_texts()
        write_tokenizer(work, args.texts, args.vocab)
        tokenizer = AutoTokenizer.from_pretrained(str(work / "tokenizer"))
        ids = token_ids(tokenizer, LANGUAGES)
        result["settings"]["vocab"] = ids.size
        # Enough copies that a step's batch never needs a second pass over a source.
        one_pass = min(sum(map(len, tokenizer(args.texts[lang], add_special_tokens=False)["input_ids"])) for lang in LANGUAGES)
        copies = max(1, math.ceil(4 * args.tokens_per_step / one_pass))
        write_corpus(work, args.texts, copies)
        write_bitext(work, copies)
        log(f"{card}, torch {torch.__version__}, {args.precision}; inputs ready in {time.perf_counter() - began:.1f} s "
            f"(vocab {ids.size:,}, corpus x{copies})")

        for objective in args.objectives:
            row, model = train_with_retries(args, work, objective, tokenizer, ids, peak, log)
            result["training"].append(row)
            write_json(args.json, result)
            if objective in args.encode:
                torch.backends.cuda.matmul.allow_tf32 = tf32_default  # the scoring worker never sets it
                try:
                    if model is None:
                        raise RuntimeError("its training failed")
                    encoded = encode_model(args, work, objective, model, tokenizer, log)
                except Exception as error:  # noqa: BLE001 - nor may one encoding's
                    encoded = failed(objective, error)
                finally:
                    if cuda:
                        torch.backends.cuda.matmul.allow_tf32 = True
                result["encoding"].append(encoded)
                write_json(args.json, result)
            del model
            gc.collect()
            if cuda:
                torch.cuda.empty_cache()
    result["seconds"] = time.perf_counter() - began
    write_json(args.json, result)

    training = args.precision + ("" if args.precision == "fp32" else " autocast")
    print(f"device: {card}; torch {torch.__version__}; training {training}, encoding fp32; size {args.size}: "
          f"single {args.single}, seq2seq {args.seq2seq} per stack, vocab {ids.size:,}, seq length {args.seq_length}, ~{args.tokens_per_step:,} input tokens a step")
    known = f"{peak / 1e12:,.4g} TFLOP/s dense ({peak_source})" if peak else None
    print(f"peak: {known or 'n/a (no sound peak for this device and precision): MFU not computed'}; "
          f"timed: steps {args.warmup + 1}..{args.warmup + args.steps} (cap {args.max_seconds:.0f} s); "
          f"total {result['seconds']:.0f} s")
    print()
    print(markdown(result))
    return result


if __name__ == "__main__":
    main()
