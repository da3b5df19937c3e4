"""Where checkpoints live in the artifact store, and the record written beside each one."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from xrep_assets.errors import XrepError

RECORD_FILE = "xrep_checkpoint.json"
TRAINING_LOG = "training_log.json"  # the pretraining worker's summary beside the checkpoint
# Written beside a trained checkpoint but not part of it: the training log holds wall-clock times.
NOT_HASHED = frozenset({RECORD_FILE, TRAINING_LOG})
REVISION_PREFIX = "sha256:"


def checkpoint_parts(key: str) -> tuple[str, ...]:
    return ("checkpoints", key)


def work_parts(key: str) -> tuple[str, ...]:
    """Training states of an unfinished run (kept across attempts so a retry resumes)."""
    return ("checkpoints", ".work", key)


@dataclass(frozen=True)
class CheckpointRecord:
    key: str
    source: str  # "trained" or "hub"
    # Which weights these are: the hub commit, or `content_revision` of a trained checkpoint. Score
    # rows and the feature cache carry it, so it names the weights, not the run that made them: two
    # runs that train the same weights write the same score files.
    revision: str
    family: str
    parameters: int
    run_id: str | None = None  # the Dagster run that trained or fetched it (None in older records)


def write_record(directory: Path, record: CheckpointRecord) -> None:
    (directory / RECORD_FILE).write_text(json.dumps(asdict(record), indent=2), encoding="utf-8")


def content_revision(directory: Path) -> str:
    """`sha256:` and 16 hex digits of a checkpoint directory's files (config, weights, tokenizer),
    names included; the record and the training log are left out."""
    files = sorted(p for p in Path(directory).iterdir() if p.is_file() and p.name not in NOT_HASHED and not p.name.startswith("."))
    if not any(p.suffix in (".safetensors", ".bin") for p in files):
        raise XrepError(f"{directory}: no weight file (*.safetensors, *.bin) to take the revision of")
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0")
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        digest.update(b"\0")
    return REVISION_PREFIX + digest.hexdigest()[:16]


def read_record(directory: Path) -> CheckpointRecord:
    path = directory / RECORD_FILE
    if not path.exists():
        raise XrepError(f"no checkpoint at {directory}: materialize the checkpoint partition first")
    return CheckpointRecord(**json.loads(path.read_text(encoding="utf-8")))
