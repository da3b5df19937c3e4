"""The scoring worker's input: one JSON file that says everything a score partition needs.

The `task_scores` asset writes it, the worker (`python -m xrep_assets.workers.score SPEC`) reads it,
locally or in a pod; the worker writes the score files and reports the metadata back.
"""

from __future__ import annotations

from dataclasses import dataclass

from xrep_assets.errors import XrepError
from xrep_assets.evaluation.protocols import check_protocol
from xrep_assets.execution.specfiles import SpecFile
from xrep_assets.study import TASKS
from xrep_assets.xglue.sources import DataSource


class ScoreSpecError(XrepError):
    """A scoring spec that cannot run."""


@dataclass(frozen=True)
class ScoreSpec(SpecFile):
    error = ScoreSpecError
    what = "scoring spec"

    checkpoint: str  # the partition key (score files and the feature cache are filed under it)
    revision: str | None
    checkpoint_dir: str
    task: str
    source: DataSource
    protocols: tuple[str, ...]
    selection: str
    layer: int
    pooling: str | None  # None: each protocol's own
    seeds: tuple[int, ...]
    max_epochs: int | None
    patience: int | None
    max_train_examples: int | None
    chance_reruns: int
    artifacts_root: str  # score files and the feature cache go under it
    artifacts_remote: str | None = None  # the store's object-storage copy, where one is configured
    device: str = "auto"  # auto: cuda when present
    feature_cache: bool = True
    run_id: str | None = None  # recorded, not interpreted
    threads: int | None = None  # torch CPU threads; None keeps torch's default (one per physical core)

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ScoreSpecError(f"unknown task {self.task!r}; known: {', '.join(TASKS)}")
        if not self.protocols:
            raise ScoreSpecError("no protocol to run")
        for protocol in self.protocols:
            check_protocol(protocol, self.selection, self.pooling)
        if not self.seeds:
            raise ScoreSpecError("no seed to run")
        if self.chance_reruns < 0:
            raise ScoreSpecError(f"chance_reruns must be 0 or more, got {self.chance_reruns}")
        if self.threads is not None and self.threads < 1:
            raise ScoreSpecError(f"threads must be at least 1 (or null for torch's default), got {self.threads}")

    @classmethod
    def decode(cls, raw: dict) -> dict:
        raw = dict(raw)
        if "source" in raw:
            raw["source"] = DataSource(**raw["source"])
        for name in ("protocols", "seeds"):
            if name in raw:
                raw[name] = tuple(raw[name])
        return raw

