"""benchmarks/scale.py at tiny sizes: the benchmark the full-size scale figures come from runs end to end
and reports every step at every size. (Its targets are not asserted here: at a few thousand rows the
processes' start-up dominates every figure.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "scale.py"
SIZES = (6000, 12000)
STEPS = ("cleaning", "allocation", "tokenizer")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> tuple[dict, str]:
    out = tmp_path_factory.mktemp("scale") / "scale.json"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--rows", ",".join(map(str, SIZES)), "--corpus", "unpc", "--pairs", "english",
         "--vocab-size", "500", "--json", str(out)],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(out.read_text()), done.stdout


def test_every_step_at_every_size_has_a_time_and_a_peak(tiny_run):
    result, _ = tiny_run
    assert [size["rows_per_corpus"] for size in result["sizes"]] == list(SIZES)
    for size in result["sizes"]:
        # the generator hits the requested size within a sentence per pair, and cleaning keeps most of it
        assert abs(size["rows"] - size["rows_per_corpus"]) < 100
        assert set(size["steps"]) == set(STEPS)
        for step in size["steps"].values():
            assert step["seconds"] > 0 and step["peak_bytes"] > 10 * 2**20
        assert 0.8 * size["rows"] < size["steps"]["cleaning"]["kept_rows"] < size["rows"]
        assert size["steps"]["cleaning"]["processes"] == 5  # one per partition: unpc x the 5 English pairs
        assert size["steps"]["allocation"]["train_rows"] > 0


def test_the_generated_text_passes_language_identification(tiny_run):
    result, stdout = tiny_run
    kept = result["sizes"][0]["generated"]["unpc"]["language_id_kept"]
    assert set(kept) == {"ar", "zh", "en", "fr", "ru", "es"} and min(kept.values()) > 0.9
    assert "unpc: language ID keeps" in stdout


def test_table_exponents_extrapolation_and_targets_are_reported(tiny_run):
    result, stdout = tiny_run
    rows = [line for line in stdout.splitlines() if line.startswith("| ") and "input rows" not in line]
    assert len(rows) == len(SIZES) * len(STEPS)
    assert set(result["fits"]) == set(STEPS) and set(result["extrapolation"]) == set(STEPS)
    for step in STEPS:
        assert f"  {step}: time " in stdout  # its exponents
        assert result["extrapolation"][step]["hours"] > 0 and result["extrapolation"][step]["memory_gib"] > 0
    assert "extrapolation to the full study (2 corpora x 15 pairs x 25M rows)" in stdout
    # the worker steps' study-size processes against their paper pods' memory
    assert result["extrapolation"]["allocation"]["pod_memory_gib"] > 0
    assert "the paper pod's" in stdout
    names = [check["name"] for check in result["targets"]]
    assert "allocation marginal peak bytes per input row" in names and "tokenizer memory exponent" in names
    assert stdout.count("-> PASS") + stdout.count("-> FAIL") == len(result["targets"])


def test_without_cleaning_the_generated_bitexts_stand_in_for_the_cleaned_ones(tmp_path):
    out = tmp_path / "scale.json"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--rows", ",".join(map(str, SIZES)), "--corpus", "unpc", "--pairs", "english",
         "--steps", "allocation", "--json", str(out)],
        env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["settings"]["steps"] == ["allocation"]
    for size in result["sizes"]:
        assert list(size["steps"]) == ["allocation"] and size["steps"]["allocation"]["train_rows"] > 0
    assert list(result["fits"]) == list(result["extrapolation"]) == ["allocation"]
    assert [check["name"] for check in result["targets"]][1:] == [
        "allocation time exponent", "allocation marginal peak bytes per input row"]


def test_the_tokenizer_alone_is_refused():
    done = subprocess.run([sys.executable, str(SCRIPT), "--steps", "tokenizer"],
                          env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 2 and "the tokenizer with the allocation" in done.stderr
