"""MLM pretraining throughput of our worker against a plain `transformers.Trainer`, same model and data, one run.

    python benchmarks/pretraining.py [--steps 5] [--skip-steps 2] [--repeats 3] [--batch-size 16]
                                     [--seq-length 128] [--layers 2] [--hidden 128] [--heads 2] [--ffn 512]
                                     [--vocab 100000] [--threads N]
    python benchmarks/pretraining.py --device cuda   # BERT-base size, bf16, seq 512: adds the MFU
    python benchmarks/pretraining.py --dry-run       # FLOPs of one step, checked against torch's counter

Setup, in a temporary folder: the study corpus layout (`monolingual/{lang}.parquet`, en/fr/zh) from
the shipped UNPC fixture zips, and the fixture's joint unigram tokenizer with its vocabulary extended
to `--vocab` (100,000) pieces. The extra pieces are appended to the unigram model itself, as in a 100k
sentencepiece vocabulary, rather than added with `add_tokens` (which puts them in a separate matching
pass over the text): they never match the text, so it tokenizes into the real pieces (the same ids
either way), while the embedding and the output layer get their 100k rows, the compute that matters.

- ours: `xrep_assets.checkpoints.training.train` on the `mlm` objective, as the worker runs it:
  tokenizing and packing on the fly, `mlm_batch` masking, the sparse output layer of
  `models.objective_loss` (masked positions only), AdamW, clipping, linear schedule.
- baseline: `transformers.Trainer` with defaults, on the same `BertForMaskedLM` (built by
  `models.build_model` after the same seed: same architecture, attention kernel and init), with
  `DataCollatorForLanguageModeling(mlm_probability=0.15)` over the very blocks ours trains on (replayed
  through the worker's `ExampleSource` before the run, so the baseline gets them pre-packed and does
  not pay for tokenizing). Same batch size, learning rate, warmup, schedule, weight decay, AdamW betas
  and eps, gradient clipping; no evaluation, no saving, no logging. Its optimizer is its default
  (`adamw_torch_fused`).

Each side runs in its own process, one after the other, the order alternating between repeats (load
from elsewhere on the machine falls on both sides); both with `--threads` torch threads. Timed: steps
`skip+1 .. skip+steps`, from the end of one optimizer step to the end of another, data preparation
included (ours: the worker's per-step log line; the Trainer: a callback's `on_step_end`). tokens/s =
non-pad input tokens / seconds; packed blocks have no padding, so batch x length per step. Printed:
each side's median over `--repeats`, the ratio of the medians against the 1.3x target, each side's
peak RSS (its whole process).

FLOPs of one training step (forward + backward = 3 x forward, 2 FLOPs a multiply-add), for the MLM as
it must be computed (the loss only needs the output layer where a position is masked):

    6 x P_layers x T  +  12 x L x s x h x T  +  6 x P_head x M

P_layers: the parameters of the L encoder layers; the attention term: scores and weighted sum, s the
sequence length, h the width; P_head: the output layer (transform + h x V decoder + bias); T: input
tokens; M: masked positions (~15% of T; counted on the replayed batches). The embedding lookup has no
FLOPs. `--dry-run` checks this against `torch.utils.flop_counter` on one real step. The Trainer's dense
output layer does 6 x P_head x T instead: it is not credited (MFU counts required work), so both sides
are scored with the same FLOPs per token. MFU = FLOPs/s over the card's dense bf16 peak (table below,
matched on `torch.cuda.get_device_name()`); target >= 45% for ours on an H100.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent
REPO = BENCHMARKS.parent
# transformers.Trainer needs accelerate (and it psutil), which xrep does not: installed on first use
# beside this script, outside the project's environment, and put on the path of the Trainer's process only.
TRAINER_DEPS = BENCHMARKS / ".trainer-deps"
TRAINER_PINS = ["accelerate==1.15.0", "psutil==7.2.2"]

TARGET_RATIO = 1.3  # ours / Trainer tokens/s, on CPU
TARGET_MFU = 0.45  # ours, BERT-base size in bf16, on an H100
LANGUAGES = ("en", "fr", "zh")
SEED = 0

# The model sizes each device defaults to: a small body on CPU, BERT-base on a GPU.
DEVICE_DEFAULTS = {
    "cpu": dict(layers=2, hidden=128, heads=2, ffn=512, seq_length=128, batch_size=16, steps=5, skip_steps=2,
                learning_rate=5e-4, lr_warmup_steps=2),
    # A gentler start for the 12 layers: a diverged (NaN) loss stops our worker.
    "cuda": dict(layers=12, hidden=768, heads=12, ffn=3072, seq_length=512, batch_size=32, steps=40, skip_steps=5,
                 learning_rate=1e-4, lr_warmup_steps=10),
}


# --------------------------------------------------------------------------------------------------
# FLOPs and peaks


@dataclass(frozen=True)
class MlmShape:
    layers: int
    hidden: int
    heads: int
    ffn: int
    vocab: int

    @property
    def layer_parameters(self) -> int:
        """One BERT encoder layer: Q, K, V, attention output, FFN in and out (weights and biases), two LayerNorms."""
        h, f = self.hidden, self.ffn
        return 4 * (h * h + h) + (h * f + f) + (f * h + h) + 2 * (2 * h)

    @property
    def head_parameters(self) -> int:
        """BERT's output layer: transform (dense + LayerNorm), then the decoder (tied to the embedding) and its bias."""
        h = self.hidden
        return (h * h + h) + 2 * h + h * self.vocab + self.vocab

    def step_flops(self, tokens: int, masked: int, seq_length: int) -> float:
        """Training FLOPs (forward + backward) of one step: see the module docstring."""
        body = 6 * self.layers * self.layer_parameters * tokens
        attention = 12 * self.layers * seq_length * self.hidden * tokens
        head = 6 * self.head_parameters * masked
        return float(body + attention + head)


# --------------------------------------------------------------------------------------------------
# Inputs: corpus, 100k tokenizer, spec (imports of torch and xrep stay inside: the parent stays light)


def fixture_texts() -> dict[str, list[str]]:
    """The en, fr and zh sides of the UNPC fixture zips (en from both pairs)."""
    from xrep_assets.corpora.readers import bitext_frame, read_moses_zip
    from xrep_assets.fixtures import OPUS_MIRROR
    from xrep_assets.study import CORPORA, ENGLISH_PAIRS

    corpus = CORPORA["unpc"]
    texts: dict[str, list[str]] = {}
    for pair in (p for p in ENGLISH_PAIRS if p.l2 in LANGUAGES):
        zip_path = OPUS_MIRROR / corpus.opus_name / corpus.version / "moses" / f"{'-'.join(corpus.opus_pair(pair))}.txt.zip"
        frame = bitext_frame(read_moses_zip(zip_path, corpus, pair))
        texts.setdefault(pair.l1, []).extend(frame["text_1"])
        texts.setdefault(pair.l2, []).extend(frame["text_2"])
    return texts


def write_corpus(work: Path, texts: dict[str, list[str]], copies: int) -> Path:
    """The monolingual part of the study corpus layout, each language's lines `copies` times over."""
    import polars as pl

    folder = work / "corpus" / "monolingual"
    folder.mkdir(parents=True, exist_ok=True)
    for lang, lines in texts.items():
        pl.DataFrame({"lang": [lang] * len(lines) * copies, "text": lines * copies}).write_parquet(folder / f"{lang}.parquet")
    return work / "corpus"


def write_tokenizer(work: Path, texts: dict[str, list[str]], vocab: int) -> Path:
    """The fixture's joint unigram tokenizer, its unigram vocabulary padded to `vocab` pieces."""
    from xrep_assets.tokenizers.training import train_joint_tokenizer

    folder = work / "tokenizer"
    train_joint_tokenizer(texts, folder, vocab_size=8000, alpha=0.3)  # the fixture fills ~700 pieces
    # AutoTokenizer must read tokenizer.json, not rebuild it from the sentencepiece model.
    for name in ("sentencepiece.bpe.model", "sentencepiece.bpe.vocab"):
        (folder / name).unlink(missing_ok=True)
    path = folder / "tokenizer.json"
    tokenizer = json.loads(path.read_text(encoding="utf-8"))
    pieces = tokenizer["model"]["vocab"]
    beyond = sum(1 for token in tokenizer["added_tokens"] if token["id"] >= len(pieces))
    filler = vocab - len(pieces) - beyond
    if filler < 0:
        raise SystemExit(f"--vocab {vocab} is below the trained tokenizer's {len(pieces) + beyond} tokens")
    # Strings no text contains, with the lowest score: present in the vocabulary, never chosen.
    pieces.extend([f"\u2581xrepfiller{i:06d}", -100.0] for i in range(filler))
    path.write_text(json.dumps(tokenizer, ensure_ascii=False), encoding="utf-8")
    return folder


def benchmark_spec(args: argparse.Namespace, work: Path, run: str):
    from xrep_assets.checkpoints.spec import PretrainSpec
    from xrep_assets.profiles import ModelSize

    steps = args.skip_steps + args.steps
    return PretrainSpec(
        objective="mlm",
        tokenizer=str(work / "tokenizer"),
        corpus=str(work / "corpus"),
        languages=LANGUAGES,
        pairs=(),
        directions=(),
        out_dir=str(work / run / "out"),
        work_dir=str(work / run / "work"),
        size=ModelSize(args.layers, args.hidden, args.heads, args.ffn, args.seq_length),
        steps=steps,
        batch_size=args.batch_size,
        max_length=args.seq_length,
        learning_rate=args.learning_rate,
        warmup_steps=min(args.lr_warmup_steps, steps - 1),
        seed=SEED,
        save_every=steps,  # one state, after the last step (outside the timed steps)
        log_every=1,  # the log line of each step is the clock
        threads=args.threads if args.device == "cpu" else None,
        device=args.device,
    )


def replay_batches(spec, tokenizer, ids, masks: bool = False):
    """The blocks the worker trains on, in its order (the same stream, packing and generators as `train`),
    and, when `masks`, the masked positions of each step's batch as the worker draws them."""
    from xrep_assets.checkpoints.batches import ExampleSource, collate
    from xrep_assets.checkpoints.streams import monolingual_stream
    from xrep_assets.checkpoints.training import micro_batch_generator

    source = ExampleSource(spec, tokenizer, ids, monolingual_stream(Path(spec.corpus), spec.languages, spec.seed))
    blocks, masked = [], []
    for step in range(1, spec.steps + 1):
        taken = source.take(spec.batch_size, micro_batch_generator(spec.seed, step, 0, 0))
        blocks += taken
        if masks:
            batch = collate("mlm", taken, ids, micro_batch_generator(spec.seed, step, 0, 1))
            masked.append(int((batch["labels"] != -100).sum()))
    return blocks, masked


# --------------------------------------------------------------------------------------------------
# The two sides, each run in its own process (`--side`): one JSON line on stdout


def timed_rate(marks: dict[int, float], skip: int, last: int, tokens_per_step: int) -> dict:
    """Tokens/s from the end of step `skip` to the end of step `last`."""
    missing = [s for s in (skip, last) if s not in marks]
    if missing:
        raise SystemExit(f"no clock mark for steps {missing}; marks for {sorted(marks)}")
    seconds = marks[last] - marks[skip]
    tokens = (last - skip) * tokens_per_step
    return {"seconds": seconds, "tokens": tokens, "tokens_per_s": tokens / seconds}


def run_ours(args: argparse.Namespace, work: Path) -> dict:
    import torch

    from xrep_assets.checkpoints.training import train

    spec = benchmark_spec(args, work, f"ours-{args.repeat}")
    marks: dict[int, float] = {}

    def clock(message: str) -> None:
        # "step 7/15 loss ...", written after step 7's optimizer update (the loss's .item() has synced).
        if message.startswith("step "):
            marks[int(message.split()[1].split("/")[0])] = time.perf_counter()

    summary = train(spec, log=clock)
    tokens_per_step = spec.batch_size * spec.max_length
    if summary.tokens_seen != spec.steps * tokens_per_step:
        raise SystemExit(f"ours saw {summary.tokens_seen} tokens, not {spec.steps} x {tokens_per_step}: padded blocks?")
    result = timed_rate(marks, args.skip_steps, spec.steps, tokens_per_step)
    result["mean_loss"] = statistics.fmean(loss for _, loss in summary.losses)
    result["parameters"] = summary.parameters
    if spec.device == "cuda":
        result["gpu_peak_bytes"] = torch.cuda.max_memory_allocated()
    return result


def run_trainer(args: argparse.Namespace, work: Path) -> dict:
    sys.path.insert(0, str(TRAINER_DEPS))
    import torch
    from transformers import AutoTokenizer, DataCollatorForLanguageModeling, Trainer, TrainerCallback, TrainingArguments

    from xrep_assets.checkpoints.models import build_model, count_parameters
    from xrep_assets.checkpoints.vocabulary import token_ids

    spec = benchmark_spec(args, work, f"trainer-{args.repeat}")
    cuda = spec.device == "cuda"
    if spec.threads:
        torch.set_num_threads(spec.threads)
    tokenizer = AutoTokenizer.from_pretrained(spec.tokenizer)
    ids = token_ids(tokenizer, spec.languages, spec.lang_codes)
    blocks, _ = replay_batches(spec, tokenizer, ids)
    torch.manual_seed(spec.seed)  # as `train` does before building: the same initial weights
    model = build_model("mlm", ids, spec.size)
    marks: dict[int, float] = {}

    class StepClock(TrainerCallback):
        def on_step_end(self, _args, state, control, **__):
            if cuda:
                torch.cuda.synchronize()  # the Trainer does not wait for the GPU between steps
            marks[state.global_step] = time.perf_counter()

    arguments = TrainingArguments(
        output_dir=str(work / f"trainer-{args.repeat}"),
        max_steps=spec.steps,
        per_device_train_batch_size=spec.batch_size,
        learning_rate=spec.learning_rate,
        warmup_steps=spec.warmup_steps,
        lr_scheduler_type=spec.schedule,
        weight_decay=spec.weight_decay,
        adam_beta1=0.9,
        adam_beta2=0.98,
        adam_epsilon=1e-6,
        max_grad_norm=spec.max_grad_norm,
        seed=spec.seed,
        eval_strategy="no",
        save_strategy="no",
        logging_strategy="no",
        report_to=[],
        disable_tqdm=True,
        use_cpu=not cuda,
        bf16=cuda,
    )
    trainer = Trainer(
        model=model,
        args=arguments,
        train_dataset=[{"input_ids": block} for block in blocks],
        data_collator=DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.15),
        callbacks=[StepClock()],
    )
    output = trainer.train()
    result = timed_rate(marks, args.skip_steps, spec.steps, spec.batch_size * spec.max_length)
    result["mean_loss"] = output.training_loss
    result["parameters"] = count_parameters(model)
    if cuda:
        result["gpu_peak_bytes"] = torch.cuda.max_memory_allocated()
    return result


# --------------------------------------------------------------------------------------------------
# The parent: prepare, alternate the sides, report


def ensure_trainer_deps() -> None:
    probe = f"import sys; sys.path.insert(0, {str(TRAINER_DEPS)!r}); import accelerate, psutil"
    if subprocess.run([sys.executable, "-c", probe], capture_output=True).returncode == 0:
        return
    print(f"installing {' '.join(TRAINER_PINS)} into {TRAINER_DEPS} (once) ...", flush=True)
    TRAINER_DEPS.mkdir(exist_ok=True)
    (TRAINER_DEPS / ".gitignore").write_text("*\n")  # keeps it out of git without touching ours
    try:
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(TRAINER_DEPS), *TRAINER_PINS],
            check=True,
        )
    except (subprocess.CalledProcessError, OSError) as error:
        raise SystemExit(f"could not install {' '.join(TRAINER_PINS)} ({error}): the Trainer baseline needs them") from error


def run_side(side: str, args: argparse.Namespace, work: Path, repeat: int) -> dict:
    """One side in a fresh process; its peak RSS from the kernel's accounting of that process."""
    forwarded = [
        f"--{name.replace('_', '-')}={value}"
        for name, value in vars(args).items()
        if name not in ("side", "work", "repeat", "dry_run", "repeats") and value is not None
    ]
    command = [sys.executable, str(Path(__file__).resolve()), f"--side={side}", f"--work={work}", f"--repeat={repeat}", *forwarded]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(command, stdout=out, stderr=err, env=env, cwd=REPO)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if process.returncode != 0:
            sys.stderr.write(err.read()[-6000:])
            raise SystemExit(f"{side} (repeat {repeat}) failed with exit code {process.returncode}")
        result = json.loads(out.read().strip().splitlines()[-1])
    result["peak_rss_bytes"] = usage.ru_maxrss * 1024  # Linux reports KiB
    return result


def prepare(args: argparse.Namespace, work: Path) -> tuple[MlmShape, float]:
    """Corpus and tokenizer in `work`; the model's shape and the masked share of the timed steps' tokens."""
    from transformers import AutoTokenizer

    from xrep_assets.checkpoints.vocabulary import token_ids

    texts = fixture_texts()
    write_tokenizer(work, texts, args.vocab)
    tokenizer = AutoTokenizer.from_pretrained(str(work / "tokenizer"))
    # Enough copies of the small fixture that a batch never needs a second pass over the corpus (BERT-base's does).
    one_pass = sum(len(row) for lines in texts.values() for row in tokenizer(lines, add_special_tokens=False)["input_ids"])
    write_corpus(work, texts, copies=max(1, math.ceil(2 * args.batch_size * args.seq_length / one_pass)))
    ids = token_ids(tokenizer, LANGUAGES)
    spec = benchmark_spec(args, work, "replay")
    _, masked = replay_batches(spec, tokenizer, ids, masks=True)
    timed = masked[args.skip_steps :]
    share = sum(timed) / (len(timed) * args.batch_size * args.seq_length)
    return MlmShape(args.layers, args.hidden, args.heads, args.ffn, ids.size), share


def gib(n: float) -> str:
    return f"{n / 2**30:.2f} GiB"


def report(args: argparse.Namespace, shape: MlmShape, masked_share: float, results: dict[str, list[dict]], card: str) -> None:
    tokens_per_step = args.batch_size * args.seq_length
    flops_per_token = shape.step_flops(tokens_per_step, round(masked_share * tokens_per_step), args.seq_length) / tokens_per_step
    from xrep_assets.plan import peak_bf16_flops  # the one table of GPU peaks

    peak = peak_bf16_flops(card) if args.device == "cuda" else None
    median = {side: statistics.median(r["tokens_per_s"] for r in runs) for side, runs in results.items()}
    print()
    print(f"{'side':<30s} {'tokens/s (median)':>18s} {'runs':>28s} {'model GFLOP/s':>14s} {'mean loss':>10s} {'peak RSS':>10s}"
          + (f" {'GPU peak':>10s} {'MFU':>7s}" if args.device == "cuda" else ""))
    names = {"ours": "ours (xrep train, sparse head)", "trainer": "transformers.Trainer"}
    for side in ("ours", "trainer"):
        runs = results[side]
        rate = median[side]
        each = ", ".join(f"{r['tokens_per_s']:,.0f}" for r in runs)
        line = (f"{names[side]:<30s} {rate:>18,.0f} {each:>28s} "
                f"{rate * flops_per_token / 1e9:>14,.1f} {statistics.fmean(r['mean_loss'] for r in runs):>10.3f} "
                f"{gib(max(r['peak_rss_bytes'] for r in runs)):>10s}")
        if args.device == "cuda":
            line += f" {gib(max(r['gpu_peak_bytes'] for r in runs)):>10s}"
            line += f" {rate * flops_per_token / peak:>7.1%}" if peak else f" {'?':>7s}"
        print(line)
    ratio = median["ours"] / median["trainer"]
    verdict = f"target >= {TARGET_RATIO}x) -> {'PASS' if ratio >= TARGET_RATIO else 'FAIL'}" if args.device == "cpu" else "the target is on CPU)"
    print(f"\nratio: {ratio:.2f}x the Trainer's tokens/s (medians of {args.repeats} runs each, both measured in this run; {verdict}")
    paired = ", ".join(f"{o['tokens_per_s'] / t['tokens_per_s']:.2f}x" for o, t in zip(results["ours"], results["trainer"]))
    print(f"per repeat (the two sides back to back): {paired}")
    if args.device == "cuda":
        if peak:
            mfu = median["ours"] * flops_per_token / peak
            verdict = f"-> {'PASS' if mfu >= TARGET_MFU else 'FAIL'}" if "H100" in card else "(the target is for an H100)"
            print(f"MFU (ours): {mfu:.1%} of {card}'s {peak / 1e12:.0f} TFLOP/s dense bf16, target >= {TARGET_MFU:.0%} {verdict}")
        else:
            print(f"MFU: no bf16 peak known for {card!r}; add it to PEAK_BF16_FLOPS in xrep_assets/plan.py")


def describe(args: argparse.Namespace, shape: MlmShape, masked_share: float, card: str) -> None:
    tokens = args.batch_size * args.seq_length
    flops = shape.step_flops(tokens, round(masked_share * tokens), args.seq_length)
    print(f"device: {card}; torch threads: {args.threads if args.device == 'cpu' else '-'}")
    print(f"model: BERT MLM, {args.layers} layers, hidden {args.hidden}, {args.heads} heads, ffn {args.ffn}, vocab {shape.vocab:,}"
          f"{', bf16 autocast' if args.device == 'cuda' else ', fp32'}")
    print(f"data: packed blocks of {args.seq_length} tokens, batch {args.batch_size} ({tokens:,} tokens/step), "
          f"masked {masked_share:.1%}; lr {args.learning_rate}, lr warmup {args.lr_warmup_steps} steps, linear decay")
    print(f"timing: steps {args.skip_steps + 1}..{args.skip_steps + args.steps} of {args.skip_steps + args.steps}, "
          f"{args.repeats} repeats per side, sides alternating")
    print(f"FLOPs/step (required, sparse head): {flops / 1e9:,.1f} G; a dense head adds "
          f"{6 * shape.head_parameters * (tokens - round(masked_share * tokens)) / 1e9:,.1f} G")


# --------------------------------------------------------------------------------------------------
# --dry-run: the FLOPs arithmetic, checked on one real step


def dry_run(args: argparse.Namespace) -> None:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from xrep_assets.checkpoints.models import build_model, count_parameters, objective_loss, placeholder_ids
    from xrep_assets.profiles import ModelSize

    shape = MlmShape(args.layers, args.hidden, args.heads, args.ffn, args.vocab)
    ids = placeholder_ids(args.vocab)
    torch.manual_seed(SEED)
    model = build_model("mlm", ids, ModelSize(args.layers, args.hidden, args.heads, args.ffn, args.seq_length))
    # The formula's parameter split against the built model (the position/type embeddings and the tied
    # word embedding are the rest).
    layers = sum(p.numel() for p in model.bert.encoder.parameters())
    head = sum(p.numel() for p in model.cls.parameters())  # the decoder's weight is the tied word embedding
    assert layers == args.layers * shape.layer_parameters, (layers, args.layers * shape.layer_parameters)
    assert head == shape.head_parameters, (head, shape.head_parameters)
    batch_size = min(args.batch_size, 2)  # a real step on this CPU, kept short for BERT-base sizes
    input_ids = torch.randint(10, args.vocab, (batch_size, args.seq_length))
    chosen = torch.rand(input_ids.shape) < 0.15
    labels = torch.where(chosen, input_ids, torch.full_like(input_ids, -100))
    batch = {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids), "labels": labels}
    with FlopCounterMode(display=False) as counter:
        objective_loss("mlm", model, batch).backward()
    counted = counter.get_total_flops()
    tokens, masked = input_ids.numel(), int(chosen.sum())
    formula = shape.step_flops(tokens, masked, args.seq_length)
    print(f"model ({args.layers}x{args.hidden}, vocab {args.vocab:,}): {count_parameters(model):,} parameters, "
          f"{layers:,} in the layers, {head:,} in the output layer")
    print(f"one step of {batch_size}x{args.seq_length} tokens, {masked} masked: formula {formula / 1e9:,.3f} GFLOP, "
          f"torch's counter (matmuls only) {counted / 1e9:,.3f} GFLOP ({formula / counted - 1:+.2%}: biases and LayerNorms)")
    if abs(formula / counted - 1) > 0.02:
        raise SystemExit("the FLOPs formula disagrees with torch's counter by more than 2%")

    from xrep_assets.plan import PEAK_BF16_FLOPS, peak_bf16_flops

    base = MlmShape(12, 768, 12, 3072, args.vocab)
    tokens = 32 * 512
    masked = round(0.15 * tokens)
    flops = base.step_flops(tokens, masked, 512)
    print(f"\nBERT-base MLM (12x768, 12 heads, ffn 3072, vocab {args.vocab:,}), seq 512, batch 32, 15% masked: "
          f"{flops / 1e12:.2f} TFLOP/step ({flops / tokens / 1e6:,.1f} MFLOP/token)")
    for fragment, peak in PEAK_BF16_FLOPS:
        print(f"  {fragment:<10s} {peak / 1e12:5.0f} TFLOP/s bf16: 45% MFU = {0.45 * peak / (flops / tokens):,.0f} tokens/s "
              f"({flops / (0.45 * peak) * 1e3:.1f} ms/step)")
    for name in ("NVIDIA H100 80GB HBM3", "NVIDIA H100 PCIe", "NVIDIA H200", "NVIDIA A100-SXM4-80GB", "Tesla T4"):
        print(f"  {name!r} -> {peak_bf16_flops(name)}")


# --------------------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--steps", type=int, help="timed steps per run (cpu 5, cuda 40)")
    parser.add_argument("--skip-steps", type=int, help="untimed steps first (cpu 2, cuda 5)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per side; medians are reported")
    parser.add_argument("--batch-size", type=int, help="cpu 16, cuda 32")
    parser.add_argument("--seq-length", type=int, help="packed block length (cpu 128, cuda 512)")
    parser.add_argument("--layers", type=int)
    parser.add_argument("--hidden", type=int)
    parser.add_argument("--heads", type=int)
    parser.add_argument("--ffn", type=int)
    parser.add_argument("--vocab", type=int, default=100_000)
    parser.add_argument("--learning-rate", type=float, help="cpu 5e-4, cuda 1e-4")
    parser.add_argument("--lr-warmup-steps", type=int, help="linear warmup of the learning rate (cpu 2, cuda 10)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="torch threads on cpu")
    parser.add_argument("--dry-run", action="store_true", help="print and check the FLOPs of one step; train nothing")
    parser.add_argument("--side", choices=("ours", "trainer"), help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--repeat", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    for name, value in DEVICE_DEFAULTS[args.device].items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    # The clock starts at the end of an untimed step, so at least one comes first.
    if args.skip_steps < 1 or args.steps < 1 or args.repeats < 1:
        parser.error("--skip-steps, --steps and --repeats must be at least 1")
    return args


def main() -> None:
    args = parse_args()
    if args.side:
        result = (run_ours if args.side == "ours" else run_trainer)(args, args.work)
        print(json.dumps(result))
        return
    if args.dry_run:
        dry_run(args)
        return
    card = "CPU"
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise SystemExit("--device cuda: no CUDA device")
        card = torch.cuda.get_device_name()
    ensure_trainer_deps()
    with tempfile.TemporaryDirectory(prefix="xrep-pretraining-bench-") as tmp:
        work = Path(tmp)
        shape, masked_share = prepare(args, work)
        describe(args, shape, masked_share, card)
        results: dict[str, list[dict]] = {"ours": [], "trainer": []}
        for repeat in range(args.repeats):
            for side in ("ours", "trainer") if repeat % 2 == 0 else ("trainer", "ours"):
                result = run_side(side, args, work, repeat)
                results[side].append(result)
                print(f"  repeat {repeat + 1} {side:<8s} {result['tokens_per_s']:>10,.0f} tokens/s "
                      f"({result['seconds']:.2f} s for {result['tokens']:,} tokens)", flush=True)
        report(args, shape, masked_share, results, card)


if __name__ == "__main__":
    main()
