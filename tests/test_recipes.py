"""The study's training recipes: the paper profile trains with the scripts' values, `tiny` scales only
sizes and steps, the worker applies every field, and `xrep plan` prints them without running."""

from __future__ import annotations

import json
import math
from dataclasses import fields, replace

import pytest
import torch
import torch.nn.functional as F

from xrep_assets.checkpoints.batches import ExampleSource, example_length
from xrep_assets.checkpoints.models import Dropouts, architecture_for, build_model, objective_loss
from xrep_assets.checkpoints.objectives import pack_sentences, permute_sentences, rotate
from xrep_assets.checkpoints.spec import PretrainSpec, PretrainSpecError, recipe_fields
from xrep_assets.checkpoints.training import scheduler_for
from xrep_assets.checkpoints.vocabulary import TokenIds
from xrep_assets.cli import main
from xrep_assets.plan import ASSUMED_MFU, GPU_PEAK_FLOPS, flop_per_token, stack_layer_parameters, study_plan, tokens_to_train
from xrep_assets.profiles import PROFILES, ModelSize, scaled_recipe
from xrep_assets.study import MT_DIRECTIONS, OBJECTIVES, RECIPES, TASK_KEYS

IDS = TokenIds(size=50, pad=1, bos=0, eos=2, mask=49, languages={"en": 4, "fr": 5, "zh": 6})
TINY_SIZE = ModelSize(layers=1, hidden=16, heads=2, ffn=32, max_positions=64)


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --------------------------------------------------------------------------------------------------
# The paper profile is the study's recipe (Helsinki-NLP/lm-vs-mt, pretrain/*.sh)

# The values read from the scripts, field by field (issue 13's table).
LM = dict(tokens_per_sample=512, sample_break_mode="complete", adam_betas=(0.9, 0.98), adam_eps=1e-6,
          weight_decay=0.01, learning_rate=5e-4, schedule="polynomial_decay", warmup_updates=8_000, dropout=0.1,
          precision="fp16", batching="sentences", label_smoothing=0.0, clip_norm=0.0)
BART = dict(label_smoothing=0.2, learning_rate=3e-5, schedule="inverse_sqrt", warmup_updates=2_500, dropout=0.3,
            attention_dropout=0.1, weight_decay=0.1, batching="tokens", tokens_per_gpu=8_192, sentences_per_gpu=64,
            adam_betas=(0.9, 0.98), adam_eps=1e-6, precision="fp16", layernorm_embedding=True, clip_norm=0.0)
SCRIPT_VALUES = {
    "mlm": {**LM, "sentences_per_gpu": 64, "gpus": 128},
    "clm": {**LM, "sentences_per_gpu": 32, "gpus": 8},
    "tlm": {**LM, "sentences_per_gpu": 32, "gpus": 8, "sample_break_mode": "eos"},  # one pair per sample
    "bart-denoising": {**BART, "pre_norm": False},
    "mt-bart": {**BART, "pre_norm": True},
    "mt-transformer": {**BART, "pre_norm": False, "layernorm_embedding": False},  # Vaswani's architecture
    "mbart-50+mt": {**BART, "pre_norm": True},
}


def test_the_paper_plan_trains_every_objective_with_its_scripts_values():
    plan = study_plan(PROFILES["paper"])
    recipes = {t.checkpoint: t.recipe for t in plan.training}
    assert set(recipes) == set(SCRIPT_VALUES)
    for checkpoint, expected in SCRIPT_VALUES.items():
        recipe = recipes[checkpoint]
        assert (recipe.updates, recipe.save_interval_updates) == (600_000, 5_000), checkpoint
        for name, value in expected.items():
            assert getattr(recipe, name) == value, f"{checkpoint}.{name}"
    # fairseq's denoising defaults: the script sets no noise flag, so only rotation is on.
    noise = recipes["bart-denoising"].noise
    assert (noise.mask, noise.rotate, noise.permute_sentences) == (0.0, 0.5, 0.0)
    assert all(recipes[k].noise is None for k in recipes if k != "bart-denoising")


def test_the_mt_directions_are_the_scripts_eighteen():
    assert [f"{d.source}-{d.target}" for d in MT_DIRECTIONS] == (
        "ar-en,ar-es,ar-fr,ar-ru,ar-zh,en-es,en-fr,en-ru,es-en,es-fr,es-ru,es-zh,fr-en,fr-ru,fr-zh,ru-en,ru-zh,zh-en".split(",")
    )
    assert ("zh", "en") in {(d.source, d.target) for d in MT_DIRECTIONS}
    assert ("en", "zh") not in {(d.source, d.target) for d in MT_DIRECTIONS}


def test_the_architecture_built_is_the_one_the_recipe_names():
    # pre-norm stacks end with a LayerNorm each (transformers' MBart); post-norm BART has none.
    for objective in ("bart-denoising", "mt-bart", "mt-transformer"):
        model = build_model(objective, IDS, TINY_SIZE)
        recipe = RECIPES[objective]
        encoder = model.get_encoder()
        assert (getattr(encoder, "layer_norm", None) is not None) == recipe.pre_norm, objective
        assert (getattr(encoder, "layernorm_embedding", None) is not None) == recipe.layernorm_embedding, objective


def test_the_tiny_profile_scales_only_sizes_and_steps():
    scaled_fields = {"updates", "warmup_updates", "tokens_per_sample", "sentences_per_gpu", "tokens_per_gpu", "gpus"}
    tiny = PROFILES["tiny"]
    for objective, recipe in RECIPES.items():
        small = scaled_recipe(objective, tiny)
        for field in fields(recipe):
            if field.name not in scaled_fields:
                assert getattr(small, field.name) == getattr(recipe, field.name), f"{objective}.{field.name}"
        assert small.updates == 400 and small.gpus == 1
        # The warmup keeps its share of the updates: 8,000 / 600,000 of 400 is 5.3, 2,500 / 600,000 is 1.7.
        assert small.warmup_updates == {"polynomial_decay": 5, "inverse_sqrt": 2}[recipe.schedule]
        assert small.tokens_per_sample == 64 and small.sentences_per_gpu == 32
        assert small.tokens_per_gpu == (1024 if recipe.batching == "tokens" else None)


def test_a_steps_override_keeps_the_warmup_below_the_updates():
    assert scaled_recipe("mlm", PROFILES["tiny"], steps=2).warmup_updates == 1
    assert scaled_recipe("mlm", PROFILES["tiny"], steps=1).warmup_updates == 0


def test_the_spec_spreads_the_recipes_gpus_over_the_pods_processes():
    paper = PROFILES["paper"]
    mlm = recipe_fields(scaled_recipe("mlm", paper), processes=8)
    # 64 sequences on each of 128 GPUs: 8 processes x 64, accumulated 16 times.
    assert (mlm["batch_size"], mlm["grad_accum"], mlm["max_tokens"], mlm["world_size"]) == (512, 16, None, 8)
    assert (mlm["schedule"], mlm["max_grad_norm"], mlm["precision"], mlm["sample_break_mode"]) == ("polynomial_decay", 0.0, "fp16", "complete")
    bart = recipe_fields(scaled_recipe("mt-bart", paper), processes=8)
    assert (bart["max_tokens"], bart["batch_size"], bart["grad_accum"], bart["label_smoothing"]) == (8192, 512, 1, 0.2)
    with pytest.raises(PretrainSpecError, match="128 GPUs, which 3 processes cannot share"):
        recipe_fields(scaled_recipe("mlm", paper), processes=3)


# --------------------------------------------------------------------------------------------------
# The worker applies each field


def test_label_smoothing_is_the_smoothed_cross_entropy_of_the_model():
    torch.manual_seed(0)
    model = build_model("mt-bart", IDS, TINY_SIZE).eval()
    batch = {
        "input_ids": torch.tensor([[4, 10, 11, 2]]),
        "attention_mask": torch.ones(1, 4, dtype=torch.long),
        "labels": torch.tensor([[5, 12, 2, -100]]),
    }
    plain = objective_loss("mt-bart", model, batch)
    smoothed = objective_loss("mt-bart", model, batch, label_smoothing=0.2)
    # By hand: (1 - eps) x NLL + eps x the mean of -log p over the vocabulary, on the 3 labelled tokens.
    logits = model(**batch).logits[0, :3].float()
    log_p = F.log_softmax(logits, dim=-1)
    nll = -log_p[torch.arange(3), torch.tensor([5, 12, 2])]
    expected = (0.8 * nll + 0.2 * (-log_p.mean(dim=-1))).mean()
    assert torch.isclose(plain, nll.mean(), atol=1e-5)
    assert torch.isclose(smoothed, expected, atol=1e-5)


def test_the_recipes_dropouts_reach_each_architectures_config():
    assert Dropouts(0.1, 0.0, 0.0).config_fields("gpt2") == {"resid_pdrop": 0.1, "embd_pdrop": 0.1, "attn_pdrop": 0.0}
    assert Dropouts(0.1, 0.1, 0.0).config_fields("bert") == {"hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1}
    config = build_model("mt-transformer", IDS, TINY_SIZE, Dropouts(0.3, 0.1, 0.0)).config
    assert (config.dropout, config.attention_dropout, config.activation_dropout) == (0.3, 0.1, 0.0)


def schedule_values(schedule: str, warmup: int, steps: int) -> list[float]:
    spec = PretrainSpec(
        objective="mlm", tokenizer="", corpus="", languages=(), pairs=(), directions=(), out_dir="", work_dir="",
        size=TINY_SIZE, steps=steps, batch_size=1, max_length=8, learning_rate=1.0, warmup_steps=warmup, schedule=schedule,
    )
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = scheduler_for(optimizer, spec)
    values = []
    for _ in range(steps):
        values.append(scheduler.get_last_lr()[0])
        optimizer.step()
        scheduler.step()
    return values


def test_the_schedules_are_fairseqs():
    # polynomial_decay (power 1, to 0): up over 4 warmup updates, then straight down to 0 at update 12.
    assert schedule_values("polynomial_decay", 4, 12) == pytest.approx([0, .25, .5, .75, 1, .875, .75, .625, .5, .375, .25, .125])
    # inverse_sqrt: lr x sqrt(warmup / step) after the warmup.
    values = schedule_values("inverse_sqrt", 4, 16)
    assert values[:5] == pytest.approx([0, .25, .5, .75, 1])
    assert values[9] == pytest.approx(math.sqrt(4 / 9)) and values[15] == pytest.approx(math.sqrt(4 / 15))


def test_complete_packing_never_splits_a_sentence():
    blocks, carry = pack_sentences([[10, 11, 12], [13, 14], [15, 16, 17, 18], [19]], length=7, ids=IDS)
    # Content budget 6 (bos first): [10 11 12 eos 13 14 eos] would be 7 + bos: the second sentence waits.
    assert blocks == [[0, 10, 11, 12, 2], [0, 13, 14, 2], [0, 15, 16, 17, 18, 2]]
    assert carry == [[19]]


def test_rotation_keeps_the_ends_and_permutation_shuffles_the_share_asked():
    tokens = [0, 10, 11, 12, 13, 2]
    for seed in range(5):
        rotated = rotate(tokens, seeded(seed))
        assert rotated[0] == 0 and rotated[-1] == 2 and sorted(rotated) == sorted(tokens)
        inner = rotated[1:-1]
        start = inner.index(10)
        assert inner[start:] + inner[:start] == [10, 11, 12, 13]  # a rotation, not a shuffle
    document = [[i] for i in range(10)]
    assert permute_sentences(document, seeded(0), share=0.0) == document
    moved = [a != b for a, b in zip(permute_sentences(document, seeded(1), share=0.3), document)]
    assert sum(moved) <= 3  # ceil(10 x 0.3) sentences change places among themselves


class ListStream:
    """A stand-in for the corpus: examples straight from a list."""

    total_rows, completed_epochs = 1, 0


def test_token_batches_hold_at_most_max_tokens_padded_and_keep_stream_order():
    source = ExampleSource.__new__(ExampleSource)
    source.stream, source.pending = ListStream(), [
        {"input_ids": [1] * n, "labels": [1] * m} for n, m in [(3, 4), (5, 2), (2, 2), (8, 1), (1, 1), (2, 9)]
    ]
    source._read = lambda generator: (_ for _ in ()).throw(AssertionError("no read expected"))
    first, second = source.take_token_batches(2, max_tokens=12, max_sentences=3, generator=seeded(0))
    # widths 4, 5, 2 -> 3 examples x 5 = 15 > 12: the first batch stops at two (2 x 5 = 10).
    assert [example_length(e) for e in first] == [4, 5]
    assert [example_length(e) for e in second] == [2]  # with the next one: 2 x 8 = 16 > 12
    assert [example_length(e) for e in source.pending] == [8, 1, 9]
    (alone,) = source.take_token_batches(1, max_tokens=6, max_sentences=3, generator=seeded(0))
    assert [example_length(e) for e in alone] == [8]  # an example wider than the budget goes alone


def test_a_spec_laid_out_for_other_processes_is_refused(tmp_path):
    from xrep_assets.checkpoints.training import train

    spec = PretrainSpec(
        objective="clm", tokenizer=str(tmp_path), corpus=str(tmp_path), languages=("en",), pairs=(), directions=(),
        out_dir=str(tmp_path / "out"), work_dir=str(tmp_path / "work"), size=TINY_SIZE, steps=2, batch_size=8,
        max_length=8, learning_rate=1e-3, warmup_steps=1, world_size=8,
    )
    with pytest.raises(PretrainSpecError, match="laid out for 8 processes, but 1 run it"):
        train(spec, log=lambda _: None)


# --------------------------------------------------------------------------------------------------
# `xrep plan`: the cost from the same numbers


def test_the_plans_compute_is_the_formula_of_k8s_readme():
    size = ModelSize(layers=2, hidden=8, heads=2, ffn=16, max_positions=32)
    layer = 4 * (64 + 8) + 16 + (128 + 16) + (128 + 8) + 16
    assert stack_layer_parameters(size) == layer == 600
    # GPT-2: 6 x (2 layers + the 100 x 8 output projection) + attention 12 x 2 x 32 x 8.
    assert flop_per_token("clm", size, 100, 32) == 6 * (2 * 600 + 800) + 6144
    # BERT: the head (d x d transform and the output projection) at 15 % of the positions.
    assert flop_per_token("mlm", size, 100, 32) == pytest.approx(6 * (1200 + 0.15 * (800 + 64)) + 6144)
    # Two stacks: the decoder adds cross-attention (+ 4 x (64 + 8) + 16 per layer) and attends twice.
    decoder_layer = 600 + 304
    assert flop_per_token("mt-bart", size, 100, 32) == 6 * 1200 + 6144 + 6 * (2 * decoder_layer + 800) + 2 * 6144
    # Tokens: MLM's 64 sequences of 512 on 128 GPUs for 600k updates; BART's 8,192 tokens on 8.
    assert tokens_to_train(RECIPES["mlm"]) == 600_000 * 128 * 64 * 512
    assert tokens_to_train(RECIPES["mt-bart"]) == 600_000 * 8 * 8_192
    plan = study_plan(PROFILES["paper"])
    clm = next(t for t in plan.training if t.checkpoint == "clm")
    assert clm.gpu_hours("H100") == pytest.approx(clm.tokens * clm.flop_per_token / (GPU_PEAK_FLOPS["H100"] * ASSUMED_MFU) / 3600)
    assert (clm.pod_gpus, clm.processes, clm.grad_accum) == (8, 8, 1)


def test_xrep_plan_lists_every_partition_and_each_checkpoints_recipe(capsys):
    assert main(["plan", "--profile", "tiny", "--format", "json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    tiny = PROFILES["tiny"]
    assert len(plan["partitions"]["corpora_job"]) == 2 * len(tiny.pairs)
    assert len(plan["partitions"]["scores_job"]) == len(tiny.checkpoints) * len(TASK_KEYS)
    assert [t["checkpoint"] for t in plan["training"]] == list(tiny.checkpoints)
    mt = next(t for t in plan["training"] if t["checkpoint"] == "mt-transformer")
    assert mt["recipe"]["learning_rate"] == 3e-5 and mt["recipe"]["updates"] == 400 and mt["pod_gpus"] == 0
    assert main(["plan", "--profile", "paper"]) == 0
    printed = capsys.readouterr().out
    assert "| label smoothing | 0 | 0 | 0 | 0.2 | 0.2 | 0.2 | 0.2 |" in printed
    assert "pretrain/train-bart-mt.sh" in printed and "**total**" in printed


def test_the_paper_plan_sizes_every_trained_model():
    plan = study_plan(PROFILES["paper"])
    parameters = {t.checkpoint: t.parameters for t in plan.training}
    assert parameters["mlm"] == 89_656_480 and parameters["mt-bart"] == 177_619_968
    assert parameters["mbart-50+mt"] > 600e6  # mBART-large-50 with its 250k vocabulary
    assert {t.checkpoint for t in plan.training} == set(OBJECTIVES) | {"mbart-50+mt"}
    assert all(architecture_for(t.objective).two_stack == (t.recipe.batching == "tokens") for t in plan.training)


def test_the_readmes_recipe_table_is_the_catalogs():
    from pathlib import Path

    from xrep_assets.plan import recipe_table

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert recipe_table() in readme
