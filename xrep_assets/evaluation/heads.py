"""What both trained protocols share: the head, its inputs, its labels, its scores, model selection.

- `MLPHead`: Linear(hidden, 256) -> GELU -> Linear(256, labels), the later study's probe head; the
  fine-tuning protocol puts the same head on the encoder, so the protocols differ only in what trains.
- Inputs: `pool_tokens` turns a layer's token states into one vector per text (or pair, encoded
  together as the tokenizer pairs them); `first_subword_states` takes each word's first subword
  for tagging (a word cut off by the max length reads a zero vector).
- `LabelSpace`: the task's labels as class indices (WPR: the grades 0-4).
- `majority_value`: the chance level on dev (always the training set's majority label).
- `task_metrics`: logits -> predictions -> every metric of the task (`score_task_metrics`); for WPR
  the expected grade under the head's distribution is the ranking score.
- `ModelSelection`: keeps the state of the best epoch on the selection value and says when to stop.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from xrep_assets.checkpoints.encoder import pool_hidden_states
from xrep_assets.evaluation.metrics import score_task_metrics
from xrep_assets.evaluation.protocols import Examples, LanguageScore, ProtocolError, Selection
from xrep_assets.study import SOURCE_LANGUAGE, Task
from xrep_assets.xglue.readers import SentenceExamples, TaggedSentences, task_labels


class MLPHead(nn.Module):
    def __init__(self, input_size: int, hidden: int, labels: int):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(input_size, hidden), nn.GELU(), nn.Linear(hidden, labels))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.layers(features)


# --------------------------------------------------------------------------------------------------
# Head inputs


def pool_tokens(hidden: torch.Tensor, attention_mask: torch.Tensor, pooling: str) -> torch.Tensor:
    """(batch, length, hidden) -> (batch, hidden): the sum over the real (mask 1) tokens, or the
    encoder's own mean / first / last pooling."""
    if pooling == "sum":
        return (hidden * attention_mask.to(hidden.device).unsqueeze(-1).to(hidden.dtype)).sum(1)
    return pool_hidden_states(hidden, attention_mask, pooling)


def first_subword_states(hidden: torch.Tensor, firsts: Sequence[Sequence[int | None]]) -> torch.Tensor:
    """(batch, length, hidden) -> (words of the batch, hidden): each word's first-subword state, in
    order; a word without one (cut off by the max length) gets zeros."""
    rows = [(row, position) for row, first in enumerate(firsts) for position in first]
    if not rows:
        return hidden.new_zeros((0, hidden.shape[-1]))
    kept = torch.tensor([position is not None for _, position in rows], device=hidden.device)
    row_index = torch.tensor([row for row, _ in rows], device=hidden.device)
    positions = torch.tensor([position or 0 for _, position in rows], device=hidden.device)
    return hidden[row_index, positions] * kept.unsqueeze(-1).to(hidden.dtype)


def example_texts(task: Task, examples: SentenceExamples) -> tuple[list[str], list[str | None] | None]:
    """The text (or the pair: NC title/body, premise/hypothesis, query/answer, query/ad, query/page)."""
    frame = examples.frame
    return frame["text_a"].to_list(), (frame["text_b"].to_list() if task.head != "sentence" else None)


# --------------------------------------------------------------------------------------------------
# Labels and scores


@dataclass(frozen=True)
class LabelSpace:
    """The task's labels in a fixed order: class index i is `labels[i]`."""

    task: Task
    labels: tuple[str, ...]

    @classmethod
    def of(cls, task: Task) -> LabelSpace:
        labels = task_labels(task.key)
        # WPR's grades in numeric order, so that the expected grade reads them as numbers.
        ordered = sorted(labels, key=float) if task.head == "ranking" else sorted(labels)
        return cls(task, tuple(ordered))

    def __len__(self) -> int:
        return len(self.labels)

    def targets(self, examples: Examples) -> torch.Tensor:
        """Class indices of every row (tagging: every word, sentence after sentence)."""
        index = {label: i for i, label in enumerate(self.labels)}
        gold = [t for tags in examples.tags for t in tags] if isinstance(examples, TaggedSentences) else examples.labels
        unknown = sorted(set(gold) - set(index))
        if unknown:
            raise ProtocolError(f"{self.task.key}: labels {unknown} are not among {self.labels}")
        return torch.tensor([index[label] for label in gold], dtype=torch.long)

    def expected_grades(self, logits: torch.Tensor) -> list[float]:
        grades = torch.tensor([float(g) for g in self.labels], dtype=torch.float32)
        return (logits.float().cpu().softmax(-1) @ grades).tolist()

    def predicted(self, logits: torch.Tensor) -> list[str]:
        return [self.labels[i] for i in logits.argmax(-1).tolist()]


def task_metrics(labels: LabelSpace, logits: torch.Tensor, examples: Examples) -> dict[str, float]:
    """Every metric of the task (catalog metric first) for the head's `logits` on `examples`
    (one row per example, or per word for tagging)."""
    task = labels.task
    if task.head == "ranking":
        gold = [int(grade) for grade in examples.labels]
        return score_task_metrics(task.key, gold, labels.expected_grades(logits), examples.groups)
    if task.head == "tagging":
        flat, predicted, start = labels.predicted(logits), [], 0
        for tags in examples.tags:
            predicted.append(flat[start : start + len(tags)])
            start += len(tags)
        return score_task_metrics(task.key, examples.tags, predicted)
    return score_task_metrics(task.key, examples.labels, labels.predicted(logits))


def catalog_value(labels: LabelSpace, logits: torch.Tensor, examples: Examples) -> float:
    return task_metrics(labels, logits, examples)[labels.task.metric]


def majority_value(labels: LabelSpace, train: Examples, dev: Examples) -> float:
    """The catalog metric on `dev` of a head that always answers the English training set's most
    frequent label (tag): the chance level a trained head must beat. For WPR every row then gets the
    same grade, and nDCG averages over the tied orders: a random ranking's expected value."""
    counts = torch.bincount(labels.targets(train), minlength=len(labels))
    rows = sum(len(tags) for tags in dev.tags) if isinstance(dev, TaggedSentences) else len(dev)
    logits = torch.zeros((rows, len(labels)))
    logits[:, int(counts.argmax())] = 1.0
    return catalog_value(labels, logits, dev)


def language_scores(labels: LabelSpace, outputs: Mapping[str, tuple[torch.Tensor, Examples]]) -> list[LanguageScore]:
    """One test score per metric of the task per language, from each language's (logits, examples)."""
    return [
        LanguageScore(lang, "test", metric, value, len(examples))
        for lang, (logits, examples) in outputs.items()
        for metric, value in task_metrics(labels, logits, examples).items()
    ]


# --------------------------------------------------------------------------------------------------
# Model selection


def selection_value(dev_values: Mapping[str, float], selection: Selection) -> float:
    """English dev's value, or the mean over every dev language (Unicoder's `valid_avg`)."""
    if selection == "english-dev":
        if SOURCE_LANGUAGE not in dev_values:
            raise ProtocolError(
                f"english-dev selection needs an {SOURCE_LANGUAGE!r} dev set; have {sorted(dev_values)}"
            )
        return dev_values[SOURCE_LANGUAGE]
    if selection == "all-dev":
        return float(np.mean(list(dev_values.values())))
    raise ProtocolError(f"unknown selection {selection!r}")


class ModelSelection:
    """The best epoch so far by the selection value (a later epoch must do strictly better), its
    state (a CPU copy) and whether `patience` epochs have passed without a better one."""

    def __init__(self, selection: Selection, patience: int | None):
        self.selection, self.patience = selection, patience
        self.best_epoch, self.best_value, self.best_values = 0, float("-inf"), {}
        self.best_state: dict[str, torch.Tensor] | None = None
        self.epochs_run = 0

    def update(self, epoch: int, dev_values: Mapping[str, float], model: nn.Module) -> bool:
        """Records `epoch`; True when training should stop."""
        self.epochs_run = epoch
        value = selection_value(dev_values, self.selection)
        if value > self.best_value or self.best_state is None:
            self.best_epoch, self.best_value, self.best_values = epoch, value, dict(dev_values)
            self.best_state = {name: t.detach().to("cpu", copy=True) for name, t in model.state_dict().items()}
        return self.patience is not None and epoch - self.best_epoch >= self.patience

    def restore_best(self, model: nn.Module) -> None:
        if self.best_state is None:
            raise ProtocolError("no epoch was evaluated")
        model.load_state_dict(self.best_state)
