"""Readers for the XGLUE understanding tasks and the other real task formats (CoNLL-U, CoNLL NER).

Pure functions, no Dagster. Every malformed input raises `TaskDataError(path, line, message)` with
the 1-based line number and the offending content.

Two return types:

- `SentenceExamples` for the sentence, pair and ranking tasks (NC, XNLI, PAWS-X, QAM, QADSM, WPR):
  a frozen dataclass around a polars DataFrame with exactly the columns `text_a: str`,
  `text_b: str | null`, `label: str`, `group: int` (see `SENTENCE_COLUMNS`). `group` is the query
  index for WPR (runs of consecutive identical query strings, as XGLUE's evaluator numbers them) and
  the row index for every other task, so that each row is its own group.
- `TaggedSentences` for the tagging tasks (NER, POS): parallel lists of tokens and tags.

Files are streamed line by line in binary and decoded per line, so only `\\n` ends a line: the
XGLUE texts contain quotes (hence no csv quoting) and may contain lone `\\r` or Unicode line
separators, which must stay inside their field.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import polars as pl

from xrep_assets.errors import TaskDataError
from xrep_assets.study import SOURCE_LANGUAGE, TASKS

Split = Literal["train", "dev", "test"]

SENTENCE_COLUMNS: dict[str, pl.DataType] = {
    "text_a": pl.String(),
    "text_b": pl.String(),
    "label": pl.String(),
    "group": pl.Int64(),
}

XNLI_LABELS = frozenset({"contradiction", "entailment", "neutral"})
BINARY_LABELS = frozenset({"0", "1"})
QADSM_LABELS = frozenset({"Good", "Bad"})
WPR_GRADES = frozenset({"0", "1", "2", "3", "4"})  # bad, fair, good, excellent, perfect
NER_TAGS = frozenset({"O"} | {f"{p}-{t}" for p in "BI" for t in ("PER", "LOC", "ORG", "MISC")})
UPOS_TAGS = frozenset(
    "ADJ ADP ADV AUX CCONJ DET INTJ NOUN NUM PART PRON PROPN PUNCT SCONJ SYM VERB X".split()
)
PAWSX_HEADER = ("id", "sentence1", "sentence2", "label")
# XNLI-MT's multinli.train.en.tsv starts with this header and spells one label "contradictory".
XNLI_TRAIN_HEADER = ("premise", "hypo", "label")
XNLI_LABEL_ALIASES = {"contradictory": "contradiction"}

_SHOWN_CHARS = 120  # how much of an offending line an error message quotes


# --------------------------------------------------------------------------------------------------
# Return types


@dataclass(frozen=True)
class SentenceExamples:
    """Rows of a sentence, pair or ranking task file, in file order (see the module docstring)."""

    path: Path
    frame: pl.DataFrame

    def __post_init__(self) -> None:
        if dict(self.frame.schema) != SENTENCE_COLUMNS:
            raise ValueError(f"SentenceExamples needs columns {SENTENCE_COLUMNS}, got {self.frame.schema}")

    def __len__(self) -> int:
        return self.frame.height

    @property
    def labels(self) -> list[str]:
        return self.frame["label"].to_list()

    @property
    def groups(self) -> list[int]:
        return self.frame["group"].to_list()


@dataclass(frozen=True)
class TaggedSentences:
    """Sentences of a tagging task: `tokens[i][j]` carries tag `tags[i][j]`."""

    tokens: list[list[str]]
    tags: list[list[str]]

    def __post_init__(self) -> None:
        if len(self.tokens) != len(self.tags) or any(
            len(words) != len(labels) for words, labels in zip(self.tokens, self.tags)
        ):
            raise ValueError("tokens and tags must have the same shape")

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def num_tokens(self) -> int:
        return sum(len(words) for words in self.tokens)


# --------------------------------------------------------------------------------------------------
# File layout of the official archive


def task_file(data_dir: Path, task_key: str, lang: str, split: Split) -> Path:
    """Where `xglue_full_dataset/` (= `data_dir`) keeps one task's split for one language.

    XGLUE ships training data in English only, so `split="train"` requires `lang="en"`.
    """
    task = TASKS[task_key]
    if split not in ("train", "dev", "test"):
        raise ValueError(f"unknown split {split!r}")
    if lang not in task.languages:
        raise ValueError(f"{task_key} has no language {lang!r}; it has {', '.join(task.languages)}")
    if split == "train" and lang != SOURCE_LANGUAGE:
        raise ValueError(f"XGLUE has {task_key} training data only in {SOURCE_LANGUAGE!r}, not {lang!r}")
    return Path(data_dir) / task.data_dir / _file_name(task.data_dir, lang, split)


def _file_name(task_dir: str, lang: str, split: Split) -> str:
    if task_dir in ("NER", "POS"):
        return f"{lang}.{split}"
    if task_dir == "XNLI":
        return "multinli.train.en.tsv" if split == "train" else f"{lang}.{split}"
    if task_dir == "PAWSX":
        return f"{lang}/train.tsv" if split == "train" else f"{lang}/{split}_2k.tsv"
    return f"xglue.{task_dir.lower()}.{lang}.{split}"  # NC, QADSM, WPR, QAM


# --------------------------------------------------------------------------------------------------
# XGLUE task files


def load_task_split(data_dir: Path, task_key: str, lang: str, split: Split) -> SentenceExamples | TaggedSentences:
    """Read one XGLUE task file: `TaggedSentences` for NER/POS, `SentenceExamples` otherwise."""
    path = task_file(data_dir, task_key, lang, split)
    if not path.is_file():
        raise TaskDataError(path, None, f"missing {task_key} {lang} {split} file")
    if task_key in _TAG_SETS:
        return read_xglue_tagging(path, _TAG_SETS[task_key])
    layout = _TSV_LAYOUTS[task_key]
    header = _expected_header(task_key, split)
    return _read_tsv_examples(path, layout, header)


@dataclass(frozen=True)
class _TsvLayout:
    """How one task's TSV rows map onto `SentenceExamples` columns."""

    columns: tuple[str, ...]  # field names in file order, label last
    labels: frozenset[str] | None  # None: open label set (NC's news categories)
    to_pair: Callable[[dict[str, str]], tuple[str, str]]  # fields -> (text_a, text_b)
    label_aliases: dict[str, str] | None = None
    groups_by_query: bool = False  # WPR: rows of one query form one ranking group


_TSV_LAYOUTS: dict[str, _TsvLayout] = {
    "NC": _TsvLayout(("title", "body", "category"), None, lambda f: (f["title"], f["body"])),
    "XNLI": _TsvLayout(
        ("premise", "hypothesis", "label"), XNLI_LABELS, lambda f: (f["premise"], f["hypothesis"]),
        label_aliases=XNLI_LABEL_ALIASES,
    ),
    "PAWS-X": _TsvLayout(
        ("id", "sentence1", "sentence2", "label"), BINARY_LABELS, lambda f: (f["sentence1"], f["sentence2"])
    ),
    "QAM": _TsvLayout(("question", "passage", "label"), BINARY_LABELS, lambda f: (f["question"], f["passage"])),
    "QADSM": _TsvLayout(
        ("query", "ad_title", "ad_description", "label"), QADSM_LABELS,
        lambda f: (f["query"], f"{f['ad_title']} {f['ad_description']}"),
    ),
    "WPR": _TsvLayout(
        ("query", "title", "snippet", "grade"), WPR_GRADES,
        lambda f: (f["query"], f"{f['title']} {f['snippet']}"),
        groups_by_query=True,
    ),
}
_TAG_SETS: dict[str, frozenset[str]] = {"NER": NER_TAGS, "POS": UPOS_TAGS}


def _expected_header(task_key: str, split: Split) -> tuple[tuple[str, ...], bool] | None:
    """(header fields, required?) for files whose first line may be a header, else None."""
    if task_key == "PAWS-X":
        return PAWSX_HEADER, True  # every PAWS-X file has one; the evaluator skips line 1
    if task_key == "XNLI" and split == "train":
        return XNLI_TRAIN_HEADER, False  # XNLI-MT's train file has one; skipped when present
    return None


def _is_header(line: str) -> bool:
    # No task has a label spelled "label", so a last field "label" marks a header, never a row.
    return line.split("\t")[-1].strip() == "label"


def _read_tsv_examples(
    path: Path, layout: _TsvLayout, header: tuple[tuple[str, ...], bool] | None
) -> SentenceExamples:
    text_a: list[str] = []
    text_b: list[str] = []
    labels: list[str] = []
    groups: list[int] = []
    previous_query: str | None = None
    for number, line in _content_lines(path):
        if number == 1 and header is not None:
            names, required = header
            if _is_header(line):
                continue
            if required:
                raise _error(path, number, f"expected the header {' '.join(names)!r}", line)
        fields = _split_fields(path, number, line, layout.columns)
        label = _check_label(path, number, line, fields[layout.columns[-1]].strip(), layout)
        a, b = layout.to_pair(fields)
        if layout.groups_by_query:
            group = _query_group(groups, previous_query, fields["query"])
            previous_query = fields["query"]
        else:
            group = len(labels)  # every row is its own group
        text_a.append(a)
        text_b.append(b)
        labels.append(label)
        groups.append(group)
    frame = pl.DataFrame(
        {"text_a": text_a, "text_b": text_b, "label": labels, "group": groups}, schema=SENTENCE_COLUMNS
    )
    return SentenceExamples(path=path, frame=frame)


def _query_group(groups: list[int], previous_query: str | None, query: str) -> int:
    """The group of a WPR row: the previous row's while the query string stays the same.

    A query string that reappears after another one starts a new group, as in the evaluator.
    """
    if not groups:
        return 0
    return groups[-1] if query == previous_query else groups[-1] + 1


def _split_fields(path: Path, number: int, line: str, columns: tuple[str, ...]) -> dict[str, str]:
    values = line.split("\t")
    if len(values) != len(columns):
        raise _error(path, number, f"expected {len(columns)} tab-separated fields ({', '.join(columns)}), "
                     f"found {len(values)}", line)
    for name, value in zip(columns, values):
        if not value.strip():
            raise _error(path, number, f"empty field {name!r}", line)
    return dict(zip(columns, values))


def _check_label(path: Path, number: int, line: str, label: str, layout: _TsvLayout) -> str:
    label = (layout.label_aliases or {}).get(label, label)
    if layout.labels is not None and label not in layout.labels:
        raise _error(path, number, f"unknown label {label!r}, expected one of {sorted(layout.labels)}", line)
    return label


def read_xglue_tagging(path: Path, tag_set: frozenset[str] | None = None) -> TaggedSentences:
    """Read an XGLUE NER/POS file: `word label` per line (one space), a blank line between sentences.

    The label is the text after the last space, so that a word containing spaces (Vietnamese UD
    words do) stays whole; a tag outside `tag_set` is an error.
    """
    sentences = _SentenceBuilder()
    for number, line in _numbered_lines(path):
        if not line.strip():
            sentences.close()
            continue
        word, separator, tag = line.rpartition(" ")
        if not separator or not word.strip() or not tag:
            raise _error(path, number, "expected 'word label' separated by one space", line)
        if tag_set is not None and tag not in tag_set:
            raise _error(path, number, f"unknown tag {tag!r}", line)
        sentences.add(word, tag)
    return sentences.result()


# --------------------------------------------------------------------------------------------------
# Other real formats


def read_conllu(path: Path) -> TaggedSentences:
    """Read a CoNLL-U file as (FORM, UPOS) of its syntactic words.

    Comments, multiword-token ranges (`1-2`) and empty nodes (`1.1`) are skipped, as XGLUE's POS
    files do; a word line must have the 10 CoNLL-U columns.
    """
    sentences = _SentenceBuilder()
    for number, line in _numbered_lines(path):
        if not line.strip():
            sentences.close()
            continue
        if line.startswith("#"):
            continue
        columns = line.split("\t")
        if len(columns) != 10:
            raise _error(path, number, f"expected 10 tab-separated CoNLL-U columns, found {len(columns)}", line)
        word_id, form, upos = columns[0], columns[1], columns[3]
        if "-" in word_id or "." in word_id:
            continue
        if not word_id.isdigit() or not form or not upos or upos == "_":
            raise _error(path, number, "expected an integer ID, a FORM and a UPOS", line)
        sentences.add(form, upos)
    return sentences.result()


def read_conll_ner(path: Path) -> TaggedSentences:
    """Read a CoNLL-2002/2003 NER file: word in the first column, NER tag in the last.

    Columns are separated by single spaces; `-DOCSTART-` lines end the current sentence and are
    skipped, like the blank line that follows them.
    """
    sentences = _SentenceBuilder()
    for number, line in _numbered_lines(path):
        if not line.strip() or line.startswith("-DOCSTART-"):
            sentences.close()
            continue
        columns = line.split(" ")
        if len(columns) < 2 or not all(columns):
            raise _error(path, number, "expected space-separated columns: word ... NER tag", line)
        sentences.add(columns[0], columns[-1])
    return sentences.result()


# --------------------------------------------------------------------------------------------------
# Line handling shared by the readers


class _SentenceBuilder:
    """Collects tokens into sentences; `close()` ends the current one (repeated breaks are harmless)."""

    def __init__(self) -> None:
        self.tokens: list[list[str]] = []
        self.tags: list[list[str]] = []
        self._words: list[str] = []
        self._labels: list[str] = []

    def add(self, word: str, tag: str) -> None:
        self._words.append(word)
        self._labels.append(tag)

    def close(self) -> None:
        if self._words:
            self.tokens.append(self._words)
            self.tags.append(self._labels)
            self._words, self._labels = [], []

    def result(self) -> TaggedSentences:
        self.close()  # the last sentence may lack its blank line
        return TaggedSentences(tokens=self.tokens, tags=self.tags)


def _numbered_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(1-based line number, line without its line ending), decoded as UTF-8 one line at a time."""
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        raise TaskDataError(path, None, "missing file") from None
    with handle:
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise TaskDataError(path, number, f"not UTF-8 ({error.reason} at byte {error.start})") from None
            if number == 1:
                line = line.removeprefix("\ufeff")  # a UTF-8 byte-order mark is not content
            yield number, line.removesuffix("\n").removesuffix("\r")


def _content_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Non-blank lines of a one-row-per-line file; blank lines are allowed only at the end.

    A blank line inside the file would shift every later row against the prediction file, which
    the evaluator aligns line by line.
    """
    first_blank: int | None = None
    for number, line in _numbered_lines(path):
        if not line.strip():
            first_blank = first_blank or number
            continue
        if first_blank is not None:
            raise TaskDataError(path, first_blank, "blank line before the end of the file")
        yield number, line


def _error(path: Path, number: int, message: str, line: str) -> TaskDataError:
    shown = line if len(line) <= _SHOWN_CHARS else line[:_SHOWN_CHARS] + "…"
    return TaskDataError(path, number, f"{message}: {shown!r}")
