"""Score a prediction file against an official XGLUE gold file, as XGLUE's evaluator does.

The gold file is the task's dev or test file in the official format (labels in the last column;
WPR: the grade; NER/POS: `word tag` lines). Predictions follow the evaluator's format:

- NC, XNLI, PAWS-X, QAM, QADSM: one label per line, line i for gold row i (the PAWS-X header is
  not a row); labels spelled as in the gold files (`0`/`1`, `Good`/`Bad`, `entailment`, ...);
- WPR: one grade per line, line i for gold row i: the official README asks for 0-4, the evaluator
  reads any number (`float`) and ranks each query's pages by it, so any finite ranking score works;
- NER, POS: one tag per line for each gold token, a blank line between sentences. A sentence with
  fewer tags than gold tokens is padded with `O` (models truncate long sentences); more is an error.

Each line is stripped like the evaluator does; blank lines at the end of a file are not rows. Lines
are read as the task files are (`xglue.readers.numbered_lines`: only `\\n` ends a line, a leading BOM
is dropped, a NUL byte is an error), and a gold file without rows fails naming it. A count mismatch,
an unknown label and an unparsable grade are `TaskDataError`s naming the file and line. Like the
evaluator's `--ground_truth_dir` / `--prediction_dir`, `gold` may instead be the
`xglue_full_dataset/` folder and `predictions` a folder of `<TASK>/<lang>.prediction` files; then
`lang` picks the files.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

from xrep_assets.errors import TaskDataError, XrepError
from xrep_assets.evaluation.metrics import score_task_metrics
from xrep_assets.study import TASKS, CatalogError
from xrep_assets.xglue.layout import Split, task_file
from xrep_assets.xglue.readers import TaggedSentences, numbered_lines, read_task_file, task_labels

PREDICTION_SUFFIX = ".prediction"  # the evaluator's `<TASK>/<lang>.prediction`
_SHOWN_CHARS = 80


def resolve_task_key(name: str) -> str:
    """The catalog key of a task named by its key or by the evaluator's folder name, in any case
    (`paws-x`, `PAWSX` -> `PAWS-X`)."""
    names = {key.lower(): key for key in TASKS} | {task.data_dir.lower(): task.key for task in TASKS.values()}
    if name.lower() not in names:
        raise CatalogError(f"unknown task {name!r}; expected one of {', '.join(TASKS)}")
    return names[name.lower()]


def evaluate_predictions(
    task: str, gold: Path, predictions: Path, lang: str | None = None, split: Split = "test"
) -> dict:
    """{"task", "metric", "value", "n"} for one prediction file (plus "lang" when given, and
    "secondary": {metric: value} for a task with secondary metrics, e.g. POS token accuracy).

    `n` counts gold examples as the score rows do: rows (WPR: page rows), sentences for NER/POS.
    `split` only matters when `gold` is the archive folder (which file to read) or an XNLI train file.
    """
    task_key = resolve_task_key(task)
    gold_path = _gold_file(task_key, Path(gold), lang, split)
    prediction_path = _prediction_file(task_key, Path(predictions), lang)
    if not gold_path.is_file():
        raise TaskDataError(gold_path, None, "missing gold file")
    if not prediction_path.is_file():
        raise TaskDataError(prediction_path, None, "missing prediction file")

    examples = read_task_file(gold_path, task_key, split)
    if isinstance(examples, TaggedSentences):
        predicted = read_tag_predictions(prediction_path, examples, task_labels(task_key), gold_path)
        values = score_task_metrics(task_key, examples.tags, predicted)
    elif TASKS[task_key].head == "ranking":
        scores = read_score_predictions(prediction_path, len(examples), gold_path)
        values = score_task_metrics(task_key, examples.labels, scores, examples.groups)
    else:
        labels = read_label_predictions(prediction_path, len(examples), task_labels(task_key), gold_path)
        values = score_task_metrics(task_key, examples.labels, labels)

    (metric, value), *secondary = values.items()
    result: dict = {"task": task_key, "metric": metric, "value": value, "n": len(examples)}
    if lang is not None:
        result["lang"] = lang
    if secondary:
        result["secondary"] = dict(secondary)
    return result


# --------------------------------------------------------------------------------------------------
# Prediction readers


def read_label_predictions(path: Path, expected: int, labels: frozenset[str], gold: Path) -> list[str]:
    """One label per line for the `expected` rows of `gold`."""
    predicted = []
    for number, label in _row_lines(path, expected, gold):
        if label not in labels:
            raise _error(path, number, f"unknown label {label!r}, expected one of {sorted(labels)}", label)
        predicted.append(label)
    return predicted


def read_score_predictions(path: Path, expected: int, gold: Path) -> list[float]:
    """One grade or ranking score (a finite number) per line (WPR) for the `expected` rows of `gold`."""
    scores = []
    for number, text in _row_lines(path, expected, gold):
        try:
            score = float(text)
        except ValueError:
            raise _error(path, number, "unparsable grade (expected a number such as 0-4)", text) from None
        if not math.isfinite(score):
            raise _error(path, number, "unparsable grade (expected a finite number)", text)
        scores.append(score)
    return scores


def read_tag_predictions(path: Path, gold: TaggedSentences, tags: frozenset[str], gold_path: Path) -> list[list[str]]:
    """One tag per line, a blank line (or several) between sentences, aligned with `gold`'s sentences.

    Sentences may be shorter than gold (the scorer pads them with `O`), never longer.
    """
    sentences: list[list[str]] = []
    current: list[str] | None = None  # None between sentences
    last_line = 0
    for number, line in numbered_lines(path):
        last_line = number
        tag = line.strip()
        if not tag:
            current = None
            continue
        if current is None:
            if len(sentences) == len(gold):
                raise _error(path, number, f"more sentences than the {len(gold)} of {gold_path}", tag)
            current = []
            sentences.append(current)
        index = len(sentences) - 1
        if len(current) == len(gold.tags[index]):
            raise _error(
                path, number,
                f"sentence {index + 1} has more tags than the {len(gold.tags[index])} tokens of gold sentence "
                f"{index + 1} in {gold_path}", tag,
            )
        if tag not in tags:
            raise _error(path, number, f"unknown tag {tag!r}, expected one of {sorted(tags)}", tag)
        current.append(tag)
    if len(sentences) != len(gold):
        raise TaskDataError(
            path, last_line or None, f"the file ends after {len(sentences)} sentences; {gold_path} has {len(gold)}"
        )
    return sentences


def _row_lines(path: Path, expected: int, gold: Path) -> Iterator[tuple[int, str]]:
    """(line number, stripped line) of each row; exactly `expected` rows or an error.

    A blank line is an (empty) row, except at the end of the file, as in the gold readers.
    """
    rows, last_line = 0, 0
    blanks: list[int] = []  # rows only if a non-blank line follows
    for number, line in numbered_lines(path):
        last_line = number
        text = line.strip()
        if not text:
            blanks.append(number)
            continue
        for row_line, row_text in [(blank, "") for blank in blanks] + [(number, text)]:
            rows += 1
            if rows > expected:
                raise _error(path, row_line, f"more predictions than the {expected} rows of {gold}", row_text)
            yield row_line, row_text
        blanks = []
    if rows != expected:
        raise TaskDataError(
            path, last_line or None, f"the file ends after {rows} predictions; {gold} has {expected} rows"
        )


# --------------------------------------------------------------------------------------------------
# Where the files are


def _gold_file(task_key: str, gold: Path, lang: str | None, split: Split) -> Path:
    """`gold` itself, or the task file inside the archive folder `gold` (or its `<TASK>/` folder)."""
    task = TASKS[task_key]
    if lang is not None and lang not in task.languages:
        raise CatalogError(f"{task_key} has no language {lang!r}; it has {', '.join(task.languages)}")
    if not gold.is_dir():
        return gold
    if lang is None:
        raise XrepError(f"{gold} is a folder: give the language (--lang) to pick the {task_key} gold file")
    root = gold.parent if gold.name == task.data_dir and not (gold / task.data_dir).is_dir() else gold
    return task_file(root, task_key, lang, split)


def _prediction_file(task_key: str, predictions: Path, lang: str | None) -> Path:
    """`predictions` itself, or `<lang>.prediction` in it or in its `<TASK>/` folder."""
    if not predictions.is_dir():
        return predictions
    if lang is None:
        raise XrepError(f"{predictions} is a folder: give the language (--lang) to pick the prediction file")
    nested = predictions / TASKS[task_key].data_dir / f"{lang}{PREDICTION_SUFFIX}"
    return nested if nested.is_file() else predictions / f"{lang}{PREDICTION_SUFFIX}"


def _error(path: Path, number: int, message: str, text: str) -> TaskDataError:
    shown = text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS] + "…"
    return TaskDataError(path, number, f"{message}: {shown!r}")
