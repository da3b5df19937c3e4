"""The analyses' measures, pure numpy: how alike two languages' representations of the same sentences
are (linear CKA), whether translations find each other (retrieval), and how many directions a
weight matrix uses (its singular values and effective rank).

- Linear CKA (Kornblith et al., 2019): for column-centred X (n x d1) and Y (n x d2),
  ||YᵀX||²_F / (||XᵀX||_F ||YᵀY||_F). It is 1 for Y = X Q with Q orthogonal or a scaling, and does
  not depend on the order of the features; rows must be the same sentences.
- Retrieval: each sentence of one language looks for its translation among all sentences of the
  other by cosine similarity (the XTREME BUCC/Tatoeba baseline, no margin scoring); accuracy is the
  share whose nearest neighbour is its translation, in each direction.
- Effective rank (Roy & Vetterli, 2007): exp of the entropy of the singular values normalised to
  sum to 1; between 1 (one direction) and min(rows, columns) (a flat spectrum).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xrep_assets.errors import XrepError


class MeasureError(XrepError):
    """Inputs a measure cannot compare (row counts that differ, too few rows)."""


def _paired(x: np.ndarray, y: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if x.ndim != 2 or y.ndim != 2 or x.shape[0] != y.shape[0]:
        raise MeasureError(f"{what} needs two matrices with one row per sentence, got shapes {x.shape} and {y.shape}")
    if x.shape[0] < 2:
        raise MeasureError(f"{what} needs at least 2 sentences, got {x.shape[0]}")
    return x, y


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear CKA between two representations of the same n sentences (NaN where one is constant)."""
    x, y = _paired(x, y, "CKA")
    x, y = x - x.mean(0), y - y.mean(0)
    # The d x d forms keep the cost linear in n (1,000 sentences, hidden sizes up to 1,024).
    cross = np.linalg.norm(y.T @ x) ** 2
    norm = np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y)
    return float(cross / norm) if norm > 0 else float("nan")


@dataclass(frozen=True)
class Retrieval:
    """Accuracy of finding each sentence's translation, both ways (`forward`: x's rows look among y's)."""

    forward: float
    backward: float


def retrieval_accuracy(x: np.ndarray, y: np.ndarray) -> Retrieval:
    """Row i of `x` and row i of `y` translate each other. A tie goes to the lower index, so two
    identical vectors never both count as found."""
    x, y = _paired(x, y, "retrieval")
    similarity = _unit_rows(x) @ _unit_rows(y).T
    truth = np.arange(len(x))
    return Retrieval(
        forward=float(np.mean(similarity.argmax(1) == truth)),
        backward=float(np.mean(similarity.argmax(0) == truth)),
    )


def _unit_rows(m: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    return m / np.where(norms > 0, norms, 1.0)


def effective_rank(singular_values: np.ndarray) -> float:
    """exp(entropy) of the normalised singular values (0 for an all-zero matrix)."""
    s = np.asarray(singular_values, np.float64)
    total = s.sum()
    if total <= 0:
        return 0.0
    p = s[s > 0] / total
    return float(np.exp(-(p * np.log(p)).sum()))
