"""The import rules of ARCHITECTURE.md, read from the source with `ast` (nothing is imported).

Data flows corpora -> tokenizers -> checkpoints -> evaluation -> analysis -> warehouse; a stage imports only
from earlier stages and from the shared modules below the stages; no stage imports `workers/` (the
CLI entry points); `definitions.py`, `orchestration.py`, `cli.py` and `plan.py` sit on top. Every
import counts, also one inside a function or under `if TYPE_CHECKING:`, and no two modules may
import each other, directly or around a longer loop.
"""

from __future__ import annotations

import ast
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = "xrep_assets"
SOURCE_ROOT = Path(__file__).resolve().parents[1] / PACKAGE

# The stages in data-flow order: a stage may import the ones before it.
STAGES = ("corpora", "tokenizers", "checkpoints", "evaluation", "analysis", "warehouse")
# Below the stages: any stage, worker or top module may import them; they import only each other.
SHARED = {
    "",  # the package itself
    "study", "profiles", "errors", "resources", "paths", "environment", "artifacts", "plots", "markdown",
    "asset_keys", "execution", "xglue", "fixtures", "text",
}
WORKERS = "workers"  # CLI entry points: may import any stage and shared module
TOP = {"definitions", "orchestration", "submission", "cli", "plan"}  # may import anything

# (importing module, imported module) pairs that break a rule on purpose; each one is justified in
# ARCHITECTURE.md. None at present.
ALLOWED: set[tuple[str, str]] = set()


@dataclass(frozen=True)
class Import:
    path: Path  # the importing file
    line: int
    importer: str  # dotted module names
    imported: str

    def where(self, root: Path) -> str:
        return f"{self.path.relative_to(root.parent)}:{self.line} imports {self.imported}"


@dataclass(frozen=True)
class Layer:
    kind: str  # shared | stage | workers | top
    rank: int  # the stage's position in STAGES (-1 for the others)
    name: str

    def __str__(self) -> str:
        return self.name


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_modules(root: Path) -> dict[str, Path]:
    return {module_name(path, root): path for path in sorted(root.rglob("*.py"))}


def project_imports(root: Path) -> list[Import]:
    """Every import of a module of the package, wherever it stands in the file. `from pkg import
    name` imports the submodule `pkg.name` where there is one, else `pkg` itself."""
    modules = source_modules(root)
    found = []
    for importer, path in modules.items():
        package = importer if path.name == "__init__.py" else importer.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                targets = [f"{source}.{alias.name}" if f"{source}.{alias.name}" in modules else source for alias in node.names]
            else:
                continue
            for target in dict.fromkeys(targets):
                if target == root.name or target.startswith(root.name + "."):
                    found.append(Import(path, node.lineno, importer, nearest_module(target, modules)))
    return found


def nearest_module(name: str, modules: dict[str, Path]) -> str:
    """`a.b.c` names the module `a.b.c`, or an attribute of `a.b` (`import a.b.c` of a function)."""
    while name not in modules and "." in name:
        name = name.rpartition(".")[0]
    return name


def layer_of(module: str, root_name: str = PACKAGE) -> Layer:
    parts = module.split(".")[1:]
    head = parts[0] if parts else ""
    if head in STAGES:
        return Layer("stage", STAGES.index(head), head)
    if head in SHARED:
        return Layer("shared", -1, "shared")
    if head == WORKERS:
        return Layer("workers", -1, WORKERS)
    if head in TOP:
        return Layer("top", -1, "top")
    raise AssertionError(f"{module} belongs to no layer: add it to tests/test_architecture.py and ARCHITECTURE.md")


def breaks_a_rule(importer: Layer, imported: Layer) -> str | None:
    """Why `importer` may not import `imported`, or None."""
    if importer.kind == "top":
        return None
    if imported.kind == "top":
        return f"{importer} imports the top layer"
    if imported.kind == "workers":
        return None if importer.kind == "workers" else f"{importer} imports workers/ (CLI entry points)"
    if importer.kind == "shared" and imported.kind == "stage":
        return f"the shared layer imports the {imported} stage"
    if importer.kind == "stage" and imported.kind == "stage" and imported.rank > importer.rank:
        return f"the {importer} stage imports the later {imported} stage"
    return None


def rule_violations(root: Path, allowed: set[tuple[str, str]] = frozenset()) -> list[str]:
    problems = []
    for imp in project_imports(root):
        reason = breaks_a_rule(layer_of(imp.importer), layer_of(imp.imported))
        if reason and (imp.importer, imp.imported) not in allowed:
            problems.append(f"{imp.where(root)}: {reason}")
    return problems


def import_cycles(root: Path) -> list[list[Import]]:
    """One loop of imports per strongly connected component with more than one module (or a module
    importing itself), found with Tarjan's algorithm and walked back to its start."""
    edges: dict[str, dict[str, Import]] = {}
    for imp in project_imports(root):
        edges.setdefault(imp.importer, {}).setdefault(imp.imported, imp)  # the first line that imports it
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in edges.get(module, {}):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1 or module in edges.get(module, {}):
                components.append(sorted(component))

    for module in sorted(edges):
        if module not in index:
            visit(module)
    return [_loop(component, edges) for component in components]


def _loop(component: list[str], edges: dict[str, dict[str, Import]]) -> list[Import]:
    """A shortest path from the component's first module back to itself (breadth first)."""
    members = set(component)
    start = component[0]
    previous: dict[str, Import] = {}
    frontier = [start]
    while frontier:
        following = []
        for module in frontier:
            for target, imp in edges.get(module, {}).items():
                if target not in members:
                    continue
                if target == start:
                    loop = [imp]
                    while loop[0].importer != start:
                        loop.insert(0, previous[loop[0].importer])
                    return loop
                if target not in previous:
                    previous[target] = imp
                    following.append(target)
        frontier = following
    raise AssertionError(f"no loop through {start}")


def describe_cycle(loop: list[Import], root: Path) -> str:
    return "import cycle " + " -> ".join([loop[0].importer] + [imp.imported for imp in loop]) + ": " + "; ".join(
        imp.where(root) for imp in loop
    )


# --------------------------------------------------------------------------------------------------
# The project


def test_every_module_has_a_layer_and_the_checker_sees_the_imports():
    """Guards against passing vacuously: the real tree is read, every stage is there, and the
    imports found are the many the package has."""
    modules = source_modules(SOURCE_ROOT)
    layers = {layer_of(module).name for module in modules}
    assert set(STAGES) | {"shared", WORKERS, "top"} <= layers
    imports = project_imports(SOURCE_ROOT)
    assert len(modules) > 60 and len(imports) > 250
    inside_functions = [imp for imp in imports if imp.importer == "xrep_assets.cli" and imp.imported == "xrep_assets.orchestration"]
    assert inside_functions, "cli.py imports orchestration inside a function; the checker must see it"


def test_no_import_runs_backwards():
    problems = rule_violations(SOURCE_ROOT, ALLOWED)
    assert not problems, "imports against the layers (ARCHITECTURE.md):\n" + "\n".join(problems)


def test_no_import_cycle():
    cycles = [describe_cycle(loop, SOURCE_ROOT) for loop in import_cycles(SOURCE_ROOT)]
    assert not cycles, "\n".join(cycles)


def test_every_allowed_exception_is_still_needed():
    used = {(imp.importer, imp.imported) for imp in project_imports(SOURCE_ROOT)}
    assert ALLOWED <= used, f"allowed but no longer imported: {sorted(ALLOWED - used)}"


# --------------------------------------------------------------------------------------------------
# The checker itself, on planted trees


def plant(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / PACKAGE
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    for folder in [root, *[p for p in root.rglob("*") if p.is_dir()]]:
        (folder / "__init__.py").touch()
    return root


CLEAN = {
    "study.py": "CATALOG = {}\n",
    "corpora/assets.py": "from xrep_assets.study import CATALOG\n",
    "evaluation/scoring.py": "from xrep_assets.corpora import assets\nfrom . import spec\n",
    "evaluation/spec.py": "from ..study import CATALOG\n",
    "workers/score.py": "from xrep_assets.evaluation.scoring import score\n",
}


def test_the_checker_passes_a_clean_tree(tmp_path):
    root = plant(tmp_path, CLEAN)
    assert rule_violations(root) == [] and import_cycles(root) == []
    assert ("xrep_assets.evaluation.scoring", "xrep_assets.corpora.assets") in {
        (imp.importer, imp.imported) for imp in project_imports(root)
    }


def test_the_checker_catches_a_planted_backwards_import_inside_a_function(tmp_path):
    root = plant(tmp_path, {
        **CLEAN,
        "corpora/assets.py": """\
            from xrep_assets.study import CATALOG


            def decontaminate():
                from xrep_assets.evaluation.scoring import score
                return score
            """,
    })
    assert rule_violations(root) == [
        "xrep_assets/corpora/assets.py:5 imports xrep_assets.evaluation.scoring: the corpora stage imports the later evaluation stage"
    ]
    assert rule_violations(root, {("xrep_assets.corpora.assets", "xrep_assets.evaluation.scoring")}) == []


def test_the_checker_catches_a_stage_importing_a_worker_and_shared_importing_a_stage(tmp_path):
    root = plant(tmp_path, {
        **CLEAN,
        "evaluation/spec.py": "import xrep_assets.workers.score\n",
        "study.py": "from xrep_assets.corpora.assets import raw\n",
    })
    assert sorted(rule_violations(root)) == [
        "xrep_assets/evaluation/spec.py:1 imports xrep_assets.workers.score: evaluation imports workers/ (CLI entry points)",
        "xrep_assets/study.py:1 imports xrep_assets.corpora.assets: the shared layer imports the corpora stage",
    ]


def test_the_checker_catches_a_planted_cycle(tmp_path):
    root = plant(tmp_path, {
        **CLEAN,
        "execution/launchers.py": "def pick():\n    from xrep_assets.execution.k8s import K8s\n",
        "execution/k8s.py": "from xrep_assets.execution.pods import spec\n",
        "execution/pods.py": "from xrep_assets.execution import launchers\n",
    })
    assert rule_violations(root) == []
    [loop] = import_cycles(root)
    assert describe_cycle(loop, root) == (
        "import cycle xrep_assets.execution.k8s -> xrep_assets.execution.pods -> xrep_assets.execution.launchers"
        " -> xrep_assets.execution.k8s: xrep_assets/execution/k8s.py:1 imports xrep_assets.execution.pods;"
        " xrep_assets/execution/pods.py:1 imports xrep_assets.execution.launchers;"
        " xrep_assets/execution/launchers.py:2 imports xrep_assets.execution.k8s"
    )


def test_a_module_outside_every_layer_is_an_error(tmp_path):
    root = plant(tmp_path, {**CLEAN, "newthing/helpers.py": "from xrep_assets.study import CATALOG\n"})
    with pytest.raises(AssertionError, match="xrep_assets.newthing.helpers belongs to no layer"):
        rule_violations(root)


# --------------------------------------------------------------------------------------------------
# One meaning per name (ARCHITECTURE.md, Conventions)

# Public classes and functions that more than one module defines on purpose, each with its reason.
# Anything else defined twice is a reader's trap (issue 14 found two `HubSource`, two `resolve_device`).
SHARED_NAMES = {
    "main": "the entry point of each worker and of the CLI",
}


def public_definitions(root: Path) -> dict[str, list[str]]:
    """Each public top-level class or function name -> the modules that define it."""
    defined: dict[str, list[str]] = {}
    for module, path in source_modules(root).items():
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and not node.name.startswith("_"):
                defined.setdefault(node.name, []).append(module)
    return defined


def test_no_public_name_is_defined_in_two_modules():
    defined = public_definitions(SOURCE_ROOT)
    twice = {name: modules for name, modules in defined.items() if len(modules) > 1 and name not in SHARED_NAMES}
    assert not twice, "defined in several modules (rename one; ARCHITECTURE.md, Conventions):\n" + "\n".join(
        f"{name}: {', '.join(sorted(modules))}" for name, modules in sorted(twice.items())
    )
    assert all(len(defined.get(name, ())) > 1 for name in SHARED_NAMES), "a SHARED_NAMES entry is no longer shared"
