"""The singular values of every weight matrix of an encoder stack, filed under the layer they belong to.

Layers are numbered as the encoder's hidden states are: 0 the embeddings, i the i-th layer (a
parameter of the stack's block list at index i - 1: BERT's `encoder.layer.N`, GPT-2's `h.N`, an
encoder-decoder encoder's `layers.N`). Matrices outside both (BERT's pooler) are not the
representations the other analyses read, and are left out; so are vectors (biases, layer norms).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import torch

from xrep_assets.analysis.measures import effective_rank

_BLOCK = re.compile(r"(?:^|\.)(?:layer|layers|h|block)\.(\d+)\.")
_EMBEDDING = re.compile(r"(?:^|\.)(?:embeddings|embed_tokens|embed_positions|wte|wpe)(?:\.|$)")


@dataclass(frozen=True)
class MatrixSpectrum:
    layer: int
    name: str  # the parameter's name in the stack
    shape: tuple[int, int]
    singular_values: np.ndarray  # descending

    @property
    def effective_rank(self) -> float:
        return effective_rank(self.singular_values)


def layer_of(name: str) -> int | None:
    """The hidden-state index a parameter feeds (0: embeddings), None for any other."""
    block = _BLOCK.search(name)
    if block:
        return int(block.group(1)) + 1
    return 0 if _EMBEDDING.search(name) else None


def weight_spectra(stack: torch.nn.Module) -> list[MatrixSpectrum]:
    """Each 2-D weight's singular values (computed in float32 on the stack's device), in parameter order."""
    spectra = []
    with torch.inference_mode():
        for name, parameter in stack.named_parameters():
            layer = layer_of(name)
            if parameter.ndim != 2 or layer is None:
                continue
            values = torch.linalg.svdvals(parameter.detach().float()).double().cpu().numpy()
            spectra.append(MatrixSpectrum(layer, name, tuple(parameter.shape), values))
    return spectra
