"""Spec files: how an asset tells a worker what to do, as one JSON file on the shared artifact store."""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from pathlib import Path

from xrep_assets.errors import XrepError


def write_spec(spec, path: Path) -> Path:
    """A dataclass spec as JSON, written to a temporary name and renamed: a worker never reads half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(asdict(spec), indent=2), encoding="utf-8")
    tmp.replace(path)
    return path


def read_spec_fields(path: Path, spec_class: type, error: type[XrepError], what: str) -> dict:
    """The fields of a spec file, checked against `spec_class`'s (an unknown one is an error)."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise error(f"{path}: not a readable {what}: {err}") from err
    if not isinstance(raw, dict):
        raise error(f"{path}: a {what} is a JSON object")
    unknown = sorted(set(raw) - {f.name for f in fields(spec_class)})
    if unknown:
        raise error(f"{path}: unknown fields {unknown}")
    return raw
