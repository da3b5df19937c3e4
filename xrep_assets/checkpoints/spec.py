"""The pretraining worker's input: one JSON file that says everything a training run needs.

The asset writes it, the worker (`python -m xrep_assets.workers.pretrain SPEC`) reads it, locally or
in a pod; nothing else passes between them.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Literal

from xrep_assets.errors import XrepError
from xrep_assets.execution.specfiles import SpecFile
from xrep_assets.profiles import ModelSize
from xrep_assets.study import OBJECTIVES, DenoisingNoise, LanguageCodes, Recipe


class PretrainSpecError(XrepError):
    """A pretraining spec that cannot run."""


@dataclass(frozen=True)
class PretrainSpec(SpecFile):
    error = PretrainSpecError
    what = "pretraining spec"

    objective: str  # a key of study.OBJECTIVES
    tokenizer: str  # a directory AutoTokenizer loads
    corpus: str  # the study corpus folder: monolingual/{lang}.parquet, bitext/{pair}/train.parquet
    languages: tuple[str, ...]
    pairs: tuple[str, ...]
    directions: tuple[str, ...]  # "en>fr": the MT objectives' translation directions
    out_dir: str  # the final Hugging Face checkpoint
    work_dir: str  # resumable training state (kept between attempts)
    size: ModelSize
    steps: int
    # Sequences per micro-batch over all processes (each DDP rank takes its share); with `max_tokens`
    # set, the cap on them (fairseq's --batch-size beside --max-tokens).
    batch_size: int
    max_length: int  # tokens per sample (MT: per side)
    learning_rate: float
    warmup_steps: int
    grad_accum: int = 1  # micro-batches per update in each process
    # polynomial_decay is fairseq's with power 1 down to 0 (= linear); inverse_sqrt is fairseq's too.
    schedule: Literal["linear", "cosine", "polynomial_decay", "inverse_sqrt"] = "linear"
    adam_betas: tuple[float, float] = (0.9, 0.98)
    adam_eps: float = 1e-6
    weight_decay: float = 0.01  # decoupled (AdamW), on every parameter as fairseq's Adam does
    max_grad_norm: float = 1.0  # 0 disables clipping (fairseq's --clip-norm 0)
    # None keeps the architecture's default (transformers' config value).
    dropout: float | None = None
    attention_dropout: float | None = None
    activation_dropout: float | None = None
    label_smoothing: float = 0.0
    # Token batching: each process's micro-batch holds at most this many padded tokens (and at most
    # its share of `batch_size` sequences); None batches a fixed number of sequences.
    max_tokens: int | None = None
    # MLM/CLM blocks: "none" fills every block to max_length, sentences spanning blocks; "complete"
    # packs whole sentences only (fairseq's --sample-break-mode complete).
    sample_break_mode: Literal["none", "complete"] = "none"
    noise: DenoisingNoise | None = None  # BART denoising; None: BART's paper noise (mask 0.3, permute all)
    precision: Literal["fp32", "bf16", "fp16"] = "bf16"  # autocast on a GPU; CPUs always train in fp32
    seed: int = 0
    save_every: int = 100
    log_every: int = 50
    keep_states: int = 2  # training states kept in work_dir (the newest ones)
    init_from: str | None = None  # a local Hugging Face checkpoint directory to continue from
    lang_codes: LanguageCodes = "iso"  # how the tokenizer names languages (<en>, en_XX, eng_Latn)
    # The DDP processes the batch geometry was computed for (the launcher's); None accepts any.
    world_size: int | None = None
    device: str = "auto"  # auto: cuda when present
    threads: int | None = None  # torch CPU threads; None keeps torch's default
    extra: dict = field(default_factory=dict)  # recorded, not interpreted (e.g. the Dagster run id)

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise PretrainSpecError(f"unknown objective {self.objective!r}; known: {', '.join(OBJECTIVES)}")
        for name in ("steps", "batch_size", "grad_accum", "save_every", "log_every", "keep_states"):
            if getattr(self, name) < 1:
                raise PretrainSpecError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.threads is not None and self.threads < 1:
            raise PretrainSpecError(f"threads must be at least 1 (or null for torch's default), got {self.threads}")
        if self.warmup_steps >= self.steps:
            raise PretrainSpecError(f"warmup_steps ({self.warmup_steps}) must be below steps ({self.steps})")
        if self.max_tokens is not None and self.max_tokens < self.max_length:
            raise PretrainSpecError(f"max_tokens ({self.max_tokens}) cannot hold one sample of max_length {self.max_length}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise PretrainSpecError(f"label_smoothing must lie in [0, 1), got {self.label_smoothing}")

    @property
    def uses_bitext(self) -> bool:
        return OBJECTIVES[self.objective].data == "bitext"

    @classmethod
    def decode(cls, raw: dict) -> dict:
        raw = dict(raw)
        if "size" in raw:
            raw["size"] = ModelSize(**raw["size"])
        if raw.get("noise") is not None:
            raw["noise"] = DenoisingNoise(**raw["noise"])
        if "adam_betas" in raw:
            raw["adam_betas"] = tuple(raw["adam_betas"])
        for name in ("languages", "pairs", "directions"):
            raw[name] = tuple(raw.get(name, ()))
        return raw

    def training_identity(self) -> dict:
        """What a saved state must agree on to be resumed by this spec (not paths or log cadence)."""
        keep = ("objective", "languages", "pairs", "directions", "size", "steps", "batch_size", "max_length",
                "learning_rate", "warmup_steps", "grad_accum", "schedule", "adam_betas", "adam_eps", "weight_decay",
                "max_grad_norm", "dropout", "attention_dropout", "activation_dropout", "label_smoothing", "max_tokens",
                "sample_break_mode", "noise", "precision", "seed", "init_from")
        identity = {k: v for k, v in asdict(self).items() if k in keep}
        return json.loads(json.dumps(identity))  # tuples -> lists, as they come back from a file


def recipe_fields(recipe: Recipe, processes: int) -> dict:
    """The spec's training fields for `recipe` run by `processes` data-parallel processes.

    The recipe's batch is `recipe.gpus` GPU batches per update; each process runs one GPU batch per
    micro-batch and accumulates `gpus / processes` of them, so the update is the study's whatever
    the pod's size (128 GPUs' worth of MLM on an 8-GPU pod: 16 micro-batches per process).
    """
    if processes < 1 or recipe.gpus % processes:
        raise PretrainSpecError(
            f"the recipe's batch spans {recipe.gpus} GPUs, which {processes} processes cannot share evenly; "
            f"run it on a divisor of {recipe.gpus}"
        )
    return dict(
        steps=recipe.updates,
        batch_size=recipe.sentences_per_gpu * processes,
        max_length=recipe.tokens_per_sample,
        learning_rate=recipe.learning_rate,
        warmup_steps=recipe.warmup_updates,
        grad_accum=recipe.gpus // processes,
        schedule=recipe.schedule,
        adam_betas=recipe.adam_betas,
        adam_eps=recipe.adam_eps,
        weight_decay=recipe.weight_decay,
        max_grad_norm=recipe.clip_norm,
        dropout=recipe.dropout,
        attention_dropout=recipe.attention_dropout,
        activation_dropout=recipe.activation_dropout,
        label_smoothing=recipe.label_smoothing,
        max_tokens=recipe.tokens_per_gpu if recipe.batching == "tokens" else None,
        sample_break_mode="complete" if recipe.sample_break_mode in ("complete", "complete_doc") else "none",
        noise=recipe.noise,
        precision=recipe.precision,
        world_size=processes,
    )
