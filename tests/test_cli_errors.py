"""Every expected failure of every `xrep` command is one line on stderr and exit code 2.

Table-driven over the commands' failures (bad, empty and writing SQL, a missing, garbage or truncated
warehouse, bad gold and prediction files, unknown profiles, unusable paths, a failed study stage),
plus generated queries and generated damage to a warehouse file. Most cases run `cli.main` in this
process (what the `xrep` script calls); two run the real process to show that nothing else reaches
stderr there.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xrep_assets import cli
from xrep_assets.evaluation.score_files import SCORE_SCHEMA
from xrep_assets.fixtures import OPUS_MIRROR, XGLUE_DIR
from xrep_assets.warehouse.resources import DuckDBWarehouse

XNLI_FR = XGLUE_DIR / "XNLI" / "fr.test"
ROW = {"checkpoint": "mlm", "revision": "r1", "task": "NC", "language": "en", "split": "test", "metric": "accuracy",
       "value": 0.8, "seed": 0, "protocol": "probe", "layer": -1, "n_examples": 10, "versions": "{}"}


@pytest.fixture(scope="module")
def good_warehouse(tmp_path_factory) -> bytes:
    """The bytes of a small warehouse: the schema, the catalog tables and one score row."""
    path = tmp_path_factory.mktemp("warehouse") / "warehouse.duckdb"
    DuckDBWarehouse(path=str(path)).replace_partition("mlm", "NC", pl.DataFrame([ROW], schema=SCORE_SCHEMA))
    return path.read_bytes()


@pytest.fixture
def home(tmp_path, monkeypatch, good_warehouse) -> Path:
    """$XREP_HOME holding the good warehouse; sources and profile unset."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "warehouse.duckdb").write_bytes(good_warehouse)
    for name in ("XREP_PROFILE", "XREP_OPUS_MIRROR", "XREP_XGLUE_DIR", "XREP_XGLUE_DATASET", "XREP_UD_DIR", "XREP_ARTIFACTS_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XREP_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    return home


def run_main(capsys, *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    try:
        code = cli.main(list(argv))
    except SystemExit as stop:  # argparse's usage errors
        code = stop.code
    return code, capsys.readouterr().err


def assert_one_line(code: int, err: str, *named: str) -> str:
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip("\n").splitlines()
    assert len(lines) == 1, err
    for name in named:
        assert name in lines[0], f"{name!r} not in {lines[0]!r}"
    return lines[0]


def damage(home: Path, how: str) -> str:
    """Replaces or removes the warehouse file; returns its path (what the error must name)."""
    path = home / "warehouse.duckdb"
    data = path.read_bytes()
    if how == "missing":
        path.unlink()
    elif how == "garbage":
        path.write_bytes(b"this is not a DuckDB file\n" * 100)
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "header only":
        path.write_bytes(data[:100])
    elif how == "first blocks":
        path.write_bytes(data[:12288])
    return str(path)


def bad_file(tmp_path: Path, content: bytes, name: str) -> str:
    path = tmp_path / name
    path.write_bytes(content)
    return str(path)


WAREHOUSE_DAMAGE = ["missing", "garbage", "empty", "header only", "first blocks"]


@pytest.mark.parametrize("how", WAREHOUSE_DAMAGE)
@pytest.mark.parametrize("argv", [("report",), ("report", "--format", "csv"), ("sql", "SELECT count(*) FROM scores")])
def test_a_missing_or_damaged_warehouse(home, capsys, argv, how):
    path = damage(home, how)
    line = assert_one_line(*run_main(capsys, *argv), path)
    assert line.startswith(f"xrep {argv[0]}: ")


SQL_FAILURES = {
    "syntax error": ("SELEC 1", "syntax error"),
    "empty": ("", "empty"),
    "blank": ("  \n ", "empty"),
    "comment only": ("-- nothing", "empty"),
    "unknown table": ("SELECT * FROM nope", "nope does not exist"),
    "unknown column": ("SELECT nope FROM scores", "nope"),
    "bad cast": ("SELECT 'a'::INT", "Conversion Error"),
    "second statement bad": ("SELECT 1; SELEC 2", "syntax error"),
    "delete": ("DELETE FROM scores", "read-only"),
    "drop": ("DROP TABLE scores", "read-only"),
    "create": ("CREATE TABLE t AS SELECT 1", "read-only"),
}


@pytest.mark.parametrize("case", sorted(SQL_FAILURES))
def test_bad_sql_names_the_query_and_writes_nothing(home, capsys, case):
    query, reason = SQL_FAILURES[case]
    before = (home / "warehouse.duckdb").read_bytes()
    line = assert_one_line(*run_main(capsys, "sql", query), repr(query), reason)
    assert line.startswith("xrep sql: ")
    assert (home / "warehouse.duckdb").read_bytes() == before  # read-only: the file is untouched
    assert DuckDBWarehouse(path=str(home / "warehouse.duckdb")).query("SELECT count(*) FROM scores").item() == 1


@given(query=st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=40))
@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_query_succeeds_or_fails_on_one_line(home, capsys, query):
    code, err = run_main(capsys, "sql", query)
    if code != 0:
        assert_one_line(code, err, "xrep sql: ")


@given(cut=st.integers(0, 2**22), flips=st.lists(st.tuples(st.integers(0, 2**22), st.integers(1, 255)), max_size=8))
@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_a_truncated_or_flipped_warehouse_gives_rows_or_one_line(home, capsys, good_warehouse, cut, flips):
    data = bytearray(good_warehouse[: cut % (len(good_warehouse) + 1)])
    for offset, mask in flips:
        if data:
            data[offset % len(data)] ^= mask
    (home / "warehouse.duckdb").write_bytes(bytes(data))
    for argv in (("sql", "SELECT * FROM scores"), ("report",)):
        code, err = run_main(capsys, *argv)
        if code != 0:
            assert_one_line(code, err, str(home / "warehouse.duckdb"))


def prediction_cases(tmp_path: Path) -> dict[str, tuple[list[str], str]]:
    """argv of `evaluate-predictions` and what its one line must name."""
    gold_lines = XNLI_FR.read_text(encoding="utf-8").splitlines()
    good_predictions = bad_file(tmp_path, "".join(line.rsplit("\t", 1)[1] + "\n" for line in gold_lines).encode(), "good.prediction")
    folder = tmp_path / "folder"
    folder.mkdir()
    cases = {
        "malformed gold": (bad_file(tmp_path, b"one field only\n", "malformed.test"), good_predictions, "malformed.test"),
        "gold not UTF-8": (bad_file(tmp_path, b"a\tb\xff\tneutral\n", "latin.test"), good_predictions, "latin.test"),
        "missing gold": (str(tmp_path / "absent.test"), good_predictions, "absent.test"),
        "empty predictions": (str(XNLI_FR), bad_file(tmp_path, b"", "empty.prediction"), "empty.prediction"),
        "short predictions": (str(XNLI_FR), bad_file(tmp_path, b"neutral\n", "short.prediction"), "short.prediction"),
        "unknown label": (str(XNLI_FR), bad_file(tmp_path, b"maybe\n" * len(gold_lines), "maybe.prediction"), "maybe.prediction"),
        "predictions not UTF-8": (str(XNLI_FR), bad_file(tmp_path, b"\xff\n", "binary.prediction"), "binary.prediction"),
        "missing predictions": (str(XNLI_FR), str(tmp_path / "absent.prediction"), "absent.prediction"),
        "a folder without --lang": (str(folder), good_predictions, str(folder)),
    }
    argv = {name: (["evaluate-predictions", "XNLI", gold, pred], named) for name, (gold, pred, named) in cases.items()}
    argv["unknown task"] = (["evaluate-predictions", "NOPE", str(XNLI_FR), good_predictions], "NOPE")
    argv["unknown language"] = (["evaluate-predictions", "XNLI", str(XGLUE_DIR), good_predictions, "--lang", "xx"], "'xx'")
    return argv


PREDICTION_CASES = [
    "malformed gold", "gold not UTF-8", "missing gold", "empty predictions", "short predictions", "unknown label",
    "predictions not UTF-8", "missing predictions", "a folder without --lang", "unknown task", "unknown language",
]


@pytest.mark.parametrize("case", PREDICTION_CASES)
def test_bad_gold_or_prediction_files(home, capsys, tmp_path, case):
    cases = prediction_cases(tmp_path)
    assert sorted(cases) == sorted(PREDICTION_CASES)
    argv, named = cases[case]
    assert_one_line(*run_main(capsys, *argv), "xrep evaluate-predictions: ", named)


@pytest.mark.parametrize("content", [b"", b"\n\n\n"], ids=["empty", "blank lines"])
def test_an_empty_gold_file_fails_on_one_line(home, capsys, tmp_path, content):
    gold = bad_file(tmp_path, content, "empty.test")
    predictions = bad_file(tmp_path, b"neutral\n", "one.prediction")
    assert_one_line(*run_main(capsys, "evaluate-predictions", "XNLI", gold, predictions), "xrep evaluate-predictions: ")


def test_an_empty_gold_file_is_named(home, capsys, tmp_path):
    gold = bad_file(tmp_path, b"", "empty.test")
    predictions = bad_file(tmp_path, b"", "nothing.prediction")  # as empty: the count check is silent
    assert_one_line(*run_main(capsys, "evaluate-predictions", "XNLI", gold, predictions), "empty.test")


def test_unknown_profiles(home, capsys, monkeypatch):
    assert_one_line(*run_main(capsys, "plan", "--profile", "huge"), "xrep plan: ", "'huge'", "tiny")
    assert_one_line(*run_main(capsys, "study", "--profile", "huge"), "xrep study: ", "'huge'")
    assert_one_line(*run_main(capsys, "report", "--format", "xml"), "xrep report: ", "'xml'")
    assert_one_line(*run_main(capsys), "xrep: ", "command")
    monkeypatch.setenv("XREP_PROFILE", "huge")  # `study` resolves it the same way (and loads torch first)
    assert_one_line(*run_main(capsys, "plan"), "xrep plan: ", "'huge'", "tiny")


def test_an_unusable_dagster_home(home, capsys, monkeypatch, tmp_path):
    taken = tmp_path / "a file"
    taken.write_text("not a folder")
    monkeypatch.setenv("DAGSTER_HOME", str(taken))
    assert_one_line(*run_main(capsys, "dagster-home"), "xrep dagster-home: ", str(taken))


def run_process(home: Path, *argv: str, **env: str) -> subprocess.CompletedProcess:
    import os

    environ = {k: v for k, v in os.environ.items() if not k.startswith(("XREP_", "DAGSTER_"))}
    environ |= {"XREP_HOME": str(home), "DAGSTER_HOME": str(home / "dagster_home"), **env}
    return subprocess.run([sys.executable, "-m", "xrep_assets.cli", *argv], capture_output=True, text=True,
                          env=environ, timeout=300)


def test_the_process_prints_only_the_line(home):
    done = run_process(home, "sql", "SELEC 1")
    assert done.stdout == ""
    assert_one_line(done.returncode, done.stderr, "xrep sql: ", "'SELEC 1'", "syntax error")


def test_a_failed_study_stage_ends_with_one_line_naming_run_step_and_file(home, tmp_path):
    """The stage's Dagster run logs go to stderr as they happen (its traceback among them); the command
    then ends on one line naming the run, the failed step and the error, with exit code 2."""
    mirror = tmp_path / "mirror"
    shutil.copytree(OPUS_MIRROR, mirror)
    zipped = next(mirror.glob("UNPC/*/moses/ar-en.txt.zip"))
    zipped.unlink()
    done = run_process(home, "study", XREP_OPUS_MIRROR=str(mirror), XREP_XGLUE_DIR=str(XGLUE_DIR))
    assert done.returncode == 2, done.stderr[-2000:]
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("xrep study: corpora_job[unpc|ar-en] failed (run ")
    assert "raw_bitext: CorpusFormatError: " in last and str(zipped) in last
