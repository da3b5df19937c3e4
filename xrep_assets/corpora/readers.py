"""Readers of OPUS bitexts: Moses zips and TMX files, streamed into records of one fixed schema.

Every reader yields dicts with the keys of ``BITEXT_SCHEMA``:

- ``line_no``: 1-based line of the Moses files (or index of the ``<tu>`` in a TMX file);
- ``doc_id``: the document the line comes from where the corpus says so (OpenSubtitles' ``.ids``
  member: the document of the study's first language, e.g. ``en/1191/3276470/6159145.xml.gz``),
  else None (UNPC's Moses zips carry no document names);
- ``lang_1``, ``lang_2``: the study's codes (``zh``, not OPUS's ``zh_cn``), as ``pair.l1, pair.l2``;
- ``text_1``, ``text_2``: the aligned texts in those languages, as stored (no cleaning).

Readers stream (constant memory): a corpus of tens of millions of lines is never held whole.
"""

from __future__ import annotations

import gzip
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from itertools import islice, zip_longest
from pathlib import Path
from typing import IO, Any
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

# --------------------------------------------------------------------------------------------------
# Moses zips


def read_moses_zip(path: Path, corpus: Corpus, pair: LanguagePair) -> Iterator[dict[str, Any]]:
    """Stream the aligned lines of an OPUS Moses zip (``<Corpus>.<a>-<b>.<a>`` and ``.<b>``).

    Members are picked by language suffix, so README/LICENSE members are ignored. Raises
    CorpusFormatError for a missing member, sides (or ``.ids``) of different lengths, invalid
    UTF-8 and malformed ``.ids`` lines.
    """
    path = Path(path)
    code_1, code_2 = corpus.opus_code(pair.l1), corpus.opus_code(pair.l2)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise CorpusFormatError(path, None, f"not a readable zip archive: {error}") from error
    with archive:
        names = archive.namelist()
        name_1 = select_member(path, names, code_1, corpus, pair)
        name_2 = select_member(path, names, code_2, corpus, pair)
        name_ids = select_member(path, names, "ids", corpus, pair) if corpus.has_document_ids else None
        l1_column = corpus.opus_pair(pair).index(code_1)
        with archive.open(name_1) as side_1, archive.open(name_2) as side_2:
            if name_ids is None:
                yield from aligned_records(path, (name_1, side_1), (name_2, side_2), None, pair, l1_column)
            else:
                with archive.open(name_ids) as ids:
                    yield from aligned_records(
                        path, (name_1, side_1), (name_2, side_2), (name_ids, ids), pair, l1_column
                    )


def select_member(path: Path, names: list[str], suffix: str, corpus: Corpus, pair: LanguagePair) -> str:
    """The one zip member whose name ends with ``.<suffix>``."""
    matches = [n for n in names if n.endswith(f".{suffix}")]
    if len(matches) > 1:
        # Prefer OPUS's own naming (<Corpus>.<a>-<b>.<suffix>) over any other file with that suffix.
        a, b = corpus.opus_pair(pair)
        matches = [n for n in matches if n.endswith(f".{a}-{b}.{suffix}")] or matches
    if len(matches) != 1:
        found = "none" if not matches else ", ".join(matches)
        raise CorpusFormatError(
            path,
            None,
            f"expected one member ending in '.{suffix}', found {found} (members: {', '.join(names)})",
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

    Lines are split on ``\\n`` only and decoded one by one (rather than through a TextIOWrapper):
    a stray ``\\r`` or U+2028 inside a sentence must not split it, and a decoding error must name
    its line.
    """
    line_no = 0
    try:
        for line_no, raw in enumerate(stream, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise CorpusFormatError(
                    f"{path}!{member}", line_no, f"invalid UTF-8 at byte {error.start}: {raw[:60]!r}"
                ) from error
            yield text.removesuffix("\n").removesuffix("\r")
    except (zipfile.BadZipFile, zlib.error, EOFError) as error:  # truncated or corrupt member
        raise CorpusFormatError(f"{path}!{member}", line_no + 1, f"corrupt archive member: {error}") from error


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
    index. Raises CorpusFormatError for a ``<tu>`` missing one of the pair's languages, or bad XML.
    """
    path = Path(path)
    languages = {normalise_lang(corpus.opus_code(lang)): lang for lang in (pair.l1, pair.l2)}
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as stream:
        try:
            yield from tmx_records(path, stream, languages, pair)
        except ElementTree.ParseError as error:
            raise CorpusFormatError(path, error.position[0], f"malformed XML: {error}") from error
        except (OSError, EOFError) as error:  # a corrupt gzip stream
            raise CorpusFormatError(path, None, f"unreadable: {error}") from error


def tmx_records(
    path: Path, stream: IO[bytes], languages: dict[str, str], pair: LanguagePair
) -> Iterator[dict[str, Any]]:
    open_elements: list[ElementTree.Element] = []  # the path from the root to the current element
    tu_index = 0
    for event, element in ElementTree.iterparse(stream, events=("start", "end")):
        if event == "start":
            open_elements.append(element)
            continue
        open_elements.pop()
        if element.tag != "tu":
            continue
        tu_index += 1
        texts = tu_texts(element, languages)
        missing = [lang for lang in (pair.l1, pair.l2) if lang not in texts]
        if missing:
            raise CorpusFormatError(path, None, f"<tu> #{tu_index} has no '{missing[0]}' variant")
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


def tu_texts(tu: ElementTree.Element, languages: dict[str, str]) -> dict[str, str]:
    """Study code -> segment text of a ``<tu>``'s variants in the pair's languages."""
    texts: dict[str, str] = {}
    for tuv in tu.iter("tuv"):
        # TMX 1.4 uses xml:lang; TMX 1.1 files use a plain lang attribute.
        code = normalise_lang(tuv.get(XML_LANG) or tuv.get("lang") or "")
        seg = tuv.find("seg")
        if code in languages and seg is not None:
            texts[languages[code]] = "".join(seg.itertext())
    return texts


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
