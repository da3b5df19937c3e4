"""Fine-tuning: the whole encoder and a head trained on English, evaluated zero-shot in every language.

The XGLUE protocol with Unicoder's settings (`protocols.FINETUNE_SETTINGS`): AdamW, linear decay
without warm-up, gradients clipped at 1.0; after each epoch the selection value on dev decides
whether this is the best model yet, and the best one is scored on every test language.

The model (`TaskModel`) is a trainable copy of the encoder's stack (the `Encoder` computes its states
under `torch.inference_mode`, and its weights must stay as loaded for the next seed) with the
probe's head (`heads.MLPHead`) on the chosen layer: on the pooled token states (mean by default) for
sentence, pair and ranking tasks, on each word's first-subword state for tagging. Inputs are built by
the `Encoder` itself (`encoded_texts`, `encoded_words`), so every architecture it reads trains
the same way, language markers included.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence

import torch
from torch import nn

from xrep_assets.checkpoints.encoder import Encoder, check_layer
from xrep_assets.evaluation.heads import (
    LabelSpace,
    MLPHead,
    ModelSelection,
    catalog_value,
    example_texts,
    first_subword_states,
    language_scores,
    pool_tokens,
)
from xrep_assets.evaluation.protocols import Examples, ProtocolResult, Selection, TaskData, TrainingSettings
from xrep_assets.study import SOURCE_LANGUAGE, Task

MAX_GRAD_NORM = 1.0


class TaskModel(nn.Module):
    """A trainable copy of the encoder's stack and a head reading its layer `layer`."""

    def __init__(self, encoder: Encoder, task: Task, labels: int, layer: int, pooling: str, head_hidden: int):
        super().__init__()
        check_layer(layer, encoder.num_layers)
        self.task, self.layer, self.pooling = task, layer, pooling
        self.stack = copy.deepcopy(encoder.stack)
        self.head = MLPHead(encoder.hidden_size, head_hidden, labels)

    def forward(
        self, inputs: dict[str, torch.Tensor], firsts: Sequence[Sequence[int | None]] | None = None
    ) -> torch.Tensor:
        hidden = self.stack(**inputs, output_hidden_states=True).hidden_states[self.layer]
        if firsts is not None:
            return self.head(first_subword_states(hidden, firsts))
        return self.head(pool_tokens(hidden, inputs["attention_mask"], self.pooling))


class SplitInputs:
    """Model inputs of any rows of one split in `lang`'s input form, built by the encoder (texts are
    read out of the examples once, not per batch)."""

    def __init__(self, encoder: Encoder, task: Task, examples: Examples, lang: str):
        self.encoder, self.task, self.lang, self.size = encoder, task, lang, len(examples)
        if task.head == "tagging":
            self.tokens = examples.tokens
        else:
            self.texts_a, self.texts_b = example_texts(task, examples)

    def batch(self, rows: Sequence[int]) -> tuple[dict[str, torch.Tensor], list[list[int | None]] | None]:
        """The inputs of `rows` on the device, and each word's first-subword position for tagging."""
        if self.task.head == "tagging":
            inputs, firsts = self.encoder.encoded_words([self.tokens[i] for i in rows], self.lang)
        else:
            texts_b = self.texts_b and [self.texts_b[i] for i in rows]
            inputs, firsts = self.encoder.encoded_texts([self.texts_a[i] for i in rows], texts_b, self.lang), None
        return {name: tensor.to(self.encoder.device) for name, tensor in inputs.items()}, firsts


def predict(model: TaskModel, inputs: SplitInputs) -> torch.Tensor:
    """Logits of every row (every word for tagging), in order, on the CPU."""
    model.eval()
    parts, step = [], inputs.encoder.batch_size
    with torch.no_grad():
        for start in range(0, inputs.size, step):
            parts.append(model(*inputs.batch(range(start, min(start + step, inputs.size)))).float().cpu())
    return torch.cat(parts) if parts else torch.zeros((0, model.head.layers[-1].out_features))


def row_targets(labels: LabelSpace, examples: Examples) -> list[torch.Tensor]:
    """Each row's class indices: one for a sentence task, one per word for tagging."""
    flat = labels.targets(examples)
    sizes = [len(tags) for tags in examples.tags] if labels.task.head == "tagging" else [1] * len(examples)
    return list(flat.split(sizes))


def train_task_model(
    data: TaskData,
    encoder: Encoder,
    settings: TrainingSettings,
    seed: int = 0,
    selection: Selection = "english-dev",
    layer: int = -1,
    pooling: str = "mean",
    log: Callable[[str], None] = print,
) -> tuple[TaskModel, LabelSpace, ModelSelection]:
    """Trains encoder and head on English `data.train`; returns the model restored to its best epoch."""
    torch.manual_seed(seed)
    task, train = data.task, data.train
    labels = LabelSpace.of(task)
    model = TaskModel(encoder, task, len(labels), layer, pooling, settings.head_hidden).to(encoder.device)
    targets = row_targets(labels, train)
    train_inputs = SplitInputs(encoder, task, train, SOURCE_LANGUAGE)
    dev_inputs = {lang: SplitInputs(encoder, task, examples, lang) for lang, examples in data.dev.items()}
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay)
    total_steps = math.ceil(len(train) / settings.batch_size) * settings.max_epochs
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: max(0.0, 1.0 - step / total_steps))
    order = torch.Generator().manual_seed(seed)
    tracker = ModelSelection(selection, settings.patience)
    for epoch in range(1, settings.max_epochs + 1):
        model.train()
        losses = []
        for rows in torch.randperm(len(train), generator=order).split(settings.batch_size):
            rows = rows.tolist()
            gold = torch.cat([targets[i] for i in rows]).to(encoder.device)
            if gold.numel() == 0:  # a batch of empty sentences: nothing to learn from
                continue
            loss = nn.functional.cross_entropy(model(*train_inputs.batch(rows)), gold)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), MAX_GRAD_NORM)
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
        dev_values = {
            lang: catalog_value(labels, predict(model, dev_inputs[lang]), examples)
            for lang, examples in data.dev.items()
        }
        mean_loss = sum(losses) / max(len(losses), 1)
        log(f"{task.key}: seed {seed}, epoch {epoch}, mean loss {mean_loss:.4f}, dev {task.metric} "
            + ", ".join(f"{lang}={value:.4f}" for lang, value in dev_values.items()))
        if tracker.update(epoch, dev_values, model):
            break
    tracker.restore_best(model)
    return model, labels, tracker


def finetune_task(
    data: TaskData,
    encoder: Encoder,
    settings: TrainingSettings,
    seed: int = 0,
    selection: Selection = "english-dev",
    layer: int = -1,
    pooling: str = "mean",
    log: Callable[[str], None] = print,
) -> ProtocolResult:
    """`train_task_model`, then every metric of the task on every test language."""
    model, labels, tracker = train_task_model(data, encoder, settings, seed, selection, layer, pooling, log)
    log(f"{data.task.key}: seed {seed}, epoch {tracker.best_epoch} of {tracker.epochs_run} kept, "
        f"{selection} {data.task.metric}={tracker.best_value:.4f}")
    outputs = {
        lang: (predict(model, SplitInputs(encoder, data.task, examples, lang)), examples)
        for lang, examples in data.test.items()
    }
    return ProtocolResult(
        f"epoch {tracker.best_epoch}", tracker.best_value, tracker.best_values, tracker.epochs_run,
        language_scores(labels, outputs),
    )
