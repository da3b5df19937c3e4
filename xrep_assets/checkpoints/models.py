"""The model side of the pretraining objectives: each objective's architecture (its catalog `family`)
as transformers classes, and its training loss (its catalog `loss` kind).

bert -> BERT; gpt2 -> GPT-2; bart -> BART (post-norm, embedding LayerNorm: fairseq's bart_base with
--layernorm-embedding); mbart -> the same with pre-norm stacks (train-bart-mt.sh's
--encoder-normalize-before --decoder-normalize-before), which is transformers' MBart architecture;
marian -> the Vaswani et al. Transformer (MarianMTModel: sinusoidal positions, scaled embeddings,
post-LN, ReLU, one embedding matrix shared by source, target and output). Models are built fresh (`build_model`) or continued from a local Hugging Face
checkpoint (`load_init_from`); `objective_loss` is the training loss the worker minimises.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoModelForMaskedLM,
    AutoModelForSeq2SeqLM,
    BartConfig,
    BartForConditionalGeneration,
    BertConfig,
    BertForMaskedLM,
    GPT2Config,
    GPT2LMHeadModel,
    MBartConfig,
    MBartForConditionalGeneration,
    MarianConfig,
    MarianMTModel,
    PreTrainedConfig,
    PreTrainedModel,
)

from xrep_assets.checkpoints.vocabulary import TokenIds
from xrep_assets.errors import XrepError
from xrep_assets.profiles import ModelSize
from xrep_assets.study import OBJECTIVES, Family, Objective

ATTENTION = "sdpa"  # PyTorch's fused scaled-dot-product attention: the fast path on CPU and GPU alike
IGNORE_INDEX = -100  # label of positions without a loss (transformers' convention)

SizeVariant = Literal["study", "matched"]


class ModelError(XrepError):
    """A model cannot be built, loaded or trained as asked."""


@dataclass(frozen=True)
class Dropouts:
    """The recipe's dropout rates; None keeps the architecture's own default."""

    dropout: float | None = None  # residual, embedding (and BERT's hidden) dropout
    attention: float | None = None  # on the attention weights
    activation: float | None = None  # inside the feed-forward block (two-stack models only)

    def config_fields(self, model_type: str) -> dict[str, float]:
        """The values under the names `model_type`'s transformers config uses."""
        names = {
            "bert": {"dropout": ("hidden_dropout_prob",), "attention": ("attention_probs_dropout_prob",), "activation": ()},
            "xlm-roberta": {"dropout": ("hidden_dropout_prob",), "attention": ("attention_probs_dropout_prob",), "activation": ()},
            "gpt2": {"dropout": ("resid_pdrop", "embd_pdrop"), "attention": ("attn_pdrop",), "activation": ()},
        }.get(model_type, {"dropout": ("dropout",), "attention": ("attention_dropout",), "activation": ("activation_dropout",)})
        fields: dict[str, float] = {}
        for rate, value in (("dropout", self.dropout), ("attention", self.attention), ("activation", self.activation)):
            if value is not None:
                fields.update({name: value for name in names[rate]})
        return fields


# --------------------------------------------------------------------------------------------------
# Configurations: one per architecture, from the tokenizer's ids and one stack's size


def bert_config(ids: TokenIds, size: ModelSize) -> BertConfig:
    return BertConfig(
        vocab_size=ids.size,
        hidden_size=size.hidden,
        num_hidden_layers=size.layers,
        num_attention_heads=size.heads,
        intermediate_size=size.ffn,
        max_position_embeddings=size.max_positions,
        pad_token_id=ids.pad,
        bos_token_id=ids.bos,
        eos_token_id=ids.eos,
    )


def gpt2_config(ids: TokenIds, size: ModelSize) -> GPT2Config:
    return GPT2Config(
        vocab_size=ids.size,
        n_embd=size.hidden,
        n_layer=size.layers,
        n_head=size.heads,
        n_inner=size.ffn,
        n_positions=size.max_positions,
        pad_token_id=ids.pad,
        bos_token_id=ids.bos,
        eos_token_id=ids.eos,
    )


def _seq2seq_fields(ids: TokenIds, size: ModelSize) -> dict:
    """What BART and the Transformer share: per-stack size, and labels shifted right behind `eos`."""
    return dict(
        vocab_size=ids.size,
        d_model=size.hidden,
        encoder_layers=size.layers,
        decoder_layers=size.layers,
        encoder_attention_heads=size.heads,
        decoder_attention_heads=size.heads,
        encoder_ffn_dim=size.ffn,
        decoder_ffn_dim=size.ffn,
        max_position_embeddings=size.max_positions,
        pad_token_id=ids.pad,
        bos_token_id=ids.bos,
        eos_token_id=ids.eos,
        forced_eos_token_id=ids.eos,
        # Labels are `[tgt-lang] ... [eos]` (mBART-50 style); the decoder reads `[eos] [tgt-lang] ...`.
        decoder_start_token_id=ids.eos,
    )


def bart_config(ids: TokenIds, size: ModelSize) -> BartConfig:
    return BartConfig(**_seq2seq_fields(ids, size))


def prenorm_bart_config(ids: TokenIds, size: ModelSize) -> MBartConfig:
    # MBart is BART with pre-norm layers, a final LayerNorm per stack and the embedding LayerNorm:
    # fairseq's bart_base under --encoder/--decoder-normalize-before --layernorm-embedding. Unscaled
    # embeddings, as bart_base.
    return MBartConfig(**_seq2seq_fields(ids, size), scale_embedding=False)


def transformer_config(ids: TokenIds, size: ModelSize) -> MarianConfig:
    # Marian's defaults are already Vaswani's post-LN stack with sinusoidal positions and one embedding
    # matrix tied to the output; the paper also scales embeddings by sqrt(d) and uses ReLU.
    return MarianConfig(
        **_seq2seq_fields(ids, size),
        scale_embedding=True,
        activation_function="relu",
        share_encoder_decoder_embeddings=True,
        tie_word_embeddings=True,
    )


@dataclass(frozen=True)
class Architecture:
    model_class: type[PreTrainedModel]
    make_config: Callable[[TokenIds, ModelSize], PreTrainedConfig]
    auto_class: type  # the Auto*For* class that loads a checkpoint to continue from
    model_types: tuple[str, ...]  # `model_type`s `load_init_from` accepts
    two_stack: bool  # encoder-decoder: the size is per stack


# By the catalog's family (study.Objective.family) of the objectives.
ARCHITECTURES: dict[Family, Architecture] = {
    "bert": Architecture(BertForMaskedLM, bert_config, AutoModelForMaskedLM, ("bert", "xlm-roberta", "roberta"), False),
    "gpt2": Architecture(GPT2LMHeadModel, gpt2_config, AutoModelForCausalLM, ("gpt2",), False),
    "bart": Architecture(BartForConditionalGeneration, bart_config, AutoModelForSeq2SeqLM, ("bart", "mbart"), True),
    "marian": Architecture(MarianMTModel, transformer_config, AutoModelForSeq2SeqLM, ("marian", "m2m_100"), True),
    "mbart": Architecture(MBartForConditionalGeneration, prenorm_bart_config, AutoModelForSeq2SeqLM, ("bart", "mbart"), True),
}

# The single-stack model the `matched` variant sizes the two-stack models against.
REFERENCE_OBJECTIVE = "mlm"


def objective_entry(objective: str) -> Objective:
    if objective not in OBJECTIVES:
        raise ModelError(f"unknown objective {objective!r}; known: {', '.join(OBJECTIVES)}")
    return OBJECTIVES[objective]


def architecture_for(objective: str) -> Architecture:
    return ARCHITECTURES[objective_entry(objective).family]


# --------------------------------------------------------------------------------------------------
# Building and sizing


def build_model(objective: str, ids: TokenIds, size: ModelSize, dropouts: Dropouts = Dropouts()) -> PreTrainedModel:
    """A freshly initialised model for `objective`; under `torch.device("meta")` it costs no memory."""
    architecture = architecture_for(objective)
    config = architecture.make_config(ids, size)
    for name, value in dropouts.config_fields(config.model_type).items():
        setattr(config, name, value)
    return architecture.model_class._from_config(config, attn_implementation=ATTENTION)


def count_parameters(model: nn.Module) -> int:
    """Learned parameters, each counted once.

    `parameters()` yields a tied tensor once (BERT's, GPT-2's and BART's output layer is the input
    embedding); frozen tensors are left out because they are not learned: the Transformer's sinusoidal
    position table is a fixed function of the position.
    """
    # `from_pretrained` marks every loaded tensor trainable again, so sinusoidal tables are found by module.
    fixed = {
        id(p)
        for module in model.modules()
        if type(module).__name__.endswith("SinusoidalPositionalEmbedding")
        for p in module.parameters(recurse=False)
    }
    return sum(p.numel() for p in model.parameters() if p.requires_grad and id(p) not in fixed)


def meta_parameter_count(objective: str, ids: TokenIds, size: ModelSize) -> int:
    with torch.device("meta"):
        return count_parameters(build_model(objective, ids, size))


def placeholder_ids(vocab_size: int | None) -> TokenIds:
    """Ids good enough to size a model; no vocabulary (4 rows) when the real size is unknown."""
    return TokenIds(size=max(vocab_size or 4, 4), pad=0, bos=1, eos=2, mask=3, languages={})


def matched_layers(objective: str, single: ModelSize, per_stack: ModelSize, vocab_size: int | None) -> int:
    """Layers per stack that bring the two-stack model's parameter count closest to the single-stack model's.

    Counted by building on the meta device. The count is linear in the layers per stack (each adds one
    encoder and one decoder layer), so two builds give its intercept and slope.
    """
    ids = placeholder_ids(vocab_size)
    target = meta_parameter_count(REFERENCE_OBJECTIVE, ids, single)
    one = meta_parameter_count(objective, ids, replace(per_stack, layers=1))
    per_layer = meta_parameter_count(objective, ids, replace(per_stack, layers=2)) - one
    base = one - per_layer
    ideal = (target - base) / per_layer
    candidates = {max(1, math.floor(ideal)), max(1, math.ceil(ideal))}
    return min(sorted(candidates), key=lambda layers: abs(base + layers * per_layer - target))


def model_size(
    objective: str,
    single: ModelSize,
    seq2seq: ModelSize,
    variant: SizeVariant = "study",
    vocab_size: int | None = None,
) -> ModelSize:
    """The size (per stack for encoder-decoders) `objective`'s model is built with.

    "study": the study's sizes, `single` for BERT/GPT-2 and `seq2seq` per stack for BART and the
    Transformer. "matched": the two-stack models take the single-stack width, heads and FFN, with the
    layers per stack that match the single-stack model's parameter count at `vocab_size` (None: the
    models without their token embeddings); they keep `seq2seq`'s positions, which their data needs.
    Single-stack objectives are the same in both variants.
    """
    architecture = architecture_for(objective)
    if variant not in ("study", "matched"):
        raise ModelError(f"unknown size variant {variant!r}; known: study, matched")
    if not architecture.two_stack:
        return single
    if variant == "study":
        return seq2seq
    per_stack = replace(single, max_positions=seq2seq.max_positions)
    return replace(per_stack, layers=matched_layers(objective, single, per_stack, vocab_size))


# --------------------------------------------------------------------------------------------------
# Continuing from a checkpoint


def load_init_from(objective: str, source: Path, ids: TokenIds, dropouts: Dropouts = Dropouts()) -> PreTrainedModel:
    """Loads a local Hugging Face checkpoint directory to continue pretraining it with `objective`."""
    architecture = architecture_for(objective)
    source = Path(source)
    if not source.is_dir():
        raise ModelError(f"{source}: no such checkpoint directory")
    if not (source / "config.json").is_file():
        raise ModelError(f"{source}: not a Hugging Face checkpoint (no config.json)")
    config = AutoConfig.from_pretrained(source, trust_remote_code=False)
    if config.model_type not in architecture.model_types:
        raise ModelError(
            f"{source}: a {config.model_type!r} checkpoint cannot continue {objective!r}; "
            f"accepted model types: {', '.join(architecture.model_types)}"
        )
    # The recipe's dropouts replace the checkpoint's, as fairseq's --dropout does on a restored model.
    model = architecture.auto_class.from_pretrained(
        source, trust_remote_code=False, attn_implementation=ATTENTION, **dropouts.config_fields(config.model_type)
    )
    rows = model.get_input_embeddings().num_embeddings
    # Fewer tokens than rows is fine (mBART's embeddings have extra rows); more would index past the table.
    if ids.size > rows:
        raise ModelError(f"{source}: the tokenizer has {ids.size} tokens but the model's embeddings only {rows} rows")
    return model


# --------------------------------------------------------------------------------------------------
# Losses


def require(batch: dict[str, Tensor], keys: tuple[str, ...], objective: str) -> dict[str, Tensor]:
    missing = [key for key in keys if key not in batch]
    if missing:
        raise ModelError(f"a {objective!r} batch needs {', '.join(missing)}; it has {', '.join(batch)}")
    return {key: batch[key] for key in keys}


def mlm_encoder_and_head(model: nn.Module) -> tuple[nn.Module, nn.Module]:
    """The encoder stack and the vocabulary head of a masked LM, for BERT and the RoBERTa family (XLM-R)."""
    if hasattr(model, "bert") and hasattr(model, "cls"):
        return model.bert, model.cls
    if hasattr(model, "roberta") and hasattr(model, "lm_head"):
        return model.roberta, model.lm_head
    raise ModelError(f"{type(model).__name__} is not a masked LM this module knows (BERT, RoBERTa, XLM-R)")


def sparse_mlm_loss(model: nn.Module, batch: dict[str, Tensor], label_smoothing: float = 0.0) -> Tensor:
    """MLM cross-entropy with the vocabulary head applied at the masked positions only.

    Equal to the model's own loss, but with a 100k vocabulary the head is more than half of BERT's
    compute, and only ~15% of the positions carry a label.
    """
    inputs = require(batch, ("input_ids", "attention_mask", "labels"), "mlm")
    encoder, head = mlm_encoder_and_head(model)
    extra = {"token_type_ids": batch["token_type_ids"]} if "token_type_ids" in batch else {}
    hidden = encoder(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"], **extra)[0]
    labels = inputs["labels"]
    masked = labels != IGNORE_INDEX
    logits = head(hidden[masked])
    return F.cross_entropy(logits.float(), labels[masked], label_smoothing=label_smoothing)


def smoothed_loss(model: nn.Module, inputs: dict[str, Tensor], label_smoothing: float, seq2seq: bool) -> Tensor:
    """Label-smoothed cross-entropy (the study's label_smoothed_cross_entropy), mean over the labelled
    tokens. PyTorch spreads the smoothing mass over all V classes, fairseq over the V - 1 wrong ones: a
    1/V difference in the weight of each wrong class, negligible at the study's 100k vocabulary."""
    labels = inputs["labels"]
    if seq2seq:
        # The decoder input built from the labels, as the model's own loss path builds it.
        decoder_input_ids = model.prepare_decoder_input_ids_from_labels(labels=labels)
        logits = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"], decoder_input_ids=decoder_input_ids).logits
    else:  # a causal LM predicts the next token
        logits = model(**{k: v for k, v in inputs.items() if k != "labels"}).logits[:, :-1]
        labels = labels[:, 1:]
    return F.cross_entropy(
        logits.flatten(0, 1).float(), labels.flatten(), ignore_index=IGNORE_INDEX, label_smoothing=label_smoothing
    )


def objective_loss(objective: str, model: nn.Module, batch: dict[str, Tensor], label_smoothing: float = 0.0) -> Tensor:
    """The training loss of `objective` on one batch (labels are -100 where there is nothing to predict),
    by its catalog `loss` kind.

    masked: input_ids, attention_mask, labels. causal and seq2seq: the same, the model shifts the labels
    (GPT-2 inside its loss, the encoder-decoders behind the decoder start); plus position_ids under
    `position_reset` (TLM: they restart at the second sentence of the pair).
    """
    entry = objective_entry(objective)
    if entry.loss == "masked":
        return sparse_mlm_loss(model, batch, label_smoothing)
    keys = ("input_ids", "attention_mask", "labels") + (("position_ids",) if entry.position_reset else ())
    inputs = require(batch, keys, objective)
    if label_smoothing > 0:
        return smoothed_loss(model, inputs, label_smoothing, entry.loss == "seq2seq")
    return model(**inputs).loss
