"""The analysis worker's input: one JSON file that says which analyses of which checkpoint to run.

The `layer_analyses` multi-asset writes it with the analyses its selected assets need; the worker
(`python -m xrep_assets.workers.analyze SPEC`) reads it, locally or in a pod.
"""

from __future__ import annotations

from dataclasses import dataclass

from xrep_assets.errors import XrepError
from xrep_assets.execution.specfiles import SpecFile
from xrep_assets.study import TASKS
from xrep_assets.xglue.sources import DataSource

# Each analysis and the asset that shows it.
ANALYSIS_ASSETS: dict[str, str] = {
    "cka": "cka_by_layer", "retrieval": "retrieval_by_layer", "spectrum": "weight_spectrum", "probe": "probe_by_layer",
}
# The frozen-encoder protocols a layer-wise probe can train (evaluation/protocols.py).
PROBE_PROTOCOLS = ("probe", "linear")
# The ones that encode the parallel sentences (all of them share one forward pass per batch).
ENCODING_ANALYSES = frozenset({"cka", "retrieval"})


class AnalyzeSpecError(XrepError):
    """An analysis spec that cannot run."""


@dataclass(frozen=True)
class AnalyzeSpec(SpecFile):
    error = AnalyzeSpecError
    what = "analysis spec"

    checkpoint: str  # the partition key (the analyses' files are filed under it)
    revision: str | None
    checkpoint_dir: str
    analyses: tuple[str, ...]
    sentences: str  # the parallel sentences (`analysis_sentences`), read by cka and retrieval
    artifacts_root: str
    artifacts_remote: str | None = None
    pooling: str = "mean"  # token states -> one sentence vector (the encoder checks the name)
    max_length: int = 128  # subwords per sentence, as the study's probing cut its inputs
    device: str = "auto"  # auto: cuda when present
    threads: int | None = None  # torch CPU threads; None keeps torch's default
    run_id: str | None = None  # recorded, not interpreted
    # The layer-wise probe: one task, a frozen-encoder protocol, the scorer's settings and cache.
    probe_task: str | None = None
    probe_protocol: str = "probe"
    source: DataSource | None = None  # the task's data, as scoring reads it
    seeds: tuple[int, ...] = (0,)
    patience: int | None = None  # None: the settings table's
    max_train_examples: int | None = None
    feature_cache: bool = True  # the scorer's feature cache (artifacts/features/<checkpoint>/<task>)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.analyses) - set(ANALYSIS_ASSETS))
        if unknown or not self.analyses:
            raise AnalyzeSpecError(f"analyses must be some of {', '.join(ANALYSIS_ASSETS)}, got {list(self.analyses)}")
        if self.max_length < 2:
            raise AnalyzeSpecError(f"max_length must be at least 2, got {self.max_length}")
        if self.threads is not None and self.threads < 1:
            raise AnalyzeSpecError(f"threads must be at least 1 (or null for torch's default), got {self.threads}")
        if "probe" in self.analyses:
            if self.probe_task not in TASKS:
                raise AnalyzeSpecError(f"the layer-wise probe needs a task of {', '.join(TASKS)}, got {self.probe_task!r}")
            if self.probe_protocol not in PROBE_PROTOCOLS:
                raise AnalyzeSpecError(f"the layer-wise probe trains {' or '.join(PROBE_PROTOCOLS)}, not {self.probe_protocol!r}")
            if self.source is None:
                raise AnalyzeSpecError("the layer-wise probe needs the task's data source")
            if not self.seeds:
                raise AnalyzeSpecError("the layer-wise probe needs a seed")

    @classmethod
    def decode(cls, raw: dict) -> dict:
        raw = dict(raw)
        for name in ("analyses", "seeds"):
            if name in raw:
                raw[name] = tuple(raw[name])
        if raw.get("source") is not None:
            raw["source"] = DataSource(**raw["source"])
        return raw
