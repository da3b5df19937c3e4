"""`xrep study` reads the sources the environment names (issue 13): `run_study` passes the whole
`study` resource in its run config, and the assets really read the overriding OPUS mirror, XGLUE
folder or XGLUE dataset.

The runs use the tiny profile without checkpoints (corpora -> allocation -> tokenizer -> comparison,
~10 s each) with all state in a temporary XREP_HOME and an ephemeral Dagster instance."""

import dataclasses
import os
import shutil
import zipfile
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from conftest import write_hub_layout_qam

from xrep_assets import cli, orchestration, profiles
from xrep_assets.corpora.partitions import corpus_pair_key
from allocation_reference import monolingual_texts
from xrep_assets.corpora.layout import study_corpus_dir
from xrep_assets.definitions import build_definitions
from xrep_assets.evaluation.assets import task_data_source
from xrep_assets.fixtures import OPUS_MIRROR, XGLUE_DIR
from xrep_assets.orchestration import run_study, study_run_config
from xrep_assets.resources import StudySettings, default_study_settings
from xrep_assets.study import CORPORA, LanguagePair
from xrep_assets.xglue.sources import DataSource

SOURCE_VARS = ("XREP_PROFILE", "XREP_OPUS_MIRROR", "XREP_XGLUE_DIR", "XREP_XGLUE_DATASET", "XREP_UD_DIR")
# Set where the test runs, they would move the state or the workers elsewhere.
STATE_VARS = ("XREP_ARTIFACTS_DIR", "XREP_ARTIFACTS_REMOTE", "XREP_LAUNCHER", "DAGSTER_HOME")
NONCE = "zorblax"  # a word of no fixture file: the mirror copy puts it into UNPC en-fr
MIRROR_ZIP = ("UNPC", "v1.0", "moses", "en-fr.txt.zip")
# The first English line of the fixtures' UNPC en-fr, "resolution" replaced by the nonce.
MIRROR_SENTENCE = f"John Smith reads the {NONCE} and John Smith signs the {NONCE}."
# A fixture UNPC en-fr line (kept by cleaning) that the XGLUE dataset copy adds to QAM's English test set.
FIXTURE_SENTENCE = "Ahmed Hassan arrives in New York."
FIXTURE_TEST_TEXTS = 6696  # the texts of every fixture XGLUE test set (no_test_contamination counts them)
QAM_TEST_ROWS = 120  # per language in the fixtures
UNPC_EN_FR = str(corpus_pair_key(CORPORA["unpc"], LanguagePair("en", "fr")))


# --------------------------------------------------------------------------------------------------
# Sources: copies of the fixtures, changed so that a run shows which one it read


def mirror_copy(root: Path) -> Path:
    """The fixture OPUS mirror with "resolution" replaced by the nonce in UNPC en-fr's English side."""
    shutil.copytree(OPUS_MIRROR, root)
    path = root.joinpath(*MIRROR_ZIP)
    with zipfile.ZipFile(path) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    english = members["UNPC.en-fr.en"].decode("utf-8")
    assert NONCE not in english and english.count("resolution") > 5
    members["UNPC.en-fr.en"] = english.replace("resolution", NONCE).encode("utf-8")
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return root


def xglue_copy(root: Path) -> Path:
    """The fixture XGLUE archive with one more English XNLI test row whose premise is a mirror line."""
    shutil.copytree(XGLUE_DIR, root)
    with (root / "XNLI" / "en.test").open("a", encoding="utf-8") as file:
        file.write(f"{MIRROR_SENTENCE}\tJohn Smith signs nothing.\tcontradiction\n")
    return root


def xglue_dataset_copy(root: Path) -> Path:
    """The fixtures' QAM as a dataset folder laid out like the `xglue` script (only the `qam` config);
    its English test split has one more row, a fixture corpus line."""
    return write_hub_layout_qam(root, extra_english_test=(FIXTURE_SENTENCE,))


# --------------------------------------------------------------------------------------------------
# Runs and what they recorded


def study_with_sources(home: Path, sources: dict[str, str]) -> dg.DagsterInstance:
    """`run_study` as `xrep study` calls it, with only `sources` set in the environment."""
    with pytest.MonkeyPatch.context() as patch:
        for name in SOURCE_VARS + STATE_VARS:
            patch.delenv(name, raising=False)
        for name, value in sources.items():
            patch.setenv(name, value)
        patch.setenv("XREP_HOME", str(home))
        patch.setenv("HF_DATASETS_CACHE", str(home / "hf-cache"))
        patch.setenv("HF_DATASETS_OFFLINE", "1")
        # No checkpoints: run_study and the assets resolve the profile from this same dict.
        patch.setitem(profiles.PROFILES, "tiny", dataclasses.replace(profiles.PROFILES["tiny"], checkpoints=()))
        instance = dg.DagsterInstance.ephemeral()
        # The definitions' resources as the code location builds them from this environment.
        run_study(default_study_settings(), instance=instance, log=lambda _: None, definitions=build_definitions())
    return instance


def materializations(instance: dg.DagsterInstance, asset: str) -> dict[str | None, dict]:
    """Each partition's latest materialization metadata."""
    records = instance.fetch_materializations(dg.AssetKey(asset), limit=1000, ascending=True).records
    return {
        r.asset_materialization.partition: {k: v.value for k, v in r.asset_materialization.metadata.items()}
        for r in records
    }


def check_metadata(instance: dg.DagsterInstance, asset: str, check: str) -> dict:
    [record] = instance.event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(dg.AssetKey(asset), check), limit=1
    )
    evaluation = record.event.dagster_event.event_specific_data
    return {"passed": evaluation.passed, **{k: v.value for k, v in evaluation.metadata.items()}}


def markdown_rows(table: str) -> list[dict[str, str]]:
    header, _, *rows = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in table.strip().splitlines()]
    return [dict(zip(header, row)) for row in rows]


def rows_contaminated(instance: dg.DagsterInstance) -> dict[tuple[str, str], int]:
    """pretraining_corpus's decontamination count per (corpus, pair), from its allocation steps."""
    steps = markdown_rows(materializations(instance, "pretraining_corpus")[None]["allocation_steps"])
    return {(row["corpus"], row["pair"]): int(row["rows_contaminated"]) for row in steps}


def allocated_texts(home: Path) -> set[str]:
    """Every sentence of the written pretraining corpus: bitext train and validation, monolingual."""
    texts: set[str] = set()
    for path in study_corpus_dir(home / "artifacts").rglob("*.parquet"):
        frame = pl.read_parquet(path)
        for column in [c for c in frame.columns if c.startswith("text")]:
            texts.update(frame[column].to_list())
    return texts


@pytest.fixture(scope="module")
def sources_run(tmp_path_factory):
    """One run with XREP_OPUS_MIRROR and XREP_XGLUE_DIR pointing at changed copies of the fixtures."""
    root = tmp_path_factory.mktemp("sources")
    mirror, xglue = mirror_copy(root / "opus"), xglue_copy(root / "xglue")
    home = root / "home"
    instance = study_with_sources(home, {"XREP_OPUS_MIRROR": str(mirror), "XREP_XGLUE_DIR": str(xglue)})
    return instance, home, mirror, xglue


@pytest.fixture(scope="module")
def dataset_run(tmp_path_factory):
    """One run with XREP_XGLUE_DATASET naming a local dataset folder (the fixture mirror)."""
    root = tmp_path_factory.mktemp("dataset")
    dataset = xglue_dataset_copy(root / "xglue-hub")
    home = root / "home"
    return study_with_sources(home, {"XREP_XGLUE_DATASET": str(dataset)}), home, dataset


# --------------------------------------------------------------------------------------------------
# The run config and the CLI


def test_the_run_config_carries_every_field_of_the_study_resource():
    settings = StudySettings(profile="paper", opus_mirror="/m", xglue_dir="/x", xglue_dataset="org/xglue", ud_dir="/u")
    config = study_run_config(settings)
    assert config["resources"]["study"] == {
        "config": {"profile": "paper", "opus_mirror": "/m", "xglue_dir": "/x", "xglue_dataset": "org/xglue", "ud_dir": "/u"}
    }
    assert set(config["resources"]["study"]["config"]) == set(StudySettings.model_fields)
    assert config["loggers"] == {"console": {"config": {"log_level": "INFO"}}}
    # A field that is None is still given: the run must not fall back to the Definitions' value.
    assert study_run_config(StudySettings())["resources"]["study"]["config"]["opus_mirror"] is None


def test_a_run_gets_every_source_of_the_settings_not_the_resource_defaults():
    seen = {}

    @dg.asset
    def sources(study: StudySettings) -> None:
        seen.update(study.model_dump())

    settings = StudySettings(profile="paper", opus_mirror="/m", xglue_dir="/x", xglue_dataset="org/xglue", ud_dir="/u")
    # The Definitions hold other sources (as the code location's do); the run config wins, whole.
    held = StudySettings(profile="tiny", opus_mirror="/held", xglue_dir="/held")
    result = dg.materialize([sources], resources={"study": held}, run_config=study_run_config(settings))
    assert result.success
    assert seen == {"profile": "paper", "opus_mirror": "/m", "xglue_dir": "/x", "xglue_dataset": "org/xglue", "ud_dir": "/u"}


def test_cli_profile_replaces_only_the_profile_and_keeps_the_environment_sources(monkeypatch, tmp_path):
    monkeypatch.setenv("XREP_HOME", str(tmp_path))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    monkeypatch.setenv("XREP_PROFILE", "tiny")
    monkeypatch.setenv("XREP_OPUS_MIRROR", "/data/opus")
    monkeypatch.setenv("XREP_XGLUE_DIR", "/data/xglue_full_dataset")
    monkeypatch.setenv("XREP_XGLUE_DATASET", "org/xglue")
    monkeypatch.setenv("XREP_UD_DIR", "/data/ud")
    calls = []
    monkeypatch.setattr(orchestration, "run_study", lambda settings, **kwargs: calls.append(settings))
    monkeypatch.setattr(cli, "cmd_report", lambda args: 0)
    assert cli.main(["study", "--profile", "paper"]) == 0
    assert os.environ["XREP_PROFILE"] == "tiny"  # the flag reaches the runs through their config only
    [settings] = calls
    assert settings.model_dump() == {
        "profile": "paper", "opus_mirror": "/data/opus", "xglue_dir": "/data/xglue_full_dataset", "xglue_dataset": "org/xglue",
        "ud_dir": "/data/ud",
    }
    profile = settings.resolved()
    assert (profile.name, str(profile.opus_mirror), profile.xglue_dataset) == ("paper", "/data/opus", "org/xglue")
    assert str(profile.ud_dir) == "/data/ud"
    # Scoring reads the dataset, which wins over the folder.
    assert task_data_source(profile) == DataSource("hub", "org/xglue")


def test_without_the_flag_the_profile_comes_from_the_environment(monkeypatch):
    for name in SOURCE_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XREP_PROFILE", "paper")
    monkeypatch.setenv("XREP_OPUS_MIRROR", "/data/opus")
    assert default_study_settings().model_dump() == {
        "profile": "paper", "opus_mirror": "/data/opus", "xglue_dir": None, "xglue_dataset": None, "ud_dir": None
    }
    assert default_study_settings("tiny").model_dump()["opus_mirror"] == "/data/opus"


# --------------------------------------------------------------------------------------------------
# The assets read the overriding sources


def test_the_corpora_read_the_opus_mirror_of_the_environment(sources_run):
    instance, home, mirror, _ = sources_run
    raw = materializations(instance, "raw_bitext")
    assert len(raw) == 10  # 2 corpora x the 5 en-xx pairs, each read from the copy
    assert all(meta["source"].startswith(str(mirror) + "/") for meta in raw.values())
    assert raw[UNPC_EN_FR]["source"] == str(mirror.joinpath(*MIRROR_ZIP))
    # The copy's word reached the allocated pretraining text; the fixtures do not have it.
    english = monolingual_texts(home / "artifacts")["en"]
    assert sum(NONCE in text for text in english) > 0
    with zipfile.ZipFile(OPUS_MIRROR.joinpath(*MIRROR_ZIP)) as archive:
        assert NONCE not in archive.read("UNPC.en-fr.en").decode("utf-8")


def test_decontamination_reads_the_xglue_folder_of_the_environment(sources_run):
    instance, home, _, xglue = sources_run
    check = check_metadata(instance, "pretraining_corpus", "no_test_contamination")
    # The copy's test sets: the fixtures' texts and the added row's premise and hypothesis.
    assert check == {"passed": True, "source": str(xglue), "test_sentences": FIXTURE_TEST_TEXTS + 2,
                     "contaminated": 0, "examples": "none"}
    # The added premise is a line of the mirror copy: its one cleaned row was dropped before allocation.
    contaminated = rows_contaminated(instance)
    assert contaminated.pop(("unpc", "en-fr")) == 1
    assert set(contaminated.values()) == {0}
    assert MIRROR_SENTENCE not in allocated_texts(home)


def test_decontamination_reads_the_xglue_dataset_of_the_environment(dataset_run):
    instance, home, dataset = dataset_run
    check = check_metadata(instance, "pretraining_corpus", "no_test_contamination")
    # Only the dataset's QAM test splits (question and answer of each row), not the fixture archive.
    assert check == {"passed": True, "source": f"hub dataset {dataset}",
                     "test_sentences": 2 * (2 * QAM_TEST_ROWS + 1), "contaminated": 0, "examples": "none"}
    # The added question is a fixture corpus line (also in two OpenSubtitles pairs): those rows were
    # dropped before allocation; on the fixture archive every count is 0.
    contaminated = rows_contaminated(instance)
    assert {key: n for key, n in contaminated.items() if n} == {
        ("unpc", "en-fr"): 1, ("opensubtitles", "ar-en"): 1, ("opensubtitles", "en-fr"): 1
    }
    assert FIXTURE_SENTENCE not in allocated_texts(home)
    # The fixture mirror was read (no XREP_OPUS_MIRROR): the default still applies.
    assert materializations(instance, "raw_bitext")[UNPC_EN_FR]["source"] == str(OPUS_MIRROR.joinpath(*MIRROR_ZIP))
