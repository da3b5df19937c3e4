"""Per-character counts of text columns, taken with numpy on their UTF-8 bytes.

polars' regex counting costs 20-50 ns per match (per letter, here), so the per-character counts
are taken on the strings' UTF-8 bytes (exported through Arrow), a cache-sized slice of texts at a
time: where polars holds them for a whole column (its Arrow string views, no copy, see
``ColumnBytes``), copied for a column's survivors (``utf8_chunks``). ASCII is told by byte
comparisons, the common CJK ideographs by their first two bytes, and the other characters through
the code point classes of ``text/chars.py``. What is counted per text is packed into bitmaps and
summed by prefix popcounts (see ``packed``). No Python runs per text.

The slices are measured on ``Threads`` (numpy releases the GIL).
"""

from __future__ import annotations

import functools
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa

from xrep_assets.text.chars import (
    ALPHA_BIT,
    IDEOGRAPHS,
    NON_SPACE,
    PYTHON_WHITESPACE,
    SCRIPT_BITS,
    code_point_classes,
    nfkc_may_change,
)

CHUNK_BYTES = 1 << 19  # half the L2 cache of this machine: the byte masks stay in it


class Threads:
    """``n_jobs`` threads for the per-slice measures (one: in the calling thread). A context manager."""

    def __init__(self, n_jobs: int):
        self.pool = ThreadPoolExecutor(n_jobs) if n_jobs > 1 else None

    def map(self, function, items: list) -> list:
        if self.pool is None or len(items) < 2:
            return [function(item) for item in items]
        return list(self.pool.map(function, items))

    def __enter__(self) -> "Threads":
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.shutdown()


def utf8_chunks(texts: pl.Series | pa.Array) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """(first text, bytes, offsets into them) for runs of texts of about ``CHUNK_BYTES``."""
    array = texts.rechunk().to_arrow() if isinstance(texts, pl.Series) else texts
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if array.type != pa.large_string():
        array = array.cast(pa.large_string())
    _, offsets_buffer, data_buffer = array.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int64)[array.offset : array.offset + len(array) + 1]
    data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else np.zeros(0, np.uint8)
    cuts = np.searchsorted(offsets, np.arange(offsets[0], offsets[-1], CHUNK_BYTES), side="right") - 1
    bounds = sorted({0, len(array), *cuts.tolist()})
    return [
        (first, data[offsets[first] : offsets[end]], offsets[first : end + 1] - offsets[first])
        for first, end in zip(bounds, bounds[1:])
        if end > first
    ]


def chunked(measure, texts: pl.Series | pa.Array, threads: Threads) -> list:
    """``measure`` of each of the ``utf8_chunks`` of ``texts``, on the threads."""
    return threads.map(measure, utf8_chunks(texts))


SCRATCH = threading.local()  # each thread's work arrays (see scratch), not a cache of values


def scratch(name: str, size: int, dtype: type = np.bool_) -> np.ndarray:
    """A reusable per-thread work array of ``size`` elements. Fresh arrays of a chunk's size cost
    more in page faults than the byte comparisons that fill them."""
    buffers = SCRATCH.__dict__.setdefault("buffers", {})
    buffer = buffers.get(name)
    if buffer is None or buffer.size < size:
        buffer = buffers[name] = np.empty(max(size, 2 * CHUNK_BYTES), dtype=dtype)
    return buffer[:size]


def within(data: np.ndarray, low: int, high: int) -> np.ndarray:
    """low <= data <= high, in scratch arrays (the result is the "within" array)."""
    inside = np.greater_equal(data, low, out=scratch("within", data.size))
    inside &= np.less_equal(data, high, out=scratch("within_high", data.size))
    return inside


def non_ascii(data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where the non-ASCII characters of ``data`` (whole texts) start, and their code points."""
    leads = np.flatnonzero(np.greater_equal(data, 0xC0, out=scratch("lead", data.size)))
    return leads, code_points(data, leads) if leads.size * 8 <= data.size else decoded_non_ascii(data)


def lead_code_points(data: np.ndarray, is_lead: np.ndarray, count: int, ideographs: bool = True) -> np.ndarray:
    """The code points of the ``count`` non-ASCII characters of ``data`` (whole texts) whose lead
    bytes ``is_lead`` marks (all of them, or all but those of ``IDEOGRAPHS`` if not
    ``ideographs``): assembled from their bytes where they are few, decoded by Python where they
    are dense (Korean, kana), which is faster than gathering them."""
    if count * 8 <= data.size:
        return code_points(data, np.flatnonzero(is_lead))
    return decoded_non_ascii(data, ideographs)


def decoded_non_ascii(data: np.ndarray, ideographs: bool = True) -> np.ndarray:
    """The code points of the non-ASCII characters of ``data`` (whole texts), in order, without
    those of ``IDEOGRAPHS`` if not ``ideographs``."""
    text = str(memoryview(data), "utf-8")
    points = np.frombuffer(text.encode("utf-16-le"), dtype="<u2")
    if points.size != len(text):  # surrogate pairs: characters beyond the BMP
        points = np.frombuffer(text.encode("utf-32-le"), dtype="<u4")
    keep = points >= 0x80
    if not ideographs:
        keep &= (points < IDEOGRAPHS[0]) | (points > IDEOGRAPHS[1])
    return np.compress(keep, points).astype(np.int32)


def code_points(data: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The code points of the UTF-8 sequences that start at ``at`` (lead bytes)."""
    last = data.size - 1
    lead = data[at].astype(np.int32)
    b1 = data[np.minimum(at + 1, last)].astype(np.int32) & 0x3F
    b2 = data[np.minimum(at + 2, last)].astype(np.int32) & 0x3F
    b3 = data[np.minimum(at + 3, last)].astype(np.int32) & 0x3F
    two = ((lead & 0x1F) << 6) | b1
    three = ((lead & 0x0F) << 12) | (b1 << 6) | b2
    four = ((lead & 0x07) << 18) | (b1 << 12) | (b2 << 6) | b3
    return np.where(lead < 0xE0, two, np.where(lead < 0xF0, three, four))


def nfkc_candidates_chunk(chunk: tuple[int, np.ndarray, np.ndarray]) -> np.ndarray:
    """Whether each text of a chunk has a character that NFKC may change (no ASCII one does)."""
    _, data, offsets = chunk
    leads, points = non_ascii(data)
    changing = np.zeros(offsets.size - 1, dtype=bool)
    if leads.size:
        hit = leads[nfkc_may_change(points)]
        changing[np.searchsorted(offsets, hit, side="right") - 1] = True
    return changing


@functools.cache
def wide_space_table() -> tuple[int, np.ndarray]:
    """Python's non-ASCII whitespace by its UTF-8 bytes: the first lead byte of one, and a table
    indexed by lead (from that one), second and third byte (any third after a two-byte character)."""
    encoded = [char.encode("utf-8") for char in PYTHON_WHITESPACE if ord(char) >= 0x80]
    first, last = min(code[0] for code in encoded), max(code[0] for code in encoded)
    table = np.zeros((last - first + 1) * 256 * 256, dtype=bool)
    for code in encoded:
        at = (code[0] - first) * 65536 + code[1] * 256
        if len(code) == 2:
            table[at : at + 256] = True
        else:
            table[at + code[2]] = True
    return first, table


def is_wide_space(data: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Whether the character whose lead byte (in the table's range) is at ``at`` is non-ASCII
    whitespace."""
    first, table = wide_space_table()
    last = data.size - 1
    index = (data[at].astype(np.int32) - first) << 16
    index |= data[np.minimum(at + 1, last)].astype(np.int32) << 8
    index |= data[np.minimum(at + 2, last)]
    return table[index]


@dataclass
class Whitespace:
    """Per text: ``words`` (``len(text.split())``), whether it ends in whitespace (``trailing``)
    and, where asked, its whitespace characters (``spaces``)."""

    words: np.ndarray
    trailing: np.ndarray
    spaces: np.ndarray | None


def whitespace_counts(texts: pl.Series, threads: Threads, spaces: bool = True) -> Whitespace:
    """``Whitespace`` of each text, with ``spaces`` counted if asked: the column's bytes give a
    bitmap of whitespace (where they lie, see ``ColumnBytes``), the rest is counted on the bitmap."""
    column = ColumnBytes(texts)
    parts = threads.map(whitespace_slice, column.slices())
    space = np.concatenate([part[0] for part in parts])
    ranges = TextBits(column.starts, column.ends)
    count = None
    if spaces:  # a wide whitespace character counts once
        wide = np.zeros_like(space)
        set_bits(wide, column.placed([part[1] for part in parts]))
        count = ranges.count(space) + ranges.count(wide)
    set_bits(space, column.placed([part[2] for part in parts]))
    # Bit i of after_space: byte i - 1 is space. A word starts at a non-space byte after a space
    # byte, or at the start of a text whatever the byte before it (another text's, or none). One
    # work bitmap, reused: fresh memory costs more in page faults than these operations.
    after_space = np.left_shift(space, np.uint64(1))
    work = np.empty_like(space)
    after_space[1:] |= np.right_shift(space[:-1], np.uint64(63), out=work[1:])
    np.bitwise_and(np.invert(space, out=work), after_space, out=work)
    words = ranges.count(work)
    nonempty = column.ends > column.starts
    words += nonempty & ~ranges.at_start(np.bitwise_or(space, after_space, out=work))
    return Whitespace(words=words, trailing=nonempty & ranges.at_end(after_space), spaces=count)


class ColumnBytes:
    """A text column's UTF-8 bytes where polars holds them, scanned without a copy: its Arrow
    string views keep each text whole, in a data buffer or, 12 bytes or fewer, inline in its view,
    so each text is a range of the buffers (ranges may overlap: a parquet dictionary's repeated
    text is stored once). A column whose buffers hold much more than its texts (a slice of a
    larger frame) is copied instead.

    The buffers are scanned in ``slices()``; the bitmaps they give, each buffer's from a 64-bit
    word of its own, laid end to end, hold each text from ``starts`` to ``ends``."""

    def __init__(self, texts: pl.Series):
        array = texts.rechunk().to_arrow(compat_level=pl.CompatLevel.newest())
        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks()
        if array.type == pa.string_view() and array.null_count == 0:
            views = np.frombuffer(array.buffers()[1], dtype=np.int32).reshape(-1, 4)
            lengths = views[array.offset : array.offset + len(array), 0]
            data = [np.frombuffer(buffer, dtype=np.uint8) for buffer in array.buffers()[2:]]
            stored = int(lengths.sum(dtype=np.int64)) - int(lengths[lengths <= 12].sum(dtype=np.int64))
            if sum(buffer.size for buffer in data) <= 1.5 * stored:
                self.from_views(views.reshape(-1).view(np.uint8), data, lengths, array.offset)
                return
        array = texts.rechunk().to_arrow().cast(pa.large_string())
        offsets = np.frombuffer(array.buffers()[1], dtype=np.int64)[array.offset : array.offset + len(array) + 1]
        data_buffer = array.buffers()[2]
        data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else np.zeros(0, np.uint8)
        self.buffers = [data[offsets[0] : offsets[-1]]]
        self.bases = [0]
        self.starts, self.ends = offsets[:-1] - offsets[0], offsets[1:] - offsets[0]

    def from_views(self, views: np.ndarray, data: list[np.ndarray], lengths: np.ndarray, first: int) -> None:
        # A view holds its text's length and either the text (inline, zero-padded to 12 bytes) or
        # its first four bytes, buffer index and offset. Inline texts are copied end to end into a
        # buffer of their own, which keeps the padding and the other views' fields out of the scan.
        rows = slice(first, first + lengths.size)
        inline = lengths <= 12
        payloads = views.reshape(-1, 16)[rows][inline, 4:]
        short = payloads[np.arange(12) < lengths[inline, None]]
        self.buffers = [short, *data]
        words = [buffer.size // 64 + 1 for buffer in self.buffers]
        self.bases = [64 * int(base) for base in np.cumsum([0, *words[:-1]])]
        fields = views.view(np.int32).reshape(-1, 4)[rows]
        if len(data) == 1:  # polars' usual layout: one data buffer
            self.starts = np.add(fields[:, 3], self.bases[1], dtype=np.int64)
        elif data:
            self.starts = np.array(self.bases[1:], dtype=np.int64)[np.where(inline, 0, fields[:, 2])] + fields[:, 3]
        else:
            self.starts = np.zeros(lengths.size, dtype=np.int64)
        inline_lengths = lengths[inline]
        self.starts[inline] = np.cumsum(inline_lengths) - inline_lengths
        self.ends = np.add(self.starts, lengths, out=np.empty_like(self.starts))

    def slices(self) -> list[tuple[np.ndarray, int, int]]:
        """(buffer, start, end) of ``CHUNK_BYTES`` or fewer, each buffer's in order (an empty
        buffer as one empty slice, for its word)."""
        return [
            (buffer, start, min(start + CHUNK_BYTES, buffer.size))
            for buffer in self.buffers
            for start in range(0, max(buffer.size, 1), CHUNK_BYTES)
        ]

    def placed(self, positions: list[np.ndarray]) -> np.ndarray:
        """Positions within each slice's buffer, as ``slices()`` lists them, in the bitmap."""
        bases = [
            base for buffer, base in zip(self.buffers, self.bases) for _ in range(0, max(buffer.size, 1), CHUNK_BYTES)
        ]
        return np.concatenate([at + base for at, base in zip(positions, bases)]) if positions else np.zeros(0, np.int64)


def whitespace_slice(piece: tuple[np.ndarray, int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A slice's bitmap of ASCII whitespace (a whole number of words, plus a spare one at its
    buffer's end), the lead bytes of its wide whitespace characters and all their bytes, as
    positions in the buffer. A character cut by the slice's end is read on into the next."""
    buffer, start, end = piece
    data = buffer[start:end]
    bits = packed(ascii_whitespace(data), words=data.size // 64 + (end == buffer.size))
    wide = wide_whitespace(buffer[start : min(end + 2, buffer.size)])
    wide = wide[wide < data.size]
    wide_bytes = np.concatenate([wide, wide + 1, wide[data[wide] != 0xC2] + 2])
    return bits, wide + start, wide_bytes + start


def long_words(text: pl.Series, chunks: list, length: int, threads: Threads) -> np.ndarray:
    """Rows with a word of ``length`` characters or more. Only the rows with ``length`` bytes in a
    row without ASCII whitespace (a character takes one byte at least) go to the regex."""
    parts = threads.map(functools.partial(long_run_chunk, length=length), chunks)
    fails = np.zeros(text.len(), dtype=bool)
    at = np.flatnonzero(np.concatenate(parts)) if parts else np.zeros(0, np.int64)
    if at.size:
        fails[at] = text.gather(at).str.contains(f"{NON_SPACE}{{{length}}}").to_numpy()
    return fails


def long_run_chunk(chunk: tuple[int, np.ndarray, np.ndarray], length: int) -> np.ndarray:
    """Whether each text of a chunk may have a word of ``length`` characters: ``length`` bytes in
    a row without ASCII whitespace (wide whitespace left to the exact test; the bitmaps of a chunk
    stay in the cache through the doublings of ``run_starts``)."""
    _, data, offsets = chunk
    bits = packed(ascii_whitespace(data))
    # A run fits in its text when it starts no later than ``length`` bytes before its end.
    last_start = np.maximum(offsets[1:] - length + 1, offsets[:-1])
    return TextBits(offsets[:-1], last_start).count(run_starts(~bits, length)) > 0


def ascii_whitespace(data: np.ndarray) -> np.ndarray:
    """Python's ASCII whitespace, 9-13 (tab to carriage return) and 28-32 (U+001C to space): bytes
    <= 32 less the other control characters, looked for only where the chunk's minima show some."""
    space = np.less_equal(data, 32, out=scratch("space", data.size))
    if data.size == 0:
        return space
    if data.min() < 9 or np.subtract(data, 14, out=scratch("bytes", data.size, np.uint8)).min() < 14:
        low = np.flatnonzero(np.less(data, 28, out=scratch("mask", data.size)))
        space[low[(data[low] < 9) | (data[low] > 13)]] = False
    return space


def wide_whitespace(data: np.ndarray) -> np.ndarray:
    """Lead bytes of Python's non-ASCII whitespace (U+0085, U+00A0, U+1680, U+2000-U+3000), all of
    which start with C2 or E1-E3 (not with the C3-DF of accented Latin, Cyrillic or Arabic)."""
    shifted = np.subtract(data, 0xE1, out=scratch("bytes", data.size, np.uint8))
    leads = np.less(shifted, 3, out=scratch("mask", data.size))
    leads |= np.equal(data, 0xC2, out=scratch("other", data.size))
    at = np.flatnonzero(leads)
    return at[is_wide_space(data, at)]


# Bitmaps: a byte mask packed 64 bits to a word, counted per text by prefix popcounts. Packing
# costs a fraction of numpy's reduceat over the bytes; what follows works on 1/64 of the size.


def packed(mask: np.ndarray, words: int | None = None) -> np.ndarray:
    """A boolean mask as 64-bit words (mask[i] is bit i % 64 of word i // 64), by default with a
    spare word so that the position after the last byte has one too."""
    bitmap = np.empty(mask.size // 64 + 1 if words is None else words, dtype="<u8")
    packed_bytes = np.packbits(mask, bitorder="little")
    as_bytes = bitmap.view(np.uint8)
    as_bytes[: packed_bytes.size] = packed_bytes[: as_bytes.size]
    as_bytes[packed_bytes.size :] = 0
    return bitmap


LOW_BITS = np.array([(1 << shift) - 1 for shift in range(64)], dtype=np.uint64)  # the bits below each


def set_bits(words: np.ndarray, at: np.ndarray) -> None:
    np.bitwise_or.at(words, at >> 6, np.left_shift(np.uint64(1), (at & 63).astype(np.uint64)))


class TextBits:
    """Ranges of bit positions (a text's bytes: ``start`` to ``end``, exclusive), split once into
    word index and bit (narrow types: fresh memory costs more in page faults than the operations
    on it), to count the set bits of several bitmaps in each."""

    def __init__(self, start: np.ndarray, end: np.ndarray):
        self.start_word, self.start_bit = word_and_bit(start)
        self.end_word, self.end_bit = word_and_bit(end)

    def count(self, words: np.ndarray) -> np.ndarray:
        # Set bits before each word, then the bits below the position in it.
        running = np.empty(words.size + 1, dtype=np.int64)
        running[0] = 0
        np.cumsum(np.bitwise_count(words), out=running[1:])
        counts = running[self.end_word]
        counts -= running[self.start_word]
        counts += bits_below(words, self.end_word, self.end_bit)
        counts -= bits_below(words, self.start_word, self.start_bit)
        return counts

    def at_start(self, words: np.ndarray) -> np.ndarray:
        """The bit at each range's start."""
        return bit_of(words, self.start_word, self.start_bit)

    def at_end(self, words: np.ndarray) -> np.ndarray:
        """The bit at each range's end (just after it)."""
        return bit_of(words, self.end_word, self.end_bit)


def bits_below(words: np.ndarray, word: np.ndarray, bit: np.ndarray) -> np.ndarray:
    """The set bits of ``words[word]`` below ``bit``, per entry."""
    gathered = words[word]
    gathered &= LOW_BITS[bit]
    return np.bitwise_count(gathered)


def bit_of(words: np.ndarray, word: np.ndarray, bit: np.ndarray) -> np.ndarray:
    """Bit ``bit`` of ``words[word]``, per entry."""
    gathered = words[word]
    gathered >>= bit
    gathered &= np.uint64(1)
    return gathered.astype(bool)


def word_and_bit(at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The word index and bit of bit positions ``at`` (32-bit indices up to 2^37 bytes)."""
    word_type = np.int32 if at.size == 0 or at.max() < 1 << 37 else np.int64
    word = np.right_shift(at, 6, out=np.empty(at.size, dtype=word_type), casting="unsafe")
    return word, np.bitwise_and(at, 63, out=np.empty(at.size, dtype=np.uint8), casting="unsafe")


class BitLayout:
    """The bitmaps of a column's chunks laid end to end, each from a word of its own (as
    ``packed`` makes them): every text's ``starts`` and ``ends`` as bit positions, and ``placed``
    to move positions within chunks there. A text lies within one chunk, so the bits of a text are
    its bytes' and per-text counts run once over the column."""

    def __init__(self, chunks: list[tuple[int, np.ndarray, np.ndarray]]):
        words = [offsets[-1] // 64 + 1 for _, _, offsets in chunks]
        self.bases = [64 * int(base) for base in np.cumsum([0, *words[:-1]])] if chunks else []
        self.starts = self.placed([offsets[:-1] for _, _, offsets in chunks])
        self.ends = self.placed([offsets[1:] for _, _, offsets in chunks])

    def placed(self, positions: list[np.ndarray]) -> np.ndarray:
        if not positions:
            return np.zeros(0, dtype=np.int64)
        return np.concatenate([at + base for at, base in zip(positions, self.bases)])

    def joined(self, bitmaps: list[np.ndarray]) -> np.ndarray:
        return np.concatenate(bitmaps) if bitmaps else np.zeros(1, dtype="<u8")


def run_starts(words: np.ndarray, length: int) -> np.ndarray:
    """Bit i set where bits i to i + length - 1 all are: runs of 1, 2, 4, ... bits by doubling,
    those that make up ``length`` then ANDed end to end."""
    found, power, span, offset = None, words, 1, 0
    while True:
        if length & span:
            shifted = shifted_down(power, offset)
            found = shifted if found is None else found & shifted
            offset += span
        span <<= 1
        if span > length:
            return found
        power = power & shifted_down(power, span >> 1)


def shifted_down(words: np.ndarray, by: int) -> np.ndarray:
    """Bit i of the result is bit i + by of ``words`` (0 past the end)."""
    skip, shift = divmod(by, 64)
    source = words[skip:]
    moved = np.zeros_like(words)
    if shift == 0:
        moved[: source.size] = source
        return moved
    moved[: source.size] = source >> np.uint64(shift)
    moved[: source.size - 1] |= source[1:] << np.uint64(64 - shift)
    return moved


@dataclass
class Digits:
    """The non-zero digits of each text, in order: ``rows`` (text index) and ASCII ``values``."""

    rows: np.ndarray
    values: np.ndarray

    def strings(self, at: np.ndarray) -> list[str]:
        first = np.searchsorted(self.rows, at, side="left")
        last = np.searchsorted(self.rows, at, side="right")
        return [self.values[i:j].tobytes().decode("ascii") for i, j in zip(first.tolist(), last.tolist())]

    def histogram(self, at: np.ndarray, n: int) -> np.ndarray:
        """Count of each digit 0-9 in the texts ``at`` (rows of the result), of ``n`` texts."""
        where = np.full(n, -1, dtype=np.int64)
        where[at] = np.arange(at.size)
        slot = where[self.rows]
        picked = slot >= 0
        cells = slot[picked] * 10 + (self.values[picked].astype(np.int64) - 48)
        return np.bincount(cells, minlength=at.size * 10).reshape(at.size, 10)


def compare_digits(digits_1: Digits, digits_2: Digits, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row: whether both digit sequences are equal, and their lengths."""
    len_1 = np.bincount(digits_1.rows, minlength=n)
    len_2 = np.bincount(digits_2.rows, minlength=n)
    equal = len_1 == len_2
    # Rows of equal length have aligned digits in both (rows ascending, positions in order).
    pick_1, pick_2 = equal[digits_1.rows], equal[digits_2.rows]
    differ = digits_1.rows[pick_1][digits_1.values[pick_1] != digits_2.values[pick_2]]
    equal[differ] = False
    return equal, len_1, len_2


@dataclass
class LetterCounts:
    letters: np.ndarray
    in_script: np.ndarray
    terminal: np.ndarray
    digits: Digits


def letter_counts(
    chunks: list[tuple[int, np.ndarray, np.ndarray]],
    bit: int,
    terminal_punctuation: str,
    arabic_indic_digits: bool,
    threads: Threads,
) -> LetterCounts:
    """Alphabetic characters, those of the script ``bit``, terminal punctuation marks (those of
    ``terminal_punctuation``) and non-zero digits (Arabic-Indic ones too if ``arabic_indic_digits``)
    of each text of the chunks. ASCII and the common CJK ideographs (``IDEOGRAPHS``) are
    counted on bitmaps; the other characters are classified once for the column, in the order
    of their lead bytes, and split per text by the number of lead bytes in each."""
    marks = sorted(set(terminal_punctuation))
    measure = functools.partial(
        letter_chunk, ascii_marks=tuple(ord(m) for m in marks if ord(m) < 0x80), arabic_indic=arabic_indic_digits
    )
    layout = BitLayout(chunks)
    parts = threads.map(measure, chunks)
    texts = TextBits(layout.starts, layout.ends)
    edges = np.concatenate([[0], np.cumsum(texts.count(layout.joined([part.leads for part in parts])))])
    points = np.concatenate([part.points for part in parts]) if parts else np.zeros(0, np.int32)
    classes = code_point_classes(points, ALPHA_BIT | bit)
    by_text = TextBits(edges[:-1], edges[1:])

    def at_leads(flags: np.ndarray) -> np.ndarray:
        return by_text.count(packed(flags))

    ascii_letters = texts.count(layout.joined([part.letters for part in parts]))
    ideographs = texts.count(layout.joined([part.ideographs for part in parts]))
    other_marks = [ord(m) for m in marks if ord(m) >= 0x80]
    return LetterCounts(
        letters=ascii_letters + ideographs + at_leads((classes & ALPHA_BIT) != 0),
        in_script=(ascii_letters if bit == SCRIPT_BITS["Latin"] else 0)
        + (ideographs if bit == SCRIPT_BITS["Han"] else 0)
        + at_leads((classes & (ALPHA_BIT | bit)) == (ALPHA_BIT | bit)),
        terminal=texts.count(layout.joined([part.marks for part in parts])) + at_leads(np.isin(points, other_marks)),
        digits=Digits(
            np.concatenate([part.digit_rows for part in parts]) if parts else np.zeros(0, np.int64),
            np.concatenate([part.digit_values for part in parts]) if parts else np.zeros(0, np.uint8),
        ),
    )


@dataclass
class LetterChunk:
    """One chunk's measures: bitmaps of ASCII ``letters``, ASCII terminal ``marks``, the lead bytes
    of ``IDEOGRAPHS`` (``ideographs``) and of other characters (``leads``), the code ``points`` of
    those, and its non-zero digits."""

    letters: np.ndarray
    marks: np.ndarray
    ideographs: np.ndarray
    leads: np.ndarray
    points: np.ndarray
    digit_rows: np.ndarray
    digit_values: np.ndarray


def letter_chunk(
    chunk: tuple[int, np.ndarray, np.ndarray], ascii_marks: tuple[int, ...], arabic_indic: bool
) -> LetterChunk:
    first, data, offsets = chunk
    lowered = np.bitwise_or(data, 0x20, out=scratch("bytes", data.size, np.uint8))
    letters = packed(within(lowered, ord("a"), ord("z")))
    is_mark = scratch("marks", data.size)
    is_mark[:] = False
    for mark_byte in ascii_marks:
        is_mark |= np.equal(data, mark_byte, out=scratch("other", data.size))
    digit_at = np.flatnonzero(within(data, ord("1"), ord("9")))
    digit_values = data[digit_at]
    is_lead = np.greater_equal(data, 0xC0, out=scratch("lead", data.size))
    leads = packed(is_lead)
    ideographs = np.zeros_like(leads)
    dense = bool(np.bitwise_count(leads).sum() * 8 > data.size)  # East Asian text
    if dense:
        is_ideograph = ideograph_leads(data)
        ideographs = packed(is_ideograph)
        np.greater(is_lead, is_ideograph, out=is_lead)  # the other leads
        leads = packed(is_lead)
    points = lead_code_points(data, is_lead, int(np.bitwise_count(leads).sum()), ideographs=not dense)
    if arabic_indic:
        # Arabic-Indic 1-9 (U+0661-0669) and Extended Arabic-Indic 1-9 (U+06F1-06F9).
        is_digit = ((points >= 0x661) & (points <= 0x669)) | ((points >= 0x6F1) & (points <= 0x6F9))
        if is_digit.any():
            value = np.where(points < 0x6F0, points - 0x660, points - 0x6F0)
            digit_at = np.concatenate([digit_at, np.flatnonzero(is_lead)[is_digit]])
            digit_values = np.concatenate([digit_values, (value[is_digit] + 48).astype(np.uint8)])
            order = np.argsort(digit_at, kind="stable")
            digit_at, digit_values = digit_at[order], digit_values[order]
    return LetterChunk(
        letters=letters,
        marks=packed(is_mark),
        ideographs=ideographs,
        leads=leads,
        points=points,
        digit_rows=np.searchsorted(offsets, digit_at, side="right") - 1 + first,
        digit_values=digit_values,
    )


def ideograph_leads(data: np.ndarray) -> np.ndarray:
    """Where the characters of ``IDEOGRAPHS`` start: lead byte E5-E9, or E4 before B8-BF."""
    is_ideograph = within(data, 0xE5, 0xE9)
    first = np.equal(data[:-1], 0xE4, out=scratch("other", data.size)[: data.size - 1])
    first &= np.greater_equal(data[1:], 0xB8, out=scratch("mask", data.size)[: data.size - 1])
    is_ideograph[:-1] |= first
    return is_ideograph
