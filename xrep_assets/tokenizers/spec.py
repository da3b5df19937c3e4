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
    artifacts_remote: str | None = None
