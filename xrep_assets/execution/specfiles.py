"""Spec files: how an asset tells a worker what to do, as one JSON file on the shared artifact store.

Every worker's spec is a frozen dataclass deriving from `SpecFile` in its stage's `spec.py`
(`tokenizers/`, `checkpoints/`, `evaluation/`): the asset calls `spec.write(path)`, the worker
`Spec.read(path)`. A file that cannot become a spec raises the spec's own error, naming the file.
"""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from pathlib import Path
from typing import ClassVar, Self

from xrep_assets.artifacts import committing_file
from xrep_assets.errors import XrepError


class SpecFile:
    """The `write` / `read` of a worker spec. A subclass sets `error` (its project error) and `what`
    (how messages name it), and overrides `decode` where JSON values are not yet its field values."""

    error: ClassVar[type[XrepError]] = XrepError
    what: ClassVar[str] = "spec"

    def write(self, path: Path) -> Path:
        """The spec as JSON, committed durably (`artifacts.committing_file`): a worker never reads half
        a file, even after a crash."""
        with committing_file(path) as tmp:
            tmp.write_text(json.dumps(asdict(self), indent=2), encoding="utf-8")
        return path

    @classmethod
    def read(cls, path: Path) -> Self:
        """The spec in `path`; an unreadable file, an unknown or missing field, or a value the spec
        refuses is `cls.error` naming the file."""
        try:
            raw = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as err:
            raise cls.error(f"{path}: not a readable {cls.what}: {err}") from err
        if not isinstance(raw, dict):
            raise cls.error(f"{path}: a {cls.what} is a JSON object")
        unknown = sorted(set(raw) - {f.name for f in fields(cls)})
        if unknown:
            raise cls.error(f"{path}: unknown fields {unknown}")
        try:
            return cls(**cls.decode(raw))
        except (XrepError, TypeError) as err:  # the spec's own checks, a nested value's, a missing field
            raise cls.error(f"{path}: {err}") from err

    @classmethod
    def decode(cls, raw: dict) -> dict:
        """The constructor's arguments from the file's JSON values (nested dataclasses, tuples)."""
        return raw
