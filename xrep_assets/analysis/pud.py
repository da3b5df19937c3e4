"""The PUD treebanks as parallel sentences: a CoNLL-U reader, where the files lie, their download.

Pure logic, no Dagster. The Parallel Universal Dependencies treebanks hold the same 1,000 sentences
(same `sent_id`, e.g. `n01001011`) translated into each language; the layer-wise analyses compare a
checkpoint's representations of these translations.

The reader is written here rather than taken from the `conllu` package: `conllu` reports no line
numbers and accepts lines the format forbids (fields split on two spaces), while the project's errors
name the file and line of what is wrong. It follows the conventions of the task readers
(`xglue/readers.py`): the file is read as bytes and split on `\\n` only; a leading UTF-8 byte-order
mark is dropped; a NUL byte, a carriage return (CoNLL-U lines end with LF only, so a CRLF file fails at
its first line) or a file without a sentence is an error, never 0 sentences.

What it checks: 10 tab-separated fields per word line; IDs in order (words `1, 2, ...`, multiword
token ranges `i-j` just before word `i`, empty nodes `i.k` after word `i`); a non-empty FORM; a UD
UPOS tag on every word; comments only before a sentence's first word line; one `# sent_id` per
sentence, unique in the file. It does not check the dependency tree (HEAD, DEPREL, DEPS): the
analyses read only the text, the words and their tags.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import requests

from xrep_assets.artifacts import committing_file
from xrep_assets.errors import InputFileError, SettingError
from xrep_assets.xglue.readers import UPOS_TAGS

# The seven PUD languages the analyses use, and each one's treebank (the repository's name on GitHub).
PUD_TREEBANKS: dict[str, str] = {
    "ar": "UD_Arabic-PUD",
    "de": "UD_German-PUD",
    "en": "UD_English-PUD",
    "es": "UD_Spanish-PUD",
    "fr": "UD_French-PUD",
    "ru": "UD_Russian-PUD",
    "zh": "UD_Chinese-PUD",
}
UD_RAW_URL = "https://raw.githubusercontent.com/UniversalDependencies"
# The UD release the analyses download when no local copy is configured (November 2024).
UD_RELEASE = "r2.15"
HTTP_TIMEOUT_S = 60

CONLLU_FIELDS = 10  # ID FORM LEMMA UPOS XPOS FEATS HEAD DEPREL DEPS MISC
_SHOWN_CHARS = 120  # how much of an offending line an error message quotes
_WORD_ID = re.compile(r"[1-9][0-9]*")
_RANGE_ID = re.compile(r"([1-9][0-9]*)-([1-9][0-9]*)")
_EMPTY_ID = re.compile(r"(0|[1-9][0-9]*)\.([1-9][0-9]*)")
_COMMENT_VALUE = re.compile(r"#\s*(sent_id|text)\s*=\s*(.*)")
_TAG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")  # a tag or branch name, never a path


class ConlluError(InputFileError):
    """A CoNLL-U file is malformed, or a set of parallel treebanks is not parallel."""


@dataclass(frozen=True)
class ConlluSentence:
    """One sentence of a CoNLL-U file: its id, its text and its syntactic words (integer IDs; the
    surface tokens of multiword token lines and the empty nodes are not words) with their UPOS tags."""

    sent_id: str
    text: str  # the `# text =` comment, else rebuilt from the surface tokens
    words: tuple[str, ...]
    upos: tuple[str, ...]


# --------------------------------------------------------------------------------------------------
# Reader


def read_conllu(path: Path) -> list[ConlluSentence]:
    """Every sentence of the CoNLL-U file `path`, in file order (see the module docstring)."""
    sentences: list[ConlluSentence] = []
    first_line: dict[str, int] = {}  # sent_id -> the line of its comment
    for block in _blocks(path):
        sentence, line = _parse_block(path, block)
        if sentence.sent_id in first_line:
            raise ConlluError(
                path, line, f"duplicate sent_id {sentence.sent_id!r} (first at line {first_line[sentence.sent_id]})"
            )
        first_line[sentence.sent_id] = line
        sentences.append(sentence)
    if not sentences:
        raise ConlluError(path, None, "no sentence in the file")
    return sentences


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(1-based number, text) of each line; only `\\n` ends a line."""
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            raw = raw.removesuffix(b"\n")
            if b"\0" in raw:
                raise ConlluError(path, number, "NUL byte in the line")
            if b"\r" in raw:
                raise ConlluError(path, number, "carriage return in the line (CoNLL-U lines end with LF only)")
            try:
                yield number, raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise ConlluError(path, number, f"not UTF-8: {error.reason} at byte {error.start}") from None


def _blocks(path: Path) -> Iterator[list[tuple[int, str]]]:
    """The lines of each sentence: runs of non-empty lines (blank lines only separate sentences)."""
    block: list[tuple[int, str]] = []
    for number, line in _lines(path):
        if line:
            if not line.strip():
                raise ConlluError(path, number, "whitespace-only line (a sentence ends with an empty line)")
            block.append((number, line))
        elif block:
            yield block
            block = []
    if block:
        yield block


def _parse_block(path: Path, block: list[tuple[int, str]]) -> tuple[ConlluSentence, int]:
    """The sentence of one block, and the line of its sent_id."""
    sent_id: str | None = None
    sent_id_line = 0
    text: str | None = None
    words: list[str] = []
    upos: list[str] = []
    surface: list[tuple[str, bool]] = []  # (token, space after) for rebuilding a missing text
    covered = 0  # the last word a multiword token line covers
    empty_nodes = 0  # empty nodes after the current word
    seen_word_line = False
    for number, line in block:
        if line.startswith("#"):
            if seen_word_line:
                raise ConlluError(path, number, f"comment after the sentence's word lines: {_shown(line)}")
            match = _COMMENT_VALUE.fullmatch(line)
            if match and match[1] == "sent_id":
                if sent_id is not None:
                    raise ConlluError(path, number, f"second sent_id in one sentence (first {sent_id!r})")
                sent_id, sent_id_line = match[2].strip(), number
                if not sent_id or any(ch.isspace() for ch in sent_id):
                    raise ConlluError(path, number, f"sent_id must be one non-empty word: {_shown(line)}")
            elif match and match[1] == "text":
                if text is not None:
                    raise ConlluError(path, number, "second '# text =' comment in one sentence")
                text = match[2].strip()
            continue
        seen_word_line = True
        fields = line.split("\t")
        if len(fields) != CONLLU_FIELDS:
            raise ConlluError(
                path, number, f"{len(fields)} tab-separated fields, expected {CONLLU_FIELDS}: {_shown(line)}"
            )
        token_id, form, _, tag = fields[:4]
        space_after = "SpaceAfter=No" not in fields[9].split("|")
        if not form:
            raise ConlluError(path, number, f"empty FORM: {_shown(line)}")
        if (match := _RANGE_ID.fullmatch(token_id)) is not None:
            first, last = int(match[1]), int(match[2])
            if first != len(words) + 1 or last <= first or covered > len(words):
                raise ConlluError(
                    path, number,
                    f"multiword token {token_id} after word {len(words)}: expected {len(words) + 1}-j with "
                    f"j > {len(words) + 1}, after the words of the previous one (up to {covered})",
                )
            surface.append((form, space_after))
            covered = last
        elif (match := _EMPTY_ID.fullmatch(token_id)) is not None:
            if int(match[1]) != len(words) or int(match[2]) != empty_nodes + 1:
                expected = f"{len(words)}.{empty_nodes + 1}"
                raise ConlluError(path, number, f"empty node {token_id} after word {len(words)}: expected {expected}")
            empty_nodes += 1
        elif _WORD_ID.fullmatch(token_id) is not None:
            if int(token_id) != len(words) + 1:
                expected = str(len(words) + 1)
                raise ConlluError(path, number, f"word ID {token_id} after word {len(words)}: expected {expected}")
            if tag not in UPOS_TAGS:
                raise ConlluError(path, number, f"UPOS {tag!r} is not a UD tag: {_shown(line)}")
            words.append(form)
            upos.append(tag)
            empty_nodes = 0
            if len(words) > covered:
                surface.append((form, space_after))
        else:
            raise ConlluError(path, number, f"bad ID {token_id!r} (word n, multiword token n-m or empty node n.k)")
    first_line = block[0][0]
    if not words:
        raise ConlluError(path, first_line, "sentence without a word line")
    if covered > len(words):
        raise ConlluError(
            path, block[-1][0], f"multiword token up to word {covered}, but the sentence has {len(words)}"
        )
    if sent_id is None:
        raise ConlluError(path, first_line, "sentence without a '# sent_id =' comment")
    if text is None:
        last = len(surface) - 1
        text = "".join(form + (" " if space and k < last else "") for k, (form, space) in enumerate(surface))
    return ConlluSentence(sent_id, text, tuple(words), tuple(upos)), sent_id_line


def _shown(line: str) -> str:
    return repr(line if len(line) <= _SHOWN_CHARS else line[:_SHOWN_CHARS] + "...")


# --------------------------------------------------------------------------------------------------
# The PUD layout and its parallel texts


def pud_file(root: Path, lang: str) -> Path:
    """`<root>/UD_<Name>-PUD/<lang>_pud-ud-test.conllu`: a local copy of the treebanks' repositories."""
    return Path(root) / _treebank(lang) / f"{lang}_pud-ud-test.conllu"


def _treebank(lang: str) -> str:
    if lang not in PUD_TREEBANKS:
        raise SettingError(f"no PUD treebank for language {lang!r}; known: {sorted(PUD_TREEBANKS)}")
    return PUD_TREEBANKS[lang]


def parallel_pud(root: Path, languages: Iterable[str]) -> dict[str, dict[str, str]]:
    """The texts of the PUD sentences per language by `sent_id`, every language's in sorted `sent_id`
    order (an order that does not depend on which file is read first).

    Raises ConlluError naming the file whose `sent_id`s differ from the first language's."""
    languages = list(dict.fromkeys(languages))
    if not languages:
        raise SettingError("parallel_pud needs at least one language")
    texts: dict[str, dict[str, str]] = {}
    for lang in languages:
        path = pud_file(root, lang)
        if not path.is_file():
            raise ConlluError(path, None, f"missing PUD file for {lang}")
        texts[lang] = {s.sent_id: s.text for s in read_conllu(path)}
    reference = languages[0]
    items = sorted(texts[reference])
    for lang in languages[1:]:
        missing = sorted(set(texts[reference]) - set(texts[lang]))
        extra = sorted(set(texts[lang]) - set(texts[reference]))
        if missing or extra:
            raise ConlluError(
                pud_file(root, lang), None,
                f"not parallel to {pud_file(root, reference)}: {len(missing)} sent_ids missing {missing[:3]}, "
                f"{len(extra)} not in it {extra[:3]}",
            )
    return {lang: {item: texts[lang][item] for item in items} for lang in languages}


# --------------------------------------------------------------------------------------------------
# Download


def pud_url(tag: str, lang: str) -> str:
    """The test file of `lang`'s PUD treebank at the UD release `tag` (e.g. `r2.14`) on GitHub."""
    if not _TAG.fullmatch(tag):
        raise SettingError(f"UD release tag {tag!r} is not a git tag name (e.g. 'r2.14')")
    return f"{UD_RAW_URL}/{_treebank(lang)}/{tag}/{lang}_pud-ud-test.conllu"


def download_pud(
    root: Path, tag: str, languages: Iterable[str] = tuple(PUD_TREEBANKS), session: requests.Session | None = None
) -> dict[str, Path]:
    """Fetch the PUD test files of the UD release `tag` into `root` (the layout of `pud_file`); returns
    each language's file. A file is written under a temporary name, read back with `read_conllu` and
    only then renamed into place, so a failed or garbled download (an HTML error page) never replaces
    a good file. Existing files are replaced: `root` holds one release, the caller's choice of folder.

    Raises `requests` errors on HTTP failures and ConlluError (naming the URL) on a malformed file."""
    http = session or requests.Session()
    files: dict[str, Path] = {}
    for lang in dict.fromkeys(languages):
        url = pud_url(tag, lang)
        response = http.get(url, timeout=HTTP_TIMEOUT_S)
        response.raise_for_status()
        final = pud_file(root, lang)
        with committing_file(final) as tmp:
            tmp.write_bytes(response.content)
            try:
                read_conllu(tmp)
            except ConlluError as error:
                raise ConlluError(url, error.line, error.message) from None
        files[lang] = final
    return files
