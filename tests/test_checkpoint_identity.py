"""A checkpoint's identity (family, language codes, revision) is recorded once, when the checkpoint
asset writes it, and scoring reads it from the record: a hub key the watch rules discover, unknown
to the catalog, scores like any other."""

import json
import re
import shutil

import dagster as dg
import polars as pl
import pytest

from xrep_assets.checkpoints.assets import checkpoint, hub_record, trained_record
from xrep_assets.checkpoints.encoder import EncoderError, language_codes_for, language_codes_of
from xrep_assets.checkpoints.hub_watch import discovered_key, hub_checkpoint, is_discovered_key
from xrep_assets.checkpoints.partitions import CHECKPOINTS_PARTITION_NAME
from xrep_assets.checkpoints.resources import HubSource
from xrep_assets.checkpoints.record import (
    RECORD_FILE,
    CheckpointRecord,
    CheckpointRecordError,
    read_record,
    write_record,
)
from xrep_assets.evaluation.assets import task_scores
from xrep_assets.evaluation.partitions import score_key
from xrep_assets.evaluation.score_files import score_parts
from xrep_assets.execution.launchers import LocalWorkerLauncher
from xrep_assets.resources import ArtifactStore, StudySettings
from xrep_assets.study import HUB_CHECKPOINTS

# A repo the `facebook/mbart-large-50*` watch rule discovers; not in the catalog.
DISCOVERED_REPO = "facebook/mbart-large-50-xrep-tiny"


def test_the_discovered_repo_is_unknown_to_the_catalog_and_takes_the_rules_codes():
    key = discovered_key(DISCOVERED_REPO)
    assert key == "facebook--mbart-large-50-xrep-tiny" and is_discovered_key(key)
    assert key not in HUB_CHECKPOINTS and all(e.repo_id != DISCOVERED_REPO for e in HUB_CHECKPOINTS.values())
    entry = hub_checkpoint(key)
    assert (entry.family, entry.lang_codes, entry.translates) == ("mbart", "mbart", None)


def _fake_discovered_mbart(toy_tokenizer_dir, hub_root):
    """A tiny random mBART with an mBART-50 tokenizer (its `en_XX`-style codes), saved under
    `<hub_root>/<repo_id>/` as HubSource's local mode reads it."""
    import torch
    from transformers import MBart50Tokenizer, MBartConfig, MBartForConditionalGeneration

    spm = hub_root / "spm"
    spm.mkdir(parents=True)
    shutil.copy(toy_tokenizer_dir / "sentencepiece.bpe.model", spm / "sentencepiece.bpe.model")
    tokenizer = MBart50Tokenizer.from_pretrained(str(spm))
    torch.manual_seed(0)
    model = MBartForConditionalGeneration(MBartConfig(
        vocab_size=len(tokenizer), d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=128,
        pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.eos_token_id,
    ))
    local = hub_root / DISCOVERED_REPO
    model.save_pretrained(str(local))
    tokenizer.save_pretrained(str(local))
    return local


def test_a_discovered_hub_checkpoint_is_fetched_with_its_identity_and_scored(tmp_path, toy_tokenizer_dir):
    key = discovered_key(DISCOVERED_REPO)
    local = _fake_discovered_mbart(toy_tokenizer_dir, tmp_path / "hub")
    resources = {
        "study": StudySettings(profile="tiny"),
        "artifacts": ArtifactStore(root=str(tmp_path / "artifacts")),
        "hub": HubSource(local_dir=str(tmp_path / "hub")),
        "launcher": LocalWorkerLauncher(),
    }
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(CHECKPOINTS_PARTITION_NAME, [key])

    fetched = dg.materialize([checkpoint], resources=resources, partition_key=key, instance=instance)
    directory = tmp_path / "artifacts" / "checkpoints" / key
    record = read_record(directory)
    assert (record.key, record.source, record.family) == (key, "hub", "mbart")
    assert (record.lang_codes, record.source_marker) == ("mbart", True)
    assert record.revision == f"local:{local}" and record.run_id == fetched.run_id
    assert language_codes_of(directory) == "mbart"

    scored = dg.materialize(
        [task_scores], resources=resources, partition_key=score_key(key, "QAM"), instance=instance,
        run_config={"ops": {"task_scores": {"config": {"protocol": "probe", "seeds": [0]}}}},
    )
    scores = pl.read_parquet(tmp_path.joinpath("artifacts", *score_parts(key, "QAM", "probe")))
    assert scores["language"].to_list() == ["en", "fr"]
    assert scores["checkpoint"].unique().to_list() == [key]
    assert scores["revision"].unique().to_list() == [f"local:{local}"]
    assert scores["seed"].unique().to_list() == [0]
    # The worker's encoder read the record's codes (its log line comes back through dagster-pipes).
    messages = [entry.user_message for entry in instance.all_logs(scored.run_id)]
    assert f"{key}: language codes in the inputs: mbart" in messages


def test_records_carry_the_convention_and_the_marker_of_every_kind():
    mlm = trained_record("mlm", "mlm", "iso", "sha256:0000000000000001", 10, "run-1")
    tlm = trained_record("tlm", "tlm", "iso", "sha256:0000000000000002", 10, "run-1")
    continued = trained_record("mbart-50+mt", "mt-bart", "mbart", "sha256:0000000000000003", 10, "run-1")
    assert (mlm.family, mlm.lang_codes, mlm.source_marker, mlm.input_codes) == ("bert", "iso", False, None)
    assert (tlm.lang_codes, tlm.source_marker, tlm.input_codes) == ("iso", True, "iso")
    # A continued hub model keeps the hub model's tokenizer, so its codes, whatever its objective.
    assert (continued.family, continued.lang_codes, continued.input_codes) == ("mbart", "mbart", "mbart")
    xlmr = hub_record(HUB_CHECKPOINTS["xlmr-base"], "e" * 40, 10, "run-2")
    nllb = hub_record(hub_checkpoint("facebook--nllb-200-1.3B"), "f" * 40, 10, "run-2")
    assert (xlmr.source, xlmr.family, xlmr.lang_codes, xlmr.input_codes) == ("hub", "xlm-roberta", "iso", None)
    assert (nllb.key, nllb.family, nllb.lang_codes, nllb.input_codes) == ("facebook--nllb-200-1.3B", "m2m100", "nllb", "nllb")


def test_the_record_wins_over_the_catalog(tmp_path):
    # A model trained with an init_from the catalog does not give its key: only the record knows.
    write_record(tmp_path, trained_record("mt-bart", "mt-bart", "mbart", "sha256:0000000000000004", 10, "run-3"))
    assert language_codes_for("mt-bart") == "iso"
    assert language_codes_of(tmp_path) == "mbart"


@pytest.mark.parametrize(
    ("key", "codes"),
    [("mlm", None), ("tlm", "iso"), ("mbart-50+mt", "mbart"), ("nllb-600m", "nllb"), ("facebook--nllb-200-1.3B", "nllb")],
)
def test_a_record_without_the_identity_falls_back_to_the_catalog(tmp_path, key, codes):
    """Records written before they carried the codes (key, source, revision, family, parameters,
    run_id) still score."""
    (tmp_path / RECORD_FILE).write_text(json.dumps(
        {"key": key, "source": "trained", "revision": "run-0", "family": "bert", "parameters": 10, "run_id": None}
    ), encoding="utf-8")
    record = read_record(tmp_path)
    assert not record.identity_recorded and record.lang_codes is None
    assert language_codes_of(tmp_path) == codes


def test_an_old_record_of_a_key_nobody_knows_is_an_error(tmp_path):
    write_record(tmp_path, CheckpointRecord("t5-small", "hub", "a" * 40, "t5", 10))
    with pytest.raises(EncoderError, match="'t5-small' is not in the study catalog"):
        language_codes_of(tmp_path)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"lang_codes": "m2m"}, "lang_codes 'm2m' is not a convention; known: iso, mbart, nllb"),
        ({"lang_codes": "iso", "source_marker": "yes"}, "source_marker must be true or false, got 'yes'"),
        ({"convention": "iso"}, "not a checkpoint record"),
    ],
)
def test_a_bad_record_is_an_error_naming_the_file(tmp_path, fields, message):
    raw = {"key": "mlm", "source": "trained", "revision": "run-0", "family": "bert", "parameters": 10} | fields
    (tmp_path / RECORD_FILE).write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(CheckpointRecordError, match=re.escape(str(tmp_path / RECORD_FILE))) as caught:
        read_record(tmp_path)
    assert message in str(caught.value)
