"""One encoder interface for every checkpoint: token and sentence vectors from a chosen layer.

Encoder-only models (BERT, XLM-R) and decoder-only models (GPT-2) use the whole stack;
encoder-decoder models (BART, mBART, NLLB/M2M100, Marian) use their encoder stack only.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModel, AutoTokenizer


class Encoder:
    """Loads a Hugging Face checkpoint directory and returns mean-pooled or first-subword vectors."""

    def __init__(self, path: Path, device: str = "cpu", max_length: int = 128, batch_size: int = 32):
        self.tokenizer = AutoTokenizer.from_pretrained(str(path))
        model = AutoModel.from_pretrained(str(path))
        self.stack = model.get_encoder() if model.config.is_encoder_decoder else model
        self.stack.to(device).eval()
        self.device = device
        self.batch_size = batch_size
        self.max_length = min(max_length, _max_positions(model.config))

    @property
    def num_layers(self) -> int:
        return self.stack.config.num_hidden_layers

    def _hidden_states(self, encoded: dict, layer: int) -> torch.Tensor:
        with torch.inference_mode():
            out = self.stack(**{k: v.to(self.device) for k, v in encoded.items()}, output_hidden_states=True)
        return out.hidden_states[layer]  # index 0 is the embeddings, -1 the last layer

    def sentence_vectors(
        self, texts_a: Sequence[str], texts_b: Sequence[str | None] | None = None, layer: int = -1
    ) -> np.ndarray:
        """Mean over the non-padding tokens of (a) or of the pair (a, b) encoded as the tokenizer pairs them."""
        vectors = []
        for start in range(0, len(texts_a), self.batch_size):
            a = list(texts_a[start : start + self.batch_size])
            b = None if texts_b is None else [t or "" for t in texts_b[start : start + self.batch_size]]
            encoded = self.tokenizer(
                a, b, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
            )
            encoded.pop("token_type_ids", None)
            hidden = self._hidden_states(encoded, layer)
            mask = encoded["attention_mask"].to(hidden.device).unsqueeze(-1).to(hidden.dtype)
            vectors.append(((hidden * mask).sum(1) / mask.sum(1).clamp(min=1)).float().cpu().numpy())
        return np.concatenate(vectors) if vectors else np.zeros((0, self.stack.config.hidden_size), np.float32)

    def word_vectors(self, sentences: Sequence[Sequence[str]], layer: int = -1) -> list[np.ndarray]:
        """One vector per word: the word's first subword, the usual choice for tagging heads.

        Words cut off by `max_length` get a zero vector (their tag then comes from the head's bias).
        """
        result: list[np.ndarray] = []
        for start in range(0, len(sentences), self.batch_size):
            batch = [list(s) for s in sentences[start : start + self.batch_size]]
            encoded = self.tokenizer(
                batch, is_split_into_words=True, padding=True, truncation=True,
                max_length=self.max_length, return_tensors="pt",
            )
            word_ids = [encoded.word_ids(i) for i in range(len(batch))]
            encoded.pop("token_type_ids", None)
            hidden = self._hidden_states(dict(encoded), layer).float().cpu().numpy()
            for i, words in enumerate(batch):
                vectors = np.zeros((len(words), hidden.shape[-1]), np.float32)
                seen: set[int] = set()
                for position, word in enumerate(word_ids[i]):
                    if word is not None and word not in seen:
                        seen.add(word)
                        vectors[word] = hidden[i, position]
                result.append(vectors)
        return result


def _max_positions(config) -> int:
    for name in ("max_position_embeddings", "n_positions"):
        value = getattr(config, name, None)
        if value:
            # RoBERTa-style position ids start after the padding index.
            return value - 2 if config.model_type in ("xlm-roberta", "roberta") else value
    return 512
