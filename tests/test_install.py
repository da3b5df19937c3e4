"""xrep installed the way a Docker image or `pip install .` installs it: a wheel, not the source tree.

The wheel is built from a copy of the files the Dockerfiles copy (pyproject.toml, README.md, sql/,
xrep_assets/) and installed into a fresh venv whose dependencies are this interpreter's (a .pth file
names its site-packages: nothing is downloaded). In an empty working directory, where the checkout is
not importable, the installed package creates a warehouse from the SQL it ships, `xrep report` and
`xrep sql` read it, and the definitions validate; state lands in `./var` (or `$XREP_HOME`), never in
site-packages.

`dg check defs` needs a dg project whose root module is a local source folder ("Cannot find module
`xrep_assets` in the current project" otherwise), so an installed package is checked with
`dagster definitions validate -m xrep_assets.definitions`, what the code-location image's gRPC server
loads.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from importlib.metadata import version
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "README.md", "sql", "xrep_assets")  # what k8s/Dockerfile.* copy

# Run by the installed interpreter: one partition of scores written through the package's own
# warehouse resource, which creates the schema, loads the published CSV and the views from the SQL
# it finds, into the default warehouse path.
WRITE_SCORES = """
import polars as pl
from xrep_assets.evaluation.score_files import SCORE_SCHEMA
from xrep_assets.paths import default_warehouse_path, sql_dir
from xrep_assets.warehouse.resources import DuckDBWarehouse

row = {"checkpoint": "mlm", "revision": "r1", "task": "NC", "language": "en", "split": "test", "metric": "accuracy",
       "value": 0.8, "seed": 0, "protocol": "probe", "layer": -1, "n_examples": 10, "versions": "{}"}
DuckDBWarehouse(path=str(default_warehouse_path())).replace_partition("mlm", "NC", pl.DataFrame([row], schema=SCORE_SCHEMA))
print(sql_dir())
"""


def setuptools_major() -> int:
    try:
        return int(version("setuptools").split(".")[0])
    except Exception:  # not installed
        return 0


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(python, xrep, site-packages) of a fresh venv holding xrep's wheel."""
    # pyproject.toml's test extra pins setuptools (the build backend) so the wheel builds here without isolation.
    assert setuptools_major() >= 68, "building the wheel without isolation needs setuptools>=68 (the test extra pins it)"
    tmp = tmp_path_factory.mktemp("install")
    source = tmp / "source"
    source.mkdir()
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(REPO / name, source / name)
    wheels = tmp / "wheels"
    quiet = {"capture_output": True, "text": True, "timeout": 120}
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(wheels), str(source)], **quiet
    )
    assert build.returncode == 0, build.stdout + build.stderr
    (wheel,) = wheels.glob("xrep-*.whl")

    # Every module and every SQL file is in the wheel (the packages are listed by hand in pyproject.toml).
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {p.relative_to(REPO).as_posix() for p in (REPO / "xrep_assets").rglob("*.py") if "__pycache__" not in p.parts}
    expected |= {f"xrep_assets/sql/{p.name}" for p in (REPO / "sql").iterdir() if p.suffix in (".sql", ".csv")}
    assert expected - names == set()
    # The format fixtures ship as data; their generator (tools/build_fixtures.py) is not in the package.
    fixtures = {p.relative_to(REPO).as_posix() for p in (REPO / "xrep_assets" / "fixtures").rglob("*")
                if p.is_file() and "__pycache__" not in p.parts}
    assert fixtures - names == set()
    assert not any("build_fixtures" in name for name in names)

    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, **quiet)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], check=True, **quiet).stdout.strip())
    # Dependencies (and pip) from this environment, after the venv's own site-packages.
    deps = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    (site / "zz_xrep_test_dependencies.pth").write_text("\n".join(deps) + "\n", encoding="utf-8")
    install = subprocess.run([python, "-m", "pip", "install", "--no-deps", "--no-index", str(wheel)], **quiet)
    assert install.returncode == 0, install.stdout + install.stderr
    assert (site / "xrep_assets" / "sql" / "views.sql").is_file()
    return python, venv / "bin" / "xrep", site


def run(args, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "XREP_HOME", "XREP_ARTIFACTS_DIR", "DAGSTER_HOME")}
    return subprocess.run([str(a) for a in args], cwd=cwd, env={**clean, **env}, capture_output=True, text=True, timeout=120)


def test_the_installed_package_finds_its_sql_and_keeps_state_in_the_working_directory(installed, tmp_path):
    python, xrep, site = installed
    work = tmp_path / "work"
    work.mkdir()

    where = run([python, "-c", "import xrep_assets; print(xrep_assets.__file__)"], work)
    assert Path(where.stdout.strip()).is_relative_to(site), where.stdout + where.stderr  # not the checkout

    empty = run([xrep, "report"], work)
    assert empty.returncode == 2 and f"no warehouse at {work / 'var' / 'warehouse.duckdb'}" in empty.stderr

    written = run([python, "-c", WRITE_SCORES], work)
    assert written.returncode == 0, written.stderr
    assert Path(written.stdout.strip()) == site / "xrep_assets" / "sql"
    assert (work / "var" / "warehouse.duckdb").is_file()

    report = run([xrep, "report", "--format", "csv"], work)
    assert report.returncode == 0, report.stderr
    header, *rows = report.stdout.splitlines()
    assert header.startswith("Role,Checkpoint,Protocol,NC,")
    assert any(row.startswith("LM,MLM,probe,80.0,") for row in rows), report.stdout

    published = run([xrep, "sql", "SELECT count(*) AS n FROM published_scores"], work)  # the CSV the wheel ships
    assert published.returncode == 0 and int(published.stdout.split()[-2]) > 0, published.stdout + published.stderr

    validate = run([python, "-m", "dagster", "definitions", "validate", "-m", "xrep_assets.definitions"], work)
    assert validate.returncode == 0, validate.stdout + validate.stderr

    home = tmp_path / "home"
    dagster_home = run([xrep, "dagster-home"], work, XREP_HOME=str(home))
    assert dagster_home.stdout.strip() == str(home / "dagster_home") and (home / "dagster_home" / "dagster.yaml").is_file()

    assert not any(p.name in ("var", "warehouse.duckdb", "dagster_home", "artifacts") for p in site.rglob("*"))
    assert not (site.parent / "var").exists()
