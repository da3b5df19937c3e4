"""One encoder interface for every checkpoint: token and sentence vectors from a chosen layer.

An adapter per architecture family, chosen from `config.model_type`, says which stack's hidden states
are the representations: the whole model for encoder-only (BERT, XLM-R) and decoder-only (GPT-2)
models, the encoder stack for encoder-decoder models (BART, mBART, NLLB/M2M100, Marian). Layer 0 is
the embedding output, -1 the last layer.

The source language enters the input the way the model saw it in training (`lang_codes`):
- None: no language marker (mBERT, XLM-R, our MLM, CLM and BART-denoising models);
- "mbart" / "nllb": the tokenizer's `src_lang` is set and the tokenizer places the code itself
  (mBART-50 and NLLB put it first, mBART-cc25 after `</s>`);
- "iso": our tag, `[<src>] tokens [</s>]`, as our TLM and MT objectives build their sources.
The checkpoint's record says which (`language_codes_of`); `language_codes_for` derives it from the
study catalog for records written before they carried it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from transformers import AutoModel, AutoTokenizer, PreTrainedConfig, PreTrainedModel

from xrep_assets.checkpoints.hub_watch import hub_checkpoint, is_discovered_key
from xrep_assets.checkpoints.objectives import split_budget
from xrep_assets.checkpoints.record import read_record
from xrep_assets.errors import XrepError
from xrep_assets.study import (
    CONTINUED_PRETRAINING,
    SOURCE_LANGUAGE,
    CatalogError,
    HUB_CHECKPOINTS,
    OBJECTIVES,
    LanguageCodes,
    language_token,
)

Pooling = Literal["mean", "first", "last"]
POOLINGS: tuple[str, ...] = ("mean", "first", "last")

# Any one of these beside config.json is a loadable set of weights (the index files: sharded weights).
WEIGHT_FILES: tuple[str, ...] = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)


class EncoderError(XrepError):
    """A checkpoint the encoder cannot load or an input it cannot encode."""


# --------------------------------------------------------------------------------------------------
# Architecture adapters


@dataclass(frozen=True)
class StackAdapter:
    """Which stack of a model family yields the representations, and how many layers it has."""

    kind: Literal["encoder-only", "decoder-only", "encoder-decoder"]
    model_types: tuple[str, ...]

    def stack(self, model: PreTrainedModel) -> torch.nn.Module:
        return model.get_encoder() if self.kind == "encoder-decoder" else model

    def num_layers(self, config: PreTrainedConfig) -> int:
        return config.encoder_layers if self.kind == "encoder-decoder" else config.num_hidden_layers


ADAPTERS: tuple[StackAdapter, ...] = (
    StackAdapter("encoder-only", ("bert", "xlm-roberta", "roberta")),
    StackAdapter("decoder-only", ("gpt2",)),
    StackAdapter("encoder-decoder", ("bart", "mbart", "m2m_100", "marian")),
)


def adapter_for(model_type: str) -> StackAdapter:
    for adapter in ADAPTERS:
        if model_type in adapter.model_types:
            return adapter
    supported = ", ".join(t for adapter in ADAPTERS for t in adapter.model_types)
    raise EncoderError(f"no encoder adapter for model type {model_type!r}; supported: {supported}")


def checkpoint_model_type(path: Path) -> str:
    """The `model_type` of a Hugging Face checkpoint directory that also holds weights."""
    if not path.is_dir():
        raise EncoderError(f"{path}: no such checkpoint directory")
    config_file = path / "config.json"
    if not config_file.is_file():
        raise EncoderError(f"{path}: not a Hugging Face checkpoint (no config.json)")
    model_type = json.loads(config_file.read_text(encoding="utf-8")).get("model_type")
    if not model_type:
        raise EncoderError(f"{config_file}: no model_type")
    if not any((path / name).is_file() for name in WEIGHT_FILES):
        raise EncoderError(f"{path}: no model weights (expected one of {', '.join(WEIGHT_FILES)})")
    return model_type


# --------------------------------------------------------------------------------------------------
# Which language marker a checkpoint reads: its record, else the catalog


def source_marker(lang_codes: LanguageCodes, objective: str | None) -> bool:
    """Whether a checkpoint's inputs carry the source language: a model with its own codes (mBART,
    NLLB; a continued one keeps its tokenizer, so its codes), or one trained with a bitext objective
    of ours (`<src>` before every source segment). The hub's "iso" models (mBERT, XLM-R) and our
    monolingual objectives never saw a marker. `objective`: the one it was trained with (None: a
    hub model as fetched)."""
    return lang_codes != "iso" or (objective is not None and OBJECTIVES[objective].data == "bitext")


def input_language_codes(lang_codes: LanguageCodes, objective: str | None) -> LanguageCodes | None:
    """The encoder's `lang_codes` for a checkpoint of that convention and objective (None: no marker)."""
    return lang_codes if source_marker(lang_codes, objective) else None


def language_codes_of(directory: Path) -> LanguageCodes | None:
    """The language codes the encoder puts in the inputs of the checkpoint at `directory`, as its
    record (xrep_checkpoint.json) says. A record written before it carried them falls back to the
    catalog's answer for its key (`language_codes_for`)."""
    record = read_record(Path(directory))
    if record.identity_recorded:
        return record.input_codes
    return language_codes_for(record.key)


def language_codes_for(checkpoint_key: str) -> LanguageCodes | None:
    """How the checkpoint `checkpoint_key` of the study catalog (or a hub key the watch rules
    discover) was shown its source language, derived from the catalog (`source_marker`).

    Scoring asks the checkpoint's record instead (`language_codes_of`); this answers for records
    that predate it. (An objective trained with a different `init_from` than the catalog's is not
    recorded in the key; its record says what it reads.)
    """
    if checkpoint_key in CONTINUED_PRETRAINING:
        entry = CONTINUED_PRETRAINING[checkpoint_key]
        return input_language_codes(HUB_CHECKPOINTS[entry.init_from].lang_codes, entry.objective)
    if checkpoint_key in OBJECTIVES:
        return input_language_codes("iso", checkpoint_key)
    if checkpoint_key in HUB_CHECKPOINTS or is_discovered_key(checkpoint_key):
        try:
            entry = hub_checkpoint(checkpoint_key)
        except CatalogError as err:
            raise EncoderError(f"checkpoint {checkpoint_key!r}: {err}") from err
        return input_language_codes(entry.lang_codes, None)
    raise EncoderError(f"checkpoint {checkpoint_key!r} is not in the study catalog")


# --------------------------------------------------------------------------------------------------
# Pure helpers: pooling, layer checks, assembling token rows


def pool_hidden_states(hidden: torch.Tensor, attention_mask: torch.Tensor, pooling: Pooling) -> torch.Tensor:
    """(batch, length, hidden) -> (batch, hidden) over the real (mask 1) tokens of each row.

    "first" and "last" are found from the mask, so left and right padding give the same result.
    """
    mask = attention_mask.to(hidden.device)
    if pooling == "mean":
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1)
    rows = torch.arange(hidden.shape[0], device=hidden.device)
    if pooling == "first":
        return hidden[rows, mask.argmax(1)]
    if pooling == "last":
        return hidden[rows, mask.shape[1] - 1 - mask.flip(1).argmax(1)]
    raise EncoderError(f"unknown pooling {pooling!r}; known: {', '.join(POOLINGS)}")


def check_layer(layer: int, num_layers: int) -> None:
    """Hidden states hold num_layers + 1 entries: the embeddings, then one per layer."""
    if not -(num_layers + 1) <= layer <= num_layers:
        raise EncoderError(f"layer {layer} does not exist: the stack has layers 0 (embeddings) to {num_layers}")


def words_in_frame(
    pieces: Sequence[Sequence[int]], prefix: Sequence[int], suffix: Sequence[int], budget: int
) -> tuple[list[int], list[int | None]]:
    """`prefix + subwords + suffix` and each word's first-subword position (None: cut off by `budget`,
    the number of subwords that fit, or a word with no subword)."""
    ids, first = list(prefix), []
    for word in pieces:
        room = budget - (len(ids) - len(prefix))
        first.append(len(ids) if word and room > 0 else None)
        ids += list(word[: max(room, 0)])
    return ids + list(suffix), first


def padded_batch(
    rows: Sequence[Sequence[int]], pad_id: int, segments: Sequence[Sequence[int]] | None = None
) -> dict[str, torch.Tensor]:
    """Right-padded input ids with their attention mask (and segment ids, padded with 0)."""
    width = max(len(row) for row in rows)
    batch = {
        "input_ids": torch.tensor([list(row) + [pad_id] * (width - len(row)) for row in rows], dtype=torch.long),
        "attention_mask": torch.tensor([[1] * len(row) + [0] * (width - len(row)) for row in rows], dtype=torch.long),
    }
    if segments is not None:
        batch["token_type_ids"] = torch.tensor([list(s) + [0] * (width - len(s)) for s in segments], dtype=torch.long)
    return batch


def token_budget_batches(lengths: Sequence[int], token_budget: int, max_rows: int | None = None) -> list[list[int]]:
    """Row indices grouped into batches of similar length whose padded size (rows x longest row)
    stays within `token_budget` (a row longer than the budget gets a batch of its own).

    Rows are taken longest first, so each batch pads little and the first batch shows the peak
    memory at once; `max_rows` caps the rows of a batch of short texts.
    """
    if token_budget < 1:
        raise EncoderError(f"token_budget must be at least 1, got {token_budget}")
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    for index in order:
        batch = batches[-1] if batches else None
        # Sorted longest first: the batch's first row sets its padded width.
        if batch and (len(batch) + 1) * max(lengths[batch[0]], 1) <= token_budget and (max_rows is None or len(batch) < max_rows):
            batch.append(index)
        else:
            batches.append([index])
    return batches


def _max_positions(config) -> int:
    for name in ("max_position_embeddings", "n_positions"):
        value = getattr(config, name, None)
        if value:
            # RoBERTa-style position ids start after the padding index.
            return value - 2 if config.model_type in ("xlm-roberta", "roberta") else value
    return 512


def default_token_budget(device: str) -> int:
    """Padded tokens per encoding batch: a GPU wants big batches; on a CPU batches of ~4k tokens run
    faster per token than 16k ones (benchmarks/encoding.py: 1.2x), and pad less."""
    return 4096 if str(device).startswith("cpu") else 16_384


# --------------------------------------------------------------------------------------------------
# The encoder


class Encoder:
    """Token and sentence vectors of a Hugging Face checkpoint directory, from any layer of its stack.

    `lang_codes` says how the source language enters the input (module docstring); with it set, every
    call needs `lang`, without it `lang` is ignored. `pooling` turns token states into a sentence
    vector: the mean over real tokens, the first one ([CLS], or mBART-50's / NLLB's language code), or
    the last one (a causal model's summary of the whole text).

    Encoding many texts (`sentence_vectors`, `word_vectors`, `batches`) sorts them by length and fills
    each batch up to `token_budget` padded tokens (`default_token_budget`), so little compute goes to padding; `batch_size` is
    the fixed batch of callers that keep the data's order (training).
    """

    def __init__(
        self,
        path: Path,
        device: str = "cpu",
        max_length: int = 128,
        batch_size: int = 32,
        pooling: Pooling = "mean",
        lang_codes: LanguageCodes | None = None,
        token_budget: int | None = None,
    ):
        path = Path(path)
        if pooling not in POOLINGS:
            raise EncoderError(f"unknown pooling {pooling!r}; known: {', '.join(POOLINGS)}")
        self.adapter = adapter_for(checkpoint_model_type(path))
        self.path, self.device, self.batch_size = path, device, batch_size
        self.token_budget = token_budget or default_token_budget(device)
        self.pooling, self.lang_codes = pooling, lang_codes
        self.tokenizer = AutoTokenizer.from_pretrained(str(path))
        # Right padding keeps each real token at its own position in absolute-position models (BERT,
        # GPT-2); pooling reads the mask, so it does not depend on the side.
        self.tokenizer.padding_side = "right"
        if self.tokenizer.pad_token is None:  # GPT-2: padded positions are masked, any id will do
            self.tokenizer.pad_token = self.tokenizer.eos_token
        if lang_codes in ("mbart", "nllb") and not hasattr(self.tokenizer, "src_lang"):
            raise EncoderError(f"{path}: a {type(self.tokenizer).__name__} has no src_lang for {lang_codes} codes")
        model = AutoModel.from_pretrained(str(path))
        self.config = model.config
        self.stack = self.adapter.stack(model).to(device).eval()
        self.max_length = min(max_length, _max_positions(model.config))
        # BERT's segment embeddings tell the pair's second text apart; other models have none to use.
        self.uses_segments = self.adapter.kind == "encoder-only" and getattr(model.config, "type_vocab_size", 1) > 1

    def with_max_length(self, max_length: int) -> "Encoder":
        """The same model and tokenizer (shared, not loaded again) cutting inputs at `max_length`."""
        other = copy.copy(self)
        other.max_length = min(max_length, _max_positions(self.config))
        return other

    @property
    def num_layers(self) -> int:
        """Layers of the stack read (an encoder-decoder's encoder); hidden states hold one more."""
        return self.adapter.num_layers(self.config)

    @property
    def hidden_size(self) -> int:
        return self.config.hidden_size

    # -- the language marker ------------------------------------------------------------------------

    def _marker_language(self, lang: str | None) -> str:
        """`lang`, or English where the model has no code for it (mBART-50 has none for Bulgarian or
        Greek): the head was trained on English inputs, so an unknown language is shown as English."""
        if lang is None:
            raise EncoderError(f"{self.path} reads a source-language marker ({self.lang_codes} codes): pass lang")
        return lang if self._token_id_of(lang) is not None else SOURCE_LANGUAGE

    def _token_id_of(self, lang: str) -> int | None:
        try:
            token = language_token(lang, self.lang_codes)
        except CatalogError:
            return None
        token_id = self.tokenizer.convert_tokens_to_ids(token)
        return None if token_id is None or token_id == self.tokenizer.unk_token_id else token_id

    def _language_token_id(self, lang: str | None) -> int:
        """The id of `lang`'s code or tag in this tokenizer (English's where it has none)."""
        token_id = self._token_id_of(self._marker_language(lang))
        if token_id is None:
            raise EncoderError(f"the tokenizer of {self.path} has no {self.lang_codes} token for {lang!r} nor for English")
        return token_id

    def _set_source_language(self, lang: str | None) -> None:
        """mBART / NLLB tokenizers place the code of their `src_lang` themselves."""
        if self.lang_codes in ("mbart", "nllb"):
            self._language_token_id(lang)
            self.tokenizer.src_lang = language_token(self._marker_language(lang), self.lang_codes)

    def _tokenizer_frame(self, lang: str | None) -> tuple[list[int], list[int]]:
        """The ids the input puts before and after a text's subwords, the language marker included."""
        if self.lang_codes == "iso":
            return [self._language_token_id(lang)], [self.tokenizer.eos_token_id]
        self._set_source_language(lang)
        # Read off the tokenizer itself: a probe text with and without its special tokens.
        content = self.tokenizer("a", add_special_tokens=False)["input_ids"]
        full = self.tokenizer("a")["input_ids"]
        for start in range(len(full) - len(content) + 1):
            if full[start : start + len(content)] == content:
                return full[:start], full[start + len(content) :]
        raise EncoderError(f"the tokenizer of {self.path} changes a text's subwords when it adds special tokens")

    # -- encoding -----------------------------------------------------------------------------------

    def text_rows(
        self, texts_a: Sequence[str], texts_b: Sequence[str | None] | None = None, lang: str | None = None
    ) -> list[dict[str, list[int]]]:
        """Each text's (or pair's) unpadded model inputs, language marker included: `input_ids`, and
        `token_type_ids` where the model reads segments."""
        a = list(texts_a)
        b = None if texts_b is None else [t or "" for t in texts_b]
        if self.lang_codes == "iso":
            return [{"input_ids": ids} for ids in self._tagged_rows(a, b, lang)]
        self._set_source_language(lang)
        encoded = self.tokenizer(a, b, truncation=True, max_length=self.max_length)
        names = [name for name in self._input_names() if name in encoded]
        return [{name: encoded[name][i] for name in names} for i in range(len(a))]

    def collate(self, rows: Sequence[dict[str, list[int]]]) -> dict[str, torch.Tensor]:
        """Right-padded tensors of `text_rows` rows."""
        segments = [row["token_type_ids"] for row in rows] if "token_type_ids" in rows[0] else None
        return padded_batch([row["input_ids"] for row in rows], self.tokenizer.pad_token_id, segments)

    def encoded_texts(
        self, texts_a: Sequence[str], texts_b: Sequence[str | None] | None = None, lang: str | None = None
    ) -> dict[str, torch.Tensor]:
        """The model inputs of one batch of texts (or pairs), language marker included."""
        return self.collate(self.text_rows(texts_a, texts_b, lang))

    def _tagged_rows(self, a: list[str], b: list[str] | None, lang: str | None) -> list[list[int]]:
        """`[<src>] a [</s>]`, and for a pair `[<src>] a [</s>] [<src>] b [</s>]` as TLM joins a pair."""
        prefix, suffix = self._tokenizer_frame(lang)
        frame = len(prefix) + len(suffix)
        pieces_a = self.tokenizer(a, add_special_tokens=False)["input_ids"]
        if b is None:
            return [prefix + ids[: self.max_length - frame] + suffix for ids in pieces_a]
        rows = []
        for ids_a, ids_b in zip(pieces_a, self.tokenizer(b, add_special_tokens=False)["input_ids"], strict=True):
            keep_a, keep_b = split_budget(len(ids_a), len(ids_b), self.max_length - 2 * frame)
            rows.append(prefix + ids_a[:keep_a] + suffix + prefix + ids_b[:keep_b] + suffix)
        return rows

    def word_rows(
        self, sentences: Sequence[Sequence[str]], lang: str | None = None
    ) -> tuple[list[list[int]], list[list[int | None]]]:
        """The unpadded input ids of pre-split sentences and each word's first-subword position.

        Each word is tokenized on its own, as `is_split_into_words` does, and the language marker and
        special tokens framed around them, so the positions hold whatever the marker adds.
        """
        prefix, suffix = self._tokenizer_frame(lang)
        budget = self.max_length - len(prefix) - len(suffix)
        rows, firsts = [], []
        for words in sentences:
            pieces = self.tokenizer(list(words), add_special_tokens=False)["input_ids"] if words else []
            ids, first = words_in_frame(pieces, prefix, suffix, budget)
            rows.append(ids)
            firsts.append(first)
        return rows, firsts

    def encoded_words(
        self, sentences: Sequence[Sequence[str]], lang: str | None = None
    ) -> tuple[dict[str, torch.Tensor], list[list[int | None]]]:
        """The model inputs of pre-split sentences and each word's first-subword position."""
        rows, firsts = self.word_rows(sentences, lang)
        return padded_batch(rows, self.tokenizer.pad_token_id), firsts

    def batches(self, lengths: Sequence[int]) -> list[list[int]]:
        """Row indices in length-sorted batches of at most `token_budget` padded tokens."""
        return token_budget_batches(lengths, self.token_budget)

    def _input_names(self) -> tuple[str, ...]:
        return ("input_ids", "attention_mask") + (("token_type_ids",) if self.uses_segments else ())

    def all_hidden_states(self, inputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, ...]:
        """Every layer's (batch, length, hidden) states from one forward pass: the embeddings, then
        one entry per layer."""
        with torch.inference_mode():
            out = self.stack(**{k: v.to(self.device) for k, v in inputs.items()}, output_hidden_states=True)
        return out.hidden_states

    def hidden_states(self, inputs: dict[str, torch.Tensor], layer: int) -> torch.Tensor:
        """(batch, length, hidden) states after `layer` (0: the embeddings, -1: the last layer)."""
        check_layer(layer, self.num_layers)
        return self.all_hidden_states(inputs)[layer]

    # -- vectors ------------------------------------------------------------------------------------

    def sentence_vectors(
        self,
        texts_a: Sequence[str],
        texts_b: Sequence[str | None] | None = None,
        layer: int = -1,
        lang: str | None = None,
    ) -> np.ndarray:
        """One vector per text (or pair (a, b), encoded as the tokenizer pairs them), pooled over its tokens."""
        return self.sentence_vectors_by_layer(texts_a, texts_b, (layer,), lang)[0]

    def sentence_vectors_by_layer(
        self,
        texts_a: Sequence[str],
        texts_b: Sequence[str | None] | None = None,
        layers: Sequence[int] | None = None,
        lang: str | None = None,
    ) -> np.ndarray:
        """(layers, texts, hidden): each text's pooled vector at each of `layers` (None: all, 0 to
        `num_layers`), every layer from the same forward pass of each batch."""
        layers = tuple(range(self.num_layers + 1)) if layers is None else tuple(layers)
        for layer in layers:
            check_layer(layer, self.num_layers)
        rows = self.text_rows(texts_a, texts_b, lang)
        vectors = np.zeros((len(layers), len(rows), self.hidden_size), np.float32)
        for batch in self.batches([len(row["input_ids"]) for row in rows]):
            inputs = self.collate([rows[i] for i in batch])
            states = self.all_hidden_states(inputs)
            for index, layer in enumerate(layers):
                pooled = pool_hidden_states(states[layer], inputs["attention_mask"], self.pooling)
                vectors[index, batch] = pooled.float().cpu().numpy()
        return vectors

    def word_vectors(
        self, sentences: Sequence[Sequence[str]], layer: int = -1, lang: str | None = None
    ) -> list[np.ndarray]:
        """One vector per word: the word's first subword, the usual choice for tagging heads.

        Words cut off by `max_length` get a zero vector (their tag then comes from the head's bias).
        """
        check_layer(layer, self.num_layers)
        rows, firsts = self.word_rows(sentences, lang)
        result: list[np.ndarray] = [np.zeros((0, self.hidden_size), np.float32)] * len(rows)
        for batch in self.batches([len(row) for row in rows]):
            inputs = padded_batch([rows[i] for i in batch], self.tokenizer.pad_token_id)
            hidden = self.hidden_states(inputs, layer).float().cpu().numpy()
            for row, index in enumerate(batch):
                vectors = np.zeros((len(firsts[index]), hidden.shape[-1]), np.float32)
                for word, position in enumerate(firsts[index]):
                    if position is not None:
                        vectors[word] = hidden[row, position]
                result[index] = vectors
        return result
