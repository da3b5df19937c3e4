"""Frozen-encoder probing: a head trained on English features, evaluated zero-shot in every language.

The encoder runs once per split (`task_features`): each text's (or pair's) token vectors of the
chosen layer pooled into one vector (summed over the real tokens by default), or each word's
first-subword vector for tagging. The features stay in memory, so an epoch of the head is cheap and
every seed reuses them.

- `probe_task`, the `probe` protocol: the MLP head, AdamW, early stopping on the selection value
  (settings in `protocols.PROBE_SETTINGS`).
- `linear_probe_task`, the `linear` protocol: a standardised logistic regression, its C chosen on
  the selection value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from xrep_assets.checkpoints.encoder import Encoder
from xrep_assets.evaluation.heads import (
    LabelSpace,
    MLPHead,
    ModelSelection,
    catalog_value,
    example_texts,
    first_subword_states,
    language_scores,
    pool_tokens,
    selection_value,
)
from xrep_assets.evaluation.protocols import (
    Examples,
    ProtocolResult,
    Selection,
    TaskData,
    TrainingSettings,
)
from xrep_assets.study import SOURCE_LANGUAGE, Task

REGULARISATION_GRID: tuple[float, ...] = (0.01, 0.1, 1.0)


@dataclass(frozen=True)
class SplitFeatures:
    """One split of one language: its examples and one vector per row (per word for tagging)."""

    examples: Examples
    vectors: torch.Tensor


@dataclass(frozen=True)
class TaskFeatures:
    task: Task
    train: SplitFeatures
    dev: Mapping[str, SplitFeatures]
    test: Mapping[str, SplitFeatures]


def split_features(
    task: Task, encoder: Encoder, examples: Examples, layer: int, pooling: str, lang: str
) -> torch.Tensor:
    """The frozen encoder's vectors of one split, in `lang`'s input form (its language marker)."""
    parts = []
    texts_a, texts_b = example_texts(task, examples) if task.head != "tagging" else ([], None)
    with torch.no_grad():
        for start in range(0, len(examples), encoder.batch_size):
            stop = start + encoder.batch_size
            if task.head == "tagging":
                inputs, firsts = encoder.encoded_words(examples.tokens[start:stop], lang)
                parts.append(first_subword_states(encoder.hidden_states(inputs, layer), firsts).float())
            else:
                inputs = encoder.encoded_texts(texts_a[start:stop], texts_b and texts_b[start:stop], lang)
                hidden = encoder.hidden_states(inputs, layer)
                parts.append(pool_tokens(hidden, inputs["attention_mask"], pooling).float())
    if not parts:
        return torch.zeros((0, encoder.hidden_size), device=encoder.device)
    return torch.cat(parts)


def task_features(
    data: TaskData, encoder: Encoder, layer: int = -1, pooling: str = "sum", log: Callable[[str], None] = print
) -> TaskFeatures:
    """Every split of `data` through the frozen encoder, once."""

    def features(examples: Examples, lang: str) -> SplitFeatures:
        return SplitFeatures(examples, split_features(data.task, encoder, examples, layer, pooling, lang))

    train = features(data.train, SOURCE_LANGUAGE)
    dev = {lang: features(examples, lang) for lang, examples in data.dev.items()}
    test = {lang: features(examples, lang) for lang, examples in data.test.items()}
    log(f"{data.task.key}: features of layer {layer} ({pooling if data.task.head != 'tagging' else 'first subword'}), "
        f"{train.vectors.shape[0]} training vectors of size {train.vectors.shape[1]}")
    return TaskFeatures(data.task, train, dev, test)


def probe_task(
    features: TaskFeatures,
    settings: TrainingSettings,
    seed: int = 0,
    selection: Selection = "english-dev",
    log: Callable[[str], None] = print,
) -> ProtocolResult:
    """The MLP head trained on the English features; after each epoch the selection value on dev
    decides whether this is the best head yet; `settings.patience` epochs without a better one stop
    training. The best head is scored on every test language."""
    torch.manual_seed(seed)
    labels = LabelSpace.of(features.task)
    x, y = features.train.vectors, labels.targets(features.train.examples).to(features.train.vectors.device)
    head = MLPHead(x.shape[1], settings.head_hidden, len(labels)).to(x.device)
    optimizer = torch.optim.AdamW(head.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay)
    order = torch.Generator().manual_seed(seed)
    tracker = ModelSelection(selection, settings.patience)
    for epoch in range(1, settings.max_epochs + 1):
        head.train()
        for rows in torch.randperm(x.shape[0], generator=order).split(settings.batch_size):
            rows = rows.to(x.device)
            loss = torch.nn.functional.cross_entropy(head(x[rows]), y[rows])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        head.eval()
        with torch.no_grad():
            dev_values = {
                lang: catalog_value(labels, head(split.vectors), split.examples) for lang, split in features.dev.items()
            }
        if tracker.update(epoch, dev_values, head):
            break
    tracker.restore_best(head)
    log(f"{features.task.key}: seed {seed}, epoch {tracker.best_epoch} of {tracker.epochs_run} kept, "
        f"{selection} {features.task.metric}={tracker.best_value:.4f}")
    with torch.no_grad():
        outputs = {lang: (head(split.vectors), split.examples) for lang, split in features.test.items()}
    return ProtocolResult(
        f"epoch {tracker.best_epoch}", tracker.best_value, tracker.best_values, tracker.epochs_run,
        language_scores(labels, outputs),
    )


def linear_probe_task(
    features: TaskFeatures,
    settings: TrainingSettings | None = None,
    seed: int = 0,
    selection: Selection = "english-dev",
    log: Callable[[str], None] = print,
) -> ProtocolResult:
    """A standardised logistic regression per C of `REGULARISATION_GRID`; the C with the best
    selection value is scored on every test language. (`settings` are not used: no epochs.)"""
    labels = LabelSpace.of(features.task)
    x, y = features.train.vectors.cpu().numpy(), labels.targets(features.train.examples).numpy()
    best = None
    for c in REGULARISATION_GRID:
        head = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000, random_state=seed)).fit(x, y)

        def logits(split, head=head) -> torch.Tensor:
            # Log-probabilities over every label (a label absent from training gets none).
            full = np.full((split.vectors.shape[0], len(labels)), -np.inf)
            if split.vectors.shape[0]:
                full[:, head.classes_] = head.predict_log_proba(split.vectors.cpu().numpy())
            return torch.from_numpy(full)

        dev_values = {
            lang: catalog_value(labels, logits(split), split.examples) for lang, split in features.dev.items()
        }
        value = selection_value(dev_values, selection)
        log(f"{features.task.key}: C={c} {selection} {features.task.metric}={value:.4f}")
        if best is None or value > best[1]:
            best = (c, value, dev_values, logits)
    assert best is not None
    c, value, dev_values, logits = best
    scores = language_scores(labels, {lang: (logits(split), split.examples) for lang, split in features.test.items()})
    return ProtocolResult(f"C={c}", value, dev_values, None, scores)

