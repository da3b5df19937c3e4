"""The tokenizer worker's input: one JSON file that says everything the tokenizer needs.

The `joint_tokenizer` asset writes it, the worker (`python -m xrep_assets.workers.tokenize SPEC`)
reads it, locally or in a pod.
"""

from __future__ import annotations

from dataclasses import dataclass

from xrep_assets.errors import XrepError
from xrep_assets.execution.specfiles import SpecFile


TOKENIZER_PARTS = ("tokenizer",)  # where the joint tokenizer lives in the artifact store


class TokenizeSpecError(XrepError):
    """A tokenizer spec that cannot run."""


@dataclass(frozen=True)
class TokenizeSpec(SpecFile):
    error = TokenizeSpecError
    what = "tokenizer spec"

    artifacts_root: str  # reads the pretraining corpus there, writes `tokenizer/`
    vocab_size: int
    sample_alpha: float
    sample_sentences: int  # the most lines sentencepiece trains on
    artifacts_remote: str | None = None
    threads: int | None = None  # sentencepiece's; None: the CPUs the worker may use (its pod's limit)

    def __post_init__(self) -> None:
        if self.sample_sentences < 1:
            raise TokenizeSpecError(f"sample_sentences must be at least 1, got {self.sample_sentences}")
        if self.threads is not None and self.threads < 1:
            raise TokenizeSpecError(f"threads must be at least 1 (or null for the worker's CPUs), got {self.threads}")
