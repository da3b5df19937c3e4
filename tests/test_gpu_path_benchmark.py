"""benchmarks/gpu_path.py at its small size on the CPU: the script the one H100 run depends on works end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from xrep_assets.checkpoints.models import build_model, count_parameters, placeholder_ids
from xrep_assets.profiles import ModelSize

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "gpu_path.py"
OBJECTIVES = ("mlm", "clm", "tlm", "bart-denoising", "mt-transformer", "mt-bart")


def run_script(tmp_path: Path, *extra: str) -> tuple[dict, str]:
    out = tmp_path / "gpu_path.json"
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "2"}
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--device", "cpu", "--size", "small", "--threads", "2", "--json", str(out), *extra],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(out.read_text()), done.stdout


@pytest.fixture
def gpu_path(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    import gpu_path

    return gpu_path


@pytest.fixture(scope="module")
def small_run(tmp_path_factory) -> tuple[dict, str]:
    return run_script(tmp_path_factory.mktemp("gpu-path"))


def test_one_training_row_per_objective_with_the_built_models_parameter_count(small_run):
    result, _ = small_run
    rows = result["training"]
    assert [row["objective"] for row in rows] == list(OBJECTIVES)
    ids = placeholder_ids(result["settings"]["vocab"])
    for row in rows:
        assert row["error"] is None, row
        assert row["tokens_per_s"] > 0 and row["timed_steps"] == result["settings"]["steps"]
        assert row["counted_flops_per_s"] > 0
        # N is the parameter count of the model the objective builds at that size and vocabulary.
        with torch.device("meta"):
            model = build_model(row["objective"], ids, ModelSize(**row["size"]))
        assert row["parameters"] == count_parameters(model)
        if row["objective"] != "mt-transformer":  # its sinusoidal table is a (frozen) parameter too
            assert row["parameters"] == sum(p.numel() for p in model.parameters())


def test_encoding_rows_and_no_invented_peak_on_a_cpu(small_run):
    result, stdout = small_run
    assert result["device_type"] == "cpu" and result["torch"] == torch.__version__ and result["precision"] == "bf16"
    assert [row["objective"] for row in result["encoding"]] == ["mlm", "mt-transformer"]
    for row in result["encoding"]:
        assert row["error"] is None, row
        assert row["sentences"] == 48 and row["sentences_per_s"] > 0 and row["tokens_per_s"] > row["sentences_per_s"]
        assert row["token_budget"] == 4096  # the encoder's own default on a CPU
    # No CPU peak is known: MFU is left blank, never computed against a made-up figure.
    assert result["peak_flops"] is None
    assert all(row["mfu_6n"] is None and row["util_counted"] is None for row in result["training"])
    table = [line for line in stdout.splitlines() if line.startswith("| ")]
    assert table[0].startswith("| kind | objective | model | N |")
    assert [line.split(" | ")[0:2] for line in table[1:]] == (
        [["| train", o] for o in OBJECTIVES] + [["| encode", "mlm"], ["| encode", "mt-transformer"]]
    )
    assert all(" n/a " in line for line in table[1:7])


def test_fp16_with_a_given_peak_computes_mfu_as_6_n_tokens_per_second(tmp_path, gpu_path):
    """fp16 autocast with a GradScaler, in this process (no second start-up): one objective's row."""
    from transformers import AutoTokenizer

    from xrep_assets.checkpoints.vocabulary import token_ids

    args = gpu_path.parse_args(["--device", "cpu", "--precision", "fp16", "--objectives", "mlm", "--encode", ""])
    texts = gpu_path.fixture_texts()
    gpu_path.write_tokenizer(tmp_path, texts, args.vocab)
    gpu_path.write_corpus(tmp_path, texts, 1)
    tokenizer = AutoTokenizer.from_pretrained(str(tmp_path / "tokenizer"))
    ids = token_ids(tokenizer, gpu_path.LANGUAGES)
    row, model = gpu_path.train_objective(args, tmp_path, "mlm", tokenizer, ids, 1e9, lambda _: None, args.tokens_per_step)
    assert row["error"] is None and row["tokens_per_s"] > 0 and row["parameters"] == count_parameters(model)
    assert row["mfu_6n"] == pytest.approx(6 * row["parameters"] * row["tokens_per_s"] / 1e9)
    assert row["util_counted"] == pytest.approx(row["counted_flops_per_s"] / 1e9)
    assert all(p.grad is None for p in model.parameters())  # the step loop ran to its zero_grad


def test_out_of_memory_retries_with_half_the_tokens(monkeypatch, gpu_path):
    tried = []

    def fake_train(args, work, objective, tokenizer, ids, peak, log, tokens_per_step):
        tried.append(tokens_per_step)
        if tokens_per_step > 100:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return {"objective": objective, "error": None}, "model"

    monkeypatch.setattr(gpu_path, "train_objective", fake_train)
    args = gpu_path.parse_args(["--device", "cpu", "--tokens-per-step", "400"])
    row, model = gpu_path.train_with_retries(args, Path("."), "mlm", None, None, None, lambda _: None)
    assert tried == [400, 200, 100] and model == "model" and row["out_of_memory_at"] == [400, 200]
    tried.clear()
    args = gpu_path.parse_args(["--device", "cpu", "--tokens-per-step", "1600"])
    row, model = gpu_path.train_with_retries(args, Path("."), "mlm", None, None, None, lambda _: None)
    assert tried == [1600, 800, 400] and model is None and "OutOfMemoryError" in row["error"]
    assert row["out_of_memory_at"] == [1600, 800, 400]
