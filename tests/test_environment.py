"""One convention for xrep's environment (ARCHITECTURE.md, "Environment"): every `XREP_*` variable
is named in `xrep_assets/environment.py` and read through `env_value`, by the resource factories when
they are called; no module reads one under its own spelling or through `dg.EnvVar`."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from xrep_assets import environment
from xrep_assets.environment import env_value

SOURCE_ROOT = Path(environment.__file__).resolve().parent
VARIABLE = re.compile(r"XREP_[A-Z0-9_]+")


def test_unset_and_empty_are_none():
    assert env_value("XREP_HOME", {}) is None
    assert env_value("XREP_HOME", {"XREP_HOME": ""}) is None
    assert env_value("XREP_HOME", {"XREP_HOME": "/data"}) == "/data"


def test_env_value_reads_the_process_environment_by_default(monkeypatch):
    monkeypatch.setenv("XREP_LAUNCHER", "k8s")
    assert env_value(environment.LAUNCHER_ENV_VAR) == "k8s"


def test_architecture_md_lists_every_variable():
    named = {value for key, value in vars(environment).items() if key.endswith("_ENV_VAR")}
    assert all(VARIABLE.fullmatch(name) for name in named)
    text = (SOURCE_ROOT.parent / "ARCHITECTURE.md").read_text(encoding="utf-8")
    section = text.split("## Environment", 1)[1].split("\n## ", 1)[0]
    assert set(VARIABLE.findall(section)) == named


def test_every_variable_is_named_in_environment_py_only():
    """A string that is exactly a variable's name (docstrings and comments may mention them) occurs in
    `environment.py` and nowhere else; `dg.EnvVar` is not used."""
    strays = []
    for path in sorted(SOURCE_ROOT.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            where = f"{path.relative_to(SOURCE_ROOT.parent)}:{getattr(node, 'lineno', '?')}"
            literal = isinstance(node, ast.Constant) and isinstance(node.value, str) and VARIABLE.fullmatch(node.value)
            if literal and path.name != "environment.py":
                strays.append(f"{where} spells {node.value!r}: import its name from xrep_assets/environment.py")
            if isinstance(node, (ast.Attribute, ast.Name)) and (node.attr if isinstance(node, ast.Attribute) else node.id) == "EnvVar":
                strays.append(f"{where} uses dg.EnvVar: read the variable with environment.env_value")
    assert strays == []
