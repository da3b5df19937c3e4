"""Where xrep keeps its state by default: one git-ignored folder `var/` inside the repository."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SQL_DIR = REPO_ROOT / "sql"


def xrep_home() -> Path:
    """Root of artifacts, the warehouse and the Dagster instance (`XREP_HOME`, default `var/`)."""
    return Path(os.environ.get("XREP_HOME", REPO_ROOT / "var")).resolve()


def default_dagster_home() -> Path:
    return xrep_home() / "dagster_home"


def default_artifacts_dir() -> Path:
    """`XREP_ARTIFACTS_DIR` (in Kubernetes the shared volume, /artifacts), else `$XREP_HOME/artifacts`."""
    return Path(os.environ.get("XREP_ARTIFACTS_DIR", xrep_home() / "artifacts")).resolve()


def default_warehouse_path() -> Path:
    return xrep_home() / "warehouse.duckdb"


# The warehouse pool admits one writer at a time (see warehouse/assets.py); telemetry stays off.
DAGSTER_YAML = """\
concurrency:
  pools:
    default_limit: 1
telemetry:
  enabled: false
"""


def ensure_dagster_home() -> Path:
    """Creates `$DAGSTER_HOME` (default `var/dagster_home`) with xrep's instance settings."""
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(default_dagster_home())))
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML, encoding="utf-8")
    return home
