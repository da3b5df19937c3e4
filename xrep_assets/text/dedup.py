"""De-duplication keys: the normalisation under which two sentences count as the same, and a set
of 64-bit keys that stays small however many are added.

``dedup_key`` (a polars expression) is used by the corpora's normalised de-duplication
(``corpora.cleaning``), their decontamination (``corpora.allocation.forbidden_keys``) and the
contamination check (``xglue.contamination``); ``dedup_keys`` computes the same keys on the UTF-8
bytes, for the cleaning of whole corpora.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa

from xrep_assets.text.chars import DEDUP_STRIPPED, STRIP_BIT, code_point_classes
from xrep_assets.text.utf8 import TextBits, non_ascii, packed, scratch, utf8_chunks, within


def dedup_key(text: pl.Expr) -> pl.Expr:
    """Lowercased, without digits, punctuation, symbols and whitespace (so ``Hurry up !`` repeats
    ``hurry up!``); a text with nothing left keeps its exact text, so ``3 .`` and ``4 .`` differ."""
    stripped = text.str.to_lowercase().str.replace_all(DEDUP_STRIPPED, "")
    return pl.when(stripped == "").then(text).otherwise(stripped)


def dedup_keys(texts: pl.Series) -> pl.Series:
    """``dedup_key`` of each text, stripped on the UTF-8 bytes (polars' regex replacement costs
    per match, i.e. per word here)."""
    parts = [stripped_chunk(chunk) for chunk in utf8_chunks(texts.str.to_lowercase())]
    if not parts:
        return texts
    sizes = np.concatenate([part[1] for part in parts])
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    data = np.concatenate([part[0] for part in parts])
    array = pa.LargeStringArray.from_buffers(sizes.size, pa.py_buffer(offsets), pa.py_buffer(data))
    return pl.Series(texts.name, pl.from_arrow(array)).zip_with(pl.Series(sizes > 0), texts)


def stripped_chunk(chunk: tuple[int, np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The bytes left once digits, punctuation, symbols and whitespace are out, and their count
    per text."""
    _, data, offsets = chunk
    # ASCII: \t-\r, U+001C-U+0040 (space, digits, punctuation), [-` and {-~ go; letters and
    # other control characters stay.
    keep = scratch("keep", data.size)
    np.logical_not(within(data, 0x09, 0x0D), out=keep)
    for low, high in ((0x1C, 0x40), (0x5B, 0x60), (0x7B, 0x7E)):
        keep &= np.logical_not(within(data, low, high), out=scratch("other", data.size))
    leads, points = non_ascii(data)
    if leads.size:
        leads = leads[code_point_classes(points, STRIP_BIT) != 0]
        keep[leads] = keep[leads + 1] = False
        three = leads[data[leads] >= 0xE0]
        keep[three + 2] = False
        keep[three[data[three] >= 0xF0] + 3] = False
    return data[keep], TextBits(offsets[:-1], offsets[1:]).count(packed(keep))


class SeenKeys:
    """A set of 64-bit keys as sorted runs (merged like a binary counter): 8 bytes per key, and a
    batch of lookups costs a binary search per run."""

    def __init__(self) -> None:
        self.runs: list[pl.Series] = []

    def contains(self, keys: pl.Series) -> pl.Series:
        found = pl.Series("found", [False] * keys.len(), dtype=pl.Boolean)
        for run in self.runs:
            at = run.search_sorted(keys, side="left").clip(upper_bound=run.len() - 1)
            found = found | (run.gather(at) == keys)
        return found

    def add(self, keys: pl.Series) -> None:
        if keys.len() == 0:
            return
        self.runs.append(keys.sort())
        while len(self.runs) > 1 and self.runs[-1].len() >= self.runs[-2].len():
            newer = self.runs.pop()
            self.runs[-1] = pl.concat([self.runs[-1], newer]).sort()

    def __len__(self) -> int:
        return sum(run.len() for run in self.runs)
