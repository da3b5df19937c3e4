"""The pretraining worker's input: one JSON file that says everything a training run needs.

The asset writes it, the worker (`python -m xrep_assets.workers.pretrain SPEC`) reads it, locally or
in a pod; nothing else passes between them.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from xrep_assets.errors import XrepError
from xrep_assets.execution.specfiles import read_spec_fields, write_spec
from xrep_assets.profiles import ModelSize
from xrep_assets.study import OBJECTIVES, LanguageCodes


class SpecError(XrepError):
    """A pretraining spec that cannot run."""


@dataclass(frozen=True)
class PretrainSpec:
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
    batch_size: int  # examples per micro-batch over all processes (each DDP rank takes its share)
    max_length: int
    learning_rate: float
    warmup_steps: int
    grad_accum: int = 1
    schedule: Literal["linear", "cosine"] = "linear"
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    seed: int = 0
    save_every: int = 100
    log_every: int = 50
    keep_states: int = 2  # training states kept in work_dir (the newest ones)
    init_from: str | None = None  # a local Hugging Face checkpoint directory to continue from
    lang_codes: LanguageCodes = "iso"  # how the tokenizer names languages (<en>, en_XX, eng_Latn)
    device: str = "auto"  # auto: cuda when present
    threads: int | None = None  # torch CPU threads; None keeps torch's default
    extra: dict = field(default_factory=dict)  # recorded, not interpreted (e.g. the Dagster run id)

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise SpecError(f"unknown objective {self.objective!r}; known: {', '.join(OBJECTIVES)}")
        for name in ("steps", "batch_size", "grad_accum", "save_every", "log_every", "keep_states"):
            if getattr(self, name) < 1:
                raise SpecError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.threads is not None and self.threads < 1:
            raise SpecError(f"threads must be at least 1 (or null for torch's default), got {self.threads}")
        if self.warmup_steps >= self.steps:
            raise SpecError(f"warmup_steps ({self.warmup_steps}) must be below steps ({self.steps})")

    @property
    def uses_bitext(self) -> bool:
        return OBJECTIVES[self.objective].data == "bitext"

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    def write(self, path: Path) -> Path:
        return write_spec(self, path)

    @classmethod
    def read(cls, path: Path) -> "PretrainSpec":
        raw = read_spec_fields(path, cls, SpecError, "pretraining spec")
        raw["size"] = ModelSize(**raw["size"])
        for name in ("languages", "pairs", "directions"):
            raw[name] = tuple(raw.get(name, ()))
        return cls(**raw)

    def training_identity(self) -> dict:
        """What a saved state must agree on to be resumed by this spec (not paths or log cadence)."""
        keep = ("objective", "languages", "pairs", "directions", "size", "steps", "batch_size", "max_length",
                "learning_rate", "warmup_steps", "grad_accum", "schedule", "weight_decay", "seed", "init_from")
        identity = {k: v for k, v in asdict(self).items() if k in keep}
        return json.loads(json.dumps(identity))  # tuples -> lists, as they come back from a file
