"""The contamination key: the normalisation under which two sentences count as the same.

The corpora's normalised de-duplication (`corpora.cleaning`), their decontamination
(`corpora.allocation.forbidden_keys`) and the contamination check (`xglue.contamination`) all use it.
"""

from __future__ import annotations

import polars as pl

# Stripped for the normalised duplicate key: digits, punctuation, symbols, whitespace.
DEDUP_STRIPPED = r"[\p{N}\p{P}\p{S}\s]+"


def dedup_key(text: pl.Expr) -> pl.Expr:
    """Lowercased, without digits, punctuation, symbols and whitespace (so ``Hurry up !`` repeats
    ``hurry up!``); a text with nothing left keeps its exact text, so ``3 .`` and ``4 .`` differ."""
    stripped = text.str.to_lowercase().str.replace_all(DEDUP_STRIPPED, "")
    return pl.when(stripped == "").then(text).otherwise(stripped)
