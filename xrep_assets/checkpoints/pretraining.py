"""Pretraining from scratch: model construction and one readable training loop.

The slice implemented here covers the single-stack language-modelling objectives (MLM with BERT, CLM
with GPT-2); the bitext and sequence-to-sequence objectives of the catalog arrive with the
pretraining worker.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from transformers import (
    BertConfig,
    BertForMaskedLM,
    DataCollatorForLanguageModeling,
    GPT2Config,
    GPT2LMHeadModel,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    get_linear_schedule_with_warmup,
)

from xrep_assets.errors import XrepError
from xrep_assets.profiles import ModelSize
from xrep_assets.study import OBJECTIVES, Objective


class PretrainingError(XrepError):
    """A checkpoint cannot be trained as asked."""


@dataclass(frozen=True)
class TrainingHyperparams:
    steps: int
    batch_size: int
    max_length: int
    learning_rate: float
    warmup_steps: int
    seed: int = 0
    weight_decay: float = 0.01
    mlm_probability: float = 0.15  # BERT's masking rate
    log_every: int = 50


@dataclass
class TrainingResult:
    parameters: int
    losses: list[tuple[int, float]] = field(default_factory=list)
    tokens_seen: int = 0
    seconds: float = 0.0

    @property
    def final_loss(self) -> float:
        return self.losses[-1][1] if self.losses else math.nan


def build_bert_mlm(tokenizer: PreTrainedTokenizerBase, size: ModelSize) -> PreTrainedModel:
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=size.hidden,
        num_hidden_layers=size.layers,
        num_attention_heads=size.heads,
        intermediate_size=size.ffn,
        max_position_embeddings=size.max_positions,
        pad_token_id=tokenizer.pad_token_id,
    )
    return BertForMaskedLM(config)


def build_gpt2_clm(tokenizer: PreTrainedTokenizerBase, size: ModelSize) -> PreTrainedModel:
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_embd=size.hidden,
        n_layer=size.layers,
        n_head=size.heads,
        n_inner=size.ffn,
        n_positions=size.max_positions,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    return GPT2LMHeadModel(config)


MODEL_BUILDERS: dict[str, Callable[[PreTrainedTokenizerBase, ModelSize], PreTrainedModel]] = {
    "mlm": build_bert_mlm,
    "clm": build_gpt2_clm,
}


def objective_for(checkpoint_key: str) -> Objective:
    if checkpoint_key not in OBJECTIVES:
        raise PretrainingError(f"{checkpoint_key!r} is not a pretraining objective of the catalog")
    objective = OBJECTIVES[checkpoint_key]
    if objective.key not in MODEL_BUILDERS:
        raise PretrainingError(
            f"objective {objective.key!r} ({objective.name}) has no trainer yet; "
            f"implemented: {sorted(MODEL_BUILDERS)}"
        )
    return objective


def count_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def pretrain(
    objective: Objective,
    texts: Sequence[str],
    tokenizer: PreTrainedTokenizerBase,
    size: ModelSize,
    hp: TrainingHyperparams,
    out_dir: Path,
    device: str = "cpu",
    log: Callable[[str], None] = print,
) -> TrainingResult:
    """Trains `objective` on `texts` and saves model and tokenizer with `save_pretrained` in `out_dir`."""
    if not texts:
        raise PretrainingError("no pretraining text: the cleaned corpora are empty")
    torch.manual_seed(hp.seed)
    rng = random.Random(hp.seed)
    model = MODEL_BUILDERS[objective.key](tokenizer, size).to(device)
    result = TrainingResult(parameters=count_parameters(model))
    log(f"{objective.key}: {result.parameters:,} parameters, {len(texts):,} sentences, {hp.steps} steps")

    max_length = min(hp.max_length, size.max_positions)
    examples = [{"input_ids": ids} for ids in tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]]
    # MLM masks 15% of the tokens (80/10/10 as BERT); CLM's labels are the inputs, shifted in the model.
    collate = DataCollatorForLanguageModeling(
        tokenizer, mlm=objective.key == "mlm", mlm_probability=hp.mlm_probability, seed=hp.seed
    )
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": hp.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=hp.learning_rate,
    )
    schedule = get_linear_schedule_with_warmup(optimizer, hp.warmup_steps, hp.steps)

    model.train()
    start = time.perf_counter()
    running = 0.0
    for step in range(1, hp.steps + 1):
        batch = collate([examples[i] for i in rng.choices(range(len(examples)), k=hp.batch_size)])
        batch = {k: v.to(device) for k, v in batch.items()}
        loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)

        running += loss.item()
        result.tokens_seen += int(batch["attention_mask"].sum())
        if step % hp.log_every == 0 or step == hp.steps:
            n = hp.log_every if step % hp.log_every == 0 else step % hp.log_every
            result.losses.append((step, running / n))
            elapsed = time.perf_counter() - start
            log(f"step {step}/{hp.steps} loss {running / n:.4f} tokens/s {result.tokens_seen / elapsed:,.0f}")
            running = 0.0
    result.seconds = time.perf_counter() - start

    model.eval()
    model.save_pretrained(str(out_dir))
    tokenizer.save_pretrained(str(out_dir))
    return result
