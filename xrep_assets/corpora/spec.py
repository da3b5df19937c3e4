"""The allocation worker's input: one JSON file that says everything the study corpus needs.

The `pretraining_corpus` asset writes it (with the evaluation sentences' keys, when it decontaminates,
as a parquet file beside it); the worker (`python -m xrep_assets.workers.allocate SPEC`) reads it,
locally or in a pod.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from xrep_assets.corpora.allocation import AllocationParams
from xrep_assets.errors import XrepError
from xrep_assets.execution.specfiles import SpecFile


class AllocateSpecError(XrepError):
    """An allocation spec that cannot run."""


@dataclass(frozen=True)
class AllocateSpec(SpecFile):
    error = AllocateSpecError
    what = "allocation spec"

    artifacts_root: str  # reads `corpora/clean/`, writes `corpora/study/`
    pairs: tuple[str, ...]  # the profile's language pairs, by key
    params: AllocationParams
    forbidden: str | None = None  # parquet of `lang`, `key` (`allocation.forbidden_keys`); None: no decontamination
    artifacts_remote: str | None = None

    @classmethod
    def decode(cls, raw: dict) -> dict:
        params = raw.get("params")
        if not isinstance(params, dict):
            raise AllocateSpecError(f"params must be an object of AllocationParams fields, got {params!r}")
        unknown = sorted(set(params) - {f.name for f in fields(AllocationParams)})
        if unknown:
            raise AllocateSpecError(f"unknown AllocationParams fields {unknown}")
        return {**raw, "pairs": tuple(raw.get("pairs", ())), "params": AllocationParams(**params)}
