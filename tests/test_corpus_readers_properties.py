"""Generated inputs for the corpus readers (issue 15).

Valid Moses zips and TMX files, built from random sentence pairs in the study's six languages'
scripts, round-trip to exactly the records they encode. Damaged ones (truncated, bytes flipped,
CR / NUL / BOM inserted, members emptied, compressed streams corrupted, ambiguous TMX units) either
read to the right records or raise CorpusFormatError naming the file (and the line, where one
applies): never another exception type, never a hang, never two lines merged into one.

For the Moses zips the right records are those of ``reference_outcome``, the format's rules written
out plainly (split the whole member on LF, then check each line) rather than streamed as the reader
does.
"""

from __future__ import annotations

import gzip
import io
import signal
import tempfile
import zipfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple
from unittest import mock
from xml.sax.saxutils import escape, quoteattr

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xrep_assets.corpora import readers
from xrep_assets.corpora.readers import read_moses_zip, read_tmx
from xrep_assets.errors import CorpusFormatError
from xrep_assets.study import CORPORA, LANGUAGE_PAIRS, LanguagePair

# Deterministic and bounded: the whole file runs in well under a minute on a 2-core CI machine.
BOUNDED = settings(
    max_examples=80,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
HANG_LIMIT_S = 20  # one reading of a few hundred bytes that takes longer than this is a hang

BOM = "\ufeff"
BOM_BYTES = BOM.encode()
METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)

# The six languages' scripts, and characters that must not split a line or disturb the reader:
# Unicode line and paragraph separators, NEL, VT, FF, FS, a BOM inside a sentence, zero-width space.
SCRIPT_SAMPLES = (
    "The Council , 1999 ; «» ' \" - ( ) ? !"  # English, punctuation
    "Le Conseil a adopté l'œuvre ç É"  # French
    "El Consejo aprobó ñ ¿ ¡ ú"  # Spanish
    "Совет Безопасности принял ё"  # Russian
    "مجلس الأمن اعتمد ، ؟ ١٢٣"  # Arabic
    "安全理事会通过了决议 。 ， ！"  # Chinese
)
ODD_IN_MOSES = "\t\u2028\u2029\x85\x0b\x0c\x1c\u200b\ufeff"
ODD_IN_XML = "\t\u2028\u2029\x85\u200b\ufeff"  # XML 1.0 has no VT, FF or FS, even as references


def sentences(odd: str, excluded: str) -> st.SearchStrategy[str]:
    alphabet = st.one_of(
        st.sampled_from(sorted(set(SCRIPT_SAMPLES + odd))),
        st.characters(exclude_categories=("Cs", "Cc", "Co", "Cn"), exclude_characters=excluded),
    )
    return st.text(alphabet=alphabet, max_size=24)


MOSES_SENTENCE = sentences(ODD_IN_MOSES, "\n\r\0")
# XML cannot hold U+FFFE/U+FFFF; a TMX sentence is one line, as a Moses one.
TMX_SENTENCE = sentences(ODD_IN_XML, "\n\r\0\ufffe\uffff")


class HangError(BaseException):
    """Raised by the alarm, so no ``except Exception`` in the reader can swallow it."""


@contextmanager
def no_hang():
    def alarm(signum, frame):
        raise HangError(f"reading took more than {HANG_LIMIT_S} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, HANG_LIMIT_S)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# The Moses reader reads members in chunks of 1 MiB: small ones put lines, CRLFs, UTF-8 characters
# and BOMs across chunk boundaries in files of a few bytes.
CHUNK_SIZES = st.sampled_from([3, 4, 5, 7, 64, readers.READ_CHUNK_BYTES])


def read_all(reader, path: Path, corpus, pair, chunk: int = readers.READ_CHUNK_BYTES):
    """The reader's records, or its CorpusFormatError; any other exception fails the test."""
    with no_hang(), mock.patch.object(readers, "READ_CHUNK_BYTES", chunk):
        try:
            return list(reader(path, corpus, pair))
        except CorpusFormatError as error:
            return error


def record(line_no: int, pair: LanguagePair, text_1: str, text_2: str, doc_id: str | None = None):
    return {"line_no": line_no, "doc_id": doc_id, "lang_1": pair.l1, "lang_2": pair.l2,
            "text_1": text_1, "text_2": text_2}


def assert_names_file(error: CorpusFormatError, path: Path) -> None:
    assert error.path.startswith(str(path)), error


# --------------------------------------------------------------------------------------------------
# Moses zips


class ZipCase(NamedTuple):
    corpus: Any
    pair: LanguagePair
    members: list[tuple[str, bytes, int]]  # name, content, compression method, in archive order
    lockstep: list[str]  # the members the reader walks: l1's, l2's and the .ids member if any
    records: list[dict[str, Any]]


@st.composite
def member_bytes(draw, lines: list[str]) -> bytes:
    """LF or CRLF line ends, an optional BOM, the last line end optional unless the line is empty
    (``a\\n`` without its LF would lose an empty last line)."""
    end = draw(st.sampled_from(["\n", "\r\n"]))
    text = end.join(lines)
    if lines and (lines[-1] == "" or draw(st.booleans())):
        text += end
    return (BOM if draw(st.booleans()) else "").encode() + text.encode()


@st.composite
def zip_cases(draw, sentence=MOSES_SENTENCE, max_lines: int = 8) -> ZipCase:
    corpus = draw(st.sampled_from(list(CORPORA.values())))
    pair = draw(st.sampled_from(LANGUAGE_PAIRS))
    a, b = corpus.opus_pair(pair)
    code_1, code_2 = corpus.opus_code(pair.l1), corpus.opus_code(pair.l2)
    lines = draw(st.lists(st.tuples(sentence, sentence), max_size=max_lines))
    stem = draw(st.sampled_from([f"{corpus.opus_name}.{a}-{b}", f"{a}-{b}", f"data/{corpus.opus_name}.{a}-{b}"]))
    contents = {
        f"{stem}.{code_1}": draw(member_bytes([t1 for t1, _ in lines])),
        f"{stem}.{code_2}": draw(member_bytes([t2 for _, t2 in lines])),
    }
    lockstep = list(contents)
    doc_ids: list[str | None] = [None] * len(lines)
    if corpus.has_document_ids:
        numbers = draw(st.lists(st.tuples(st.integers(1, 9999), st.integers(1, 9999)),
                                min_size=len(lines), max_size=len(lines)))
        docs = [(f"{a}/2001/{x}/{x}.xml.gz", f"{b}/2001/{x}/{y}.xml.gz") for x, y in numbers]
        ids_lines = [f"{doc_a}\t{doc_b}\t1 2\t{y}" for (doc_a, doc_b), (_, y) in zip(docs, numbers)]
        contents[f"{stem}.ids"] = draw(member_bytes(ids_lines))
        lockstep.append(f"{stem}.ids")
        doc_ids = [doc[(a, b).index(code_1)] for doc in docs]
    # zipfile stores a non-ASCII name as UTF-8 with a flag: a flipped byte can make it invalid.
    for extra in draw(st.lists(st.sampled_from(["README", "LICENSE", "à propos/LISEZ-MOI"]), unique=True)):
        contents[extra] = b"OPUS corpus, not a side\n"
    order = draw(st.permutations(sorted(contents)))
    members = [(name, contents[name], draw(st.sampled_from(METHODS))) for name in order]
    records = [record(i, pair, t1, t2, doc) for i, ((t1, t2), doc) in enumerate(zip(lines, doc_ids), start=1)]
    return ZipCase(corpus, pair, members, lockstep, records)


def write_zip(path: Path, members: list[tuple[str, bytes, int]]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, content, method in members:
            archive.writestr(name, content, compress_type=method)
    return path


def reference_lines(content: bytes) -> list[bytes]:
    """A member's lines: a leading BOM dropped, split on LF, a CR before the LF dropped."""
    pieces = content.removeprefix(BOM_BYTES).split(b"\n")
    last = pieces.pop()  # after the last LF: empty, or an unterminated last line
    return [p.removesuffix(b"\r") for p in pieces] + ([last] if last else [])


def reference_text(line: bytes) -> str | None:
    """The line's text, or None where the format refuses it (CR, NUL, invalid UTF-8)."""
    if b"\r" in line or b"\0" in line:
        return None
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        return None


def reference_outcome(case: ZipCase, contents: dict[str, bytes]):
    """``("ok", records)`` or ``("error", member or None, line)``, in the reader's lockstep order:
    at each line, each member's line is checked in turn, then the sides' lengths, then ``.ids``."""
    sides = [reference_lines(contents[name]) for name in case.lockstep]
    records = []
    for index in range(max(map(len, sides))):
        line_no = index + 1
        texts = []
        for name, lines in zip(case.lockstep, sides):
            if index < len(lines):
                text = reference_text(lines[index])
                if text is None:
                    return "error", name, line_no
                texts.append(text)
        if len(texts) < len(sides):
            return "error", None, line_no
        doc_id = None
        if len(texts) == 3:
            fields = texts[2].split("\t")
            if len(fields) != 4:
                return "error", case.lockstep[2], line_no
            doc_id = fields[case.corpus.opus_pair(case.pair).index(case.corpus.opus_code(case.pair.l1))]
        records.append(record(line_no, case.pair, texts[0], texts[1], doc_id))
    return "ok", records


def check_against_reference(case: ZipCase, contents: dict[str, bytes], chunk: int) -> None:
    members = [(name, contents[name], method) for name, _, method in case.members]
    with tempfile.TemporaryDirectory() as tmp:
        path = write_zip(Path(tmp) / "pair.txt.zip", members)
        got = read_all(read_moses_zip, path, case.corpus, case.pair, chunk)
    expected = reference_outcome(case, contents)
    if expected[0] == "ok":
        assert got == expected[1]
        return
    _, member, line = expected
    assert isinstance(got, CorpusFormatError), f"expected an error at {member}:{line}, read {got}"
    assert_names_file(got, path)
    assert got.line == line, got
    if member is not None:
        assert got.path == f"{path}!{member}", got


def read_damaged_zip(case: ZipCase, damage) -> None:
    """``damage(bytes) -> bytes`` applied to the whole archive: the original records, or an error."""
    with tempfile.TemporaryDirectory() as tmp:
        path = write_zip(Path(tmp) / "pair.txt.zip", case.members)
        path.write_bytes(damage(path.read_bytes()))
        got = read_all(read_moses_zip, path, case.corpus, case.pair)
    if isinstance(got, CorpusFormatError):
        assert_names_file(got, path)
    else:
        assert got == case.records


@BOUNDED
@given(zip_cases(), CHUNK_SIZES)
def test_moses_zip_round_trips(case, chunk):
    with tempfile.TemporaryDirectory() as tmp:
        path = write_zip(Path(tmp) / "pair.txt.zip", case.members)
        assert read_all(read_moses_zip, path, case.corpus, case.pair, chunk) == case.records
    # The reference agrees on valid input: it is the same format's rules, not a weaker oracle.
    assert reference_outcome(case, {n: c for n, c, _ in case.members}) == ("ok", case.records)


@BOUNDED
@given(zip_cases(), st.data())
def test_moses_zip_inserted_bytes(case, data):
    """CR, NUL, BOM, an LF (one line split in two) or invalid UTF-8 inserted into one member."""
    name = data.draw(st.sampled_from(case.lockstep))
    contents = {n: c for n, c, _ in case.members}
    at = data.draw(st.integers(0, len(contents[name])))
    inserted = data.draw(st.sampled_from([b"\r", b"\0", BOM_BYTES, b"\n", b"\xff", b"\xc3"]))
    contents[name] = contents[name][:at] + inserted + contents[name][at:]
    check_against_reference(case, contents, data.draw(CHUNK_SIZES))


@BOUNDED
@given(zip_cases(), st.data())
def test_moses_zip_damaged_members(case, data):
    """A member emptied, truncated, losing a line, or with CR-only line ends."""
    name = data.draw(st.sampled_from(case.lockstep))
    contents = {n: c for n, c, _ in case.members}
    content = contents[name]
    damage = data.draw(st.sampled_from(["empty", "truncate", "drop line", "cr line ends"]))
    if damage == "empty":
        content = b""
    elif damage == "truncate":
        content = content[: data.draw(st.integers(0, len(content)))]
    elif damage == "drop line":
        lines = content.split(b"\n")
        del lines[data.draw(st.integers(0, len(lines) - 1))]
        content = b"\n".join(lines)
    else:
        content = content.replace(b"\r\n", b"\n").replace(b"\n", b"\r")
    contents[name] = content
    check_against_reference(case, contents, data.draw(CHUNK_SIZES))


def test_cr_only_line_ends_name_the_member_and_line(tmp_path):
    # The example: CR-only line ends used to read as one line, merging the pairs.
    corpus, pair = CORPORA["unpc"], LanguagePair("en", "fr")
    path = write_zip(tmp_path / "en-fr.txt.zip", [
        ("UNPC.en-fr.en", b"one\rtwo\r", zipfile.ZIP_DEFLATED),
        ("UNPC.en-fr.fr", b"un\rdeux\r", zipfile.ZIP_DEFLATED),
    ])
    with pytest.raises(CorpusFormatError, match="carriage return") as error:
        list(read_moses_zip(path, corpus, pair))
    assert (error.value.path, error.value.line) == (f"{path}!UNPC.en-fr.en", 1)


@pytest.mark.parametrize("chunk", [3, 4, readers.READ_CHUNK_BYTES])
def test_a_bom_alone_in_the_first_chunk(tmp_path, chunk):
    corpus, pair = CORPORA["unpc"], LanguagePair("en", "fr")
    path = write_zip(tmp_path / "en-fr.txt.zip", [
        ("UNPC.en-fr.en", BOM_BYTES + b"\nTwo\n", zipfile.ZIP_STORED),
        ("UNPC.en-fr.fr", b"\nDeux\n", zipfile.ZIP_STORED),
    ])
    assert read_all(read_moses_zip, path, corpus, pair, chunk) == [record(1, pair, "", ""), record(2, pair, "Two", "Deux")]


def test_empty_members_read_as_zero_records(tmp_path):
    # The reader's rule: both sides empty is a valid, empty bitext; refusing it is the asset's job.
    corpus, pair = CORPORA["opensubtitles"], LanguagePair("en", "zh")
    path = write_zip(tmp_path / "en-zh_cn.txt.zip", [
        (f"OpenSubtitles.en-zh_cn.{suffix}", content, zipfile.ZIP_DEFLATED)
        for suffix, content in (("en", b""), ("zh_cn", BOM_BYTES), ("ids", b""))
    ])
    assert list(read_moses_zip(path, corpus, pair)) == []


@BOUNDED
@given(zip_cases(max_lines=4), st.data())
def test_moses_zip_truncated_or_flipped(case, data):
    """Any prefix of the archive, or any one byte changed: the original records or an error."""
    damage = data.draw(st.sampled_from(["truncate", "flip"]))
    if damage == "truncate":
        read_damaged_zip(case, lambda raw: raw[: data.draw(st.integers(0, len(raw) - 1))])
    else:
        def flip(raw: bytes) -> bytes:
            at = data.draw(st.integers(0, len(raw) - 1))
            return raw[:at] + bytes([raw[at] ^ data.draw(st.integers(1, 255))]) + raw[at + 1:]
        read_damaged_zip(case, flip)


@BOUNDED
@given(zip_cases(max_lines=6).filter(lambda case: case.records), st.data())
def test_moses_zip_corrupt_compressed_stream(case, data):
    """A byte of a side's compressed data changed (every method): an error naming the file, or
    (where the change does not alter the data) the original records."""
    name = data.draw(st.sampled_from(case.lockstep[:2]))

    def corrupt(raw: bytes) -> bytes:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            info = archive.getinfo(name)
        start = info.header_offset + 30 + len(info.orig_filename.encode()) + len(info.extra)
        at = start + data.draw(st.integers(0, max(info.compress_size - 1, 0)))
        return raw[:at] + bytes([raw[at] ^ data.draw(st.integers(1, 255))]) + raw[at + 1:]

    read_damaged_zip(case, corrupt)


@pytest.mark.parametrize("method", METHODS)
def test_corrupt_stream_of_each_method_is_a_corpus_error(tmp_path, method):
    corpus, pair = CORPORA["unpc"], LanguagePair("en", "fr")
    members = [("UNPC.en-fr.en", b"The Council .\n" * 200, method), ("UNPC.en-fr.fr", b"Le Conseil .\n" * 200, method)]
    path = write_zip(tmp_path / "en-fr.txt.zip", members)
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("UNPC.en-fr.en")
    start = info.header_offset + 30 + len(info.orig_filename) + len(info.extra)
    for at in range(start + info.compress_size // 3, start + info.compress_size // 3 + 8):
        raw[at] ^= 0x55
    path.write_bytes(bytes(raw))
    with pytest.raises(CorpusFormatError, match="corrupt archive member") as error:
        list(read_moses_zip(path, corpus, pair))
    assert error.value.path == f"{path}!UNPC.en-fr.en"


def test_unknown_language_codes_name_those_found_and_expected(tmp_path):
    corpus, pair = CORPORA["unpc"], LanguagePair("en", "fr")
    path = write_zip(tmp_path / "en-fr.txt.zip", [
        ("UNPC.de-fr.de", b"Der Rat\n", zipfile.ZIP_DEFLATED),
        ("UNPC.de-fr.fr", b"Le Conseil\n", zipfile.ZIP_DEFLATED),
    ])
    expected = r"'\.en', found none.*languages in the archive: de, fr; expected: en, fr"
    with pytest.raises(CorpusFormatError, match=expected):
        list(read_moses_zip(path, corpus, pair))


# --------------------------------------------------------------------------------------------------
# TMX

NATIVE_CODES = ("<b>", "</b>", "{\\i1}", "<br/>", "&nbsp;")


@st.composite
def seg_content(draw) -> tuple[str, str]:
    """A ``<seg>``'s XML and the text it holds: text (escaped or CDATA), ``<hi>`` (text),
    ``<bpt>``/``<ept>``/``<it>``/``<ph>``/``<ut>`` (native codes, not text), ``<sub>`` inside a
    code (a sub-flow: text)."""
    xml, text = [], []
    for kind in draw(st.lists(st.sampled_from(["text", "cdata", "hi", "code", "sub"]), max_size=5)):
        words = draw(TMX_SENTENCE)
        code = escape(draw(st.sampled_from(NATIVE_CODES)))
        tag = draw(st.sampled_from(["bpt", "ept", "it", "ph", "ut"]))
        if kind == "text" or (kind == "cdata" and "]]>" in words):
            xml.append(escape(words)), text.append(words)
        elif kind == "cdata":
            xml.append(f"<![CDATA[{words}]]>"), text.append(words)
        elif kind == "hi":
            xml.append(f'<hi type="emphasis">{escape(words)}</hi>'), text.append(words)
        elif kind == "code":
            xml.append(f'<{tag} i="1" x="1">{code}</{tag}>')
        else:
            xml.append(f"<{tag}>{code}<sub>{escape(words)}</sub>{code}</{tag}>"), text.append(words)
    return "".join(xml), "".join(text)


def spellings(code: str) -> st.SearchStrategy[str]:
    variants = {code, code.upper(), code.replace("_", "-"), code.upper().replace("_", "-")}
    if "_" in code:
        language, region = code.split("_")
        variants.add(f"{language}-{region.upper()}")
    return st.sampled_from(sorted(variants))


class TmxCase(NamedTuple):
    corpus: Any
    pair: LanguagePair
    units: list[list[str]]  # each <tu>'s children as XML, in order
    records: list[dict[str, Any]]


@st.composite
def tmx_cases(draw, max_units: int = 6) -> TmxCase:
    corpus = draw(st.sampled_from(list(CORPORA.values())))
    pair = draw(st.sampled_from(LANGUAGE_PAIRS))
    units, records = [], []
    for index in range(1, draw(st.integers(0, max_units)) + 1):
        (xml_1, text_1), (xml_2, text_2) = draw(seg_content()), draw(seg_content())
        children = []
        for lang, xml in ((pair.l1, xml_1), (pair.l2, xml_2)):
            attribute = draw(st.sampled_from(["xml:lang", "lang"]))  # TMX 1.4 / TMX 1.1
            spelled = draw(spellings(corpus.opus_code(lang)))
            prop = '<prop type="x-origin">opus</prop>' if draw(st.booleans()) else ""
            children.append(f"<tuv {attribute}={quoteattr(spelled)}>{prop}<seg>{xml}</seg></tuv>")
        if draw(st.booleans()):  # a language outside the pair is ignored
            children.append('<tuv xml:lang="de"><seg>Der Rat</seg></tuv>')
        children = draw(st.permutations(children))
        if draw(st.booleans()):
            children.insert(0, "<note>aligned by hunalign</note>")
        units.append(children)
        records.append(record(index, pair, text_1, text_2))
    return TmxCase(corpus, pair, units, records)


@st.composite
def tmx_documents(draw, case: TmxCase) -> bytes:
    """The units as a TMX document: LF or CRLF, UTF-8 (with or without a BOM) or UTF-16."""
    end = draw(st.sampled_from(["\n", "\r\n"]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]))
    declared = "utf-16" if encoding == "utf-16" else "utf-8"
    lines = [f'<?xml version="1.0" encoding="{declared}"?>', '<tmx version="1.4">',
             '<header srclang="en" adminlang="en" segtype="sentence" datatype="PlainText" o-tmf="x"'
             ' creationtool="t" creationtoolversion="1"/>', "<body>"]
    lines += ["  <tu>" + end.join(f"    {child}" for child in children) + "</tu>" for children in case.units]
    lines += ["</body>", "</tmx>", ""]
    return end.join(lines).encode(encoding)


def write_tmx(folder: Path, document: bytes, gzipped: bool) -> Path:
    path = folder / ("pair.tmx.gz" if gzipped else "pair.tmx")
    path.write_bytes(gzip.compress(document) if gzipped else document)
    return path


def read_tmx_bytes(case: TmxCase, document: bytes, gzipped: bool = False):
    with tempfile.TemporaryDirectory() as tmp:
        path = write_tmx(Path(tmp), document, gzipped)
        return path, read_all(read_tmx, path, case.corpus, case.pair)


@BOUNDED
@given(tmx_cases(), st.booleans(), st.data())
def test_tmx_round_trips(case, gzipped, data):
    _, got = read_tmx_bytes(case, data.draw(tmx_documents(case)), gzipped)
    assert got == case.records


def differ_in_one_text_at_most(got: list[dict[str, Any]], expected: list[dict[str, Any]]) -> bool:
    """A byte changed in a text changes that text only (a TMX without compression has no checksum)."""
    if len(got) != len(expected):
        return False
    changed = [(g, e, k) for g, e in zip(got, expected) for k in e if g[k] != e[k]]
    return len(changed) <= 1 and all(k in ("text_1", "text_2") for _, _, k in changed)


@BOUNDED
@given(tmx_cases(max_units=4), st.booleans(), st.data())
def test_tmx_truncated_flipped_or_inserted(case, gzipped, data):
    """A prefix, one byte changed, or CR / NUL / BOM / LF inserted: an error naming the file, or
    records that differ from the original in one text at most (none where the file is gzipped,
    whose checksum catches the change)."""
    document = data.draw(tmx_documents(case))
    raw = gzip.compress(document) if gzipped else document
    # Anywhere, or in the first bytes: the XML declaration (its encoding name) or the gzip header.
    at = data.draw(st.one_of(st.integers(0, len(raw) - 1), st.integers(0, min(len(raw) - 1, 50))))
    damage = data.draw(st.sampled_from(["truncate", "flip", "insert"]))
    if damage == "truncate":
        raw = raw[:at]
    elif damage == "flip":
        raw = raw[:at] + bytes([raw[at] ^ data.draw(st.integers(1, 255))]) + raw[at + 1:]
    else:
        raw = raw[:at] + data.draw(st.sampled_from([b"\r", b"\0", BOM_BYTES, b"\n"])) + raw[at:]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("pair.tmx.gz" if gzipped else "pair.tmx")
        path.write_bytes(raw)
        got = read_all(read_tmx, path, case.corpus, case.pair)
    if isinstance(got, CorpusFormatError):
        assert_names_file(got, path)
    elif gzipped:
        assert got == case.records
    else:
        assert differ_in_one_text_at_most(got, case.records), got


@BOUNDED
@given(tmx_cases(max_units=4).filter(lambda case: case.units), st.data())
def test_tmx_ambiguous_or_foreign_units(case, data):
    """A second variant of a language, an element TMX does not allow in a seg, a seg spanning lines,
    a missing variant: an error naming the file and the unit."""
    index = data.draw(st.integers(0, len(case.units) - 1))
    unit = list(case.units[index])
    kind = data.draw(st.sampled_from(["second variant", "unknown element", "line break", "missing"]))
    lang = data.draw(st.sampled_from([case.pair.l1, case.pair.l2]))
    code = data.draw(spellings(case.corpus.opus_code(lang)))
    if kind == "second variant":
        unit.insert(data.draw(st.integers(0, len(unit))), f'<tuv xml:lang="{code}"><seg>again</seg></tuv>')
        expected = f"two '{case.corpus.opus_code(lang)}' variants"
    else:
        unit = [child for child in unit if not is_variant_of(child, case.corpus.opus_code(lang))]
        seg = {"unknown element": "a <b>bold</b> move", "missing": None,
               "line break": data.draw(st.sampled_from(["one\ntwo", "one&#13;two", "one&#10;"]))}[kind]
        if seg is not None:
            unit.append(f'<tuv xml:lang="{code}"><seg>{seg}</seg></tuv>')
        expected = {"unknown element": "<b> is not TMX inline markup", "line break": "line break",
                    "missing": f"has no '{lang}' variant"}[kind]
    units = case.units[:index] + [unit] + case.units[index + 1:]
    document = data.draw(tmx_documents(case._replace(units=units)))
    path, got = read_tmx_bytes(case, document, data.draw(st.booleans()))
    assert isinstance(got, CorpusFormatError), got
    assert_names_file(got, path)
    assert f"<tu> #{index + 1}" in got.message and expected in got.message, got


def is_variant_of(child: str, opus_code: str) -> bool:
    if not child.startswith("<tuv"):
        return False
    spelled = child.split('"')[1]  # quoteattr quotes a code with double quotes
    return spelled.lower().replace("-", "_") == opus_code


def test_tmx_inline_markup_keeps_text_and_drops_codes(tmp_path):
    seg = ('Press <bpt i="1">&lt;b&gt;</bpt>Enter<ept i="1">&lt;/b&gt;</ept> now<ph>&lt;br/&gt;</ph>'
           '<hi type="em">, please</hi><it pos="begin">{\\i1}</it>.'
           '<ph>{\\footnote <sub>see <hi>the</hi> manual</sub>}</ph>')
    path = tmp_path / "en-fr.tmx"
    path.write_text(
        f'<tmx version="1.4"><header/><body><tu><tuv xml:lang="en"><seg>{seg}</seg></tuv>'
        '<tuv xml:lang="fr"><seg>Appuyez</seg></tuv></tu></body></tmx>', encoding="utf-8")
    [only] = read_tmx(path, CORPORA["unpc"], LanguagePair("en", "fr"))
    assert only["text_1"] == "Press Enter now, please.see the manual"


def test_tmx_missing_variant_names_the_codes_found_and_expected(tmp_path):
    path = tmp_path / "en-fr.tmx"
    path.write_text(
        '<tmx version="1.4"><header/><body><tu><tuv xml:lang="en"><seg>a</seg></tuv>'
        '<tuv xml:lang="de"><seg>b</seg></tuv></tu></body></tmx>', encoding="utf-8")
    with pytest.raises(CorpusFormatError, match=r"<tu> #1 has no 'fr' variant \(variants: en, de; expected: en, fr\)"):
        list(read_tmx(path, CORPORA["unpc"], LanguagePair("en", "fr")))


@pytest.mark.parametrize("body", ["<body></body>", "<body/>", ""])
@pytest.mark.parametrize("gzipped", [False, True])
def test_tmx_without_units_reads_as_zero_records(tmp_path, body, gzipped):
    document = f'<?xml version="1.0"?><tmx version="1.4"><header/>{body}</tmx>'.encode()
    path = write_tmx(tmp_path, document, gzipped)
    assert list(read_tmx(path, CORPORA["unpc"], LanguagePair("en", "fr"))) == []


@pytest.mark.parametrize("document", [b"", b"<html><body>503</body></html>", b"\x00\x01binary"])
def test_not_a_tmx_file(tmp_path, document):
    path = write_tmx(tmp_path, document, gzipped=False)
    with pytest.raises(CorpusFormatError) as error:
        list(read_tmx(path, CORPORA["unpc"], LanguagePair("en", "fr")))
    assert error.value.path == str(path)


def test_tmx_declaring_an_unknown_encoding(tmp_path):
    # A flipped byte in the declaration: Python's parser raises LookupError, not ParseError.
    path = write_tmx(tmp_path, b'<?xml version="1.0" encoding="htf-8"?><tmx version="1.4"><body/></tmx>', gzipped=False)
    with pytest.raises(CorpusFormatError, match="unknown encoding") as error:
        list(read_tmx(path, CORPORA["unpc"], LanguagePair("en", "fr")))
    assert (error.value.path, error.value.line) == (str(path), 1)
