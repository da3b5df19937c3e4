"""Where checkpoints live in the artifact store, and the record written beside each one."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from xrep_assets.errors import XrepError

RECORD_FILE = "xrep_checkpoint.json"


def checkpoint_parts(key: str) -> tuple[str, ...]:
    return ("checkpoints", key)


def work_parts(key: str) -> tuple[str, ...]:
    """Training states of an unfinished run (kept across attempts so a retry resumes)."""
    return ("checkpoints", ".work", key)


@dataclass(frozen=True)
class CheckpointRecord:
    key: str
    source: str  # "trained" or "hub"
    revision: str  # hub commit, or the Dagster run id that trained it
    family: str
    parameters: int


def write_record(directory: Path, record: CheckpointRecord) -> None:
    (directory / RECORD_FILE).write_text(json.dumps(asdict(record), indent=2), encoding="utf-8")


def read_record(directory: Path) -> CheckpointRecord:
    path = directory / RECORD_FILE
    if not path.exists():
        raise XrepError(f"no checkpoint at {directory}: materialize the checkpoint partition first")
    return CheckpointRecord(**json.loads(path.read_text(encoding="utf-8")))
