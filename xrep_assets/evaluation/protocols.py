"""The evaluation protocols and their settings, in one table; what a protocol run takes and gives.

Both protocols train on English and score zero-shot in every language of the task:

- `probe` (default), the later study's protocol: the encoder stays frozen; an MLP head (256, GELU)
  reads the chosen layer's token vectors summed over the real tokens (first-subword vectors for
  tagging), AdamW 1e-4, batch 128, early stopping on the selection metric with patience 3.
- `finetune`, the XGLUE protocol with Unicoder's settings: the whole encoder and the same head
  trained together, the best epoch on the selection metric kept.
- `linear`: the frozen encoder with a logistic-regression head whose C is chosen on dev (the
  project's first probe, kept as a cheap baseline; never the default).

Model selection (`english-dev`, the default, or `all-dev`, the mean of the dev metric over every
language with a dev file, as Unicoder selects) and the pooling enter the score rows' `protocol`
when they differ from the protocol's defaults (`protocol_label`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from xrep_assets.errors import XrepError
from xrep_assets.study import Task
from xrep_assets.xglue.readers import SentenceExamples, TaggedSentences

Protocol = Literal["probe", "finetune", "linear"]
PROTOCOLS: tuple[str, ...] = ("probe", "finetune", "linear")
Selection = Literal["english-dev", "all-dev"]
SELECTIONS: tuple[str, ...] = ("english-dev", "all-dev")
DEFAULT_SELECTION: Selection = "english-dev"
# How a sentence (or pair) becomes one vector; tagging always reads each word's first subword.
POOLINGS: tuple[str, ...] = ("sum", "mean", "first", "last")
# probe: the later study sums token vectors; finetune: the mean keeps the head's input on one scale
# whatever the length, and unlike [CLS] ("first") it exists in every architecture (GPT-2 has none,
# mBART-50 / NLLB put a language code there); linear: as the first probe read them.
DEFAULT_POOLING: Mapping[str, str] = {"probe": "sum", "finetune": "mean", "linear": "mean"}

Examples = SentenceExamples | TaggedSentences


class ProtocolError(XrepError):
    """An unknown protocol, selection or pooling, or data a protocol cannot run on."""


@dataclass(frozen=True)
class TrainingSettings:
    learning_rate: float
    batch_size: int
    max_epochs: int
    patience: int | None  # epochs without a better dev value before stopping; None: run every epoch
    max_length: int  # subwords per input (the encoder cuts longer ones)
    weight_decay: float
    head_hidden: int = 256


# Unicoder's XGLUE commands (microsoft/Unicoder, understanding/README.md): lr 5e-6, batch 32,
# 10 epochs, max length 256 for the sentence, pair and ranking tasks; NER 20 epochs; POS lr 2e-5,
# max length 128 and, as its command says, 20 epochs. AdamW without weight decay, linear decay
# without warm-up, gradients clipped at 1.0 (its run_glue defaults); no early stop: the best epoch
# on dev is kept.
FINETUNE_SENTENCE = TrainingSettings(learning_rate=5e-6, batch_size=32, max_epochs=10, patience=None,
                                     max_length=256, weight_decay=0.0)
FINETUNE_SETTINGS: Mapping[str, TrainingSettings] = {
    "NC": FINETUNE_SENTENCE,
    "XNLI": FINETUNE_SENTENCE,
    "PAWS-X": FINETUNE_SENTENCE,
    "QAM": FINETUNE_SENTENCE,
    "QADSM": FINETUNE_SENTENCE,
    "WPR": FINETUNE_SENTENCE,
    "NER": TrainingSettings(learning_rate=5e-6, batch_size=32, max_epochs=20, patience=None,
                            max_length=256, weight_decay=0.0),
    "POS": TrainingSettings(learning_rate=2e-5, batch_size=32, max_epochs=20, patience=None,
                            max_length=128, weight_decay=0.0),
}
# The later study's probe: AdamW 1e-4 (torch's default weight decay), batch 128, patience 3. It
# gives no epoch cap; 100 is never reached on the fixtures. Inputs are cut as for fine-tuning, so
# both protocols read the same subwords.
PROBE_SETTINGS: Mapping[str, TrainingSettings] = {
    task: TrainingSettings(learning_rate=1e-4, batch_size=128, max_epochs=100, patience=3,
                           max_length=settings.max_length, weight_decay=0.01)
    for task, settings in FINETUNE_SETTINGS.items()
}


def settings_for(
    protocol: str, task_key: str, max_epochs: int | None = None, patience: int | None = None
) -> TrainingSettings:
    """The table's settings of `protocol` on `task_key`, with the epoch cap and the early-stopping
    patience overridden where given.

    `linear` reads the probe's max length (its other settings are unused)."""
    check_protocol(protocol)
    table = FINETUNE_SETTINGS if protocol == "finetune" else PROBE_SETTINGS
    settings = table[task_key]
    if max_epochs is not None:
        if max_epochs < 1:
            raise ProtocolError(f"max_epochs must be at least 1, got {max_epochs}")
        settings = replace(settings, max_epochs=max_epochs)
    if patience is not None and settings.patience is not None:
        if patience < 1:
            raise ProtocolError(f"patience must be at least 1, got {patience}")
        settings = replace(settings, patience=patience)
    return settings


def check_protocol(protocol: str, selection: str = DEFAULT_SELECTION, pooling: str | None = None) -> None:
    if protocol not in PROTOCOLS:
        raise ProtocolError(f"unknown protocol {protocol!r}; known: {', '.join(PROTOCOLS)}")
    if selection not in SELECTIONS:
        raise ProtocolError(f"unknown selection {selection!r}; known: {', '.join(SELECTIONS)}")
    if pooling is not None and pooling not in POOLINGS:
        raise ProtocolError(f"unknown pooling {pooling!r}; known: {', '.join(POOLINGS)}")


def protocol_label(protocol: str, selection: str = DEFAULT_SELECTION, pooling: str | None = None) -> str:
    """The score rows' `protocol`: the name, then any choice that differs from its defaults,
    e.g. `probe`, `finetune:all-dev`, `probe:mean-pooling`."""
    check_protocol(protocol, selection, pooling)
    parts = [protocol]
    if selection != DEFAULT_SELECTION:
        parts.append(selection)
    if pooling is not None and pooling != DEFAULT_POOLING[protocol]:
        parts.append(f"{pooling}-pooling")
    return ":".join(parts)


@dataclass(frozen=True)
class TaskData:
    """English training rows, dev rows by language (English alone for `english-dev`), test rows by language."""

    task: Task
    train: Examples
    dev: Mapping[str, Examples]
    test: Mapping[str, Examples]

    def __post_init__(self) -> None:
        if len(self.train) == 0:
            raise ProtocolError(f"{self.task.key}: no training examples")
        if not self.dev:
            raise ProtocolError(f"{self.task.key}: no dev set to select on")


@dataclass(frozen=True)
class LanguageScore:
    language: str
    split: str
    metric: str
    value: float
    n_examples: int


@dataclass(frozen=True)
class ProtocolResult:
    """One seed's run: what was selected, its dev values, and every metric in every test language."""

    selected: str  # "epoch 4" or "C=0.1"
    dev_value: float  # the selection value (English dev, or the mean over the dev languages)
    dev_values: dict[str, float]  # the catalog metric on each dev language, at the selected point
    epochs_run: int | None  # None for the linear head
    scores: list[LanguageScore] = field(default_factory=list)


def first_examples(examples: Examples, limit: int | None) -> Examples:
    """The first `limit` rows (sentences for tagging), or all of them when `limit` is None."""
    if limit is None or limit >= len(examples):
        return examples
    if limit < 1:
        raise ProtocolError(f"a limit on training examples must be at least 1, got {limit}")
    if isinstance(examples, TaggedSentences):
        return TaggedSentences(examples.tokens[:limit], examples.tags[:limit])
    return SentenceExamples(examples.path, examples.frame.head(limit))
