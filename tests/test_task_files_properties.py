"""Generated XGLUE task files and prediction files (issue 15).

Valid files written from random records (Latin, Arabic, Cyrillic, CJK and invisible characters; no tab
or newline inside a field) read back to exactly those records, for the layouts of all 8 tasks and the 3
kinds of prediction file. Damaged copies (truncated, one byte changed, a CR inserted or CR-only line
ends, a NUL, a BOM, a whitespace-only field, no record at all) read to the records they still hold or
raise `TaskDataError` naming the file and a line of it: never another exception, never a hang, never
two lines read as one.

The one loss no reader can see is named where it is allowed: a changed line end inside a NER/POS file
(`Kind.checks_line_ends`), since a word may hold spaces and nothing counts the lines.
"""

from __future__ import annotations

import math
import signal
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xrep_assets.errors import TaskDataError
from xrep_assets.evaluation.predictions import (
    evaluate_predictions,
    read_label_predictions,
    read_score_predictions,
    read_tag_predictions,
)
from xrep_assets.xglue.readers import (
    NC_LABELS,
    NER_TAGS,
    QADSM_LABELS,
    UPOS_TAGS,
    WPR_GRADES,
    XNLI_LABELS,
    TaggedSentences,
    read_task_file,
)

# Bounded and deterministic: the whole file runs in seconds on a 2-core CI machine.
LIMITS = settings(max_examples=15, deadline=None, derandomize=True, database=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
READ_SECONDS = 10  # a read of these few-line files that takes longer is a hang

BREAK = "<sentence break>"  # what a blank line holds in a tagging file
BOM = "\ufeff"

# --------------------------------------------------------------------------------------------------
# Text: several scripts, invisible characters and quotes; never a tab, newline, CR or NUL (a TSV text
# may hold a lone CR, added below: only \n ends a line)

CHARS = st.one_of(
    st.characters(min_codepoint=0x20, max_codepoint=0x7E),  # ASCII, space included
    st.characters(min_codepoint=0x0600, max_codepoint=0x06FF),  # Arabic
    st.characters(min_codepoint=0x0400, max_codepoint=0x04FF),  # Cyrillic
    st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),  # CJK
    st.sampled_from("äöüßéçñ\u00a0\u2028\u200b\u3000\x85\ufeff\"'"),
    st.characters(codec="utf-8", exclude_characters="\t\n\r\x00"),
)
SOLID_CHARS = CHARS.filter(lambda c: not c.isspace())


def _text(chars: st.SearchStrategy[str], max_size: int) -> st.SearchStrategy[str]:
    # a leading BOM on line 1 is not content, and a field of whitespace only is no field
    return st.text(chars, min_size=1, max_size=max_size).filter(lambda t: t.strip() and not t.startswith(BOM))


TSV_TEXT = _text(st.one_of(CHARS, st.just("\r")), 12)
RICH_WORD = _text(CHARS, 8).filter(lambda w: not w.startswith("-DOCSTART-"))  # Vietnamese words hold spaces
SOLID_WORD = _text(SOLID_CHARS, 8).filter(lambda w: not w.startswith("-DOCSTART-"))
WHITESPACE = st.sampled_from([" ", "  ", "\u00a0", "\u3000", "\x0b", "\u2028", "\x85"])


# --------------------------------------------------------------------------------------------------
# A generated file: its lines and what each holds


@dataclass(frozen=True)
class Doc:
    lines: tuple[str, ...]  # without their line ends
    units: tuple[object, ...]  # per line: a record, a token, BREAK, or None (a header, a blank line at the end)
    ending: str = "\n"
    final_newline: bool = True
    bom: bool = False
    context: object = None  # what a prediction file is read against: the gold's row count or sentences

    def encode(self) -> bytes:
        text = self.ending.join(self.lines) + (self.ending if self.final_newline else "")
        return ((BOM if self.bom else "") + text).encode("utf-8")

    def line_spans(self) -> list[tuple[int, int]]:
        """(first byte, end of content) of each line in `encode()`."""
        spans, position = [], len(BOM.encode()) if self.bom else 0
        for line in self.lines:
            end = position + len(line.encode("utf-8"))
            spans.append((position, end))
            position = end + len(self.ending.encode())
        return spans


@dataclass(frozen=True)
class Kind:
    """One file layout: how to generate it, read it, and what records a list of line units makes."""

    name: str
    docs: Callable[[bool], st.SearchStrategy[Doc]]  # rich=True: every variation the format allows
    read: Callable[[Path, object], object]  # the records as plain values
    records: Callable[[list, object], object]  # the records of these line units, or None if no valid file
    flat: Callable[[object], list]  # one item per record line, in file order
    sep: str | None  # what separates a line's fields (None: the line is one field)
    blank: object  # the unit of a blank line
    strict_fields: bool = True  # a whitespace-only field is an error at its line (gold files)
    checks_line_ends: bool = True
    partial_unit: Callable[[str], object] | None = None  # what a cut-short last line still holds


def run_read(kind: Kind, doc: Doc, data: bytes) -> object:
    """The records `kind` reads from `data`, or the `TaskDataError`, checked to name the file and a line of it."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "task.file"
        path.write_bytes(data)
        try:
            with time_limit(READ_SECONDS):
                return kind.read(path, doc.context)
        except TaskDataError as error:
            assert error.path == str(path)
            assert error.line is None or 1 <= error.line <= data.count(b"\n") + 1, error
            return error


@contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    def stop(signum, frame):
        raise TimeoutError(f"a read took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def scrub(value, char: str):
    """`value` with `char` removed from every string in it."""
    if isinstance(value, str):
        return value.replace(char, "")
    if isinstance(value, (list, tuple)):
        return type(value)(scrub(item, char) for item in value)
    return value


def record_lines(doc: Doc) -> list[int]:
    """The 0-based lines that hold a record (not a header, blank line or sentence break)."""
    return [i for i, unit in enumerate(doc.units) if unit is not None and unit != BREAK]


def line_of(data: bytes, position: int) -> int:
    """The 0-based line holding byte `position`."""
    return data[:position].count(b"\n")


# --------------------------------------------------------------------------------------------------
# Sentence, pair and ranking tasks: tab-separated rows, label last


@dataclass(frozen=True)
class TsvTask:
    key: str
    split: str
    texts: int  # text fields before the label (PAWS-X: after its id)
    labels: frozenset[str]
    header: str | None = None
    header_required: bool = False
    has_id: bool = False
    label_spellings: dict[str, str] | None = None  # how a file may spell a label
    joins: bool = False  # QADSM, WPR: text_b is the last two fields joined by a space
    ranks: bool = False  # WPR: rows of one query run form a group


TSV_TASKS = [
    TsvTask("NC", "dev", 2, NC_LABELS),
    TsvTask("XNLI", "dev", 2, XNLI_LABELS),
    TsvTask("XNLI", "train", 2, XNLI_LABELS, header="premise\thypo\tlabel",
            label_spellings={"contradiction": "contradictory"}),
    TsvTask("PAWS-X", "test", 2, frozenset("01"), header="id\tsentence1\tsentence2\tlabel", header_required=True,
            has_id=True),
    TsvTask("QAM", "test", 2, frozenset("01")),
    TsvTask("QADSM", "test", 3, QADSM_LABELS, joins=True),
    TsvTask("WPR", "test", 3, WPR_GRADES, joins=True, ranks=True),
]


def tsv_docs(task: TsvTask) -> Callable[[bool], st.SearchStrategy[Doc]]:
    @st.composite
    def docs(draw, rich: bool) -> Doc:
        lines: list[str] = []
        units: list[object] = []
        if task.header and (task.header_required or draw(st.booleans())):
            lines.append(task.header)
            units.append(None)
        queries = draw(st.lists(TSV_TEXT, min_size=1, max_size=3))  # WPR: few queries, so that runs repeat
        for _ in range(draw(st.integers(1, 6))):
            texts = [draw(TSV_TEXT) for _ in range(task.texts)]
            if task.ranks:
                texts[0] = draw(st.sampled_from(queries))
            label = draw(st.sampled_from(sorted(task.labels)))
            spelled = label
            if task.label_spellings and label in task.label_spellings and draw(st.booleans()):
                spelled = task.label_spellings[label]
            fields = ([str(draw(st.integers(0, 10**6)))] if task.has_id else []) + texts + [spelled]
            lines.append("\t".join(fields))
            text_b = f"{texts[1]} {texts[2]}" if task.joins else texts[1]
            units.append((texts[0], text_b, label))
        blank_lines = draw(st.lists(st.sampled_from(["", " ", "\t", "\u00a0"] if rich else [""]), max_size=2))
        lines += blank_lines
        units += [None] * len(blank_lines)
        return Doc(tuple(lines), tuple(units), **draw(layout(rich)))

    return docs


def tsv_records(task: TsvTask) -> Callable[[list, object], object]:
    def records(units: list, context: object) -> object:
        while units and units[-1] is None:
            units = units[:-1]
        if task.header and units and units[0] is None:
            units = units[1:]
        if not units or None in units:
            return None  # no row, or a blank line before the end
        rows, group = [], 0
        for i, (a, b, label) in enumerate(units):
            if task.ranks:
                group = group + 1 if i and a != units[i - 1][0] else group
            rows.append((a, b, label, group if task.ranks else i))
        return rows

    return records


def tsv_kind(task: TsvTask) -> Kind:
    return Kind(
        name=f"{task.key}-{task.split}",
        docs=tsv_docs(task),
        read=lambda path, context: read_task_file(path, task.key, task.split).frame.rows(),
        records=tsv_records(task),
        flat=lambda rows: [row[:3] for row in rows],  # a WPR group depends on its neighbours
        sep="\t",
        blank=None,
    )


@st.composite
def layout(draw, rich: bool) -> dict:
    """Line ends, the final newline, and (only in valid files: damaged ones locate bytes without it) a BOM."""
    return {"ending": draw(st.sampled_from(["\n", "\r\n"])), "final_newline": draw(st.booleans()),
            "bom": rich and draw(st.booleans())}


# --------------------------------------------------------------------------------------------------
# NER and POS: `word tag` lines, a blank line between sentences


def sentences_of(units: list) -> list[list]:
    sentences, current = [], []
    for unit in units:
        if unit == BREAK or unit is None:
            if current:
                sentences.append(current)
            current = []
        else:
            current.append(unit)
    return sentences + ([current] if current else [])


def tagging_docs(tags: frozenset[str]) -> Callable[[bool], st.SearchStrategy[Doc]]:
    @st.composite
    def docs(draw, rich: bool) -> Doc:
        word = RICH_WORD if rich else SOLID_WORD
        sentences = draw(st.lists(st.lists(st.tuples(word, st.sampled_from(sorted(tags))), min_size=1, max_size=5),
                                  min_size=1, max_size=4))
        lines: list[str] = []
        units: list[object] = []
        for sentence in sentences:
            if rich and draw(st.booleans()):
                lines.append("-DOCSTART- -X- -X- O")  # CoNLL's document start ends a sentence too
                units.append(BREAK)
            for token, tag in sentence:
                separator = draw(st.sampled_from([" ", "\t"])) if rich else " "
                trailing = draw(st.sampled_from(["", " ", "\t "])) if rich else ""
                lines.append(f"{token}{separator}{tag}{trailing}")
                units.append((token, tag))
            breaks = draw(st.lists(st.sampled_from(["", " ", "\t"] if rich else [""]), min_size=1, max_size=2))
            lines += breaks
            units += [BREAK] * len(breaks)
        if draw(st.booleans()):  # the last sentence may lack its blank line
            while units[-1] == BREAK:
                lines, units = lines[:-1], units[:-1]
        return Doc(tuple(lines), tuple(units), **draw(layout(rich)))

    return docs


def tagging_kind(task_key: str, tags: frozenset[str]) -> Kind:
    def read(path: Path, context: object) -> list:
        tagged = read_task_file(path, task_key)
        return [list(zip(words, labels)) for words, labels in zip(tagged.tokens, tagged.tags)]

    return Kind(
        name=task_key,
        docs=tagging_docs(tags),
        read=read,
        records=lambda units, context: sentences_of(units) or None,
        flat=lambda sentences: [(i, j, *token) for i, sentence in enumerate(sentences) for j, token in enumerate(sentence)],
        sep=" ",
        blank=BREAK,
        checks_line_ends=False,  # a changed line end joins two tokens into a word with a space: nothing to check
    )


# --------------------------------------------------------------------------------------------------
# Prediction files: one label or score per gold row, or one tag per gold token


PREDICTED_LABELS = XNLI_LABELS
GOLD = Path("gold.file")  # only named in messages


def prediction_docs(values: st.SearchStrategy, spell: Callable[[object], str], tagging: bool = False):
    @st.composite
    def docs(draw, rich: bool) -> Doc:
        pad = st.sampled_from(["", " ", "\t"]) if rich else st.just("")
        if tagging:
            lengths = draw(st.lists(st.integers(1, 5), min_size=1, max_size=4))
            gold = TaggedSentences([["w"] * n for n in lengths], [["O"] * n for n in lengths])
            predicted = [draw(st.lists(values, min_size=1, max_size=n)) for n in lengths]  # may stop early
            lines, units = [], []
            for sentence in predicted:
                for tag in sentence:
                    lines.append(draw(pad) + spell(tag) + draw(pad))
                    units.append(tag)
                breaks = draw(st.integers(1, 2 if rich else 1))
                lines += [draw(pad) for _ in range(breaks)]
                units += [BREAK] * breaks
            context: object = gold
        else:
            predicted = draw(st.lists(values, min_size=1, max_size=8))
            lines = [draw(pad) + spell(value) + draw(pad) for value in predicted]
            units = list(predicted)
            context = len(predicted)
        blank_lines = draw(st.integers(0, 2))
        lines += [""] * blank_lines
        units += [BREAK if tagging else None] * blank_lines
        return Doc(tuple(lines), tuple(units), **draw(layout(rich)), context=context)

    return docs


def row_records(valid: Callable[[object], bool]) -> Callable[[list, object], object]:
    def records(units: list, expected: object) -> object:
        while units and units[-1] is None:
            units = units[:-1]
        rows = ["" if unit is None else unit for unit in units]  # a blank line inside is an empty row
        return rows if len(rows) == expected and all(valid(row) for row in rows) else None

    return records


def tag_records(units: list, gold: object) -> object:
    sentences = sentences_of(units)
    if len(sentences) != len(gold) or any(len(p) > len(g) for p, g in zip(sentences, gold.tags)):
        return None
    return sentences


def _finite_number(text: str) -> object:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


SCORES = st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(0, 4).map(float))

PREDICTION_KINDS = [
    Kind("label predictions", prediction_docs(st.sampled_from(sorted(PREDICTED_LABELS)), str),
         lambda path, n: read_label_predictions(path, n, PREDICTED_LABELS, GOLD),
         row_records(lambda row: row in PREDICTED_LABELS), list, None, None, strict_fields=False),
    Kind("score predictions", prediction_docs(SCORES, repr),
         lambda path, n: read_score_predictions(path, n, GOLD),
         row_records(lambda row: row != ""), list, None, None, strict_fields=False,
         partial_unit=lambda text: _finite_number(text.strip())),
    Kind("tag predictions", prediction_docs(st.sampled_from(sorted(NER_TAGS)), str, tagging=True),
         lambda path, gold: read_tag_predictions(path, gold, NER_TAGS, GOLD),
         tag_records, lambda sentences: [(i, j, tag) for i, s in enumerate(sentences) for j, tag in enumerate(s)],
         None, BREAK, strict_fields=False),
]

KINDS = [tsv_kind(task) for task in TSV_TASKS] + [tagging_kind("NER", NER_TAGS), tagging_kind("POS", UPOS_TAGS)]
KINDS += PREDICTION_KINDS
by_name = pytest.mark.parametrize("kind", KINDS, ids=[kind.name for kind in KINDS])


def expected_records(kind: Kind, doc: Doc) -> object:
    records = kind.records(list(doc.units), doc.context)
    assert records is not None, "the generator wrote an invalid file"
    return records


# --------------------------------------------------------------------------------------------------
# Valid files


@by_name
@LIMITS
@given(data=st.data())
def test_valid_files_read_back_to_their_records(kind, data):
    doc = data.draw(kind.docs(True))
    assert run_read(kind, doc, doc.encode()) == expected_records(kind, doc)


# --------------------------------------------------------------------------------------------------
# Damaged files


@by_name
@LIMITS
@given(data=st.data())
def test_a_truncated_file_reads_its_intact_lines_or_fails(kind, data):
    doc = data.draw(kind.docs(False))
    encoded = doc.encode()
    cut = data.draw(st.integers(0, len(encoded) - 1))
    spans = doc.line_spans()
    intact = sum(end <= cut for _, end in spans)  # lines kept whole (their line end may be gone)
    candidates = [kind.records(list(doc.units[:intact]), doc.context)]
    if intact < len(spans) and spans[intact][0] < cut:  # a line cut short: read whole, or as what is left
        candidates.append(kind.records(list(doc.units[: intact + 1]), doc.context))
        if kind.partial_unit is not None:
            left = encoded[spans[intact][0] : cut].decode("utf-8", errors="replace")
            candidates.append(kind.records([*doc.units[:intact], kind.partial_unit(left)], doc.context))
    result = run_read(kind, doc, encoded[:cut])
    if not isinstance(result, TaskDataError):
        assert result in [c for c in candidates if c is not None]


@by_name
@LIMITS
@given(data=st.data())
def test_a_changed_byte_changes_at_most_its_own_record(kind, data):
    doc = data.draw(kind.docs(False))
    encoded = doc.encode()
    position = data.draw(st.integers(0, len(encoded) - 1))
    changed = bytearray(encoded)
    changed[position] ^= data.draw(st.integers(1, 255))
    result = run_read(kind, doc, bytes(changed))
    if isinstance(result, TaskDataError) or (encoded[position] == ord("\n") and not kind.checks_line_ends):
        return
    line = line_of(encoded, position)
    expected = kind.flat(expected_records(kind, doc))
    own = record_lines(doc).index(line) if line in record_lines(doc) else None
    got = kind.flat(result)
    same_but_own = len(got) == len(expected) and all(a == b or i == own for i, (a, b) in enumerate(zip(got, expected)))
    # a line that the change leaves blank is a blank line (a prediction sentence then ends early)
    now_blank = bytes(changed).split(b"\n")[line].decode("utf-8", errors="replace").strip() == ""
    units = [*doc.units[:line], kind.blank, *doc.units[line + 1 :]]
    blanked = kind.records(units, doc.context) if now_blank else None
    assert same_but_own or (blanked is not None and got == kind.flat(blanked))


@by_name
@LIMITS
@given(data=st.data())
def test_an_inserted_cr_stays_text_or_fails(kind, data):
    doc = data.draw(kind.docs(False))
    encoded = doc.encode()
    position = data.draw(st.integers(0, len(encoded)))
    result = run_read(kind, doc, encoded[:position] + b"\r" + encoded[position:])
    if not isinstance(result, TaskDataError):
        assert scrub(kind.flat(result), "\r") == scrub(kind.flat(expected_records(kind, doc)), "\r")


@by_name
@LIMITS
@given(data=st.data())
def test_cr_only_line_ends_fail_rather_than_join_lines(kind, data):
    doc = data.draw(kind.docs(False))
    encoded = doc.encode()
    result = run_read(kind, doc, encoded.replace(b"\r\n", b"\n").replace(b"\n", b"\r"))
    if b"\n" in encoded.rstrip(b"\r\n"):  # two lines or more
        assert isinstance(result, TaskDataError)
    elif not isinstance(result, TaskDataError):
        assert result == expected_records(kind, doc)


@by_name
@LIMITS
@given(data=st.data())
def test_a_nul_byte_fails_at_its_line(kind, data):
    doc = data.draw(kind.docs(False))
    encoded = doc.encode()
    position = data.draw(st.integers(0, len(encoded)))
    overwrite = position < len(encoded) and data.draw(st.booleans())
    damaged = encoded[:position] + b"\x00" + encoded[position + overwrite :]
    result = run_read(kind, doc, damaged)
    assert isinstance(result, TaskDataError) and result.line == line_of(encoded, position) + 1
    assert "NUL" in result.message


@by_name
@LIMITS
@given(data=st.data())
def test_a_leading_bom_is_dropped_and_any_other_is_text(kind, data):
    doc = data.draw(kind.docs(False))
    encoded = doc.encode()
    assert run_read(kind, doc, BOM.encode() + encoded) == expected_records(kind, doc)
    position = data.draw(st.integers(1, len(encoded)))
    result = run_read(kind, doc, encoded[:position] + BOM.encode() + encoded[position:])
    if not isinstance(result, TaskDataError):
        assert scrub(kind.flat(result), BOM) == scrub(kind.flat(expected_records(kind, doc)), BOM)


@by_name
@LIMITS
@given(data=st.data())
def test_a_whitespace_only_field_fails_at_its_line(kind, data):
    doc = data.draw(kind.docs(False))
    line = data.draw(st.sampled_from(record_lines(doc)))
    fields = doc.lines[line].split(kind.sep) if kind.sep else [doc.lines[line]]
    fields[data.draw(st.integers(0, len(fields) - 1))] = data.draw(WHITESPACE)
    lines = list(doc.lines)
    lines[line] = kind.sep.join(fields) if kind.sep else fields[0]
    result = run_read(kind, doc, replace(doc, lines=tuple(lines)).encode())
    if kind.strict_fields:
        assert isinstance(result, TaskDataError) and result.line == line + 1
    elif not isinstance(result, TaskDataError):  # a prediction line of whitespace is a blank line
        assert result == kind.records([*doc.units[:line], kind.blank, *doc.units[line + 1 :]], doc.context)


NO_RECORD_LINES = {"XNLI-train": "premise\thypo\tlabel", "PAWS-X-test": "id\tsentence1\tsentence2\tlabel",
                   "NER": "-DOCSTART- -X- -X- O", "POS": "-DOCSTART- -X- -X- O"}


@by_name
@LIMITS
@given(data=st.data())
def test_a_file_without_records_fails(kind, data):
    doc = data.draw(kind.docs(False))  # for the gold a prediction file is read against
    extra = [NO_RECORD_LINES[kind.name]] if kind.name in NO_RECORD_LINES else []
    lines = data.draw(st.lists(st.sampled_from(["", " ", "\t", "\u00a0", "\r", *extra]), max_size=4))
    text = data.draw(st.sampled_from(["", BOM])) + "\n".join(lines) + data.draw(st.sampled_from(["", "\n"]))
    result = run_read(kind, doc, text.encode("utf-8"))
    assert isinstance(result, TaskDataError)


# --------------------------------------------------------------------------------------------------
# Scoring a prediction file: the gold file's faults name the gold file


@pytest.mark.parametrize("task", ["NC", "XNLI", "PAWS-X", "QAM", "QADSM", "WPR", "NER", "POS"])
@pytest.mark.parametrize("text", ["", "\n\n", " \r\n"])
def test_an_empty_gold_file_is_named(tmp_path, task, text):
    gold = tmp_path / "gold.file"
    gold.write_text(("id\tsentence1\tsentence2\tlabel\n" if task == "PAWS-X" else "") + text, encoding="utf-8")
    predictions = tmp_path / "predictions"
    predictions.write_text("0\n", encoding="utf-8")
    with pytest.raises(TaskDataError, match=r"^.*gold\.file: no (rows|sentences)") as caught:
        evaluate_predictions(task, gold, predictions)
    assert caught.value.path == str(gold)


@LIMITS
@given(
    rows=st.lists(st.tuples(TSV_TEXT, TSV_TEXT, st.sampled_from(sorted(XNLI_LABELS)),
                            st.sampled_from(sorted(XNLI_LABELS))), min_size=1, max_size=8),
)
def test_accuracy_of_generated_predictions(rows):
    with tempfile.TemporaryDirectory() as folder:
        gold, predictions = Path(folder) / "de.dev", Path(folder) / "de.prediction"
        gold.write_bytes("".join(f"{a}\t{b}\t{label}\n" for a, b, label, _ in rows).encode("utf-8"))
        predictions.write_text("".join(f"{predicted}\n" for *_, predicted in rows), encoding="utf-8")
        result = evaluate_predictions("XNLI", gold, predictions, split="dev")
    assert result["n"] == len(rows)
    assert result["value"] == pytest.approx(sum(row[2] == row[3] for row in rows) / len(rows))
