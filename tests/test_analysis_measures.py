"""The analyses' measures against hand computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from xrep_assets.analysis.measures import MeasureError, effective_rank, linear_cka, retrieval_accuracy
from xrep_assets.analysis.spectrum import layer_of, weight_spectra


def random_matrix(seed: int, rows: int = 20, cols: int = 6) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(rows, cols))


@settings(max_examples=25, deadline=None, derandomize=True)
@given(seed=st.integers(0, 10_000), scale=st.floats(0.01, 100), shift=st.floats(-10, 10))
def test_cka_of_a_matrix_with_itself_an_orthogonal_transform_and_a_scaling_is_one(seed, scale, shift):
    x = random_matrix(seed)
    q, _ = np.linalg.qr(np.random.default_rng(seed + 1).normal(size=(6, 6)))
    assert linear_cka(x, x) == pytest.approx(1.0)
    assert linear_cka(x, x @ q) == pytest.approx(1.0)
    assert linear_cka(x, scale * x + shift) == pytest.approx(1.0)


def test_cka_by_hand():
    # Centred x = [-1, 0, 1] (one feature); y = [[-1, 1], [0, -2], [1, 1]] centred is itself.
    # yᵀx = [2, 0]: ||·||² = 4; ||xᵀx|| = 2; yᵀy = [[2, 0], [0, 6]]: ||·|| = √40. CKA = 4 / (2√40).
    x = np.array([[0.0], [1.0], [2.0]])
    y = np.array([[-1.0, 1.0], [0.0, -2.0], [1.0, 1.0]])
    assert linear_cka(x, y) == pytest.approx(4 / (2 * math.sqrt(40)))
    assert linear_cka(x, y) == pytest.approx(linear_cka(y, x))


def test_cka_of_unrelated_features_is_small_and_of_a_constant_is_nan():
    assert linear_cka(random_matrix(1, rows=2000, cols=4), random_matrix(2, rows=2000, cols=4)) < 0.02
    assert math.isnan(linear_cka(np.ones((5, 3)), random_matrix(3, rows=5, cols=3)))


def test_retrieval_of_identical_sentences_is_complete():
    x = random_matrix(4)
    found = retrieval_accuracy(x, x)
    assert (found.forward, found.backward) == (1.0, 1.0)


def test_retrieval_by_hand():
    # Cosine: row 0 of x points along e1, row 1 along e2, row 2 along e1 too (its translation, y's
    # row 2, points along -e1 + e2). x -> y: row 0 finds y0 (e1), row 1 finds y1 (e2), row 2 finds y0:
    # 2 of 3. y -> x: y0 finds x0 (tie with x2, lower index wins), y1 finds x1, y2 finds x1: 2 of 3.
    x = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 0.0]])
    y = np.array([[3.0, 0.0], [0.0, 1.0], [-1.0, 1.0]])
    found = retrieval_accuracy(x, y)
    assert (found.forward, found.backward) == (pytest.approx(2 / 3), pytest.approx(2 / 3))


def test_shapes_that_cannot_be_compared_are_refused():
    with pytest.raises(MeasureError, match=r"one row per sentence, got shapes \(3, 2\) and \(4, 2\)"):
        linear_cka(np.zeros((3, 2)), np.zeros((4, 2)))
    with pytest.raises(MeasureError, match="at least 2 sentences"):
        retrieval_accuracy(np.zeros((1, 2)), np.zeros((1, 2)))


def test_effective_rank_by_hand():
    assert effective_rank(np.array([5.0, 0.0, 0.0])) == pytest.approx(1.0)
    assert effective_rank(np.array([2.0, 2.0, 2.0, 2.0])) == pytest.approx(4.0)
    # p = (3/4, 1/4): exp(-(3/4 ln 3/4 + 1/4 ln 1/4))
    assert effective_rank(np.array([3.0, 1.0])) == pytest.approx(math.exp(-(0.75 * math.log(0.75) + 0.25 * math.log(0.25))))
    assert effective_rank(np.zeros(3)) == 0.0


def test_spectra_by_hand_and_layers_by_name():
    stack = torch.nn.ModuleDict({
        "embeddings": torch.nn.ModuleDict({"word_embeddings": torch.nn.Embedding(3, 2)}),
        "layers": torch.nn.ModuleList([torch.nn.Linear(2, 2), torch.nn.Linear(2, 3)]),
        "pooler": torch.nn.Linear(2, 2),
    })
    with torch.no_grad():
        stack["layers"][0].weight.copy_(torch.tensor([[3.0, 0.0], [0.0, -4.0]]))
    spectra = {s.name: s for s in weight_spectra(stack)}
    assert sorted(spectra) == ["embeddings.word_embeddings.weight", "layers.0.weight", "layers.1.weight"]
    assert [spectra[n].layer for n in sorted(spectra)] == [0, 1, 2]
    np.testing.assert_allclose(spectra["layers.0.weight"].singular_values, [4.0, 3.0])
    assert spectra["layers.1.weight"].shape == (3, 2)
    assert layer_of("encoder.layer.11.output.dense.weight") == 12 and layer_of("h.0.attn.c_attn.weight") == 1
    assert layer_of("wte.weight") == 0 and layer_of("pooler.dense.weight") is None
