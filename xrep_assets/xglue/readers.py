"""Readers for the XGLUE understanding tasks.

Pure functions, no Dagster; below the stages, so that corpora (decontamination) and evaluation
(scoring) read the test sets the same way (where the files lie: `xglue/layout.py`). Every malformed
input raises `TaskDataError(path, line, message)` with the 1-based line number and the offending
content.

Two return types:

- `SentenceExamples` for the sentence, pair and ranking tasks (NC, XNLI, PAWS-X, QAM, QADSM, WPR):
  a frozen dataclass around a polars DataFrame with exactly the columns `text_a: str`,
  `text_b: str | null`, `label: str`, `group: int` (see `SENTENCE_COLUMNS`). `group` is the query
  index for WPR (runs of consecutive identical query strings, as XGLUE's evaluator numbers them) and
  the row index for every other task, so that each row is its own group.
- `TaggedSentences` for the tagging tasks (NER, POS): parallel lists of tokens and tags.

Two sources give the same types behind one interface (`TaskSource`): the official archive on disk
(`ArchiveSource`, `load_task_split`) and a Hugging Face dataset with the `xglue` script's configs,
columns and splits (`HubDatasetSource`, `load_task_split_from_hub`).

Files are streamed line by line in binary and decoded per line, so only `\\n` ends a line: the
XGLUE texts contain quotes (hence no csv quoting) and may contain lone `\\r` or Unicode line
separators, which must stay inside their field. A file with CR-only line ends is therefore one long
line, which fails loudly: a TSV row then has too many fields, and a tagging line may not hold a `\\r`.
A leading UTF-8 byte-order mark is dropped (a U+FEFF anywhere else is text: NC's German dev set has
some at the start of a title); a NUL byte is an error. A file without a single row or sentence (empty,
blank lines only, a header only) is an error, never 0 examples.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import polars as pl

from xrep_assets.errors import TaskDataError
from xrep_assets.xglue.layout import HUB_CONFIGS, Split, hub_split_name, task_file

SENTENCE_COLUMNS: dict[str, pl.DataType] = {
    "text_a": pl.String(),
    "text_b": pl.String(),
    "label": pl.String(),
    "group": pl.Int64(),
}

# The 10 news categories (the `xglue` dataset script's `news_category` ClassLabel).
NC_LABELS = frozenset(
    "foodanddrink sports travel finance lifestyle news entertainment health video autos".split()
)
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
# XGLUE task files


def load_task_split(data_dir: Path, task_key: str, lang: str, split: Split) -> SentenceExamples | TaggedSentences:
    """Read one XGLUE task file: `TaggedSentences` for NER/POS, `SentenceExamples` otherwise."""
    path = task_file(data_dir, task_key, lang, split)
    if not path.is_file():
        raise TaskDataError(path, None, f"missing {task_key} {lang} {split} file")
    return read_task_file(path, task_key, split)


def read_task_file(path: Path, task_key: str, split: Split = "test") -> SentenceExamples | TaggedSentences:
    """Read a file in the official format of `task_key`, wherever it lies (`split` only decides
    whether XNLI's optional train header is allowed)."""
    if task_key in _TAG_SETS:
        return read_xglue_tagging(path, _TAG_SETS[task_key])
    return _read_tsv_examples(path, _TSV_LAYOUTS[task_key], expected_header(task_key, split))


def task_labels(task_key: str) -> frozenset[str]:
    """The labels (tags for NER/POS, grades for WPR) a gold or predicted row of `task_key` may carry."""
    if task_key in _TAG_SETS:
        return _TAG_SETS[task_key]
    return _TSV_LAYOUTS[task_key].labels


@dataclass(frozen=True)
class _TsvLayout:
    """How one task's TSV rows map onto `SentenceExamples` columns."""

    columns: tuple[str, ...]  # field names in file order, label last
    labels: frozenset[str]
    to_pair: Callable[[dict[str, str]], tuple[str, str]]  # fields -> (text_a, text_b)
    label_aliases: dict[str, str] | None = None
    groups_by_query: bool = False  # WPR: rows of one query form one ranking group


_TSV_LAYOUTS: dict[str, _TsvLayout] = {
    "NC": _TsvLayout(("title", "body", "category"), NC_LABELS, lambda f: (f["title"], f["body"])),
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


def expected_header(task_key: str, split: Split) -> tuple[tuple[str, ...], bool] | None:
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
    return _sentence_examples(path, text_a, text_b, labels, groups, "no rows (the file is empty, blank lines only or a header only)")


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
        # a lone CR inside a too-long line is the likely cause: rows joined by CR-only line ends
        hint = " (the line holds a carriage return: CR-only line ends?)" if "\r" in line else ""
        raise _error(path, number, f"expected {len(columns)} tab-separated fields ({', '.join(columns)}), "
                     f"found {len(values)}{hint}", line)
    for name, value in zip(columns, values):
        if not value.strip():
            raise _error(path, number, f"empty field {name!r}", line)
    return dict(zip(columns, values))


def _check_label(path: Path, number: int, line: str, label: str, layout: _TsvLayout) -> str:
    label = (layout.label_aliases or {}).get(label, label)
    if label not in layout.labels:
        raise _error(path, number, f"unknown label {label!r}, expected one of {sorted(layout.labels)}", line)
    return label


def read_xglue_tagging(path: Path, tag_set: frozenset[str] | None = None) -> TaggedSentences:
    """Read an XGLUE NER/POS file: `word label` per line, a blank line between sentences.

    Lines are split the way XGLUE's evaluator reads its gold files, so that both count the same
    tokens: the label is the last whitespace-separated field (trailing whitespace ignored), the
    word is everything before the one separator in front of it (a Vietnamese UD word keeps its
    inner spaces), and a line starting with `-DOCSTART-` ends a sentence like a blank line. A
    line without a word, a word of whitespace only (the evaluator would count it, but it is no
    text to encode), a `\\r` inside a line (CR-only line ends would join the whole file into one
    token), a tag outside `tag_set` and a file without a sentence are errors.
    """
    sentences = _SentenceBuilder()
    for number, line in numbered_lines(path):
        if not line.strip():
            sentences.close()
            continue
        if "\r" in line:
            raise _error(path, number, "a carriage return inside the line (CR-only line ends?)", line)
        if line.startswith("-DOCSTART-"):
            sentences.close()
            continue
        word, tag = _word_and_tag(line)
        if not word:
            raise _error(path, number, "expected 'word label' separated by whitespace", line)
        if not word.strip():
            raise _error(path, number, "the word is only whitespace", line)
        if tag_set is not None and tag not in tag_set:
            raise _error(path, number, f"unknown tag {tag!r}", line)
        sentences.add(word, tag)
    result = sentences.result()
    if not result:
        raise TaskDataError(path, None, "no sentences (the file is empty, or blank and -DOCSTART- lines only)")
    return result


def _word_and_tag(line: str) -> tuple[str, str]:
    """('word', 'TAG') of a non-blank tagging line; the word is '' when the line has only one field."""
    content = line.rstrip()
    tag = content.split()[-1]
    before_tag = content[: len(content) - len(tag)]
    return before_tag[:-1], tag  # drop the single separator in front of the tag


# --------------------------------------------------------------------------------------------------
# Hugging Face datasets with the configs, columns and splits of the `xglue` dataset script


@dataclass(frozen=True)
class _HubColumns:
    """Which columns of a hub row make `text_a`, `text_b` (joined with a space) and the label, and how
    the script's label names map back to the official files' labels."""

    text_a: str
    text_b: tuple[str, ...]
    label: str
    file_labels: dict[str, str]


_HUB_COLUMNS: dict[str, _HubColumns] = {
    "NC": _HubColumns("news_title", ("news_body",), "news_category", {}),
    "XNLI": _HubColumns("premise", ("hypothesis",), "label", XNLI_LABEL_ALIASES),
    "PAWS-X": _HubColumns("sentence1", ("sentence2",), "label", {"different": "0", "same": "1"}),
    "QAM": _HubColumns("question", ("answer",), "label", {"False": "0", "True": "1"}),
    "QADSM": _HubColumns("query", ("ad_title", "ad_description"), "relevance_label", {}),
    # sic: the script spells the WPR column "relavance_label"
    "WPR": _HubColumns(
        "query", ("web_page_title", "web_page_snippet"), "relavance_label",
        {"Bad": "0", "Fair": "1", "Good": "2", "Excellent": "3", "Perfect": "4"},
    ),
}
_HUB_TAG_COLUMNS: dict[str, tuple[str, str]] = {"NER": ("words", "ner"), "POS": ("words", "pos")}
_HUB_BATCH = 1000  # rows converted at a time, so that a streamed split is never held whole


def load_task_split_from_hub(
    dataset_name: str,
    task_key: str,
    lang: str,
    split: Split,
    *,
    dataset: Any = None,
    revision: str | None = None,
    streaming: bool = False,
) -> SentenceExamples | TaggedSentences:
    """One task split from a Hugging Face dataset with the `xglue` script's configs, as the same
    `SentenceExamples` / `TaggedSentences` (and labels) the archive files give.

    `dataset` is what `datasets.load_dataset(dataset_name, config)` returns for this task's config
    (a `DatasetDict`, or just the split's `Dataset` / `IterableDataset`), loaded beforehand; without
    it the split is loaded here (`streaming=True` reads it batch by batch instead of downloading it).
    """
    config, hub_split = hub_split_name(task_key, lang, split)
    source = f"{dataset_name}[{config}/{hub_split}]"
    if dataset is None:
        import datasets  # heavy; only the hub path needs it

        rows = datasets.load_dataset(dataset_name, config, split=hub_split, revision=revision, streaming=streaming)
    elif isinstance(dataset, Mapping):  # DatasetDict / IterableDatasetDict
        if hub_split not in dataset:
            raise TaskDataError(source, None, f"no split {hub_split!r}; the dataset has {', '.join(dataset.keys())}")
        rows = dataset[hub_split]
    else:
        rows = dataset
    return examples_from_hub(task_key, rows, source)


def examples_from_hub(task_key: str, rows: Any, source: str) -> SentenceExamples | TaggedSentences:
    """Convert the rows of one hub split (`Dataset` or `IterableDataset` with the script's columns).

    Labels become the official files' strings (ClassLabel ids through the split's features; the
    script's names such as PAWS-X `same`, QAM `True`, WPR `Perfect` back to `1`, `1`, `4`) and are
    checked against the task's label set. Errors name `source` and the 1-based row.
    """
    features = getattr(rows, "features", None) or {}
    batches = rows.iter(batch_size=_HUB_BATCH)
    if task_key in _HUB_TAG_COLUMNS:
        return _hub_tagged(task_key, batches, features, source)
    return _hub_sentences(task_key, batches, features, source)


def _hub_sentences(task_key: str, batches: Iterable[dict], features: Any, source: str) -> SentenceExamples:
    columns, layout = _HUB_COLUMNS[task_key], _TSV_LAYOUTS[task_key]
    names = _label_names(features, columns.label)
    text_a: list[str] = []
    text_b: list[str] = []
    labels: list[str] = []
    groups: list[int] = []
    previous_query: str | None = None
    for batch in batches:
        _check_columns(batch, (columns.text_a, *columns.text_b, columns.label), source)
        for i, raw in enumerate(batch[columns.label]):
            row = len(labels) + 1
            label = _hub_label(raw, names, columns.file_labels, layout.labels, source, row)
            a = batch[columns.text_a][i]
            if layout.groups_by_query:
                group = _query_group(groups, previous_query, a)
                previous_query = a
            else:
                group = len(labels)
            text_a.append(a)
            text_b.append(" ".join(batch[name][i] for name in columns.text_b))
            labels.append(label)
            groups.append(group)
    return _sentence_examples(Path(source), text_a, text_b, labels, groups, "no rows: the split is empty")


def _hub_tagged(task_key: str, batches: Iterable[dict], features: Any, source: str) -> TaggedSentences:
    words_column, tags_column = _HUB_TAG_COLUMNS[task_key]
    names = _label_names(features, tags_column)
    tokens: list[list[str]] = []
    tags: list[list[str]] = []
    for batch in batches:
        _check_columns(batch, (words_column, tags_column), source)
        for words, raw_tags in zip(batch[words_column], batch[tags_column]):
            row = len(tokens) + 1
            if len(words) != len(raw_tags):
                raise TaskDataError(source, row, f"{len(words)} words but {len(raw_tags)} tags")
            if not words:
                raise TaskDataError(source, row, "a sentence without words")
            if not all(isinstance(word, str) and word.strip() for word in words):
                raise TaskDataError(source, row, f"a word that is empty or only whitespace: {list(words)!r}")
            tokens.append(list(words))
            tags.append([_hub_label(raw, names, {}, _TAG_SETS[task_key], source, row) for raw in raw_tags])
    if not tokens:
        raise TaskDataError(source, None, "no sentences: the split is empty")
    return TaggedSentences(tokens=tokens, tags=tags)


def _label_names(features: Any, column: str) -> list[str] | None:
    """The ClassLabel names of `column` (through a List/Sequence of tags), or None for string labels."""
    feature = features.get(column) if hasattr(features, "get") else None
    feature = getattr(feature, "feature", feature)  # List(ClassLabel) / Sequence(ClassLabel)
    return list(feature.names) if hasattr(feature, "names") else None


def _hub_label(
    raw: Any, names: list[str] | None, file_labels: dict[str, str], allowed: frozenset[str], source: str, row: int
) -> str:
    if isinstance(raw, bool) or not isinstance(raw, (int, str)):
        raise TaskDataError(source, row, f"label {raw!r} is neither a ClassLabel id nor a string")
    if isinstance(raw, int):
        if names is None:
            raise TaskDataError(source, row, f"integer label {raw} but the split has no ClassLabel names")
        if not 0 <= raw < len(names):
            raise TaskDataError(source, row, f"label id {raw} has no name (-1 means the row is unlabelled)")
        raw = names[raw]
    label = file_labels.get(raw, raw)
    if label not in allowed:
        raise TaskDataError(source, row, f"unknown label {raw!r}, expected one of {sorted(allowed)}")
    return label


def _check_columns(batch: dict, needed: tuple[str, ...], source: str) -> None:
    missing = [name for name in needed if name not in batch]
    if missing:
        raise TaskDataError(source, None, f"missing columns {missing}; the split has {sorted(batch)}")


# --------------------------------------------------------------------------------------------------
# One interface over both sources


class TaskSource(Protocol):
    """Where task splits come from: the official archive on disk or a hub dataset."""

    def has(self, task_key: str, lang: str, split: Split) -> bool: ...

    def load(self, task_key: str, lang: str, split: Split) -> SentenceExamples | TaggedSentences: ...


@dataclass(frozen=True)
class ArchiveSource:
    """The unpacked `xglue_full_dataset/` folder."""

    data_dir: Path

    def has(self, task_key: str, lang: str, split: Split) -> bool:
        return task_file(self.data_dir, task_key, lang, split).is_file()

    def load(self, task_key: str, lang: str, split: Split) -> SentenceExamples | TaggedSentences:
        return load_task_split(self.data_dir, task_key, lang, split)


@dataclass(frozen=True)
class HubDatasetSource:
    """A hub dataset laid out like the `xglue` script; `preloaded` maps a config name to its
    `DatasetDict` (tests, offline copies) and is used instead of downloading that config."""

    dataset_name: str
    revision: str | None = None
    streaming: bool = False
    preloaded: Mapping[str, Any] | None = None
    _split_names: dict[str, frozenset[str]] = field(default_factory=dict, init=False, repr=False, compare=False)

    def has(self, task_key: str, lang: str, split: Split) -> bool:
        config, hub_split = hub_split_name(task_key, lang, split)
        if self.preloaded is not None and config in self.preloaded:
            return hub_split in self.preloaded[config]
        return hub_split in self._splits(config)

    def _splits(self, config: str) -> frozenset[str]:
        """The config's split names, none where the dataset lacks the config (a copy of some tasks);
        asked once per config, since decontamination asks about every task language."""
        if config not in self._split_names:
            import datasets

            configs = datasets.get_dataset_config_names(self.dataset_name, revision=self.revision)
            names = datasets.get_dataset_split_names(self.dataset_name, config, revision=self.revision) if config in configs else []
            self._split_names[config] = frozenset(names)
        return self._split_names[config]

    def load(self, task_key: str, lang: str, split: Split) -> SentenceExamples | TaggedSentences:
        preloaded = (self.preloaded or {}).get(HUB_CONFIGS[task_key])
        return load_task_split_from_hub(
            self.dataset_name, task_key, lang, split,
            dataset=preloaded, revision=self.revision, streaming=self.streaming,
        )


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


def numbered_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(1-based line number, line without its line ending), decoded as UTF-8 one line at a time.

    A generator: files of any size are read one line at a time, never whole.
    """
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        raise TaskDataError(path, None, "missing file") from None
    with handle:
        for number, raw in enumerate(handle, start=1):
            if 0 in raw:  # a NUL is never text: a binary or damaged file
                raise TaskDataError(path, number, f"NUL byte at byte {raw.index(0)} of the line")
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
    for number, line in numbered_lines(path):
        if not line.strip():
            first_blank = first_blank or number
            continue
        if first_blank is not None:
            raise TaskDataError(path, first_blank, "blank line before the end of the file")
        yield number, line


def _error(path: Path, number: int, message: str, line: str) -> TaskDataError:
    shown = line if len(line) <= _SHOWN_CHARS else line[:_SHOWN_CHARS] + "…"
    return TaskDataError(path, number, f"{message}: {shown!r}")


def _sentence_examples(path: Path, text_a: list, text_b: list, labels: list, groups: list, empty: str) -> SentenceExamples:
    """The rows a sentence reader collected, as examples; no rows is an error naming the file or split."""
    if not labels:
        raise TaskDataError(path, None, empty)
    frame = pl.DataFrame({"text_a": text_a, "text_b": text_b, "label": labels, "group": groups}, schema=SENTENCE_COLUMNS)
    return SentenceExamples(path=path, frame=frame)
