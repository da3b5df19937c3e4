"""The pretraining loop behind the worker: one loop for all six objectives, resumable and DDP-ready.

Each optimizer step draws `grad_accum` micro-batches per process; all randomness of a micro-batch
(masking, noising, direction) comes from a generator seeded by (seed, step, micro-batch, rank), and
the model's own randomness (dropout) from the global RNGs saved with every state. A run killed at
any point and resumed from its last state therefore ends with the same weights as one never killed.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import shutil
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from transformers import (
    AutoTokenizer,
    PreTrainedModel,
    get_inverse_sqrt_schedule,
    get_polynomial_decay_schedule_with_warmup,
    get_scheduler,
)

from xrep_assets.artifacts import committing_dir, fsync_path
from xrep_assets.checkpoints.batches import ExampleSource, collate
from xrep_assets.checkpoints.models import Dropouts, build_model, count_parameters, load_init_from, objective_loss
from xrep_assets.checkpoints.spec import PretrainSpec, PretrainSpecError
from xrep_assets.checkpoints.record import TRAINING_LOG
from xrep_assets.checkpoints.streams import bitext_stream, monolingual_stream
from xrep_assets.checkpoints.vocabulary import token_ids
from xrep_assets.errors import XrepError

STATE_PREFIX = "step-"
STATE_MANIFEST = "state.json"  # written last into a state: every file's size and sha256


class TrainingDivergedError(XrepError):
    """The loss became NaN or infinite."""


class TrainingStateError(XrepError):
    """Training states exist but none is intact: names each and what is wrong with it."""


@dataclass
class TrainingSummary:
    objective: str
    parameters: int
    steps: int
    losses: list[tuple[int, float]] = field(default_factory=list)  # (step, mean loss since last log)
    tokens_seen: int = 0
    seconds: float = 0.0  # training time of this process (excludes an earlier attempt's)
    resumed_from: int = 0
    world_size: int = 1
    device: str = "cpu"
    threads: int = 0  # torch CPU threads per process: the same weights need the same count (README: Reproducibility)

    @property
    def final_loss(self) -> float:
        return self.losses[-1][1] if self.losses else math.nan

    @property
    def best_loss(self) -> float:
        """The lowest logged loss (a window's mean, like every point of the curve)."""
        return min(loss for _, loss in self.losses) if self.losses else math.nan

    def to_json(self) -> dict:
        return {
            "objective": self.objective, "parameters": self.parameters, "steps": self.steps,
            "losses": self.losses, "tokens_seen": self.tokens_seen, "seconds": self.seconds,
            "resumed_from": self.resumed_from, "world_size": self.world_size, "device": self.device,
            "threads": self.threads,
        }


@dataclass(frozen=True)
class Distributed:
    """The process's place in a torchrun job (rank 0 of 1 when run alone)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @classmethod
    def from_env(cls) -> "Distributed":
        return cls(int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0)))

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.world_size > 1:
            dist.barrier()


class LossModule(torch.nn.Module):
    """The model with its objective's loss as forward, so DDP sees every forward it must sync."""

    def __init__(self, objective: str, model: PreTrainedModel, label_smoothing: float = 0.0):
        super().__init__()
        self.objective, self.model, self.label_smoothing = objective, model, label_smoothing

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return objective_loss(self.objective, self.model, batch, self.label_smoothing)


def rank_device(requested: str, local_rank: int) -> torch.device:
    """This process's device: `auto` takes CUDA when present, and `cuda` is the GPU of this torchrun
    rank (scoring, one process, names its device with `evaluation.scoring.resolve_device`)."""
    if requested == "auto":
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda":
        return torch.device("cuda", local_rank)
    return torch.device(requested)


def micro_batch_generator(seed: int, step: int, micro: int, rank: int) -> torch.Generator:
    return torch.Generator().manual_seed(((seed * 1_000_003 + step) * 1009 + micro) * 257 + rank)


def optimizer_for(model: torch.nn.Module, spec: PretrainSpec) -> torch.optim.Optimizer:
    # fairseq's Adam (the study's --optimizer adam) decouples weight decay and applies it to every
    # parameter, biases and LayerNorms included: AdamW over a single group.
    return torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad],
        lr=spec.learning_rate,
        betas=spec.adam_betas,
        eps=spec.adam_eps,
        weight_decay=spec.weight_decay,
        fused=True,  # one kernel over all tensors: the default per-tensor loop is ~40 % of a CPU step
    )


def scheduler_for(optimizer: torch.optim.Optimizer, spec: PretrainSpec) -> torch.optim.lr_scheduler.LRScheduler:
    """The learning-rate schedule, warmed up linearly from 0 over `warmup_steps`.

    polynomial_decay: fairseq's with its defaults (power 1, down to 0 at the last update), i.e. linear
    decay. inverse_sqrt: fairseq's, lr * sqrt(warmup / step) after the warmup.
    """
    if spec.schedule == "polynomial_decay":
        return get_polynomial_decay_schedule_with_warmup(optimizer, spec.warmup_steps, spec.steps, lr_end=0.0, power=1.0)
    if spec.schedule == "inverse_sqrt":
        return get_inverse_sqrt_schedule(optimizer, num_warmup_steps=spec.warmup_steps)
    return get_scheduler(spec.schedule, optimizer, num_warmup_steps=spec.warmup_steps, num_training_steps=spec.steps)


def mixed_precision(device: torch.device, precision: str) -> tuple[object, torch.amp.GradScaler | None]:
    """The autocast context and, for fp16, the loss scaler; a CPU trains in fp32 whatever the recipe."""
    if device.type != "cuda" or precision == "fp32":
        return nullcontext(), None
    if precision == "bf16":
        return torch.autocast("cuda", dtype=torch.bfloat16), None
    # fp16 (the study's --fp16) needs loss scaling against gradient underflow.
    return torch.autocast("cuda", dtype=torch.float16), torch.amp.GradScaler("cuda")


# --------------------------------------------------------------------------------------------------
# Training states in work_dir: step-00000100/{training.pt, rng-rank0.pt, ..., state.json}


def state_dirs(work_dir: Path) -> list[Path]:
    """The committed states, oldest first (intact or not: `state_problem` says)."""
    if not work_dir.exists():
        return []
    return sorted(p for p in work_dir.iterdir() if p.is_dir() and p.name.startswith(STATE_PREFIX))


def latest_state(work_dir: Path) -> Path | None:
    """The newest intact state."""
    return next((state for state in reversed(state_dirs(work_dir)) if state_problem(state) is None), None)


def state_problem(state: Path, rank: int = 0) -> str | None:
    """Why `state` cannot be resumed by `rank`, or None: its manifest must name `training.pt` and
    the rank's RNG file, and every file it names must have the size and sha256 it records."""
    try:
        raw = json.loads((state / STATE_MANIFEST).read_text(encoding="utf-8"))["files"]
        files = {str(name): (int(size), str(digest)) for name, (size, digest) in raw.items()}
    except FileNotFoundError:
        return f"no {STATE_MANIFEST} (damaged, or saved before states had one)"
    except OSError as exc:
        return f"{STATE_MANIFEST} is unreadable ({exc!r})"
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        return f"{STATE_MANIFEST} is not a manifest ({exc!r})"
    for needed in ("training.pt", f"rng-rank{rank}.pt"):
        if needed not in files:
            return f"{STATE_MANIFEST} does not list {needed}"
    for name, (size, digest) in sorted(files.items()):
        path = state / name
        try:
            if (got := path.stat().st_size) != size:
                return f"{name} has {got} bytes, {STATE_MANIFEST} says {size}"
            if _sha256(path) != digest:
                return f"{name} does not match its sha256 in {STATE_MANIFEST}"
        except FileNotFoundError:
            return f"{name} is missing"
        except OSError as exc:
            return f"{name} is unreadable ({exc!r})"
    return None


def _sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def load_latest_state(work_dir: Path, rank: int, device: torch.device, log: Callable[[str], None]) -> tuple[Path, dict, dict] | None:
    """(folder, training, RNG state of `rank`) of the newest intact state, logging each newer one it
    skips and why; None where there is no state. States exist but none is intact: `TrainingStateError`
    rather than training from step 0, which may redo days of work a user would rather recover."""
    skipped = []
    for state in reversed(state_dirs(work_dir)):
        problem = state_problem(state, rank)
        if problem is None:
            try:
                training = torch.load(state / "training.pt", map_location=device, weights_only=False)
                rng = torch.load(state / f"rng-rank{rank}.pt", weights_only=False)
            except Exception as exc:  # torch reports a bad file as RuntimeError, EOFError, pickle errors, ...
                problem = f"unreadable ({exc!r})"
            else:
                return state, training, rng
        log(f"skipping training state {state.name}: {problem}")
        skipped.append(f"{state.name}: {problem}")
    if skipped:
        raise TrainingStateError(f"no intact training state in {work_dir} ({'; '.join(skipped)}); remove it to train from step 0")
    return None


def _rng_state() -> dict:
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "python": random.getstate(),
        "numpy": np.random.get_state(),
    }


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if state["cuda"]:
        torch.cuda.set_rng_state_all(state["cuda"])
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])


def save_state(work_dir: Path, step: int, training: dict, dist_info: Distributed, keep: int) -> Path:
    """Every rank writes its RNG state, rank 0 the rest and then the manifest, each file fsynced, into a
    temporary folder renamed when complete; killed saves' folders are removed first."""
    final = work_dir / f"{STATE_PREFIX}{step:08d}"
    tmp = work_dir / f".{final.name}.tmp"
    if dist_info.is_main:
        for orphan in work_dir.glob(f".{STATE_PREFIX}*.tmp"):
            shutil.rmtree(orphan, ignore_errors=True)
        tmp.mkdir(parents=True)
    dist_info.barrier()
    rng = tmp / f"rng-rank{dist_info.rank}.pt"
    torch.save(_rng_state(), rng)
    fsync_path(rng)
    if dist_info.is_main:
        torch.save(training, tmp / "training.pt")
        fsync_path(tmp / "training.pt")
    dist_info.barrier()
    if dist_info.is_main:
        files = {p.name: [p.stat().st_size, _sha256(p)] for p in sorted(tmp.iterdir())}
        (tmp / STATE_MANIFEST).write_text(json.dumps({"files": files}, indent=1), encoding="utf-8")
        fsync_path(tmp / STATE_MANIFEST)
        fsync_path(tmp)
        shutil.rmtree(final, ignore_errors=True)  # a state skipped as not intact when this run resumed
        tmp.rename(final)
        fsync_path(work_dir)
        for old in state_dirs(work_dir)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    dist_info.barrier()
    return final


# --------------------------------------------------------------------------------------------------


def train(spec: PretrainSpec, log: Callable[[str], None] = print) -> TrainingSummary:
    """Trains (or resumes) the run `spec` describes and writes the Hugging Face checkpoint to `out_dir`."""
    dist_info = Distributed.from_env()
    if spec.world_size is not None and spec.world_size != dist_info.world_size:
        raise PretrainSpecError(f"the spec's batches are laid out for {spec.world_size} processes, but {dist_info.world_size} run it")
    device = rank_device(spec.device, dist_info.local_rank)
    if dist_info.world_size > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if spec.threads:
        torch.set_num_threads(spec.threads)
    if device.type == "cuda":
        torch.cuda.set_device(device)
        torch.backends.cuda.matmul.allow_tf32 = True

    tokenizer = AutoTokenizer.from_pretrained(spec.tokenizer)
    languages = tuple(sorted({lang for d in spec.directions for lang in d.split(">")} | set(spec.languages)))
    ids = token_ids(tokenizer, languages, spec.lang_codes)
    torch.manual_seed(spec.seed)
    random.seed(spec.seed)
    np.random.seed(spec.seed)
    dropouts = Dropouts(spec.dropout, spec.attention_dropout, spec.activation_dropout)
    if spec.init_from:
        model = load_init_from(spec.objective, Path(spec.init_from), ids, dropouts)
    else:
        model = build_model(spec.objective, ids, spec.size, dropouts)
    model.to(device)
    optimizer = optimizer_for(model, spec)
    scheduler = scheduler_for(optimizer, spec)
    autocast, scaler = mixed_precision(device, spec.precision)
    corpus = Path(spec.corpus)
    stream = bitext_stream(corpus, spec.pairs, spec.seed) if spec.uses_bitext else monolingual_stream(corpus, spec.languages, spec.seed)
    examples = ExampleSource(spec, tokenizer, ids, stream)
    summary = TrainingSummary(spec.objective, count_parameters(model), spec.steps, world_size=dist_info.world_size,
                              device=str(device), threads=torch.get_num_threads())

    work_dir = Path(spec.work_dir)
    resumed = load_latest_state(work_dir, dist_info.rank, device, log)
    start = None
    if resumed is not None:
        start, training, rng = resumed
        if training["identity"] != spec.training_identity():
            raise PretrainSpecError(f"the training state in {start} belongs to a different run; remove {work_dir} to start over")
        model.load_state_dict(training["model"])
        optimizer.load_state_dict(training["optimizer"])
        scheduler.load_state_dict(training["scheduler"])
        if scaler is not None and training.get("scaler"):
            scaler.load_state_dict(training["scaler"])
        examples.restore(training["data"])
        summary.losses, summary.tokens_seen = [tuple(x) for x in training["losses"]], training["tokens_seen"]
        summary.resumed_from = training["step"]
        _set_rng_state(rng)
        log(f"resuming from {start.name} (step {training['step']} of {spec.steps})")

    wrapped: torch.nn.Module = LossModule(spec.objective, model, spec.label_smoothing)
    if dist_info.world_size > 1:
        wrapped = torch.nn.parallel.DistributedDataParallel(
            wrapped, device_ids=[device.index] if device.type == "cuda" else None
        )
    log(
        f"{spec.objective}: {summary.parameters:,} parameters on {device} x{dist_info.world_size}, "
        f"{stream.total_rows:,} rows, steps {summary.resumed_from + 1}..{spec.steps}"
    )

    model.train()
    began = time.perf_counter()
    tokens_here, window_loss, window_steps = 0, 0.0, 0
    last_saved = start
    # spec.batch_size is the global batch: the same optimisation whatever the number of processes.
    if spec.batch_size % dist_info.world_size:
        raise PretrainSpecError(f"batch_size {spec.batch_size} does not split over {dist_info.world_size} processes")
    global_batch, per_rank = spec.batch_size, spec.batch_size // dist_info.world_size
    for step in range(summary.resumed_from + 1, spec.steps + 1):
        step_loss = torch.zeros((), device=device)
        for micro in range(spec.grad_accum):
            # Every rank draws the same global batch and keeps its own part: the data position stays shared.
            generator = micro_batch_generator(spec.seed, step, micro, 0)
            if spec.max_tokens is None:
                taken = examples.take(global_batch, generator)
                mine = taken[dist_info.rank * per_rank : (dist_info.rank + 1) * per_rank]
            else:
                mine = examples.take_token_batches(dist_info.world_size, spec.max_tokens, per_rank, generator)[dist_info.rank]
            collated = collate(spec.objective, mine, ids, micro_batch_generator(spec.seed, step, micro, dist_info.rank + 1), spec.noise)
            tokens_here += int(collated["attention_mask"].sum())  # counted on the CPU: no wait for the GPU
            batch = {k: v.to(device, non_blocking=True) for k, v in collated.items()}
            sync = micro == spec.grad_accum - 1 or not isinstance(wrapped, torch.nn.parallel.DistributedDataParallel)
            with (nullcontext() if sync else wrapped.no_sync()), autocast:
                loss = wrapped(batch)
            scaled = loss / spec.grad_accum
            (scaler.scale(scaled) if scaler is not None else scaled).backward()
            step_loss += loss.detach() / spec.grad_accum
        if dist_info.world_size > 1:
            dist.all_reduce(step_loss)
            step_loss /= dist_info.world_size
        if not torch.isfinite(step_loss):
            where = f"the last good state is {last_saved}" if last_saved else "no state was saved before it"
            raise TrainingDivergedError(f"{spec.objective}: loss is {step_loss.item()} at step {step}; {where}")
        if scaler is not None:
            scaler.unscale_(optimizer)  # clipping and the optimizer see the true gradients
        if spec.max_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), spec.max_grad_norm)
        if scaler is not None:
            scaler.step(optimizer)  # skips the update when fp16 gradients overflowed, as fairseq does
            scaler.update()
        else:
            optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)

        window_loss += step_loss.item()
        window_steps += 1
        if step % spec.log_every == 0 or step == spec.steps:
            summary.losses.append((step, window_loss / window_steps))
            elapsed = time.perf_counter() - began
            log(
                f"step {step}/{spec.steps} loss {window_loss / window_steps:.4f} "
                f"lr {scheduler.get_last_lr()[0]:.2e} tokens/s {tokens_here * dist_info.world_size / elapsed:,.0f}"
            )
            window_loss, window_steps = 0.0, 0
        if step % spec.save_every == 0 or step == spec.steps:
            training = {
                "step": step, "identity": spec.training_identity(), "model": model.state_dict(),
                "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "data": examples.state(),
                "scaler": scaler.state_dict() if scaler is not None else None,
                "losses": summary.losses, "tokens_seen": summary.tokens_seen + tokens_here * dist_info.world_size,
            }
            last_saved = save_state(work_dir, step, training, dist_info, spec.keep_states)

    summary.seconds = time.perf_counter() - began
    summary.tokens_seen += tokens_here * dist_info.world_size
    if dist_info.is_main:
        model.eval()
        # Filled beside out_dir and committed whole: a kill never leaves config.json beside half the weights.
        with committing_dir(Path(spec.out_dir)) as out_dir:
            model.save_pretrained(str(out_dir))
            tokenizer.save_pretrained(str(out_dir))
            (out_dir / TRAINING_LOG).write_text(json.dumps(summary.to_json(), indent=2), encoding="utf-8")
    dist_info.barrier()
    return summary
