"""Readers of OPUS bitexts: Moses zips and TMX files, streamed into records of one fixed schema.

Every reader yields dicts with the keys of ``BITEXT_SCHEMA``:

- ``line_no``: 1-based line of the Moses files (or index of the ``<tu>`` in a TMX file);
- ``doc_id``: the document the line comes from where the corpus says so (OpenSubtitles' ``.ids``
  member: the document of the study's first language, e.g. ``en/1191/3276470/6159145.xml.gz``),
  else None (UNPC's Moses zips carry no document names);
- ``lang_1``, ``lang_2``: the study's codes (``zh``, not OPUS's ``zh_cn``), as ``pair.l1, pair.l2``;
- ``text_1``, ``text_2``: the aligned texts in those languages, as stored (no cleaning).

Readers stream (constant memory): a corpus of tens of millions of lines is never held whole.

No text a reader yields holds a CR, an LF or a NUL, in either format: a record is one line per
side, so nothing downstream that writes sentences as lines can misalign them. Damaged input (a
corrupt archive or compressed stream, bad XML, an ambiguous unit) is a CorpusFormatError naming
the file (and line or unit); no other exception escapes a reader. An input with no lines or units
(both members empty, a TMX body without ``<tu>``) yields zero records: whether an empty bitext is
acceptable is the asset's decision, not the reader's.
"""

from __future__ import annotations

import gzip
import lzma
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from itertools import islice, zip_longest
from pathlib import Path
from typing import IO, Any, NoReturn
from xml.etree import ElementTree

import polars as pl

from xrep_assets.errors import CorpusFormatError
from xrep_assets.study import Corpus, LanguagePair

BITEXT_SCHEMA: dict[str, pl.DataType] = {
    "line_no": pl.Int64(),
    "doc_id": pl.String(),
    "lang_1": pl.String(),
    "lang_2": pl.String(),
    "text_1": pl.String(),
    "text_2": pl.String(),
}
# Each side's text column and its language column.
TEXT_SIDES: tuple[tuple[str, str], ...] = (("text_1", "lang_1"), ("text_2", "lang_2"))

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
FRAME_BATCH_ROWS = 100_000
BOM = b"\xef\xbb\xbf"  # UTF-8's encoding signature
READ_CHUNK_BYTES = 1 << 20

# What zipfile and its decompressors raise for a damaged archive or member: bad headers or CRC
# (BadZipFile), corrupt or truncated deflate, bzip2 and lzma streams (zlib.error, OSError,
# LZMAError, EOFError), a method flipped to an unknown one (NotImplementedError), a member flagged
# as encrypted (RuntimeError), a member name flagged UTF-8 that is not (UnicodeDecodeError, a
# ValueError).
DAMAGED_ZIP = (
    zipfile.BadZipFile, zlib.error, lzma.LZMAError, OSError, EOFError, NotImplementedError, RuntimeError, ValueError,
)
# gzip's: a bad header (BadGzipFile, an OSError), a corrupt or truncated stream.
DAMAGED_GZIP = (OSError, EOFError, zlib.error)

# --------------------------------------------------------------------------------------------------
# Moses zips


def read_moses_zip(path: Path, corpus: Corpus, pair: LanguagePair) -> Iterator[dict[str, Any]]:
    """Stream the aligned lines of an OPUS Moses zip (``<Corpus>.<a>-<b>.<a>`` and ``.<b>``).

    Members are picked by language suffix, so README/LICENSE members are ignored. Raises
    CorpusFormatError for an unreadable archive or member, a missing member (naming the language
    codes found and expected), sides (or ``.ids``) of different lengths, a bad line (see
    ``decoded_lines``) and malformed ``.ids`` lines.
    """
    path = Path(path)
    code_1, code_2 = corpus.opus_code(pair.l1), corpus.opus_code(pair.l2)
    try:
        archive = zipfile.ZipFile(path)
    except DAMAGED_ZIP as error:
        raise CorpusFormatError(path, None, f"not a readable zip archive: {error}") from error
    with archive, ExitStack() as members:
        names = archive.namelist()
        suffixes = [code_1, code_2] + (["ids"] if corpus.has_document_ids else [])
        chosen = [select_member(path, names, suffix, corpus, pair) for suffix in suffixes]
        streams = [(name, members.enter_context(open_member(path, archive, name))) for name in chosen]
        l1_column = corpus.opus_pair(pair).index(code_1)
        ids = streams[2] if len(streams) > 2 else None
        yield from aligned_records(path, streams[0], streams[1], ids, pair, l1_column)


def open_member(path: Path, archive: zipfile.ZipFile, name: str) -> IO[bytes]:
    try:
        return archive.open(name)
    except DAMAGED_ZIP as error:
        raise CorpusFormatError(f"{path}!{name}", None, f"corrupt archive member: {error}") from error


def select_member(path: Path, names: list[str], suffix: str, corpus: Corpus, pair: LanguagePair) -> str:
    """The one zip member whose name ends with ``.<suffix>``."""
    matches = [n for n in names if n.endswith(f".{suffix}")]
    if len(matches) > 1:
        # Prefer OPUS's own naming (<Corpus>.<a>-<b>.<suffix>) over any other file with that suffix.
        a, b = corpus.opus_pair(pair)
        matches = [n for n in matches if n.endswith(f".{a}-{b}.{suffix}")] or matches
    if len(matches) != 1:
        found = "none" if not matches else ", ".join(matches)
        # The language codes the members name (<Corpus>.<a>-<b>.<code>), against the pair's.
        codes = sorted({n.rsplit(".", 1)[1] for n in names if "." in n} - {"ids"})
        raise CorpusFormatError(
            path,
            None,
            f"expected one member ending in '.{suffix}', found {found} (members: {', '.join(names)}; "
            f"languages in the archive: {', '.join(codes) or 'none'}; expected: {', '.join(corpus.opus_pair(pair))})",
        )
    return matches[0]


def aligned_records(
    path: Path,
    side_1: tuple[str, IO[bytes]],
    side_2: tuple[str, IO[bytes]],
    ids: tuple[str, IO[bytes]] | None,
    pair: LanguagePair,
    l1_column: int,
) -> Iterator[dict[str, Any]]:
    """Walk the members in lockstep, one record per line.

    ``l1_column`` is 0 or 1: which ``.ids`` document column is the study's first language (OPUS
    orders its columns alphabetically by its own codes).
    """
    streams = [side_1, side_2] + ([ids] if ids else [])
    decoded = [decoded_lines(path, name, stream) for name, stream in streams]
    for line_no, lines in enumerate(zip_longest(*decoded), start=1):
        if None in lines:
            raise_length_mismatch(path, streams, lines, line_no)
        doc_id = document_of(path, ids[0], lines[2], line_no, l1_column) if ids else None
        yield {
            "line_no": line_no,
            "doc_id": doc_id,
            "lang_1": pair.l1,
            "lang_2": pair.l2,
            "text_1": lines[0],
            "text_2": lines[1],
        }


def decoded_lines(path: Path, member: str, stream: IO[bytes]) -> Iterator[str]:
    """A member's lines as text, without their line ends.

    The Moses format is one sentence per LF-terminated line. Lines are split on ``\\n`` only (not
    through a TextIOWrapper): U+2028 or U+0085 inside a sentence must not split it. A CRLF line end
    is accepted; any other CR is refused with its line, as is NUL: splitting on a lone CR would
    silently misalign the sides wherever one side has a stray CR, and not splitting would merge a
    CR-terminated file's pairs into one line. A BOM opening the member is an encoding signature,
    not text: dropped. The member is read, checked and decoded in chunks of whole lines (the
    checks are C-speed scans); a chunk that fails one is searched for the line to name.
    """
    where = f"{path}!{member}"
    line_no = 0  # lines yielded so far
    carry = b""  # the start of a line that a later chunk ends
    # A zip member is a BufferedIOBase: read(n) returns n bytes unless the member ends first.
    chunk = read_chunk(where, line_no, stream)
    data = chunk.removeprefix(BOM)
    while chunk:
        data = carry + data
        end = data.rfind(b"\n") + 1
        lines = checked_lines(where, line_no, data[:end])
        line_no += len(lines)
        yield from lines
        carry = data[end:]
        # A CR before the carry's last byte cannot start a CRLF: refuse it now rather than hold a
        # whole CR-terminated file in memory as one line.
        if b"\0" in carry or b"\r" in carry[:-1]:
            without_crlf(where, line_no, carry)
        data = chunk = read_chunk(where, line_no, stream)
    if carry:  # an unterminated last line
        yield from checked_lines(where, line_no, carry)


def read_chunk(where: str, line_no: int, stream: IO[bytes]) -> bytes:
    try:
        return stream.read(READ_CHUNK_BYTES)
    except DAMAGED_ZIP as error:  # truncated or corrupt member
        raise CorpusFormatError(where, line_no + 1, f"corrupt archive member: {error}") from error


def checked_lines(where: str, line_no: int, block: bytes) -> list[str]:
    """The lines of ``block`` (whole lines, the last one's LF optional), which follow ``line_no``."""
    if not block:
        return []
    block = without_crlf(where, line_no, block)
    try:
        text = block.decode("utf-8")
    except UnicodeDecodeError as error:
        raise_at(where, line_no, block, error.start, "invalid UTF-8", error)
    lines = text.split("\n")
    if block.endswith(b"\n"):
        lines.pop()
    return lines


def without_crlf(where: str, line_no: int, block: bytes) -> bytes:
    """``block`` with its CRLF line ends made LF; raises for any other CR, and for NUL."""
    if b"\r" in block:
        block = block.replace(b"\r\n", b"\n")
    for character, problem in ((b"\0", "NUL byte"), (b"\r", "carriage return (CR) not followed by LF")):
        at = block.find(character)
        if at >= 0:
            raise_at(where, line_no, block, at, f"{problem}: Moses files are UTF-8 text with LF or CRLF line ends")
    return block


def raise_at(
    where: str, line_no: int, block: bytes, at: int, problem: str, cause: Exception | None = None
) -> NoReturn:
    """Raise for the byte at offset ``at`` of ``block`` (which follows line ``line_no``), naming
    its line and the byte's offset in it."""
    start = block.rfind(b"\n", 0, at) + 1
    stop = block.find(b"\n", at)
    line = block[start : stop if stop >= 0 else len(block)]
    raise CorpusFormatError(
        where, line_no + block.count(b"\n", 0, at) + 1, f"{problem} at byte {at - start}: {line[:60]!r}"
    ) from cause


def raise_length_mismatch(
    path: Path, streams: list[tuple[str, IO[bytes]]], lines: tuple[str | None, ...], line_no: int
) -> None:
    ended = [name for (name, _), line in zip(streams, lines) if line is None]
    longer = [name for (name, _), line in zip(streams, lines) if line is not None]
    raise CorpusFormatError(
        path,
        line_no,
        f"{', '.join(longer)} has more lines than {', '.join(ended)}: "
        f"{', '.join(ended)} ended after line {line_no - 1}",
    )


def document_of(path: Path, member: str, ids_line: str, line_no: int, l1_column: int) -> str:
    """The study's first language's document from an ``.ids`` line (doc_a, doc_b, ids_a, ids_b)."""
    fields = ids_line.split("\t")
    if len(fields) != 4:
        raise CorpusFormatError(
            f"{path}!{member}",
            line_no,
            f"expected 4 tab-separated fields, found {len(fields)}: {ids_line[:80]!r}",
        )
    return fields[l1_column]


# --------------------------------------------------------------------------------------------------
# TMX


def read_tmx(path: Path, corpus: Corpus, pair: LanguagePair) -> Iterator[dict[str, Any]]:
    """Stream the translation units of a TMX file (``.tmx`` or ``.tmx.gz``) as records.

    ``xml:lang`` codes are mapped back to the study's codes; ``line_no`` is the ``<tu>``'s 1-based
    index. Raises CorpusFormatError for bad XML or compression, a root other than ``<tmx>``, and a
    ``<tu>`` missing one of the pair's languages (naming the codes found and expected), holding two
    variants of one (which to keep would be a guess), or a segment that ``segment_text`` refuses.
    """
    path = Path(path)
    languages = {normalise_lang(corpus.opus_code(lang)): lang for lang in (pair.l1, pair.l2)}
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as stream:
            yield from tmx_records(path, stream, languages, pair)
    except ElementTree.ParseError as error:
        raise CorpusFormatError(path, error.position[0], f"malformed XML: {error}") from error
    except LookupError as error:  # the XML declaration names an encoding Python does not know
        if type(error) is not LookupError:
            raise  # a KeyError or IndexError: this module's bug, not the file's
        raise CorpusFormatError(path, 1, f"malformed XML: {error}") from error
    except DAMAGED_GZIP as error:  # a missing file, a corrupt or truncated gzip stream
        raise CorpusFormatError(path, None, f"unreadable: {error}") from error


def tmx_records(
    path: Path, stream: IO[bytes], languages: dict[str, str], pair: LanguagePair
) -> Iterator[dict[str, Any]]:
    open_elements: list[ElementTree.Element] = []  # the path from the root to the current element
    tu_index = 0
    for event, element in ElementTree.iterparse(stream, events=("start", "end")):
        if event == "start":
            if not open_elements and element.tag != "tmx":
                raise CorpusFormatError(path, None, f"not a TMX file: the root element is <{element.tag}>")
            open_elements.append(element)
            continue
        open_elements.pop()
        if element.tag != "tu":
            continue
        tu_index += 1
        texts = tu_texts(path, tu_index, element, languages)
        yield {
            "line_no": tu_index,
            "doc_id": None,
            "lang_1": pair.l1,
            "lang_2": pair.l2,
            "text_1": texts[pair.l1],
            "text_2": texts[pair.l2],
        }
        # Constant memory: drop the finished unit from the tree iterparse is building.
        element.clear()
        if open_elements:
            open_elements[-1].remove(element)


def tu_texts(path: Path, tu_index: int, tu: ElementTree.Element, languages: dict[str, str]) -> dict[str, str]:
    """Study code -> segment text of a ``<tu>``'s variants in the pair's languages (others ignored)."""
    where = f"<tu> #{tu_index}"
    texts: dict[str, str] = {}
    found = []
    for tuv in tu.findall("tuv"):
        # TMX 1.4 uses xml:lang; TMX 1.1 files use a plain lang attribute.
        spelled = tuv.get(XML_LANG) or tuv.get("lang") or ""
        found.append(spelled or "(no language)")
        code = normalise_lang(spelled)
        if code not in languages:
            continue
        if languages[code] in texts:
            raise CorpusFormatError(path, None, f"{where} has two '{code}' variants")
        segs = tuv.findall("seg")
        if len(segs) != 1:
            raise CorpusFormatError(path, None, f"{where}: its '{code}' variant has {len(segs)} <seg>, not 1")
        text = segment_text(path, where, segs[0])
        if "\n" in text or "\r" in text:
            raise CorpusFormatError(
                path, None, f"{where}: its '{code}' segment holds a line break (a sentence is one line): {text[:60]!r}"
            )
        texts[languages[code]] = text
    missing = [lang for lang in languages.values() if lang not in texts]
    if missing:
        raise CorpusFormatError(
            path,
            None,
            f"{where} has no '{missing[0]}' variant (variants: {', '.join(found) or 'none'}; "
            f"expected: {', '.join(languages)})",
        )
    return texts


# TMX 1.4's inline elements: native codes (the original format's markup, e.g. ``<b>`` or an RTF
# code) are not text; ``<hi>`` is highlighted text, and a ``<sub>`` inside a code is a sub-flow of
# text (a footnote, a title attribute), kept as the TMX specification counts it as text.
NATIVE_CODES = frozenset({"bpt", "ept", "it", "ph", "ut"})


def segment_text(path: Path, where: str, element: ElementTree.Element) -> str:
    """The text of a ``<seg>``, ``<hi>`` or ``<sub>``: its own text, its ``<hi>`` and ``<sub>``
    text, and the text after each inline element; an element TMX does not allow there is refused."""
    parts = [element.text or ""]
    for child in element:
        if child.tag == "hi":
            parts.append(segment_text(path, where, child))
        elif child.tag in NATIVE_CODES:
            for sub in child:
                if sub.tag != "sub":
                    raise CorpusFormatError(path, None, f"{where}: <{sub.tag}> inside <{child.tag}> is not TMX")
                parts.append(segment_text(path, where, sub))
        else:
            raise CorpusFormatError(
                path, None, f"{where}: <{child.tag}> is not TMX inline markup (bpt, ept, it, ph, hi, ut)"
            )
        parts.append(child.tail or "")
    return "".join(parts)


def normalise_lang(code: str) -> str:
    """``zh-CN`` / ``zh_CN`` / ``zh_cn`` all name OPUS's ``zh_cn``."""
    return code.strip().lower().replace("-", "_")


# --------------------------------------------------------------------------------------------------
# Frames


def bitext_frame(records: Iterable[dict[str, Any]]) -> pl.DataFrame:
    """The records as a DataFrame with ``BITEXT_SCHEMA`` (also for zero records).

    Built in batches so a long stream never exists as one list of Python dicts.
    """
    iterator = iter(records)
    batches = []
    while batch := list(islice(iterator, FRAME_BATCH_ROWS)):
        batches.append(pl.DataFrame(batch, schema=BITEXT_SCHEMA))
    if not batches:
        return pl.DataFrame(schema=BITEXT_SCHEMA)
    return pl.concat(batches, rechunk=True)
