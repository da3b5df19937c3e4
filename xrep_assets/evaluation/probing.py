"""Frozen-encoder probing: fit a linear head on English, evaluate it zero-shot in every language.

The encoder stays frozen; a standardised logistic-regression head (scikit-learn) reads mean-pooled
sentence vectors (sentence, pair and ranking tasks) or first-subword word vectors (tagging tasks).
The head's regularisation is chosen on the English dev set by the task's own metric.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from xrep_assets.checkpoints.encoder import Encoder
from xrep_assets.evaluation.loaders import SentenceExamples, TaggedSentences
from xrep_assets.evaluation.metrics import score_task
from xrep_assets.study import SOURCE_LANGUAGE, Task

REGULARISATION_GRID: tuple[float, ...] = (0.01, 0.1, 1.0)


@dataclass(frozen=True)
class LanguageScore:
    language: str
    split: str
    metric: str
    value: float
    n_examples: int


@dataclass(frozen=True)
class ProbeResult:
    regularisation: float
    dev_value: float
    scores: list[LanguageScore]


Examples = SentenceExamples | TaggedSentences


def _fit_head(features: np.ndarray, labels: Sequence[str], c: float, seed: int) -> Pipeline:
    head = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000, random_state=seed))
    return head.fit(features, list(labels))


class _SentenceProbe:
    """Sentence, pair and ranking tasks: one vector per example (pairs encoded jointly)."""

    def __init__(self, task: Task, encoder: Encoder, layer: int):
        self.task, self.encoder, self.layer = task, encoder, layer

    def features(self, examples: SentenceExamples, lang: str) -> np.ndarray:
        frame = examples.frame
        texts_b = frame["text_b"].to_list() if self.task.head != "sentence" else None
        return self.encoder.sentence_vectors(frame["text_a"].to_list(), texts_b, self.layer, lang=lang)

    def gold(self, examples: SentenceExamples) -> list[str]:
        return examples.labels

    def score(self, head: Pipeline, features: np.ndarray, examples: SentenceExamples) -> float:
        if self.task.head == "ranking":
            # The predicted grade's expectation is the ranking score (XGLUE ranks pages by it).
            grades = np.array([float(g) for g in head.classes_])
            ranking = head.predict_proba(features) @ grades
            return score_task(self.task.key, [int(g) for g in examples.labels], list(ranking), examples.groups)[1]
        return score_task(self.task.key, examples.labels, list(head.predict(features)))[1]


class _TaggingProbe:
    """NER and POS: one vector per word, the label sits on the word's first subword."""

    def __init__(self, task: Task, encoder: Encoder, layer: int):
        self.task, self.encoder, self.layer = task, encoder, layer

    def features(self, examples: TaggedSentences, lang: str) -> np.ndarray:
        vectors = self.encoder.word_vectors(examples.tokens, self.layer, lang=lang)
        return np.concatenate(vectors) if vectors else np.zeros((0, 1), np.float32)

    def gold(self, examples: TaggedSentences) -> list[str]:
        return [tag for tags in examples.tags for tag in tags]

    def score(self, head: Pipeline, features: np.ndarray, examples: TaggedSentences) -> float:
        flat = list(head.predict(features))
        predicted, start = [], 0
        for tags in examples.tags:
            predicted.append(flat[start : start + len(tags)])
            start += len(tags)
        return score_task(self.task.key, examples.tags, predicted)[1]


def probe_task(
    task: Task,
    encoder: Encoder,
    train: Examples,
    dev: Examples,
    evaluation: Mapping[str, tuple[str, Examples]],
    seed: int = 0,
    layer: int = -1,
    log: Callable[[str], None] = print,
) -> ProbeResult:
    """Fits the head on English `train`, selects it on English `dev`, scores each language of `evaluation`.

    `evaluation` maps a language to (split name, examples).
    """
    probe = _TaggingProbe(task, encoder, layer) if task.head == "tagging" else _SentenceProbe(task, encoder, layer)
    # The encoder marks the source language where its model expects it (mBART, NLLB, our MT models).
    x_train, y_train = probe.features(train, SOURCE_LANGUAGE), probe.gold(train)
    x_dev = probe.features(dev, SOURCE_LANGUAGE)
    best: tuple[float, float, Pipeline] | None = None
    for c in REGULARISATION_GRID:
        head = _fit_head(x_train, y_train, c, seed)
        dev_value = probe.score(head, x_dev, dev)
        log(f"{task.key}: C={c} English dev {task.metric}={dev_value:.4f}")
        if best is None or dev_value > best[1]:
            best = (c, dev_value, head)
    assert best is not None
    c, dev_value, head = best
    scores = [
        LanguageScore(
            lang, split, task.metric, probe.score(head, probe.features(examples, lang), examples), len(examples)
        )
        for lang, (split, examples) in evaluation.items()
    ]
    return ProbeResult(regularisation=c, dev_value=dev_value, scores=scores)
