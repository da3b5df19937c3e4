"""Where xrep finds its SQL and keeps its state.

State (artifacts, the warehouse, the Dagster instance) lives under `$XREP_HOME`, else `var/` in the
current working directory: from the repository root (`make study`, the README's commands) that is the
git-ignored `./var/`; an installed package never writes next to itself (site-packages).

The warehouse's SQL is the repository's top-level `sql/`, the one copy in git. pyproject.toml maps it
into the package as `xrep_assets/sql/`, so a wheel (`pip install .`, a Docker image) ships it; in a
source checkout (an editable install, or the tree on `sys.path`) it is the `sql/` beside the package.
"""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

from xrep_assets.artifacts import committing_file
from xrep_assets.environment import ARTIFACTS_DIR_ENV_VAR, HOME_ENV_VAR, env_value
from xrep_assets.errors import XrepError

# The source checkout when the package runs from one (editable install, tests); in a wheel install,
# site-packages: only ever used to find `sql/` in a checkout, never for state.
REPO_ROOT = Path(__file__).resolve().parents[1]


def sql_dir() -> Path:
    """The folder of `schema.sql`, `views.sql`, `published.sql` and `published_ji2024.csv`."""
    packaged = files("xrep_assets") / "sql"  # a wheel: the mapping in pyproject.toml put it here
    if packaged.is_dir():
        return Path(str(packaged))
    # An editable install's finder does not resolve the mapped folder (it has no __init__.py), and
    # an install made before the mapping existed does not know it: both are a checkout.
    checkout = REPO_ROOT / "sql"
    if (checkout / "schema.sql").is_file():
        return checkout
    raise XrepError(f"xrep's SQL is missing: neither {packaged} nor {checkout} exists (a wheel built without the sql/ mapping?)")


def xrep_home() -> Path:
    """Root of artifacts, the warehouse and the Dagster instance: `XREP_HOME`, else `./var`."""
    return Path(env_value(HOME_ENV_VAR) or Path.cwd() / "var").resolve()


def default_dagster_home() -> Path:
    return xrep_home() / "dagster_home"


def default_artifacts_dir() -> Path:
    """`XREP_ARTIFACTS_DIR` (in Kubernetes the shared volume, /artifacts), else `$XREP_HOME/artifacts`."""
    return Path(env_value(ARTIFACTS_DIR_ENV_VAR) or xrep_home() / "artifacts").resolve()


def default_warehouse_path() -> Path:
    return xrep_home() / "warehouse.duckdb"


# Threads of one tiny run's worker (profiles.py pins `tiny` to 2): the local run queue starts as many
# runs at once as the machine has cores for them, at least one.
TINY_RUN_THREADS = 2


def dagster_yaml(cores: int | None = None) -> str:
    """The local instance's settings: the warehouse pool admits one writer at a time (see
    warehouse/assets.py); the run queue (`dagster dev`'s daemon: `xrep study --submit`, the UI's
    backfills) starts `cores // 2` runs at once, since more would only share the same cores (measured:
    benchmarks/README.md); telemetry stays off."""
    runs = max(1, (cores or os.cpu_count() or 1) // TINY_RUN_THREADS)
    return f"""\
concurrency:
  pools:
    default_limit: 1
  runs:
    max_concurrent_runs: {runs}
telemetry:
  enabled: false
"""


def ensure_dagster_home() -> Path:
    """Creates `$DAGSTER_HOME` (default `$XREP_HOME/dagster_home`) with xrep's instance settings."""
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(default_dagster_home())))
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():  # committed whole: a first start killed here must not leave half a config forever
        with committing_file(config) as tmp:
            tmp.write_text(dagster_yaml(), encoding="utf-8")
    return home
