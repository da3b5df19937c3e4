"""The six objectives' models: architecture, losses, save/load round trips, sizes and continued pretraining."""

from __future__ import annotations

import math

import pytest
import torch
from transformers import (
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForMaskedLM,
    AutoModelForSeq2SeqLM,
    BartForConditionalGeneration,
    BertForMaskedLM,
    GPT2LMHeadModel,
    M2M100Config,
    M2M100ForConditionalGeneration,
    MarianMTModel,
    MBartConfig,
    MBartForConditionalGeneration,
    XLMRobertaConfig,
    XLMRobertaForMaskedLM,
)

from xrep_assets.checkpoints.models import (
    ARCHITECTURES,
    ModelError,
    SizeVariant,
    build_model,
    count_parameters,
    load_init_from,
    meta_parameter_count,
    model_size,
    objective_loss,
    placeholder_ids,
)
from xrep_assets.checkpoints.vocabulary import TokenIds
from xrep_assets.profiles import PROFILES, ModelSize
from xrep_assets.study import OBJECTIVES

V, H, P, F_, L = 60, 32, 64, 64, 2  # vocabulary, hidden, positions, FFN, layers of the tiny models
TINY = ModelSize(layers=L, hidden=H, heads=2, ffn=F_, max_positions=P)
IDS = TokenIds(size=V, pad=0, bos=1, eos=2, mask=3, languages={"en": 4, "fr": 5})
X = -100  # no label

EXPECTED_CLASS = {
    "mlm": (BertForMaskedLM, AutoModelForMaskedLM),
    "clm": (GPT2LMHeadModel, AutoModelForCausalLM),
    "tlm": (GPT2LMHeadModel, AutoModelForCausalLM),
    "bart-denoising": (BartForConditionalGeneration, AutoModelForSeq2SeqLM),
    "mt-transformer": (MarianMTModel, AutoModelForSeq2SeqLM),
    "mt-bart": (MBartForConditionalGeneration, AutoModelForSeq2SeqLM),  # BART with pre-norm stacks
}


def hand_made_batch(objective: str) -> dict[str, torch.Tensor]:
    """Two sequences, the second padded, with labels only where the objective predicts something."""
    mask = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 0]])
    if objective == "mlm":  # [bos] w [mask] w [mask] [eos]: predict the two masked words
        return {
            "input_ids": torch.tensor([[1, 10, 3, 12, 3, 2], [1, 20, 21, 3, 2, 0]]),
            "attention_mask": mask,
            "labels": torch.tensor([[X, X, 11, X, 13, X], [X, X, X, 22, X, X]]),
        }
    if objective in ("clm", "tlm"):
        input_ids = torch.tensor([[1, 4, 10, 11, 5, 30], [1, 4, 20, 5, 40, 0]])
        batch = {"input_ids": input_ids, "attention_mask": mask, "labels": input_ids.masked_fill(mask == 0, X)}
        if objective == "tlm":  # <en> sentence, then <fr> its translation: positions restart with the second
            batch["position_ids"] = torch.tensor([[0, 1, 2, 3, 0, 1], [0, 1, 2, 0, 1, 0]])
        return batch
    # seq2seq: source sentence in, `[tgt-lang] ... [eos]` out
    return {
        "input_ids": torch.tensor([[4, 10, 11, 12, 13, 2], [4, 20, 21, 22, 2, 0]]),
        "attention_mask": mask,
        "labels": torch.tensor([[5, 30, 31, 2], [5, 40, 2, X]]),
    }


def test_every_catalog_family_has_an_architecture_that_fits_its_loss():
    assert set(ARCHITECTURES) == {o.family for o in OBJECTIVES.values()}
    heads = {"masked": AutoModelForMaskedLM, "causal": AutoModelForCausalLM, "seq2seq": AutoModelForSeq2SeqLM}
    for objective in OBJECTIVES.values():
        architecture = ARCHITECTURES[objective.family]
        assert architecture.auto_class is heads[objective.loss], objective.key
        assert architecture.two_stack == (objective.loss == "seq2seq"), objective.key


@pytest.mark.parametrize("objective", list(OBJECTIVES))
def test_each_objective_trains_and_round_trips_through_save_pretrained(objective, tmp_path):
    torch.manual_seed(0)
    model = build_model(objective, IDS, TINY)
    model_class, auto_class = EXPECTED_CLASS[objective]
    assert type(model) is model_class
    assert model.config._attn_implementation == "sdpa"
    assert model.get_input_embeddings().num_embeddings == V
    assert model.config.pad_token_id == 0 and model.config.eos_token_id == 2

    loss = objective_loss(objective, model, hand_made_batch(objective))
    # A fresh model predicts close to uniformly over the 60 tokens.
    assert abs(loss.item() - math.log(V)) < 0.5
    loss.backward()
    assert model.get_input_embeddings().weight.grad.abs().sum() > 0

    model.save_pretrained(tmp_path)
    full = auto_class.from_pretrained(tmp_path)
    assert type(full) is model_class
    for name, tensor in model.state_dict().items():
        assert torch.equal(full.state_dict()[name], tensor), name
    base = AutoModel.from_pretrained(tmp_path)
    for name, tensor in model.base_model.state_dict().items():
        assert torch.equal(base.state_dict()[name], tensor), name


@pytest.mark.parametrize("objective", ["bart-denoising", "mt-bart", "mt-transformer"])
def test_seq2seq_decoders_start_behind_eos(objective):
    model = build_model(objective, IDS, TINY)
    labels = hand_made_batch(objective)["labels"]
    decoder_inputs = model.prepare_decoder_input_ids_from_labels(labels=labels)
    assert decoder_inputs.tolist() == [[2, 5, 30, 31], [2, 5, 40, 2]]


def test_transformer_is_vaswanis():
    model = build_model("mt-transformer", IDS, TINY)
    shared = model.get_input_embeddings().weight
    assert model.model.encoder.embed_tokens.weight is shared
    assert model.model.decoder.embed_tokens.weight is shared
    assert model.lm_head.weight is shared
    assert model.model.encoder.embed_scale == pytest.approx(math.sqrt(H))
    assert model.config.activation_function == "relu"
    positions = model.model.encoder.embed_positions.weight
    assert not positions.requires_grad
    # Marian's sinusoid layout: sin(pos / 10000^(2i/d)) in the first half, cos in the second.
    assert positions[5, 0].item() == pytest.approx(math.sin(5.0))
    assert positions[5, H // 2].item() == pytest.approx(math.cos(5.0))
    all_parameters = sum(p.numel() for p in model.parameters())
    assert count_parameters(model) == all_parameters - 2 * P * H  # the two frozen position tables


def test_count_parameters_counts_gpt2_tied_output_once():
    # wte + wpe + per layer (2 LN, qkv, attention out, FFN in and out) + final LN; lm_head is wte.
    per_layer = 2 * H + (H * 3 * H + 3 * H) + (H * H + H) + 2 * H + (H * F_ + F_) + (F_ * H + H)
    assert count_parameters(build_model("clm", IDS, TINY)) == V * H + P * H + L * per_layer + 2 * H


def mlm_model_and_batch() -> tuple[BertForMaskedLM, dict[str, torch.Tensor]]:
    torch.manual_seed(1)
    return build_model("mlm", IDS, TINY).eval(), hand_made_batch("mlm")


def gradients(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    return grads


@pytest.mark.parametrize("masked_lm", ["bert", "xlm-roberta"])
def test_sparse_mlm_loss_and_gradients_equal_the_dense_ones(masked_lm, tmp_path):
    if masked_lm == "bert":
        model, batch = mlm_model_and_batch()
    else:  # the RoBERTa-family head, reached through a continued checkpoint
        torch.manual_seed(2)
        config = XLMRobertaConfig(
            vocab_size=V, hidden_size=H, num_hidden_layers=L, num_attention_heads=2, intermediate_size=F_,
            max_position_embeddings=P + 2, pad_token_id=0, bos_token_id=1, eos_token_id=2,
        )
        XLMRobertaForMaskedLM(config).save_pretrained(tmp_path)
        model, batch = load_init_from("mlm", tmp_path, IDS).eval(), hand_made_batch("mlm")
    sparse = objective_loss("mlm", model, batch)
    sparse.backward()
    sparse_grads = gradients(model)
    dense = model(**batch).loss
    dense.backward()
    dense_grads = gradients(model)

    assert torch.allclose(sparse, dense, atol=1e-6)
    assert sparse_grads.keys() == dense_grads.keys() and len(sparse_grads) > 10
    for name, grad in dense_grads.items():
        assert torch.allclose(sparse_grads[name], grad, atol=1e-6), name


def test_sparse_mlm_loss_projects_only_the_masked_positions():
    model, batch = mlm_model_and_batch()
    seen: list[tuple[int, ...]] = []
    model.cls.predictions.decoder.register_forward_hook(lambda _m, _i, out: seen.append(tuple(out.shape)))
    objective_loss("mlm", model, batch)
    assert seen == [(3, V)]  # three labelled positions, not 2 x 6


def test_tlm_needs_position_ids():
    batch = hand_made_batch("tlm")
    del batch["position_ids"]
    with pytest.raises(ModelError, match="position_ids"):
        objective_loss("tlm", build_model("tlm", IDS, TINY), batch)


def test_tlm_position_ids_reach_the_model():
    torch.manual_seed(0)
    model = build_model("tlm", IDS, TINY).eval()
    batch = hand_made_batch("tlm")
    with torch.no_grad():
        restarting = objective_loss("tlm", model, batch)
        batch["position_ids"] = torch.arange(6).expand(2, 6)
        running = objective_loss("tlm", model, batch)
    assert not torch.allclose(restarting, running)


def test_unknown_objective_lists_the_known_ones():
    with pytest.raises(ModelError, match="known: mlm, clm, tlm, bart-denoising, mt-transformer, mt-bart"):
        build_model("electra", IDS, TINY)


# --------------------------------------------------------------------------------------------------
# Sizes of the paper profile (meta device: no memory)

PAPER = PROFILES["paper"]
VOCAB = PAPER.tokenizer_vocab_size  # 100,000


def paper_count(objective: str, variant: SizeVariant) -> int:
    size = model_size(objective, PAPER.model_size, PAPER.seq2seq_size, variant, vocab_size=VOCAB)
    return meta_parameter_count(objective, placeholder_ids(VOCAB), size)


def test_study_sizes_of_the_paper_profile():
    v, h, ffn = VOCAB, 512, 2048
    # BERT 12 x 512: embeddings (token, position, type, LN), 12 layers, MLM head (transform, LN, output bias).
    layer = 4 * (h * h + h) + 2 * h + (h * ffn + ffn) + (ffn * h + h) + 2 * h
    assert layer == 3_152_384
    assert paper_count("mlm", "study") == (v * h + 512 * h + 2 * h + 2 * h) + 12 * layer + (h * h + h + 2 * h + v)
    assert paper_count("mlm", "study") == 89_656_480
    # GPT-2: the same layer; token and position embeddings, final LN, output tied.
    assert paper_count("clm", "study") == paper_count("tlm", "study") == v * h + 512 * h + 12 * layer + 2 * h
    assert paper_count("clm", "study") == 89_291_776
    # BART-base at 100k: 6 + 6 layers of 768, learned positions with BART's offset of 2, embedding LNs.
    d, f = 768, 3072
    encoder_layer = 4 * (d * d + d) + 2 * d + (d * f + f) + (f * d + d) + 2 * d
    decoder_layer = encoder_layer + 4 * (d * d + d) + 2 * d  # plus cross-attention and its LN
    bodies = 6 * encoder_layer + 6 * decoder_layer
    bart = v * d + 2 * ((1024 + 2) * d + 2 * d) + bodies
    assert paper_count("bart-denoising", "study") == bart == 177_616_896
    # BART MT is pre-norm (train-bart-mt.sh): a final LayerNorm closes each stack.
    assert paper_count("mt-bart", "study") == bart + 2 * 2 * d == 177_619_968
    # The Transformer: no learned positions nor embedding LNs.
    assert paper_count("mt-transformer", "study") == v * d + bodies == 176_037_888


@pytest.mark.parametrize("objective", ["bart-denoising", "mt-bart", "mt-transformer"])
def test_matched_two_stack_models_are_within_ten_percent_of_bert(objective):
    size = model_size(objective, PAPER.model_size, PAPER.seq2seq_size, "matched", vocab_size=VOCAB)
    assert (size.layers, size.hidden, size.heads, size.ffn) == (5, 512, 8, 2048)
    reference = paper_count("mlm", "study")
    assert abs(paper_count(objective, "matched") - reference) / reference < 0.10
    # 5 layers per stack is the closest: 4 and 6 are both further from BERT's count.
    ids = placeholder_ids(VOCAB)
    for layers in (4, 6):
        other = meta_parameter_count(objective, ids, ModelSize(layers, 512, 8, 2048, 1024))
        assert abs(other - reference) > abs(paper_count(objective, "matched") - reference)


def test_single_stack_sizes_ignore_the_variant():
    for objective in ("mlm", "clm", "tlm"):
        assert model_size(objective, PAPER.model_size, PAPER.seq2seq_size, "matched") == PAPER.model_size


# --------------------------------------------------------------------------------------------------
# Continuing from a checkpoint


def test_continuing_mlm_from_a_saved_bert_keeps_its_weights(tmp_path):
    torch.manual_seed(3)
    saved = build_model("mlm", IDS, TINY)
    saved.save_pretrained(tmp_path)
    loaded = load_init_from("mlm", tmp_path, IDS)
    assert type(loaded) is BertForMaskedLM
    assert loaded.config._attn_implementation == "sdpa"
    for name, tensor in saved.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name


def test_a_missing_directory_is_named(tmp_path):
    missing = tmp_path / "not-downloaded"
    with pytest.raises(ModelError, match="not-downloaded"):
        load_init_from("mlm", missing, IDS)
    missing.mkdir()
    with pytest.raises(ModelError, match="no config.json"):
        load_init_from("mlm", missing, IDS)


def test_a_bert_checkpoint_cannot_continue_mt_bart(tmp_path):
    build_model("mlm", IDS, TINY).save_pretrained(tmp_path)
    with pytest.raises(ModelError, match=r"'bert' checkpoint cannot continue 'mt-bart'.*bart, mbart") as error:
        load_init_from("mt-bart", tmp_path, IDS)
    assert str(tmp_path) in str(error.value)


def test_a_tokenizer_larger_than_the_embeddings_is_refused(tmp_path):
    build_model("clm", IDS, TINY).save_pretrained(tmp_path)
    with pytest.raises(ModelError, match="61 tokens but the model's embeddings only 60 rows"):
        load_init_from("clm", tmp_path, TokenIds(61, 0, 1, 2, 3, {}))
    # A smaller tokenizer fits: its ids all index existing rows.
    assert load_init_from("clm", tmp_path, TokenIds(50, 0, 1, 2, 3, {})).get_input_embeddings().num_embeddings == V


def seq2seq_fields() -> dict:
    return dict(
        vocab_size=V, d_model=H, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=F_, decoder_ffn_dim=F_, max_position_embeddings=P,
        pad_token_id=0, bos_token_id=1, eos_token_id=2, decoder_start_token_id=2,
    )


@pytest.mark.parametrize(
    ("objective", "model_class", "config"),
    [
        ("mt-bart", MBartForConditionalGeneration, MBartConfig(**seq2seq_fields())),
        ("mt-transformer", M2M100ForConditionalGeneration, M2M100Config(**seq2seq_fields())),
    ],
)
def test_hub_families_continue_the_mt_objectives(objective, model_class, config, tmp_path):
    torch.manual_seed(4)
    model_class(config).save_pretrained(tmp_path)
    model = load_init_from(objective, tmp_path, IDS)
    assert type(model) is model_class
    loss = objective_loss(objective, model, hand_made_batch(objective))
    assert abs(loss.item() - math.log(V)) < 0.5
