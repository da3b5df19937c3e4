"""OPUS client: where a corpus's Moses zip (or TMX file) lives, and a resumable download of it.

Pure logic (no Dagster): the corpus assets wire these functions to partitions and resources.

Two sources name the same file:

- the OPUS API (``https://opus.nlpl.eu/opusapi/``), which answers
  ``{"corpora": [{"corpus": ..., "version": ..., "source": ..., "target": ..., "preprocessing":
  "moses", "url": "https://object.pouta.csc.fi/OPUS-<Corpus>/<version>/moses/<a>-<b>.txt.zip",
  "size": <KiB>, "alignment_pairs": ..., "documents": ..., ...}]}``. ``size`` is in kilobytes
  (OpusTools' ``opus_get`` prints it with a ``KB`` unit; a listed ParaCrawl en-lv TMX of
  ``size: 292192`` downloads as 299 MB = 292192 x 1024 bytes), so it is only exact to about 1 KiB;
- the object store itself, whose layout is stable (``fallback_url``), used when the API is
  unreachable or lists nothing.

The local mirror (``mirror_path``) uses the object store's layout, so a mirror is a copy of
the bucket's paths.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlencode

import requests

from xrep_assets.artifacts import commit_file
from xrep_assets.errors import CorpusFormatError
from xrep_assets.study import Corpus, LanguagePair

logger = logging.getLogger(__name__)

OPUS_API = "https://opus.nlpl.eu/opusapi/"
OPUS_OBJECT_STORE = "https://object.pouta.csc.fi"

# The API reports sizes in KiB, rounded: a downloaded file may differ from size x 1024 by < 1 KiB.
API_SIZE_TOLERANCE_BYTES = 1024
DOWNLOAD_CHUNK_BYTES = 1 << 20
HTTP_TIMEOUT_S = 60

# --------------------------------------------------------------------------------------------------
# Where the file of a corpus, pair and format lives

# OPUS's "preprocessing" names the format: Moses (two aligned plain-text files in a zip) or TMX.
OpusFormat = Literal["moses", "tmx"]
FILE_SUFFIXES: dict[str, str] = {"moses": "txt.zip", "tmx": "tmx.gz"}


def opus_file_name(corpus: Corpus, pair: LanguagePair, fmt: OpusFormat = "moses") -> str:
    """``<a>-<b>.txt.zip`` / ``<a>-<b>.tmx.gz`` with OPUS's codes in alphabetical order."""
    if fmt not in FILE_SUFFIXES:
        raise CorpusFormatError(corpus.opus_name, None, f"unknown OPUS format {fmt!r}; known: {sorted(FILE_SUFFIXES)}")
    a, b = corpus.opus_pair(pair)
    return f"{a}-{b}.{FILE_SUFFIXES[fmt]}"


def opus_api_url(corpus: Corpus, pair: LanguagePair, fmt: OpusFormat = "moses") -> str:
    """The OPUS API query that lists the ``fmt`` file of ``corpus`` for ``pair`` (OPUS codes)."""
    source, target = corpus.opus_pair(pair)
    query = urlencode(
        {
            "corpus": corpus.opus_name,
            "source": source,
            "target": target,
            "preprocessing": fmt,
            "version": corpus.version,
        }
    )
    return f"{OPUS_API}?{query}"


def fallback_url(corpus: Corpus, pair: LanguagePair, fmt: OpusFormat = "moses") -> str:
    """The file's address on OPUS's object store, for when the API cannot be asked."""
    return f"{OPUS_OBJECT_STORE}/OPUS-{corpus.opus_name}/{corpus.version}/{fmt}/{opus_file_name(corpus, pair, fmt)}"


def parse_opus_api_response(
    response: dict[str, Any], source: str = "OPUS API response", fmt: OpusFormat = "moses"
) -> tuple[str, int | None]:
    """The ``fmt`` file's ``(url, size_bytes)`` from an OPUS API answer.

    ``size_bytes`` is the API's KiB figure x 1024 (approximate, see ``API_SIZE_TOLERANCE_BYTES``),
    or None where the entry has no size. ``source`` names the answer in errors (e.g. its URL).
    """
    corpora = response.get("corpora") if isinstance(response, dict) else None
    if not isinstance(corpora, list):
        raise CorpusFormatError(source, None, "OPUS API answer has no 'corpora' list")
    entries = [e for e in corpora if isinstance(e, dict) and e.get("url")]
    # The query names the format already; entries without the field are trusted, others must say so.
    matching = [e for e in entries if e.get("preprocessing", fmt) == fmt]
    if not matching:
        raise CorpusFormatError(source, None, f"OPUS API lists no {fmt} file ({len(corpora)} entries)")
    entry = matching[0]
    size_kib = entry.get("size")
    size_bytes = int(size_kib) * 1024 if size_kib not in (None, "") else None
    return str(entry["url"]), size_bytes


def download_source(
    corpus: Corpus, pair: LanguagePair, fmt: OpusFormat = "moses", session: requests.Session | None = None
) -> tuple[str, int | None]:
    """``(url, approximate size_bytes)`` of the ``fmt`` file: from the API, else the object store."""
    api_url = opus_api_url(corpus, pair, fmt)
    http = session or requests.Session()
    try:
        response = http.get(api_url, timeout=HTTP_TIMEOUT_S)
        response.raise_for_status()
        answer = response.json()
    except (requests.RequestException, ValueError) as error:
        # The object store's layout has been stable for years; the API is only the polite way in.
        logger.warning("OPUS API failed (%s); using the object store address", error)
        return fallback_url(corpus, pair, fmt), None
    # The API answered: if it lists nothing, the corpus, version or pair does not exist on OPUS.
    return parse_opus_api_response(answer, source=api_url, fmt=fmt)


# --------------------------------------------------------------------------------------------------
# Resumable download


def download(
    url: str,
    dest: Path,
    expected_size: int | None,
    session: requests.Session | None = None,
    *,
    size_tolerance: int = API_SIZE_TOLERANCE_BYTES,
) -> Path:
    """Download ``url`` to ``dest``, resuming a previous partial download; returns ``dest``.

    Bytes go to ``dest.with_suffix(".part")``; an existing part is continued with an HTTP Range
    request. The file is renamed to ``dest`` (atomically) only once its size equals the length the
    server declared and, where ``expected_size`` is given, lies within ``size_tolerance`` bytes of
    it (the OPUS API's sizes are rounded KiB). An existing ``dest`` is never downloaded again.

    Raises CorpusFormatError on a size mismatch (the part is kept, so a rerun resumes it) and
    ``requests`` errors on HTTP failures.
    """
    dest = Path(dest)
    if dest.exists():
        check_size(dest, dest.stat().st_size, expected_size, size_tolerance)
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_suffix(".part")
    http = session or requests.Session()

    declared_total = fetch_into_part(http, url, part)
    received = part.stat().st_size
    if declared_total is not None and received != declared_total:
        raise CorpusFormatError(
            part, None, f"download incomplete: {received} of {declared_total} bytes; run again to resume"
        )
    check_size(part, received, expected_size, size_tolerance)
    commit_file(part, dest)  # atomic and durable: readers never see a half-written dest
    return dest


def fetch_into_part(http: requests.Session, url: str, part: Path) -> int | None:
    """Append the missing bytes of ``url`` to ``part``; returns the total length the server declared."""
    offset = part.stat().st_size if part.exists() else 0
    # identity: requests would otherwise decode a gzip Content-Encoding and break byte offsets.
    headers = {"Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    with http.get(url, headers=headers, stream=True, timeout=HTTP_TIMEOUT_S) as response:
        if response.status_code == 416 and offset:
            total = content_range_total(response.headers.get("Content-Range"))
            if total == offset:  # the part already holds every byte
                return total
            return restart_download(http, url, part)
        response.raise_for_status()
        if response.status_code == 206:
            start = content_range_start(response.headers.get("Content-Range"))
            if start != offset:
                return restart_download(http, url, part)
            total = content_range_total(response.headers.get("Content-Range"))
            mode = "ab"
        else:  # 200: the server ignored the Range header and sends the whole file
            total = content_length(response.headers.get("Content-Length"))
            mode = "wb"
        with part.open(mode) as out:
            for chunk in response.iter_content(chunk_size=DOWNLOAD_CHUNK_BYTES):
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
    return total


def restart_download(http: requests.Session, url: str, part: Path) -> int | None:
    """Drop a part the server does not recognise (changed file, bad range) and fetch from byte 0."""
    logger.warning("discarding %s: the server does not continue it", part)
    part.unlink()
    return fetch_into_part(http, url, part)


def check_size(path: Path, size: int, expected_size: int | None, tolerance: int) -> None:
    if expected_size is not None and abs(size - expected_size) > tolerance:
        raise CorpusFormatError(
            path, None, f"size {size} bytes, expected {expected_size} (+/- {tolerance})"
        )


_CONTENT_RANGE = re.compile(r"bytes\s+(?:(\d+)-\d+|\*)/(\d+|\*)")


def content_range_start(header: str | None) -> int | None:
    """First byte of a ``Content-Range: bytes START-END/TOTAL`` header."""
    match = _CONTENT_RANGE.match(header or "")
    return int(match.group(1)) if match and match.group(1) else None


def content_range_total(header: str | None) -> int | None:
    """TOTAL of ``bytes START-END/TOTAL`` or ``bytes */TOTAL``; None where unknown."""
    match = _CONTENT_RANGE.match(header or "")
    return int(match.group(2)) if match and match.group(2) != "*" else None


def content_length(header: str | None) -> int | None:
    return int(header) if header and header.isdigit() else None


# --------------------------------------------------------------------------------------------------
# Local mirror


def relative_path(corpus: Corpus, pair: LanguagePair, fmt: OpusFormat = "moses") -> Path:
    """``<opus_name>/<version>/<fmt>/<file>``: the object store's layout, shared by mirrors and the cache."""
    return Path(corpus.opus_name) / corpus.version / fmt / opus_file_name(corpus, pair, fmt)


def mirror_path(root: Path, corpus: Corpus, pair: LanguagePair, fmt: OpusFormat = "moses") -> Path:
    """The file in a local mirror laid out like OPUS's object store; CorpusFormatError if absent."""
    path = Path(root) / relative_path(corpus, pair, fmt)
    if not path.is_file():
        raise CorpusFormatError(
            path,
            None,
            f"{corpus.opus_name} {corpus.version} {pair.key} ({fmt}) is not in the mirror at {root} "
            f"(expected the object store's layout: <root>/{relative_path(corpus, pair, fmt)}; "
            f"download it from {fallback_url(corpus, pair, fmt)})",
        )
    return path
