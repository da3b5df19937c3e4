"""The worker runner: by hand it prints, under dagster-pipes it reports (only rank 0), and an op launch
(no asset to report to) turns the metadata into a log line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from dagster_pipes import DAGSTER_PIPES_CONTEXT_ENV_VAR, DagsterPipesError

from xrep_assets.errors import XrepError
from xrep_assets.execution.specfiles import SpecFile
from xrep_assets.workers import runner
from xrep_assets.workers.pretrain import done_line


class GreetSpecError(XrepError):
    pass


@dataclass(frozen=True)
class GreetSpec(SpecFile):
    error = GreetSpecError
    what = "greeting spec"

    name: str


def greet(spec: GreetSpec, log) -> dict[str, object]:
    log(f"greeting {spec.name}")
    return {"greeted": spec.name, "letters": len(spec.name)}


class FakePipes:
    """Stands in for dagster-pipes' context: records log lines and reported metadata."""

    def __init__(self, for_op: bool = False):
        self.for_op = for_op
        self.lines: list[str] = []
        self.reported: list[dict] = []
        self.log = self  # pipes.log.info

    def info(self, line: str) -> None:
        self.lines.append(line)

    def report_asset_materialization(self, metadata: dict, asset_key: str | None = None) -> None:
        if self.for_op:
            raise DagsterPipesError("no asset to report to")
        self.reported.append(metadata if asset_key is None else {asset_key: metadata})


@pytest.fixture
def spec_path(tmp_path):
    return GreetSpec("ada").write(tmp_path / "spec.json")


def run(spec_path, monkeypatch, pipes: FakePipes | None = None, **kwargs) -> int:
    if pipes is not None:
        monkeypatch.setenv(DAGSTER_PIPES_CONTEXT_ENV_VAR, "set by the launcher")

        @contextmanager
        def open_pipes():
            yield pipes

        monkeypatch.setattr(runner, "open_dagster_pipes", open_pipes)
    else:
        monkeypatch.delenv(DAGSTER_PIPES_CONTEXT_ENV_VAR, raising=False)
    return runner.run_worker("python -m greet", "Greets.", GreetSpec, greet, [str(spec_path)], **kwargs)


def test_by_hand_it_prints_the_log_lines_then_the_metadata_as_json(spec_path, monkeypatch, capsys):
    assert run(spec_path, monkeypatch) == 0
    out = capsys.readouterr().out
    first, rest = out.split("\n", 1)
    assert first == "greeting ada"
    assert json.loads(rest) == {"greeted": "ada", "letters": 3}


def test_by_hand_a_worker_may_print_its_own_last_line(spec_path, monkeypatch, capsys):
    run(spec_path, monkeypatch, final_line=lambda m: f"done: {m['greeted']}")
    assert capsys.readouterr().out == "greeting ada\ndone: ada\n"
    assert done_line({"steps": 6, "final_loss": 1.23456}) == "done: 6 steps, final loss 1.2346"


def test_under_pipes_the_log_and_the_metadata_go_to_dagster(spec_path, monkeypatch, capsys):
    pipes = FakePipes()
    assert run(spec_path, monkeypatch, pipes) == 0
    assert pipes.lines == ["greeting ada"]
    assert pipes.reported == [{"greeted": "ada", "letters": 3}]
    assert capsys.readouterr().out == ""


def test_launched_for_an_op_the_metadata_becomes_a_log_line(spec_path, monkeypatch):
    pipes = FakePipes(for_op=True)
    assert run(spec_path, monkeypatch, pipes) == 0
    assert pipes.lines == ["greeting ada", json.dumps({"greeted": "ada", "letters": 3})]


def test_only_rank_zero_of_a_torchrun_job_talks_to_dagster(spec_path, monkeypatch, capsys):
    pipes = FakePipes()
    monkeypatch.setenv("RANK", "1")
    run(spec_path, monkeypatch, pipes)
    assert pipes.lines == [] and pipes.reported == []
    assert capsys.readouterr().out.startswith("greeting ada\n")
    monkeypatch.setenv("RANK", "0")
    run(spec_path, monkeypatch, pipes)
    assert pipes.reported == [{"greeted": "ada", "letters": 3}]


def test_a_worker_of_several_assets_reports_each_ones_metadata(spec_path, monkeypatch, capsys):
    pipes = FakePipes()
    monkeypatch.setenv(DAGSTER_PIPES_CONTEXT_ENV_VAR, "set by the launcher")

    @contextmanager
    def open_pipes():
        yield pipes

    monkeypatch.setattr(runner, "open_dagster_pipes", open_pipes)
    reports = runner.AssetReports({"cka_by_layer": {"rows": 3}, "weight_spectrum": {"rows": 2}})
    assert runner.run_worker("python -m greet", "Greets.", GreetSpec, lambda spec, log: reports, [str(spec_path)]) == 0
    assert pipes.reported == [{"cka_by_layer": {"rows": 3}}, {"weight_spectrum": {"rows": 2}}]
    monkeypatch.delenv(DAGSTER_PIPES_CONTEXT_ENV_VAR)  # by hand: the reports as one JSON object
    runner.run_worker("python -m greet", "Greets.", GreetSpec, lambda spec, log: reports, [str(spec_path)])
    assert json.loads(capsys.readouterr().out) == {"cka_by_layer": {"rows": 3}, "weight_spectrum": {"rows": 2}}


def test_a_bad_spec_file_is_the_specs_error_naming_the_file(tmp_path, monkeypatch):
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": "ada", "colour": "red"}')
    with pytest.raises(GreetSpecError, match=r"bad.json: unknown fields \['colour'\]"):
        run(bad, monkeypatch)


def test_the_argument_and_its_help_come_from_the_spec(monkeypatch, capsys):
    with pytest.raises(SystemExit):
        runner.run_worker("python -m greet", "Greets.", GreetSpec, greet, ["--help"])
    out = capsys.readouterr().out
    assert out.startswith("usage: python -m greet [-h] spec") and "the greeting spec (JSON) the asset wrote" in out


def test_the_workers_run_without_dagster():
    """A worker talks to the run through dagster-pipes only: its imports reach neither dagster nor the
    resources (the artifact store it writes through is `artifacts.ArtifactFolder`)."""
    workers = ("pretrain", "score", "tokenize")
    probe = (
        "import importlib, sys\n"
        f"for name in {workers!r}: importlib.import_module(f'xrep_assets.workers.{{name}}')\n"
        "print(sorted(m for m in ('dagster', 'xrep_assets.resources') if m in sys.modules))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
