"""The XGLUE understanding-task metrics, with the semantics of XGLUE's official evaluator.

Reference: microsoft/XGLUE `evaluation/xglue_evaluate.py`. Pure functions, no Dagster; every value
is a fraction in [0, 1].

| task | evaluator | here |
|---|---|---|
| NC, XNLI, PAWS-X, QAM, QADSM | `(preds == labels).mean()` on the stripped label strings | `accuracy` |
| WPR | mean over queries of sklearn `ndcg_score` (no k), queries of < 2 rows skipped | `ranking_ndcg` |
| NER | seqeval `f1_score(labels, preds)`, default (non-strict) mode | `ner_f1` |
| POS | seqeval `precision_score(labels, preds)` — not token accuracy | `xglue_pos_value` |

For NER and POS the evaluator pads a prediction sentence shorter than its gold sentence with `"O"`
(models truncate long sentences); `score_task` does the same through `pad_truncated_predictions`.

The evaluator averages a task over its languages (English included, each language weighing the
same) and the study over tasks (each task weighing the same).

Besides the catalog metric, a task may record secondary metrics (`SECONDARY_METRICS`): POS records
plain token accuracy next to XGLUE's value; `score_task_metrics` returns both. Averages and
comparisons use the catalog metric only.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Mapping, Sequence

import numpy as np
from seqeval.metrics import f1_score, precision_score
from sklearn.metrics import ndcg_score

from xrep_assets.errors import XrepError
from xrep_assets.study import TASKS

Tags = Sequence[Sequence[str]]


class MetricError(XrepError, ValueError):
    """Gold and predictions that cannot be scored: lengths or shapes differ, or nothing to score.
    A ValueError too, as for any function given values it cannot take."""

TOKEN_ACCURACY = "token_accuracy"
# Metrics recorded after the catalog metric (`Task.metric`), which alone enters the comparison.
SECONDARY_METRICS: Mapping[str, tuple[str, ...]] = {"POS": (TOKEN_ACCURACY,)}


def accuracy(gold: Sequence[str], pred: Sequence[str]) -> float:
    """Fraction of rows whose predicted label equals the gold label (exact string match)."""
    _check_same_length(gold, pred, "labels")
    return sum(g == p for g, p in zip(gold, pred)) / len(gold)


def ranking_ndcg(groups: Sequence[Hashable], gold_grades: Sequence[float], scores: Sequence[float]) -> float:
    """Mean nDCG over queries, as XGLUE scores WPR.

    A query is a run of consecutive rows with the same `groups` key (a key that comes back after
    another one starts a new query, as the evaluator numbers them). Each query with at least two
    rows gets sklearn's `ndcg_score([gold], [scores])` over its whole list: linear gain (the grade
    itself), 1/log2(rank + 1) discount, no cut-off, tied scores averaged; a query whose grades are
    all 0 scores 0 and still counts in the mean. Queries with one row are skipped.
    """
    _check_same_length(groups, gold_grades, "groups and grades")
    _check_same_length(groups, scores, "groups and scores")
    per_query = [
        _query_ndcg([gold_grades[i] for i in rows], [scores[i] for i in rows])
        for rows in _consecutive_runs(groups)
        if len(rows) >= 2
    ]
    if not per_query:
        raise MetricError("no query has two or more rows: nDCG is undefined")  # the evaluator would give nan
    return float(np.mean(per_query))  # numpy's pairwise sum, as the evaluator: the same bits, not just close


def ner_f1(gold_tags: Tags, pred_tags: Tags) -> float:
    """Entity-level micro F1 with seqeval's default mode, as XGLUE scores NER.

    The default mode is not strict: an entity may start with `I-` (IOB1, as XGLUE's files are
    written) and `B-X` after `I-X` starts a new entity. Sentences never join: seqeval puts an `O`
    between them.
    """
    gold, pred = _tag_lists(gold_tags, pred_tags)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # seqeval warns on zero division and returns 0, like the evaluator
        return float(f1_score(gold, pred))


def pos_accuracy(gold_tags: Tags, pred_tags: Tags) -> float:
    """Plain token accuracy: the fraction of tokens whose predicted UPOS tag is the gold tag."""
    gold, pred = _tag_lists(gold_tags, pred_tags)
    tokens = sum(len(sentence) for sentence in gold)
    if tokens == 0:
        raise MetricError("no tokens to score")
    correct = sum(g == p for gold_sentence, pred_sentence in zip(gold, pred)
                  for g, p in zip(gold_sentence, pred_sentence))
    return correct / tokens


def xglue_pos_value(gold_tags: Tags, pred_tags: Tags) -> float:
    """The number XGLUE reports as POS "accuracy": seqeval `precision_score(gold, pred)`, default mode.

    The evaluator feeds UPOS tags to seqeval's NER-chunk precision, so:
    - seqeval reads a tag's first letter as its chunk prefix and the rest as its type: `NOUN` is
      prefix `N`, type `OUN`; `SCONJ` and `SYM` have prefix `S` (a one-token chunk), `INTJ` prefix
      `I` (inside); `X` has type `_`.
    - Consecutive tokens of the same tag form one chunk (`NOUN NOUN` is one chunk of two tokens), and
      a chunk counts as correct only if the prediction has the same chunk: same type, same span.
    - The value is correct predicted chunks / all predicted chunks, over the whole set.
    - `CCONJ` and `SCONJ` share the type `CONJ`: one for the other is no error in a one-token chunk,
      but `SCONJ` chunks never grow (`CCONJ CCONJ` is one chunk, `SCONJ SCONJ` two).
    - `X` has the type `_` of the `O` that seqeval puts between sentences, so an `X` ending a
      sentence does not end its chunk there: the chunk is lost, or runs on into the next sentence
      when that one starts with `X` too.
    It therefore differs from `pos_accuracy`, usually a little. These quirks are the evaluator's
    (it calls the same seqeval function); they are kept so that values compare with published ones.
    """
    gold, pred = _tag_lists(gold_tags, pred_tags)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "NOUN seems not to be NE tag": expected for UPOS
        return float(precision_score(gold, pred))


def pad_truncated_predictions(gold_tags: Tags, pred_tags: Tags) -> list[list[str]]:
    """Pad each predicted sentence shorter than its gold sentence with `"O"`, as the evaluator does."""
    if len(gold_tags) != len(pred_tags):
        raise MetricError(f"{len(gold_tags)} gold sentences but {len(pred_tags)} predicted")
    padded = []
    for index, (gold, pred) in enumerate(zip(gold_tags, pred_tags)):
        if len(pred) > len(gold):
            raise MetricError(f"sentence {index}: {len(pred)} predicted tags for {len(gold)} tokens")
        padded.append(list(pred) + ["O"] * (len(gold) - len(pred)))
    return padded


def score_task(
    task_key: str, gold: Sequence, pred: Sequence, groups: Sequence[Hashable] | None = None
) -> tuple[str, float]:
    """(metric name from the study catalog, value) for one task, as XGLUE's evaluator computes it.

    - pair tasks (NC, XNLI, PAWS-X, QAM, QADSM): `gold`, `pred` are label strings -> accuracy;
    - WPR: `gold` are grades, `pred` scores, `groups` the query keys -> ndcg;
    - NER: `gold`, `pred` are tag sentences -> f1;
    - POS: tag sentences -> "xglue_pos", the value XGLUE reports (`xglue_pos_value`).
    Tag sentences shorter than their gold sentence are padded with "O" first, as the evaluator does.
    """
    task = TASKS[task_key]
    if task.head == "ranking":
        if groups is None:
            raise MetricError(f"{task_key} needs the query group of every row")
        return task.metric, ranking_ndcg(groups, gold, pred)
    if task.head == "tagging":
        padded = pad_truncated_predictions(gold, pred)
        value = ner_f1(gold, padded) if task.metric == "f1" else xglue_pos_value(gold, padded)
        return task.metric, value
    return task.metric, accuracy(gold, pred)


def score_task_metrics(
    task_key: str, gold: Sequence, pred: Sequence, groups: Sequence[Hashable] | None = None
) -> dict[str, float]:
    """Every metric recorded for one task: the catalog metric first (what `score_task` returns),
    then the task's `SECONDARY_METRICS` (POS: `token_accuracy`, over the padded predictions)."""
    metric, value = score_task(task_key, gold, pred, groups)
    values = {metric: value}
    for secondary in SECONDARY_METRICS.get(task_key, ()):
        values[secondary] = _TAGGING_SECONDARY[secondary](gold, pad_truncated_predictions(gold, pred))
    return values


_TAGGING_SECONDARY = {TOKEN_ACCURACY: pos_accuracy}


def _query_ndcg(grades: Sequence[float], scores: Sequence[float]) -> float:
    """sklearn's nDCG of one query, grades and scores read as floats like the evaluator does."""
    gold = np.asarray([[float(grade) for grade in grades]])
    predicted = np.asarray([[float(score) for score in scores]])
    return float(ndcg_score(gold, predicted))


def _consecutive_runs(keys: Sequence[Hashable]) -> list[list[int]]:
    """Row indices grouped into runs of equal consecutive keys."""
    runs: list[list[int]] = []
    for index, key in enumerate(keys):
        if runs and keys[index - 1] == key:
            runs[-1].append(index)
        else:
            runs.append([index])
    return runs


def _tag_lists(gold_tags: Tags, pred_tags: Tags) -> tuple[list[list[str]], list[list[str]]]:
    """Copies as lists of lists (seqeval only flattens lists) after checking that shapes match."""
    _check_same_length(gold_tags, pred_tags, "sentences")
    for index, (gold, pred) in enumerate(zip(gold_tags, pred_tags)):
        if len(gold) != len(pred):
            raise MetricError(f"sentence {index}: {len(gold)} gold tags but {len(pred)} predicted")
    return [list(s) for s in gold_tags], [list(s) for s in pred_tags]


def _check_same_length(first: Sequence, second: Sequence, what: str) -> None:
    if len(first) != len(second):
        raise MetricError(f"{what}: lengths differ ({len(first)} vs {len(second)})")
    if len(first) == 0:
        raise MetricError(f"{what}: nothing to score")
