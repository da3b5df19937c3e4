"""Asset-level tests: each node materialized with resources pointed at temporary folders."""

import json

import dagster as dg
import polars as pl
import pytest

from xrep_assets.checkpoints.assets import checkpoint
from xrep_assets.checkpoints.models import count_parameters
from xrep_assets.checkpoints.partitions import CHECKPOINTS_PARTITION_NAME
from xrep_assets.checkpoints.resources import HubSource
from xrep_assets.checkpoints.record import TRAINING_LOG, content_revision, read_record
from allocation_reference import allocate
from xrep_assets.corpora.allocation import AllocationParams
from xrep_assets.corpora.assets import cleaned_bitext, pretraining_corpus, raw_bitext
from xrep_assets.corpora.checks import CORPUS_CHECKS
from xrep_assets.corpora.cleaning import clean_bitext
from xrep_assets.corpora.partitions import corpus_pair_key
from xrep_assets.corpora.readers import bitext_frame, read_moses_zip
from xrep_assets.corpora.resources import OpusSource
from allocation_reference import monolingual_texts, read_cleaned_bitexts
from xrep_assets.corpora.layout import read_study_bitext
from xrep_assets.evaluation.assets import task_scores
from xrep_assets.evaluation.checks import no_test_contamination
from xrep_assets.evaluation.partitions import score_key
from xrep_assets.evaluation.score_files import score_parts
from xrep_assets.execution.launchers import LocalWorkerLauncher
from xrep_assets.fixtures import OPUS_MIRROR, XGLUE_DIR
from xrep_assets.profiles import PROFILES
from xrep_assets.resources import ArtifactStore, StudySettings
from xrep_assets.study import CORPORA, ENGLISH_PAIRS, PRETRAINING_LANGUAGES, TASKS, LanguagePair
from xrep_assets.tokenizers.assets import joint_tokenizer
from xrep_assets.tokenizers.training import FERTILITY_SAMPLE, LANGUAGE_TAGS, fertility
from xrep_assets.warehouse.assets import cross_lingual_comparison, warehouse_scores
from xrep_assets.warehouse.resources import DuckDBWarehouse
from xrep_assets.xglue.layout import task_file
from xrep_assets.xglue.readers import load_task_split

from conftest import SHARED_DATA, load_tokenizer, requires_shared


def resources_for(root, opus_mirror=None):
    return {
        "study": StudySettings(profile="tiny", opus_mirror=opus_mirror),
        "artifacts": ArtifactStore(root=str(root / "artifacts")),
        "opus": OpusSource(cache_dir=str(root / "cache")),
        "hub": HubSource(local_dir=str(root / "hub")),
        "launcher": LocalWorkerLauncher(),
        "warehouse": DuckDBWarehouse(path=str(root / "warehouse.duckdb")),
    }


def metadata(result, asset):
    return {k: v.value for k, v in result.asset_materializations_for_node(asset)[0].metadata.items()}


def typed_metadata(result, asset, prefix=""):
    """The entries starting with `prefix` as the UI gets them: Dagster metadata values, not raw ones."""
    return {k: v for k, v in result.asset_materializations_for_node(asset)[0].metadata.items() if k.startswith(prefix)}


@pytest.mark.parametrize("corpus", sorted(CORPORA))
def test_cleaned_bitext_counts_what_each_filter_removed(tmp_path, corpus):
    pair = LanguagePair("en", "fr")
    result = dg.materialize_to_memory(
        [raw_bitext, cleaned_bitext], resources=resources_for(tmp_path), partition_key=corpus_pair_key(CORPORA[corpus], pair)
    )
    raw = bitext_frame(read_moses_zip(
        OPUS_MIRROR / CORPORA[corpus].opus_name / CORPORA[corpus].version / "moses" / "en-fr.txt.zip", CORPORA[corpus], pair
    ))
    expected_kept, expected_removed = clean_bitext(raw)
    assert metadata(result, "raw_bitext")["rows"] == raw.height
    meta = metadata(result, "cleaned_bitext")
    assert meta["rows_in"] == raw.height
    assert meta["rows_kept"] == expected_kept.height
    # one number per filter, each as an int the UI charts across materializations
    removed = typed_metadata(result, "cleaned_bitext", "removed/")
    assert {k.removeprefix("removed/"): v.value for k, v in removed.items()} == expected_removed
    assert all(isinstance(v, dg.IntMetadataValue) for v in removed.values())
    written = pl.read_parquet(tmp_path / "artifacts" / "corpora" / "clean" / corpus / "en-fr.parquet")
    assert written.equals(expected_kept)


@requires_shared
def test_raw_bitext_reads_the_real_opus_samples(tmp_path):
    result = dg.materialize_to_memory(
        [raw_bitext, cleaned_bitext],
        resources=resources_for(tmp_path, opus_mirror=str(SHARED_DATA / "opus")),
        partition_key=corpus_pair_key(CORPORA["unpc"], LanguagePair("en", "fr")),
    )
    assert metadata(result, "raw_bitext")["rows"] == 68  # shared/data/README.md
    meta = metadata(result, "cleaned_bitext")
    assert meta["removed/duplicate"] > 0  # the sample repeats `Distr .`-style boiler-plate
    assert meta["rows_kept"] + sum(v for k, v in meta.items() if k.startswith("removed/")) == 68


def test_a_pair_missing_from_the_mirror_names_the_file(tmp_path):
    empty_mirror = tmp_path / "mirror"
    empty_mirror.mkdir()
    with pytest.raises(Exception, match=r"en-fr\.txt\.zip"):
        dg.materialize_to_memory(
            [raw_bitext], resources=resources_for(tmp_path, opus_mirror=str(empty_mirror)),
            partition_key=corpus_pair_key(CORPORA["unpc"], LanguagePair("en", "fr")),
        )


# A short MLM run: the tests below read its files and metadata, not how well it learned.
MLM_STEPS = 10


@pytest.fixture(scope="module")
def trained_study(tmp_path_factory):
    """Corpora, tokenizer and a short MLM run on the shipped fixtures, shared by the tests below."""
    root = tmp_path_factory.mktemp("study")
    resources = resources_for(root)
    for corpus in CORPORA.values():
        for pair in ENGLISH_PAIRS:
            dg.materialize_to_memory([raw_bitext, cleaned_bitext], resources=resources, partition_key=corpus_pair_key(corpus, pair))
    allocated = dg.materialize_to_memory(
        [pretraining_corpus, *CORPUS_CHECKS, no_test_contamination], resources=resources, selection=[pretraining_corpus]
    )
    tokenizer = dg.materialize_to_memory([joint_tokenizer], resources=resources)
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(CHECKPOINTS_PARTITION_NAME, ["mlm"])
    trained = dg.materialize(
        [checkpoint], resources=resources, partition_key="mlm", instance=instance,
        run_config={"ops": {"checkpoint": {"config": {"steps": MLM_STEPS}}}},
    )
    return root, resources, instance, tokenizer, trained, allocated


def test_pretraining_corpus_splits_pairs_and_passes_its_checks(trained_study):
    root, _, _, _, _, result = trained_study
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {
        "pretraining_corpus_not_empty": True, "validation_disjoint_from_training": True,
        "language_id_agreement": True, "no_test_contamination": True,
    }
    study = root / "artifacts" / "corpora" / "study"
    train = {p.key: pl.read_parquet(study / "bitext" / p.key / "train.parquet") for p in ENGLISH_PAIRS}
    # every pair capped to the smallest: equal training sizes
    assert len({frame.height for frame in train.values()}) == 1
    meta = metadata(result, "pretraining_corpus")
    assert meta["train_rows"] == sum(frame.height for frame in train.values())
    mono = pl.read_parquet(study / "monolingual" / "en.parquet")
    english_train = pl.concat([f.filter(pl.col("lang_1") == "en")["text_1"] for f in train.values()]
                              + [f.filter(pl.col("lang_2") == "en")["text_2"] for f in train.values()])
    # monolingual text comes from training rows only
    assert set(mono["text"].to_list()) <= set(english_train.to_list())


def test_tokenizer_covers_the_six_languages(trained_study):
    root, _, _, result, _, _ = trained_study
    meta = metadata(result, "joint_tokenizer")
    tokenizer = load_tokenizer(root / "artifacts" / "tokenizer")
    assert meta["vocab_size"] == len(tokenizer)
    assert all(tokenizer.convert_tokens_to_ids(tag) != tokenizer.unk_token_id for tag in LANGUAGE_TAGS)
    assert "| zh" in meta["fertility"] and "| ar" in meta["fertility"]
    # one number per language, measured as the worker measures it, typed for the UI's charts
    texts = monolingual_texts(root / "artifacts")
    fertilities = typed_metadata(result, "joint_tokenizer", "fertility/")
    assert set(fertilities) == {f"fertility/{lang}" for lang in PRETRAINING_LANGUAGES}
    assert all(isinstance(v, dg.FloatMetadataValue) for v in fertilities.values())
    assert fertilities["fertility/zh"].value == fertility(tokenizer, texts["zh"][:FERTILITY_SAMPLE], "zh")


def test_checkpoint_is_a_hugging_face_directory_with_its_record(trained_study):
    root, _, _, _, result, _ = trained_study
    from transformers import AutoModel

    directory = root / "artifacts" / "checkpoints" / "mlm"
    model = AutoModel.from_pretrained(str(directory))
    meta = metadata(result, "checkpoint")
    assert meta["parameters"] == sum(p.numel() for p in model.parameters()) + _mlm_head_only(directory)
    assert 100_000 < meta["parameters"] < 1_000_000  # "a few hundred thousand parameters"
    # the revision names the weights (a digest of the directory), the record keeps the run that trained them
    record = read_record(directory)
    assert record.revision == content_revision(directory) == meta["revision"]
    assert record.run_id == result.run_id
    # what scoring reads instead of the catalog: our vocabulary's codes, no marker for a monolingual objective
    assert (record.family, record.lang_codes, record.source_marker) == ("bert", "iso", False)
    assert meta["threads"] == PROFILES["tiny"].threads
    # Reported by the worker through dagster-pipes, then the asset adds the plot.
    assert meta["steps"] == MLM_STEPS and meta["resumed_from_step"] == 0 and meta["tokens_per_second"] > 0
    assert meta["loss_curve"].startswith("![loss curve](data:image/png;base64,")
    # the curve's last and lowest points, and the parameters, as numbers the UI charts
    losses = [loss for _, loss in json.loads((directory / TRAINING_LOG).read_text())["losses"]]
    numbers = typed_metadata(result, "checkpoint")
    assert (numbers["final_loss"].value, numbers["best_loss"].value) == (losses[-1], min(losses))
    assert isinstance(numbers["final_loss"], dg.FloatMetadataValue) and isinstance(numbers["best_loss"], dg.FloatMetadataValue)
    assert isinstance(numbers["parameters"], dg.IntMetadataValue)
    assert not (root / "artifacts" / "checkpoints" / ".work" / "mlm").exists()  # states of a finished run go


def test_continued_pretraining_trains_a_hub_checkpoint_further_on_mt(trained_study):
    """mBART-50 (here a tiny random MBart with mBART's language codes, laid out like the hub)
    continued on our MT objective: the partition `mbart-50+mt`."""
    from transformers import AutoModelForSeq2SeqLM, MBartConfig, MBartForConditionalGeneration

    root, resources, instance, _, _, _ = trained_study
    tokenizer = load_tokenizer(root / "artifacts" / "tokenizer")
    tokenizer.add_special_tokens({"additional_special_tokens": ["ar_AR", "zh_CN", "en_XX", "fr_XX", "ru_RU", "es_XX"]})
    local = root / "hub" / "facebook" / "mbart-large-50"
    config = MBartConfig(
        vocab_size=len(tokenizer), d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=128,
        pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.eos_token_id,
    )
    hub_model = MBartForConditionalGeneration(config)
    hub_model.save_pretrained(str(local))
    tokenizer.save_pretrained(str(local))
    instance.add_dynamic_partitions(CHECKPOINTS_PARTITION_NAME, ["mbart-50", "mbart-50+mt"])
    dg.materialize([checkpoint], resources=resources, partition_key="mbart-50", instance=instance)

    result = dg.materialize(
        [checkpoint], resources=resources, partition_key="mbart-50+mt", instance=instance,
        run_config={"ops": {"checkpoint": {"config": {"steps": 4}}}},
    )
    meta = metadata(result, "checkpoint")
    assert meta["init_from"] == "mbart-50" and meta["steps"] == 4
    continued = AutoModelForSeq2SeqLM.from_pretrained(str(root / "artifacts" / "checkpoints" / "mbart-50+mt"))
    assert continued.config.model_type == "mbart"
    assert count_parameters(continued) == count_parameters(hub_model)
    # The continued model keeps the hub model's tokenizer, so its codes (mBART's), recorded by both.
    hub_record = read_record(root / "artifacts" / "checkpoints" / "mbart-50")
    record = read_record(root / "artifacts" / "checkpoints" / "mbart-50+mt")
    assert (hub_record.source, hub_record.lang_codes, hub_record.source_marker) == ("hub", "mbart", True)
    assert (record.source, record.family, record.lang_codes, record.source_marker) == ("trained", "mbart", "mbart", True)
    assert record.revision.startswith("sha256:")


def _mlm_head_only(directory) -> int:
    """Parameters of the MLM head that AutoModel (the bare encoder) leaves out."""
    from transformers import AutoModel, AutoModelForMaskedLM

    return sum(p.numel() for p in AutoModelForMaskedLM.from_pretrained(str(directory)).parameters()) - sum(
        p.numel() for p in AutoModel.from_pretrained(str(directory)).parameters()
    )


# Short scoring (two epochs on 64 English training examples): the tests check which rows, files and
# metadata a score partition gets, which the settings table's epochs only make slower to come.
SHORT_SCORING = {"max_epochs": 2, "max_train_examples": 64}
PROBE_ONLY = {"ops": {"task_scores": {"config": {"protocol": "probe", **SHORT_SCORING}}}}


@pytest.mark.parametrize("task", ["XNLI", "NER"])
def test_task_scores_keep_one_row_per_language(trained_study, task):
    root, resources, instance, _, _, _ = trained_study
    result = dg.materialize([task_scores], resources=resources, partition_key=score_key("mlm", task), instance=instance,
                            run_config=PROBE_ONLY)
    scores = pl.read_parquet(root.joinpath("artifacts", *score_parts("mlm", task, "probe")))
    with_test_files = [lang for lang in TASKS[task].languages if task_file(XGLUE_DIR, task, lang, "test").exists()]
    assert scores["language"].to_list() == with_test_files
    assert "en" in with_test_files and len(with_test_files) >= 2
    for row in scores.iter_rows(named=True):
        assert row["n_examples"] == len(load_task_split(XGLUE_DIR, task, row["language"], "test"))
        assert 0.0 <= row["value"] <= 1.0 and row["metric"] == TASKS[task].metric
    assert metadata(result, "task_scores")["task_average"] == pytest.approx(scores["value"].mean())
    # each language's score (the mean over seeds of the catalog metric) as a number of its own
    per_language = typed_metadata(result, "task_scores", "probe/score/")
    means = dict(scores.group_by("language").agg(pl.col("value").mean()).iter_rows())
    assert {k.removeprefix("probe/score/"): v.value for k, v in per_language.items()} == pytest.approx(means)
    assert list(per_language) == [f"probe/score/{lang}" for lang in with_test_files]
    assert all(isinstance(v, dg.FloatMetadataValue) for v in per_language.values())


def test_warehouse_and_comparison_hold_the_score_files_numbers(trained_study):
    root, resources, instance, _, _, _ = trained_study
    """Both protocols of the tiny profile: one file each, both in the warehouse, one comparison row each."""
    result = dg.materialize(
        [task_scores, warehouse_scores], resources=resources, partition_key=score_key("mlm", "PAWS-X"), instance=instance,
        run_config={"ops": {"task_scores": {"config": SHORT_SCORING}}},
    )
    dg.materialize([cross_lingual_comparison], resources=resources, instance=instance)
    table = resources["warehouse"].query("SELECT * FROM comparison")
    rows = 0
    for protocol in ("probe", "finetune"):
        file = pl.read_parquet(root.joinpath("artifacts", *score_parts("mlm", "PAWS-X", protocol)))
        assert set(file["protocol"]) == {protocol}
        rows += file.height
        paws = file.filter((pl.col("split") == "test") & (pl.col("metric") == TASKS["PAWS-X"].metric))["value"].mean()
        mlm = table.filter((pl.col("Checkpoint") == "MLM") & (pl.col("Protocol") == protocol))
        assert mlm["PAWS-X"].item() == round(100 * paws, 1)
    assert metadata(result, "warehouse_scores")["rows"] == rows
    # The check on the chance level ran with the materialization.
    assert [c.check_name for c in result.get_asset_check_evaluations()] == ["english_dev_above_chance"]


def test_hub_checkpoint_shares_the_partitions_and_gets_scored(trained_study):
    """A hub checkpoint (here a tiny random BERT in a local folder laid out like the hub) is fetched
    into the same dynamic partition set and scored through the same encoder API."""
    from transformers import BertConfig, BertModel

    root, resources, instance, _, _, _ = trained_study
    tokenizer = load_tokenizer(root / "artifacts" / "tokenizer")
    local = root / "hub" / "google-bert" / "bert-base-multilingual-cased"
    model = BertModel(BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1,
                                 num_attention_heads=2, intermediate_size=64, pad_token_id=tokenizer.pad_token_id))
    model.save_pretrained(str(local))
    tokenizer.save_pretrained(str(local))
    instance.add_dynamic_partitions(CHECKPOINTS_PARTITION_NAME, ["mbert"])

    fetched = dg.materialize([checkpoint], resources=resources, partition_key="mbert", instance=instance)
    meta = metadata(fetched, "checkpoint")
    assert meta["repo_id"] == "google-bert/bert-base-multilingual-cased"
    assert meta["parameters"] == sum(p.numel() for p in model.parameters())
    assert isinstance(typed_metadata(fetched, "checkpoint")["parameters"], dg.IntMetadataValue)
    record = read_record(root / "artifacts" / "checkpoints" / "mbert")
    assert (record.source, record.family, record.lang_codes, record.source_marker) == ("hub", "bert", "iso", False)

    dg.materialize([task_scores], resources=resources, partition_key=score_key("mbert", "QAM"), instance=instance,
                   run_config=PROBE_ONLY)
    scores = pl.read_parquet(root.joinpath("artifacts", *score_parts("mbert", "QAM", "probe")))
    assert scores["language"].to_list() == ["en", "fr"]
    assert scores["revision"].unique().to_list() == [f"local:{local}"]


@requires_shared
def test_the_real_opus_samples_are_cleaned_and_allocated_as_in_the_study(tmp_path):
    """Both corpora's real samples for the five English pairs, through cleaning, allocation and its checks.

    UNPC's Moses files have no document ids: blocks of 10 lines make validation possible at this size.
    OpenSubtitles' ar-en, en-es, en-fr and en-ru samples subtitle the same movie: it goes to one pair only,
    so the others have no OpenSubtitles rows and the cap (to the smallest pair) leaves none for any pair.
    """
    resources = resources_for(tmp_path, opus_mirror=str(SHARED_DATA / "opus"))
    for corpus in CORPORA.values():
        for pair in ENGLISH_PAIRS:
            dg.materialize_to_memory([raw_bitext, cleaned_bitext], resources=resources, partition_key=corpus_pair_key(corpus, pair))
    result = dg.materialize_to_memory(
        [pretraining_corpus, *CORPUS_CHECKS, no_test_contamination], resources=resources, selection=[pretraining_corpus],
        run_config={"ops": {"pretraining_corpus": {"config": {"block_size": 10}}}},
    )
    assert {e.check_name: e.passed for e in result.get_asset_check_evaluations()} == {
        "pretraining_corpus_not_empty": True, "validation_disjoint_from_training": True,
        "language_id_agreement": True, "no_test_contamination": True,
    }
    study_dir = tmp_path / "artifacts" / "corpora" / "study"
    train = {p.key: read_study_bitext(tmp_path / "artifacts", p, "train") for p in ENGLISH_PAIRS}
    validation = {p.key: read_study_bitext(tmp_path / "artifacts", p, "validation") for p in ENGLISH_PAIRS}
    assert len({frame.height for frame in train.values()}) == 1 and train["en-fr"].height > 0  # capped equally
    assert all(frame.height > 0 for frame in validation.values())
    assert all(frame["corpus"].unique().to_list() == ["unpc"] for frame in train.values())
    subtitles = allocate(
        read_cleaned_bitexts(tmp_path / "artifacts", CORPORA["opensubtitles"], ENGLISH_PAIRS), "opensubtitles",
        AllocationParams(block_size=10),
    ).stats_frame()
    # The shared movie stays with one of ar-en, en-es, en-fr, en-ru; en-zh has a movie of its own.
    given_away = dict(zip(subtitles["pair"], subtitles["units_to_other_pairs"]))
    assert sorted(given_away.values()) == [0, 0, 1, 1, 1] and given_away["en-zh"] == 0
    english = pl.read_parquet(study_dir / "monolingual" / "en.parquet")["text"].to_list()
    assert len(english) == len(set(english))  # no English sentence twice across pairs
