"""`xrep plan`: what the study would run under a profile, and what it would cost, without running it.

Every number comes from the code that would run: partitions from the catalog and the profile, each
checkpoint's recipe from `profiles.scaled_recipe` (the worker's spec is built from the same recipe),
parameter counts from `build_model` on the meta device, pod sizes from `execution/pods.py`. The GPU-hour
estimate is the one `k8s/README.md` explains, computed here and nowhere else.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import torch

from xrep_assets.checkpoints.spec import recipe_fields
from xrep_assets.checkpoints.models import architecture_for, build_model, count_parameters, model_size, placeholder_ids
from xrep_assets.corpora.partitions import corpus_pair_key
from xrep_assets.evaluation.partitions import score_key
from xrep_assets.execution.pods import PRETRAIN_WORKER, step_resources
from xrep_assets.profiles import ModelSize, Profile, scaled_recipe
from xrep_assets.study import CONTINUED_PRETRAINING, CORPORA, HUB_CHECKPOINTS, OBJECTIVES, RECIPES, TASK_KEYS, Recipe

# Dense (no sparsity) bf16/fp16 tensor-core peak FLOP/s from the vendor datasheets; the first name
# fragment found in a device name wins, so the specific variants come before the plain names. The
# benchmarks' MFU reads the same table.
PEAK_BF16_FLOPS: tuple[tuple[str, float], ...] = (
    ("H100 PCIe", 756e12),
    ("H100 NVL", 835e12),
    ("H100", 989e12),  # SXM5 (HBM3)
    ("H200 NVL", 835e12),
    ("H200", 989e12),  # SXM
    ("A100", 312e12),
)


def peak_bf16_flops(device_name: str) -> float | None:
    """The dense bf16 peak of the first known GPU whose name fragment `device_name` contains."""
    for fragment, peak in PEAK_BF16_FLOPS:
        if fragment.lower() in device_name.lower():
            return peak
    return None


# The cards a plan prices (SXM parts) and the share of their peak a run is assumed to reach (k8s/README.md).
GPU_PEAK_FLOPS = {gpu: peak_bf16_flops(gpu) for gpu in ("A100", "H100")}
ASSUMED_MFU = 0.40

# The size of a hub model that a continued pretraining starts from (its config.json on the hub), so a
# plan needs no download: mBART-large-50 is 12 + 12 layers of 1024, 16 heads, FFN 4096.
HUB_MODEL_SIZES: dict[str, tuple[ModelSize, int]] = {
    "mbart-50": (ModelSize(layers=12, hidden=1024, heads=16, ffn=4096, max_positions=1024), 250_054),
}


@dataclass(frozen=True)
class TrainingPlan:
    """One checkpoint the study trains: its recipe as the profile runs it, and its cost."""

    checkpoint: str
    objective: str
    init_from: str | None
    recipe: Recipe
    size: ModelSize
    vocab_size: int
    parameters: int
    tokens: int  # positions per stack over the run (an upper bound: full sequences or full token batches)
    flop_per_token: float
    pod_gpus: int
    processes: int
    grad_accum: int

    @property
    def flop(self) -> float:
        return self.tokens * self.flop_per_token

    def gpu_hours(self, gpu: str) -> float:
        return self.flop / (GPU_PEAK_FLOPS[gpu] * ASSUMED_MFU) / 3600

    def to_json(self) -> dict:
        return {
            **asdict(self),
            "flop": self.flop,
            "gpu_hours": {gpu: round(self.gpu_hours(gpu), 2) for gpu in GPU_PEAK_FLOPS},
        }


@dataclass(frozen=True)
class StudyPlan:
    profile: str
    partitions: dict[str, list[str]]  # job -> the partitions `xrep study` runs, in order
    training: list[TrainingPlan]
    fetched: list[str]  # hub checkpoints: downloaded, not trained

    def gpu_hours(self, gpu: str) -> float:
        return sum(t.gpu_hours(gpu) for t in self.training)


def stack_layer_parameters(size: ModelSize, cross_attention: bool = False) -> int:
    """Weights of one transformer layer: attention (4 d x d + biases), its LayerNorm, the FFN and its
    LayerNorm; a decoder layer adds cross-attention and its LayerNorm."""
    d, f = size.hidden, size.ffn
    layer = 4 * (d * d + d) + 2 * d + (d * f + f) + (f * d + d) + 2 * d
    return layer + (4 * (d * d + d) + 2 * d if cross_attention else 0)


def flop_per_token(objective: str, size: ModelSize, vocab_size: int, sequence: int) -> float:
    """Training FLOP per position (per stack for encoder-decoders): 6 x the weights that multiply it
    (forward 2, backward 4), the output projection included where logits are computed (the input
    embedding is a lookup), plus attention scores and values, 12 x layers x sequence x d per block."""
    d, layers = size.hidden, size.layers
    attention = 12 * layers * sequence * d
    if not architecture_for(objective).two_stack:
        entry = OBJECTIVES[objective]
        # A masked LM's head transforms the hidden state (d x d) before the vocabulary projection;
        # under the sparse loss it runs at the labelled positions only.
        head = vocab_size * d + (d * d if entry.loss == "masked" else 0)
        return 6 * (layers * stack_layer_parameters(size) + entry.predicted_share * head) + attention
    encoder = 6 * layers * stack_layer_parameters(size) + attention
    decoder = 6 * (layers * stack_layer_parameters(size, cross_attention=True) + vocab_size * d) + 2 * attention
    return encoder + decoder


def tokens_to_train(recipe: Recipe) -> int:
    """Positions per stack over all updates: the global batch is `gpus` GPU batches, each of full
    sequences (sentence batching) or of `tokens_per_gpu` padded tokens (token batching)."""
    per_gpu = recipe.tokens_per_gpu if recipe.batching == "tokens" else recipe.sentences_per_gpu * recipe.tokens_per_sample
    return recipe.updates * recipe.gpus * int(per_gpu)


def training_plan(key: str, profile: Profile) -> TrainingPlan:
    if key in OBJECTIVES:
        objective, init_from = key, None
        size = model_size(objective, profile.model_size, profile.seq2seq_size, "study", profile.tokenizer_vocab_size)
        vocab = profile.tokenizer_vocab_size
    else:
        entry = CONTINUED_PRETRAINING[key]
        objective, init_from = entry.objective, entry.init_from
        size, vocab = HUB_MODEL_SIZES[init_from]
    recipe = scaled_recipe(objective, profile)
    with torch.device("meta"):
        parameters = count_parameters(build_model(objective, placeholder_ids(vocab), size))
    pod = step_resources(PRETRAIN_WORKER, profile.name)
    sequence = min(recipe.tokens_per_sample, size.max_positions)
    return TrainingPlan(
        checkpoint=key,
        objective=objective,
        init_from=init_from,
        recipe=recipe,
        size=size,
        vocab_size=vocab,
        parameters=parameters,
        tokens=tokens_to_train(recipe),
        flop_per_token=flop_per_token(objective, size, vocab, sequence),
        pod_gpus=pod.gpus,
        processes=pod.processes,
        grad_accum=recipe_fields(recipe, pod.processes)["grad_accum"],  # as the asset lays out the spec
    )


def study_plan(profile: Profile) -> StudyPlan:
    """What `xrep study` materializes under `profile`, job by job, and the cost of its training runs."""
    partitions = {
        "corpora_job": [corpus_pair_key(corpus, pair) for corpus in CORPORA.values() for pair in profile.pairs],
        "allocation_job": ["(unpartitioned)"],
        "tokenizer_job": ["(unpartitioned)"],
        "checkpoint_job": list(profile.checkpoints),
        "scores_job": [score_key(key, task) for key in profile.checkpoints for task in TASK_KEYS],
        "comparison_job": ["(unpartitioned)"],
    }
    trained = [key for key in profile.checkpoints if key in OBJECTIVES or key in CONTINUED_PRETRAINING]
    fetched = [key for key in profile.checkpoints if key in HUB_CHECKPOINTS]
    return StudyPlan(profile.name, partitions, [training_plan(key, profile) for key in trained], fetched)


# --------------------------------------------------------------------------------------------------
# Printing


def _millions(value: float) -> str:
    return f"{value / 1e6:,.2f}M"


def _recipe_cells(recipe: Recipe) -> dict[str, str]:
    batch = (
        f"{recipe.tokens_per_gpu:,} tokens (≤ {recipe.sentences_per_gpu} seq) / GPU"
        if recipe.batching == "tokens"
        else f"{recipe.sentences_per_gpu} seq / GPU"
    )
    noise = recipe.noise
    return {
        "script": recipe.script,
        "fairseq arch": recipe.fairseq_arch,
        "updates": f"{recipe.updates:,}",
        "save every": f"{recipe.save_interval_updates:,}",
        "optimizer": f"Adam {recipe.adam_betas}, eps {recipe.adam_eps:g}",
        "weight decay": f"{recipe.weight_decay:g}",
        "clip norm": f"{recipe.clip_norm:g}" if recipe.clip_norm else "none",
        "lr": f"{recipe.learning_rate:g}",
        "schedule": recipe.schedule,
        "warmup": f"{recipe.warmup_updates:,}",
        "dropout / attention / activation": f"{recipe.dropout:g} / {recipe.attention_dropout:g} / {recipe.activation_dropout:g}",
        "label smoothing": f"{recipe.label_smoothing:g}",
        "batch": f"{batch} × {recipe.gpus} GPUs",
        "tokens per sample": f"{recipe.tokens_per_sample:,} ({recipe.sample_break_mode})",
        "precision": recipe.precision,
        "pre-norm / embedding LN": f"{'yes' if recipe.pre_norm else 'no'} / {'yes' if recipe.layernorm_embedding else 'no'}",
        "noise": (
            f"mask {noise.mask:g}, rotate {noise.rotate:g}, permute {noise.permute_sentences:g}" if noise else "—"
        ),
    }


def recipe_table() -> str:
    """The study's recipes, one row per objective (README.md holds this table; a test keeps it equal)."""
    columns = [c for c in _recipe_cells(RECIPES["mlm"]) if c not in ("script",)]
    lines = ["| objective | script | " + " | ".join(columns) + " | where xrep departs, or the script is silent |"]
    lines.append("|---|---|" + "---|" * len(columns) + "---|")
    for objective, recipe in RECIPES.items():
        cells = _recipe_cells(recipe)
        lines.append(
            f"| `{objective}` | {cells['script']} | " + " | ".join(cells[c] for c in columns)
            + f" | {'; '.join(recipe.notes) or '—'} |"
        )
    return "\n".join(lines)


def format_plan(plan: StudyPlan) -> str:
    lines = [f"# Study plan: profile `{plan.profile}`", "", "## Partitions `xrep study` materializes", ""]
    for job, keys in plan.partitions.items():
        shown = ", ".join(keys)
        lines.append(f"- `{job}` ({len(keys)}): {shown}")
    lines += ["", f"Hub checkpoints fetched, not trained: {', '.join(plan.fetched) or 'none'}", ""]
    lines += ["## Recipes (per checkpoint trained)", ""]
    cells = {t.checkpoint: _recipe_cells(t.recipe) for t in plan.training}
    keys = [t.checkpoint for t in plan.training]
    lines.append("| field | " + " | ".join(f"`{k}`" for k in keys) + " |")
    lines.append("|---|" + "---|" * len(keys))
    for field in next(iter(cells.values()), {}):
        lines.append(f"| {field} | " + " | ".join(cells[k][field] for k in keys) + " |")
    notes = [(t.checkpoint, note) for t in plan.training for note in t.recipe.notes]
    if notes:
        lines.append("")
        lines += [f"- `{key}`: {note}" for key, note in notes]
    lines += ["", "## Models, data and cost", ""]
    lines.append(
        "| checkpoint | model (per stack) | vocabulary | parameters | tokens (per stack) | FLOP/token | FLOP "
        "| pod | accumulation | A100-h | H100-h |"
    )
    lines.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for t in plan.training:
        s = t.size
        init = f", from `{t.init_from}`" if t.init_from else ""
        pod = f"{t.pod_gpus} GPU" if t.pod_gpus else "CPU"
        lines.append(
            f"| `{t.checkpoint}` | {s.layers} × {s.hidden}, {s.heads} heads, FFN {s.ffn}{init} | {t.vocab_size:,} "
            f"| {_millions(t.parameters)} | {t.tokens:,} | {_millions(t.flop_per_token)} | {t.flop:.3g} | {pod} × {t.processes} proc "
            f"| {t.grad_accum} | {t.gpu_hours('A100'):,.1f} | {t.gpu_hours('H100'):,.1f} |"
        )
    lines.append(
        f"| **total** | | | | | | {sum(t.flop for t in plan.training):.3g} | | | "
        f"**{plan.gpu_hours('A100'):,.1f}** | **{plan.gpu_hours('H100'):,.1f}** |"
    )
    lines += [
        "",
        f"GPU-hours = FLOP / (peak × {ASSUMED_MFU:.0%} MFU); peaks (dense bf16/fp16): "
        + ", ".join(f"{gpu} {peak / 1e12:,.0f} TFLOP/s" for gpu, peak in GPU_PEAK_FLOPS.items())
        + ". Tokens are an upper bound (full sequences, full token batches). Wall clock on one pod: "
        "GPU-hours / pod GPUs.",
    ]
    return "\n".join(lines)


def plan_json(plan: StudyPlan) -> str:
    return json.dumps(
        {
            "profile": plan.profile,
            "partitions": plan.partitions,
            "training": [t.to_json() for t in plan.training],
            "fetched": plan.fetched,
            "gpu_hours": {gpu: round(plan.gpu_hours(gpu), 2) for gpu in GPU_PEAK_FLOPS},
        },
        indent=2,
        default=str,
    )
