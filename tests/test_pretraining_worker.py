"""The pretraining worker: all six objectives, init_from, resume after SIGKILL, DDP, bad input."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModel, AutoModelForCausalLM, AutoModelForMaskedLM, AutoModelForSeq2SeqLM, AutoTokenizer

from xrep_assets.checkpoints.models import ModelError, count_parameters
from xrep_assets.checkpoints.spec import PretrainSpec, PretrainSpecError
from xrep_assets.checkpoints.streams import CorpusTooSmallError, bitext_stream
from xrep_assets.checkpoints.training import (
    TRAINING_LOG,
    TrainingDivergedError,
    TrainingSummary,
    latest_state,
    state_dirs,
    train,
)
from xrep_assets.corpora.readers import bitext_frame, read_moses_zip
from xrep_assets.execution.commands import worker_command
from xrep_assets.fixtures import OPUS_MIRROR
from xrep_assets.profiles import ModelSize
from xrep_assets.study import CORPORA, ENGLISH_PAIRS, OBJECTIVES, directions_for
from xrep_assets.tokenizers.training import train_joint_tokenizer

REPO = Path(__file__).resolve().parents[1]
PAIRS = ("en-fr", "en-zh")
SIZE = ModelSize(layers=1, hidden=32, heads=2, ffn=64, max_positions=64)
AUTO_CLASS = {"mlm": AutoModelForMaskedLM, "clm": AutoModelForCausalLM, "tlm": AutoModelForCausalLM}


def write_study_corpus(root: Path, pairs=PAIRS, rows: int | None = None) -> Path:
    """The layout `pretraining_corpus` writes, from the shipped UNPC fixture zips."""
    corpus = CORPORA["unpc"]
    mono: dict[str, list[str]] = {}
    for pair in (p for p in ENGLISH_PAIRS if p.key in pairs):
        zip_path = OPUS_MIRROR / corpus.opus_name / corpus.version / "moses" / f"{'-'.join(corpus.opus_pair(pair))}.txt.zip"
        frame = bitext_frame(read_moses_zip(zip_path, corpus, pair))
        frame = frame if rows is None else frame.head(rows)
        (root / "bitext" / pair.key).mkdir(parents=True, exist_ok=True)
        frame.write_parquet(root / "bitext" / pair.key / "train.parquet")
        mono.setdefault(pair.l1, []).extend(frame["text_1"])
        mono.setdefault(pair.l2, []).extend(frame["text_2"])
    (root / "monolingual").mkdir(parents=True, exist_ok=True)
    for lang, texts in mono.items():
        pl.DataFrame({"lang": [lang] * len(texts), "text": texts}).write_parquet(root / "monolingual" / f"{lang}.parquet")
    return root


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return write_study_corpus(tmp_path_factory.mktemp("corpus"))


def corpus_tokenizer(corpus: Path, out: Path) -> Path:
    """A small joint tokenizer trained on a study corpus's monolingual text."""
    texts = {f.stem: pl.read_parquet(f)["text"].to_list() for f in (corpus / "monolingual").glob("*.parquet")}
    train_joint_tokenizer(texts, out, vocab_size=400, alpha=0.3)
    return out


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory, corpus) -> Path:
    return corpus_tokenizer(corpus, tmp_path_factory.mktemp("tokenizer"))


def make_spec(tmp_path: Path, corpus: Path, tokenizer_dir: Path, objective: str = "mlm", **overrides) -> PretrainSpec:
    pairs = tuple(overrides.pop("pairs", PAIRS))
    fields = dict(
        objective=objective,
        tokenizer=str(tokenizer_dir),
        corpus=str(corpus),
        languages=("en", "fr", "zh"),
        pairs=pairs,
        directions=tuple(d.key for d in directions_for(tuple(p for p in ENGLISH_PAIRS if p.key in pairs))),
        out_dir=str(tmp_path / "out"),
        work_dir=str(tmp_path / "work"),
        size=SIZE,
        steps=6,
        batch_size=4,
        max_length=32,
        learning_rate=1e-3,
        warmup_steps=1,
        save_every=3,
        log_every=2,
        threads=1,
    )
    fields.update(overrides)
    return PretrainSpec(**fields)


def weights(directory: Path) -> dict[str, torch.Tensor]:
    return load_file(str(directory / "model.safetensors"))


def test_the_summary_reports_the_last_and_the_lowest_logged_loss():
    summary = TrainingSummary("mlm", parameters=10, steps=6, losses=[(2, 3.0), (4, 1.5), (6, 2.0)])
    assert (summary.final_loss, summary.best_loss) == (2.0, 1.5)
    empty = TrainingSummary("mlm", parameters=10, steps=0)
    assert math.isnan(empty.final_loss) and math.isnan(empty.best_loss)


@pytest.mark.parametrize("objective", list(OBJECTIVES))
def test_each_objective_trains_a_checkpoint_that_transformers_loads(tmp_path, corpus, tokenizer_dir, objective):
    spec = make_spec(tmp_path, corpus, tokenizer_dir, objective)
    summary = train(spec, log=lambda _: None)

    out = Path(spec.out_dir)
    auto = AUTO_CLASS.get(objective, AutoModelForSeq2SeqLM)
    model = auto.from_pretrained(str(out))
    assert count_parameters(model) == summary.parameters
    assert AutoModel.from_pretrained(str(out)) is not None
    assert len(AutoTokenizer.from_pretrained(str(out))) == model.get_input_embeddings().num_embeddings
    log = json.loads((out / TRAINING_LOG).read_text())
    assert [step for step, _ in log["losses"]] == [2, 4, 6]
    assert all(0 < loss < 20 for _, loss in log["losses"])
    assert summary.tokens_seen > 6 * 4  # at least one token per example per step
    # Two states kept (steps 3 and 6), complete ones only.
    assert [p.name for p in state_dirs(Path(spec.work_dir))] == ["step-00000003", "step-00000006"]


def test_init_from_starts_from_the_given_weights(tmp_path, corpus, tokenizer_dir):
    first = make_spec(tmp_path / "a", corpus, tokenizer_dir, "mlm")
    train(first, log=lambda _: None)
    # lr 0: AdamW leaves every weight where it started, so the result must equal the init checkpoint.
    continued = make_spec(tmp_path / "b", corpus, tokenizer_dir, "mlm", init_from=first.out_dir, learning_rate=0.0, steps=2)
    train(continued, log=lambda _: None)
    before, after = weights(Path(first.out_dir)), weights(Path(continued.out_dir))
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_init_from_an_mbart_checkpoint_continues_it_on_mt(tmp_path, corpus, tokenizer_dir):
    """Continued MT training of an mBART-50-like model with its own language codes (en_XX, fr_XX...)."""
    from transformers import MBartConfig, MBartForConditionalGeneration

    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    tokenizer.add_special_tokens({"additional_special_tokens": ["en_XX", "fr_XX", "zh_CN"]})
    hub = tmp_path / "mbart"
    config = MBartConfig(
        vocab_size=len(tokenizer) + 3, d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=64,
        pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.eos_token_id,
    )
    MBartForConditionalGeneration(config).save_pretrained(str(hub))
    tokenizer.save_pretrained(str(hub))

    spec = make_spec(tmp_path, corpus, hub, "mt-bart", init_from=str(hub), lang_codes="mbart")
    train(spec, log=lambda _: None)
    model = AutoModelForSeq2SeqLM.from_pretrained(spec.out_dir)
    assert model.config.model_type == "mbart"
    assert not all(torch.equal(a, b) for a, b in zip(weights(hub).values(), weights(Path(spec.out_dir)).values()))


# --------------------------------------------------------------------------------------------------
# Reliability: SIGKILL mid-run, resume, same weights as an uninterrupted run


def run_worker(spec: PretrainSpec, processes: int = 1) -> subprocess.CompletedProcess:
    path = spec.write(Path(spec.work_dir).parent / f"{Path(spec.work_dir).name}.json")
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    return subprocess.run(worker_command("xrep_assets.workers.pretrain", path, processes), env=env, capture_output=True, text=True, timeout=600)


def test_a_killed_worker_resumes_to_the_weights_of_an_uninterrupted_run(tmp_path, corpus, tokenizer_dir):
    common = dict(steps=60, save_every=5, log_every=10, batch_size=8)
    reference = make_spec(tmp_path / "ref", corpus, tokenizer_dir, "mlm", **common)
    done = run_worker(reference)
    assert done.returncode == 0, done.stderr

    killed = make_spec(tmp_path / "kill", corpus, tokenizer_dir, "mlm", **common)
    path = killed.write(tmp_path / "kill.json")
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(worker_command("xrep_assets.workers.pretrain", path), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        state = latest_state(Path(killed.work_dir))
        if state is not None and int(state.name.split("-")[1]) >= 15:
            break
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed_at = int(latest_state(Path(killed.work_dir)).name.split("-")[1])
    assert 15 <= killed_at < 60, "the worker was not killed mid-run"
    assert not Path(killed.out_dir).exists()

    resumed = run_worker(killed)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming from step-{killed_at:08d}" in resumed.stdout
    expected, got = weights(Path(reference.out_dir)), weights(Path(killed.out_dir))
    assert expected.keys() == got.keys()
    assert all(torch.equal(expected[k], got[k]) for k in expected)


def test_two_processes_train_with_ddp_on_cpu(tmp_path, corpus, tokenizer_dir):
    spec = make_spec(tmp_path, corpus, tokenizer_dir, "clm", steps=4, save_every=2)
    done = run_worker(spec, processes=2)
    assert done.returncode == 0, done.stderr
    log = json.loads((Path(spec.out_dir) / TRAINING_LOG).read_text())
    assert log["world_size"] == 2
    assert AutoModelForCausalLM.from_pretrained(spec.out_dir) is not None
    # Both ranks wrote their RNG state into each training state.
    assert sorted(p.name for p in latest_state(Path(spec.work_dir)).iterdir()) == ["rng-rank0.pt", "rng-rank1.pt", "state.json", "training.pt"]


# --------------------------------------------------------------------------------------------------
# Bad input


def test_a_diverging_loss_stops_with_a_clear_error_and_keeps_the_last_good_state(tmp_path, corpus, tokenizer_dir):
    # An absurd learning rate sends the weights to infinity after the first update.
    spec = make_spec(tmp_path, corpus, tokenizer_dir, "clm", learning_rate=1e30, warmup_steps=0, save_every=1, steps=5)
    with pytest.raises(TrainingDivergedError, match=r"loss is (nan|inf) at step \d.*last good state is .*step-0000000\d"):
        train(spec, log=lambda _: None)
    assert latest_state(Path(spec.work_dir)) is not None
    assert not Path(spec.out_dir).exists()


def test_a_corpus_too_small_for_one_batch_is_an_error(tmp_path, tokenizer_dir):
    small = write_study_corpus(tmp_path / "small", pairs=("en-fr",), rows=3)
    spec = make_spec(tmp_path, small, tokenizer_dir, "mt-transformer", pairs=("en-fr",), batch_size=16)
    with pytest.raises(CorpusTooSmallError, match=r"3 rows.*one batch of 16"):
        train(spec, log=lambda _: None)


def test_an_unknown_objective_is_an_error(tmp_path, corpus, tokenizer_dir):
    with pytest.raises(PretrainSpecError, match="unknown objective 'xlm'"):
        make_spec(tmp_path, corpus, tokenizer_dir, "xlm")
    spec_file = make_spec(tmp_path, corpus, tokenizer_dir).write(tmp_path / "spec.json")
    spec_file.write_text(spec_file.read_text().replace('"mlm"', '"xlm"'))
    with pytest.raises(PretrainSpecError, match="unknown objective"):
        PretrainSpec.read(spec_file)


def test_a_tokenizer_larger_than_the_checkpoints_vocabulary_is_an_error(tmp_path, corpus, tokenizer_dir):
    small = make_spec(tmp_path / "small", corpus, tokenizer_dir, "clm")
    train(small, log=lambda _: None)
    bigger = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    bigger.add_tokens([f"extra{i}" for i in range(10)])
    bigger_dir = tmp_path / "bigger"
    bigger.save_pretrained(str(bigger_dir))
    spec = make_spec(tmp_path / "b", corpus, bigger_dir, "clm", init_from=small.out_dir)
    with pytest.raises(ModelError, match=str(len(bigger))):
        train(spec, log=lambda _: None)


def test_init_from_missing_or_of_the_wrong_architecture_is_an_error(tmp_path, corpus, tokenizer_dir):
    missing = make_spec(tmp_path / "m", corpus, tokenizer_dir, "mlm", init_from=str(tmp_path / "nowhere"))
    with pytest.raises(ModelError, match="nowhere"):
        train(missing, log=lambda _: None)
    bert = make_spec(tmp_path / "bert", corpus, tokenizer_dir, "mlm")
    train(bert, log=lambda _: None)
    wrong = make_spec(tmp_path / "w", corpus, tokenizer_dir, "mt-bart", init_from=bert.out_dir)
    with pytest.raises(ModelError, match="bert"):
        train(wrong, log=lambda _: None)


def test_a_state_of_another_run_is_not_resumed(tmp_path, corpus, tokenizer_dir):
    spec = make_spec(tmp_path, corpus, tokenizer_dir, "clm", steps=3)
    train(spec, log=lambda _: None)
    with pytest.raises(PretrainSpecError, match="different run"):
        train(replace(spec, seed=1), log=lambda _: None)


def test_the_row_stream_resumes_exactly_where_it_stopped(corpus):
    stream = bitext_stream(corpus, PAIRS, seed=3)
    rows = iter(stream)
    _ = [next(rows) for _ in range(100)]
    state = stream.state()
    expected = [next(rows) for _ in range(700)]  # past the end of both files: epochs wrap
    again = bitext_stream(corpus, PAIRS, seed=3)
    again.restore(state)
    rest = iter(again)
    assert [next(rest) for _ in range(700)] == expected
    assert stream.completed_epochs >= 1
    assert {r.source for r in expected} == set(PAIRS)
