"""Same seed, same numbers: one MT checkpoint (mt-transformer, tiny profile) trained and scored twice,
each time by fresh worker processes as the study launches them, gives byte-identical weights and
byte-identical score files.

The two attempts run with different OpenMP defaults (1 and 3 threads), as two machines with
different core counts would: torch's default thread count follows the cores, and a float sum split
over another number of threads rounds differently (README: Reproducibility). The profile's `threads`
pins the count in both workers, so the numbers must not move. The two attempts run side by side, as
two machines would: each worker's time is mostly its imports, one core's work.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest
from test_pretraining_worker import write_study_corpus

from xrep_assets.checkpoints.assets import PretrainConfig, pretrain_spec
from xrep_assets.checkpoints.spec import PretrainSpecError
from xrep_assets.checkpoints.record import (
    TRAINING_LOG,
    CheckpointRecord,
    checkpoint_parts,
    content_revision,
    read_record,
    write_record,
)
from xrep_assets.corpora.layout import study_corpus_dir
from xrep_assets.errors import XrepError
from xrep_assets.evaluation.assets import ScoreConfig, score_spec
from xrep_assets.evaluation.spec import ScoreSpecError
from xrep_assets.evaluation.score_files import score_parts
from xrep_assets.execution.commands import worker_command
from xrep_assets.execution.launchers import WORKER_ENV
from xrep_assets.execution.pods import PRETRAIN_WORKER, SCORE_WORKER
from xrep_assets.profiles import PROFILES
from xrep_assets.resources import ArtifactStore
from xrep_assets.study import ENGLISH_PAIRS, TASKS
from xrep_assets.tokenizers.spec import TOKENIZER_PARTS
from xrep_assets.tokenizers.training import train_joint_tokenizer

REPO = Path(__file__).resolve().parents[1]
TINY = PROFILES["tiny"]
CHECKPOINT = "mt-transformer"
TASK = "XNLI"  # a pair task, one of those whose MT scores moved between machines (issue 13)
# The tiny profile's 400 steps, cut: a drift shows in the weights long before that (unpinned, 1 and 3
# OpenMP threads give other weights after 10 steps).
STEPS = 10
# Each attempt's OpenMP default, as a 1-core and a 3-core machine would give it.
OMP_DEFAULTS = {"a": "1", "b": "3"}


@pytest.fixture(scope="module")
def shared_inputs(tmp_path_factory) -> tuple[Path, Path]:
    """The study corpus (the five English pairs of the shipped UNPC fixture) and a joint tokenizer,
    built once: both attempts read the same inputs, as two runs of `make study` would."""
    root = tmp_path_factory.mktemp("inputs")
    corpus = write_study_corpus(study_corpus_dir(root), pairs=tuple(p.key for p in ENGLISH_PAIRS))
    texts = {f.stem: pl.read_parquet(f)["text"].to_list() for f in (corpus / "monolingual").glob("*.parquet")}
    train_joint_tokenizer(texts, root.joinpath(*TOKENIZER_PARTS), vocab_size=400, alpha=0.3)
    return corpus, root.joinpath(*TOKENIZER_PARTS)


def run_worker(module: str, spec_path: Path, omp_threads: str) -> None:
    # The local launcher's environment (WORKER_ENV), this checkout first on the path, and the
    # attempt's own OpenMP default standing in for the machine's core count.
    env = {**os.environ, **WORKER_ENV, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": omp_threads}
    done = subprocess.run(worker_command(module, spec_path), env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]


def attempt(root: Path, corpus: Path, tokenizer: Path, omp_threads: str) -> Path:
    """Pretraining and scoring workers on specs that differ from the other attempt's in paths only."""
    artifacts = ArtifactStore(root=str(root))
    out = artifacts.path(*checkpoint_parts(CHECKPOINT))
    spec = pretrain_spec(CHECKPOINT, CHECKPOINT, None, PretrainConfig(steps=STEPS), TINY, artifacts, out)
    spec = replace(spec, tokenizer=str(tokenizer), corpus=str(corpus))
    run_worker(PRETRAIN_WORKER, spec.write(Path(spec.work_dir) / "spec.json"), omp_threads)
    # What the checkpoint asset writes beside the weights once the worker is done.
    log = json.loads((out / TRAINING_LOG).read_text(encoding="utf-8"))
    write_record(out, CheckpointRecord(CHECKPOINT, "trained", content_revision(out), "marian", log["parameters"], f"run-{root.name}"))

    config = ScoreConfig(max_epochs=2, max_train_examples=64, chance_reruns=0)
    scoring = score_spec(CHECKPOINT, TASK, config, TINY, artifacts, run_id=f"run-{root.name}")
    run_worker(SCORE_WORKER, scoring.write(root / "score-spec.json"), omp_threads)
    return root


@pytest.fixture(scope="module")
def attempts(shared_inputs, tmp_path_factory) -> dict[str, Path]:
    corpus, tokenizer = shared_inputs
    roots = {name: tmp_path_factory.mktemp(name) for name in OMP_DEFAULTS}
    with ThreadPoolExecutor(max_workers=len(OMP_DEFAULTS)) as pool:
        done = {name: pool.submit(attempt, roots[name], corpus, tokenizer, omp) for name, omp in OMP_DEFAULTS.items()}
        return {name: future.result() for name, future in done.items()}


def test_two_attempts_train_byte_identical_weights(attempts):
    a, b = (attempt_root.joinpath(*checkpoint_parts(CHECKPOINT)) for attempt_root in attempts.values())
    assert (a / "model.safetensors").read_bytes() == (b / "model.safetensors").read_bytes()
    assert (a / "config.json").read_bytes() == (b / "config.json").read_bytes()
    # the revision names the weights, not the run: both attempts score the same revision
    assert read_record(a).revision == read_record(b).revision
    assert read_record(a).revision.startswith("sha256:") and len(read_record(a).revision) == len("sha256:") + 16
    assert read_record(a).run_id != read_record(b).run_id
    # both workers ran on the profile's threads (the README's table: 2), whatever OpenMP's default was
    assert TINY.threads == 2
    for directory in (a, b):
        log = json.loads((directory / TRAINING_LOG).read_text(encoding="utf-8"))
        assert (log["steps"], log["threads"]) == (STEPS, TINY.threads)
    assert json.loads((a / TRAINING_LOG).read_text())["losses"] == json.loads((b / TRAINING_LOG).read_text())["losses"]


@pytest.mark.parametrize("protocol", TINY.protocols)
def test_two_attempts_write_byte_identical_score_files(attempts, protocol):
    a, b = (root.joinpath(*score_parts(CHECKPOINT, TASK, protocol)) for root in attempts.values())
    assert a.read_bytes() == b.read_bytes()
    scores = pl.read_parquet(a)
    # a real file: every XNLI test language of the fixtures, scored by the pinned thread count
    test = scores.filter((pl.col("split") == "test") & (pl.col("metric") == TASKS[TASK].metric))
    assert sorted(test["language"].to_list()) == ["ar", "en", "es", "fr", "ru", "zh"]
    assert test["n_examples"].to_list() == [120] * 6
    assert test["value"].is_between(0.0, 1.0).all()
    versions = json.loads(scores["versions"][0])
    assert versions["cpu_threads"] == TINY.threads and versions["cpu_capability"]
    assert scores["revision"].unique().to_list() == [read_record(attempts["a"].joinpath(*checkpoint_parts(CHECKPOINT))).revision]


def test_the_revision_is_the_content_of_the_checkpoint(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "model.safetensors").write_bytes(b"weights")
    first = content_revision(tmp_path)
    # the record and the training log (wall-clock times) are beside the checkpoint, not part of it
    write_record(tmp_path, CheckpointRecord(CHECKPOINT, "trained", first, "marian", 1, "run-1"))
    (tmp_path / TRAINING_LOG).write_text('{"seconds": 12.5}')
    assert content_revision(tmp_path) == first
    (tmp_path / "model.safetensors").write_bytes(b"weightz")
    assert content_revision(tmp_path) != first
    (tmp_path / "model.safetensors").unlink()
    with pytest.raises(XrepError, match=rf"{re.escape(str(tmp_path))}: no weight file"):
        content_revision(tmp_path)


def test_a_thread_count_below_one_is_refused_naming_it(tmp_path):
    artifacts = ArtifactStore(root=str(tmp_path))
    spec = pretrain_spec(CHECKPOINT, CHECKPOINT, None, PretrainConfig(), TINY, artifacts, tmp_path / "out")
    with pytest.raises(PretrainSpecError, match=r"threads must be at least 1 \(or null for torch's default\), got 0"):
        replace(spec, threads=0)
    out = artifacts.path(*checkpoint_parts(CHECKPOINT))
    out.mkdir(parents=True)
    write_record(out, CheckpointRecord(CHECKPOINT, "trained", "sha256:0000000000000001", "marian", 1))
    scoring = score_spec(CHECKPOINT, TASK, ScoreConfig(), TINY, artifacts, run_id=None)
    assert scoring.threads == 2
    with pytest.raises(ScoreSpecError, match=r"threads must be at least 1 \(or null for torch's default\), got -1"):
        replace(scoring, threads=-1)
