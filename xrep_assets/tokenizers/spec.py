"""The tokenizer worker's input: one JSON file that says everything the tokenizer needs.

The `joint_tokenizer` asset writes it, the worker (`python -m xrep_assets.workers.tokenize SPEC`)
reads it, locally or in a pod.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from xrep_assets.errors import XrepError
from xrep_assets.execution.specfiles import read_spec_fields, write_spec


@dataclass(frozen=True)
class TokenizeSpec:
    artifacts_root: str  # reads the pretraining corpus there, writes `tokenizer/`
    vocab_size: int
    sample_alpha: float
    artifacts_remote: str | None = None

    def write(self, path: Path) -> Path:
        return write_spec(self, path)

    @classmethod
    def read(cls, path: Path) -> TokenizeSpec:
        raw = read_spec_fields(path, cls, XrepError, "tokenizer spec")
        try:
            return cls(**raw)
        except TypeError as err:
            raise XrepError(f"{path}: {err}") from err
