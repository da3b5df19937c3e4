"""The tokenizer's training sample: temperature-sampled lines of each language, at most a set number,
drawn without holding the corpus.

Two passes over the monolingual files: the line counts (parquet metadata, no text read), then each
language's file streamed batch by batch, keeping only the drawn lines. Which lines are drawn depends
on the counts and the seed only, so memory is the sample plus one batch, whatever the corpus size.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path


# The lines of one language at the given positions, in that order (a position may repeat).
LineReader = Callable[[str, Sequence[int]], list[str]]


def language_sample_sizes(line_counts: Mapping[str, int], alpha: float, cap: int | None = None) -> dict[str, int]:
    """Lines to draw per language so that low-resource languages are up-sampled (XLM, alpha=0.3).

    q_l = p_l^alpha / sum_k p_k^alpha with p_l the language's share; the total is the corpus's, or
    `cap` where that is smaller.
    """
    total = sum(line_counts.values())
    if total == 0:
        return {lang: 0 for lang in line_counts}
    target = total if cap is None else min(total, cap)
    weights = {lang: (n / total) ** alpha for lang, n in line_counts.items() if n > 0}
    norm = sum(weights.values())
    quotas = {lang: target * weights.get(lang, 0.0) / norm for lang in line_counts}
    sizes = {lang: round(quota) for lang, quota in quotas.items()}
    if cap is not None:
        # Rounding may overshoot by up to half a line per language; a cap is a cap: the languages
        # rounded up the most give one line back.
        over = sum(sizes.values()) - cap
        for lang in sorted(sizes, key=lambda lang: (quotas[lang] - sizes[lang], lang))[:max(over, 0)]:
            sizes[lang] -= 1
    return sizes


def drawn_positions(rng: random.Random, lines: int, k: int) -> list[int]:
    """`k` positions out of `lines`: without replacement where the language has enough lines, else with.

    `rng.sample(texts, k)` and `rng.choices(texts, k=k)` pick positions that depend on `len(texts)`
    only, so drawing from `range(lines)` picks the very lines they would. `sample` over a range keeps
    O(k) memory: it copies the range only where it is at most ~12·k long, else it keeps a set of the
    positions chosen.
    """
    return rng.sample(range(lines), k) if k <= lines else rng.choices(range(lines), k=k)


def temperature_sample(
    line_counts: Mapping[str, int], read_lines: LineReader, alpha: float, seed: int, cap: int | None = None
) -> list[str]:
    """The training lines, shuffled: each language's `language_sample_sizes` share, drawn in sorted
    language order from one seeded generator. Any reader of the same lines gives the same sample."""
    rng = random.Random(seed)
    sizes = language_sample_sizes(line_counts, alpha, cap)
    lines: list[str] = []
    for lang in sorted(line_counts):
        lines += read_lines(lang, drawn_positions(rng, line_counts[lang], sizes[lang]))
    rng.shuffle(lines)
    return lines
