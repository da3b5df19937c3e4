"""Where checkpoints live in the artifact store, and the record written beside each one."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import get_args

from xrep_assets.errors import XrepError
from xrep_assets.study import LanguageCodes

RECORD_FILE = "xrep_checkpoint.json"
TRAINING_LOG = "training_log.json"  # the pretraining worker's summary beside the checkpoint
# Written beside a trained checkpoint but not part of it: the training log holds wall-clock times.
NOT_HASHED = frozenset({RECORD_FILE, TRAINING_LOG})
REVISION_PREFIX = "sha256:"
LANG_CODE_CONVENTIONS: tuple[str, ...] = get_args(LanguageCodes)


class CheckpointRecordError(XrepError):
    """A checkpoint record (xrep_checkpoint.json) that cannot be read."""


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
    # How the checkpoint names languages (its vocabulary's convention: iso | mbart | nllb) and whether
    # its inputs carry the source language (our bitext objectives' `<src>`, mBART's and NLLB's codes;
    # not mBERT, XLM-R or our monolingual objectives). Written here so that scoring needs no catalog
    # entry for the key (the hub sensor discovers keys the catalog does not know). None in records
    # written before they were recorded: readers fall back to the catalog (`language_codes_of`).
    lang_codes: LanguageCodes | None = None
    source_marker: bool | None = None

    @property
    def identity_recorded(self) -> bool:
        return self.lang_codes is not None and self.source_marker is not None

    @property
    def input_codes(self) -> LanguageCodes | None:
        """The language codes the encoder puts in the inputs (None: no marker); needs
        `identity_recorded`."""
        return self.lang_codes if self.source_marker else None


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
    try:
        record = CheckpointRecord(**json.loads(path.read_text(encoding="utf-8")))
    except (json.JSONDecodeError, TypeError) as err:
        raise CheckpointRecordError(f"{path}: not a checkpoint record ({err})") from err
    if record.lang_codes is not None and record.lang_codes not in LANG_CODE_CONVENTIONS:
        raise CheckpointRecordError(
            f"{path}: lang_codes {record.lang_codes!r} is not a convention; known: {', '.join(LANG_CODE_CONVENTIONS)}"
        )
    if record.source_marker is not None and not isinstance(record.source_marker, bool):
        raise CheckpointRecordError(f"{path}: source_marker must be true or false, got {record.source_marker!r}")
    return record
