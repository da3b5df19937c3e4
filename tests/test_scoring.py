"""The score partition's pieces: token-budget batches, the feature cache, the chance level and its
re-runs, the scoring spec; and the `task_scores` asset reading a Hugging Face dataset, keeping each
protocol's rows in its own file."""

from pathlib import Path

import dagster as dg
import polars as pl
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import BertConfig, BertModel

from conftest import load_tokenizer, made_up_features, write_hub_layout_qam

from xrep_assets.checkpoints.encoder import Encoder, EncoderError, token_budget_batches
from xrep_assets.checkpoints.partitions import CHECKPOINTS_PARTITION_NAME
from xrep_assets.checkpoints.record import CheckpointRecord, write_record
from xrep_assets.evaluation.assets import task_scores
from xrep_assets.evaluation.heads import LabelSpace, example_texts, majority_value
from xrep_assets.evaluation.partitions import score_key
from xrep_assets.evaluation import probing
from xrep_assets.evaluation.probing import (
    FeatureCacheError,
    cached_task_features,
    cached_task_features_by_layer,
    load_task_features,
    save_task_features,
    task_features,
)
from xrep_assets.evaluation.protocols import ProtocolResult, TaskData
from xrep_assets.evaluation.scoring import RERUN_SEED_STRIDE, run_seed
from xrep_assets.evaluation.spec import ScoreSpec, ScoreSpecError
from xrep_assets.evaluation.score_files import score_parts
from xrep_assets.execution.launchers import LocalWorkerLauncher
from xrep_assets.fixtures import XGLUE_DIR
from xrep_assets.resources import ArtifactStore, StudySettings
from xrep_assets.study import TASKS
from xrep_assets.xglue.readers import SENTENCE_COLUMNS, SentenceExamples, TaggedSentences, load_task_split
from xrep_assets.xglue.sources import DataSource, DataSourceError


def examples(labels, texts=None, groups=None):
    texts = texts or [f"text {i}" for i in range(len(labels))]
    frame = pl.DataFrame(
        {"text_a": texts, "text_b": ["b"] * len(labels), "label": labels,
         "group": groups or list(range(len(labels)))},
        schema=SENTENCE_COLUMNS,
    )
    return SentenceExamples(Path("mem"), frame)


# --------------------------------------------------------------------------------------------------
# Token-budget batches


def test_batches_group_similar_lengths_within_the_token_budget():
    lengths = [3, 10, 4, 9, 2, 10]
    batches = token_budget_batches(lengths, token_budget=20)
    # longest first; each batch's rows x its longest row fits 20
    assert batches == [[1, 5], [3, 2], [0, 4]]
    assert all(len(b) * max(lengths[i] for i in b) <= 20 for b in batches)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))


def test_a_row_longer_than_the_budget_gets_its_own_batch_and_max_rows_caps_short_ones():
    assert token_budget_batches([50, 1, 1], token_budget=8) == [[0], [1, 2]]
    assert token_budget_batches([1, 1, 1, 1, 1], token_budget=100, max_rows=2) == [[0, 1], [2, 3], [4]]
    with pytest.raises(EncoderError, match="token_budget"):
        token_budget_batches([1], token_budget=0)


@pytest.fixture(scope="module")
def bert_dir(toy_tokenizer_dir, tmp_path_factory):
    torch.manual_seed(0)
    tokenizer = load_tokenizer(toy_tokenizer_dir)
    path = tmp_path_factory.mktemp("bert")
    BertModel(BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=64, max_position_embeddings=64, pad_token_id=tokenizer.pad_token_id)
              ).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def test_bucketed_encoding_gives_the_vectors_of_one_text_at_a_time(bert_dir):
    """Sorting and padding to a token budget changes the batches, never a text's vector."""
    texts = ["a short one", "a much longer text with many more words in it than the others", "mid length text here", "x"]
    pairs = ["b", "another", "", "yes"]
    bucketed = Encoder(bert_dir, token_budget=40)
    single = Encoder(bert_dir, token_budget=1)  # every text alone: no padding at all
    torch.testing.assert_close(
        torch.from_numpy(bucketed.sentence_vectors(texts, pairs)), torch.from_numpy(single.sentence_vectors(texts, pairs)),
        atol=1e-5, rtol=1e-5,
    )
    words = [["a", "b", "c"], ["long"] * 9, ["x"]]
    for got, want in zip(bucketed.word_vectors(words), single.word_vectors(words), strict=True):
        assert got.shape == (len(want), 32)
        torch.testing.assert_close(torch.from_numpy(got), torch.from_numpy(want), atol=1e-5, rtol=1e-5)


# --------------------------------------------------------------------------------------------------
# The feature cache


class NoEncoding(Encoder):
    """An encoder that must not run: the features come from the cache."""

    def all_hidden_states(self, inputs):
        raise AssertionError("the encoder ran although the features were cached")


def test_the_feature_cache_is_reused_and_keyed_by_layer_and_data(bert_dir, tmp_path):
    train = load_task_split(XGLUE_DIR, "QAM", "en", "train")
    data = TaskData(TASKS["QAM"], train, {"en": load_task_split(XGLUE_DIR, "QAM", "en", "dev")},
                    {"fr": load_task_split(XGLUE_DIR, "QAM", "fr", "test")})
    identity = {"checkpoint": "mlm", "revision": "run-1"}
    first = cached_task_features(data, Encoder(bert_dir), -1, "sum", tmp_path, identity, log=lambda _: None)
    assert len(list(tmp_path.glob("*.pt"))) == 1
    again = cached_task_features(data, NoEncoding(bert_dir), -1, "sum", tmp_path, identity, log=lambda _: None)
    torch.testing.assert_close(again.train.vectors, first.train.vectors)
    torch.testing.assert_close(again.test["fr"].vectors, first.test["fr"].vectors)
    assert again.test["fr"].examples is data.test["fr"]
    # the same data through the encoder gives the cached numbers
    torch.testing.assert_close(task_features(data, Encoder(bert_dir), -1, "sum", log=lambda _: None).dev["en"].vectors,
                               again.dev["en"].vectors)
    # another layer, another revision or other rows are other features
    with pytest.raises(AssertionError, match="the encoder ran"):
        cached_task_features(data, NoEncoding(bert_dir), 1, "sum", tmp_path, identity, log=lambda _: None)
    with pytest.raises(AssertionError, match="the encoder ran"):
        cached_task_features(data, NoEncoding(bert_dir), -1, "sum", tmp_path, {**identity, "revision": "run-2"}, log=lambda _: None)
    fewer = TaskData(data.task, SentenceExamples(train.path, train.frame.head(10)), data.dev, data.test)
    with pytest.raises(AssertionError, match="the encoder ran"):
        cached_task_features(fewer, NoEncoding(bert_dir), -1, "sum", tmp_path, identity, log=lambda _: None)


class CountedPasses(Encoder):
    """An encoder that counts its forward passes."""

    passes = 0

    def all_hidden_states(self, inputs):
        type(self).passes += 1
        return super().all_hidden_states(inputs)


def test_every_layers_features_come_from_one_pass_and_share_the_scorers_cache_entries(bert_dir, tmp_path):
    data = TaskData(TASKS["QAM"], load_task_split(XGLUE_DIR, "QAM", "en", "train"),
                    {"en": load_task_split(XGLUE_DIR, "QAM", "en", "dev")}, {"fr": load_task_split(XGLUE_DIR, "QAM", "fr", "test")})
    identity = {"checkpoint": "mlm", "revision": "run-1"}
    quiet = {"log": lambda _: None}
    last = cached_task_features(data, Encoder(bert_dir), -1, "sum", tmp_path, identity, **quiet)  # what the scorer caches
    encoder = CountedPasses(bert_dir)
    layers = tuple(range(encoder.num_layers + 1))
    every = cached_task_features_by_layer(data, encoder, layers, "sum", tmp_path, identity, **quiet)
    batches = sum(len(encoder.batches([len(r["input_ids"]) for r in encoder.text_rows(*example_texts(data.task, e), "en")]))
                  for e in (data.train, data.dev["en"], data.test["fr"]))
    assert CountedPasses.passes == batches  # the missing layers together, one pass per batch
    torch.testing.assert_close(every[layers[-1]].train.vectors, last.train.vectors)  # the scorer's entry, read
    for layer in layers[:-1]:
        one = task_features(data, Encoder(bert_dir), layer, "sum", **quiet)
        torch.testing.assert_close(every[layer].test["fr"].vectors, one.test["fr"].vectors)
    # Now every layer is cached: no pass at all.
    cached_task_features_by_layer(data, NoEncoding(bert_dir), layers, "sum", tmp_path, identity, **quiet)
    assert len(list(tmp_path.glob("*.pt"))) == len(layers)


class Counted:
    """Stands in for the encoder and `task_features_by_layer`: gives `features` at every layer asked
    for and counts the calls."""

    device = "cpu"
    num_layers = 2

    def __init__(self, features):
        self.features, self.calls = features, 0

    def __call__(self, data, encoder, layers, pooling, log):
        self.calls += 1
        return {layer: self.features for layer in layers}


def damage_an_entry(data: TaskData, cache: Path, compute: Counted, kind: str, where: float) -> None:
    """Fills the cache with `data`'s entry and damages it at `where` (a share of its length)."""
    cached_task_features(data, compute, -1, "sum", cache, {"checkpoint": "mlm"}, log=lambda _: None)
    (entry,) = cache.glob("*.pt")
    damaged = bytearray(entry.read_bytes())
    at = int(where * len(damaged))
    if kind == "truncate":
        del damaged[at:]
    elif kind == "flip":
        damaged[at] ^= 0xFF
    else:
        damaged[at:at + 4096] = bytes(len(damaged[at:at + 4096]))
    entry.write_bytes(damaged)


CACHED = {key: made_up_features(key) for key in ("QAM", "POS")}
CACHE_LIMITS = settings(max_examples=40, deadline=None, derandomize=True, database=None)


@CACHE_LIMITS
@given(task_key=st.sampled_from(sorted(CACHED)), kind=st.sampled_from(["truncate", "flip", "zero 4 KiB"]),
       where=st.floats(0, 1, exclude_max=True))
def test_a_damaged_cache_entry_is_a_miss_never_wrong_features(tmp_path_factory, task_key, kind, where):
    """A cut entry (a crash before writes were durable), a flipped byte or a zeroed block (a torn
    write): the features are those of the data, read whole from the entry or computed again and the
    entry replaced; never a crash, never other vectors."""
    data, features = CACHED[task_key]
    cache = tmp_path_factory.mktemp("cache")
    compute = Counted(features)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(probing, "task_features_by_layer", compute)
        damage_an_entry(data, cache, compute, kind, where)
        lines: list[str] = []
        got = cached_task_features(data, compute, -1, "sum", cache, {"checkpoint": "mlm"}, log=lines.append)
    (entry,) = cache.glob("*.pt")
    assert same_features(got, features)
    assert compute.calls in (1, 2)
    if compute.calls == 2:  # a miss: said so, and the entry replaced by a whole one
        assert any(f"{entry}: " in line and "computing the features again" in line for line in lines), lines
        assert same_features(load_task_features(data, entry), features)
    assert [p.name for p in cache.iterdir()] == [entry.name]


def same_features(got, want) -> bool:
    pairs = [(got.train, want.train)] + [(got.dev[k], v) for k, v in want.dev.items()]
    pairs += [(got.test[k], v) for k, v in want.test.items()]
    return all(torch.equal(g.vectors, w.vectors) and g.examples is w.examples for g, w in pairs)


def test_a_cache_entry_of_other_splits_rows_or_format_is_refused(tmp_path):
    """(`cached_task_features` takes the refusal as a miss, above.)"""
    data, features = CACHED["QAM"]
    path = tmp_path / "entry.pt"
    save_task_features(features, path)
    fewer = TaskData(data.task, SentenceExamples(data.train.path, data.train.frame.head(3)), data.dev, data.test)
    with pytest.raises(FeatureCacheError, match=r"entry.pt: train has vectors of shape \(\d+, 8\), the data 3 rows"):
        load_task_features(fewer, path)
    other = TaskData(data.task, data.train, data.dev, {"en": data.test["en"]})
    with pytest.raises(FeatureCacheError, match=r"holds the splits .*'test.fr'.*, the data has"):
        load_task_features(other, path)
    torch.save({"train": features.train.vectors}, path)  # the format before entries had a digest
    with pytest.raises(FeatureCacheError, match="not a feature cache entry"):
        load_task_features(data, path)


# --------------------------------------------------------------------------------------------------
# The chance level


def test_the_chance_level_is_the_majority_label_on_dev():
    labels = LabelSpace.of(TASKS["QAM"])
    train = examples(["1", "1", "0"])
    assert majority_value(labels, train, examples(["1", "0", "1", "1"])) == pytest.approx(0.75)
    assert majority_value(labels, train, examples(["0", "0", "0", "1"])) == pytest.approx(0.25)


def test_the_chance_level_of_ranking_is_the_tied_ndcg():
    """A constant grade ties every page of a query: DCG takes the mean gain over the tied positions.
    Query 1, grades (2, 0): (2 + 0)/2 * (1/log2(2) + 1/log2(3)) = 1.6309 against the ideal 2 -> 0.81546.
    Query 2, grades (1, 1): every order is ideal -> 1. Mean 0.90773."""
    labels = LabelSpace.of(TASKS["WPR"])
    dev = examples(["2", "0", "1", "1"], texts=["q1", "q1", "q2", "q2"], groups=[0, 0, 1, 1])
    assert majority_value(labels, examples(["4", "4", "0"]), dev) == pytest.approx((0.81546 + 1.0) / 2, abs=1e-5)


def test_the_chance_level_of_tagging_is_the_majority_tag():
    labels = LabelSpace.of(TASKS["NER"])
    train = TaggedSentences([["a", "b", "c"]], [["O", "O", "B-PER"]])
    dev = TaggedSentences([["x", "y"]], [["B-PER", "O"]])
    assert majority_value(labels, train, dev) == 0.0  # all "O": no entity found


def result(english_dev):
    return ProtocolResult("epoch 1", english_dev, {"en": english_dev}, 1, [])


def test_a_seed_at_chance_is_flagged_and_run_again_with_a_new_seed():
    values = {0: 0.505, RERUN_SEED_STRIDE: 0.8}
    seen = []

    def fit(seed):
        seen.append(seed)
        return result(values[seed])

    run = run_seed(0, fit, chance=0.5, reruns=1, log=lambda _: None)
    assert seen == [0, RERUN_SEED_STRIDE]
    assert (run.seed, run.result.dev_value, run.at_chance) == (RERUN_SEED_STRIDE, 0.8, [(0, 0.505)])


def test_a_seed_above_chance_runs_once_and_one_still_at_chance_stays_flagged():
    seen = []
    run = run_seed(3, lambda s: seen.append(s) or result(0.52), chance=0.5, reruns=2, log=lambda _: None)
    assert seen == [3]  # 0.52 is more than one point above 0.5
    assert run.at_chance == []
    stuck = run_seed(3, lambda s: result(0.4), chance=0.5, reruns=2, log=lambda _: None)
    assert stuck.seed == 3 + 2 * RERUN_SEED_STRIDE
    assert [seed for seed, _ in stuck.at_chance] == [3, 3 + RERUN_SEED_STRIDE, 3 + 2 * RERUN_SEED_STRIDE]
    none = run_seed(3, lambda s: result(0.4), chance=0.5, reruns=0, log=lambda _: None)
    assert (none.seed, none.at_chance) == (3, [(3, 0.4)])


# --------------------------------------------------------------------------------------------------
# The spec


def spec(**changes):
    fields = dict(
        checkpoint="mlm", revision="run-1", checkpoint_dir="/ckpt", task="QAM",
        source=DataSource("archive", str(XGLUE_DIR)), protocols=("probe", "finetune"), selection="english-dev",
        layer=-1, pooling=None, seeds=(0, 1), max_epochs=None, patience=None, max_train_examples=None,
        chance_reruns=1, artifacts_root="/artifacts",
    )
    return ScoreSpec(**(fields | changes))


def test_the_spec_round_trips_and_refuses_bad_fields(tmp_path):
    written = spec(source=DataSource("hub", "microsoft/xglue", revision="abc"))
    assert ScoreSpec.read(written.write(tmp_path / "s.json")) == written
    (tmp_path / "bad.json").write_text('{"checkpoint": "mlm", "colour": "red"}')
    with pytest.raises(ScoreSpecError, match=r"bad.json: unknown fields \['colour'\]"):
        ScoreSpec.read(tmp_path / "bad.json")
    with pytest.raises(ScoreSpecError, match="unknown task 'GLUE'"):
        spec(task="GLUE")
    with pytest.raises(Exception, match="unknown protocol 'zero-shot'"):
        spec(protocols=("zero-shot",))
    with pytest.raises(DataSourceError, match="unknown data source kind 'ftp'"):
        DataSource("ftp", "x")


# --------------------------------------------------------------------------------------------------
# The asset: a hub dataset as the task source; one file per protocol


@pytest.fixture
def scoring_store(bert_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    root = tmp_path / "artifacts"
    directory = root / "checkpoints" / "mlm"
    model = BertModel.from_pretrained(bert_dir)
    model.save_pretrained(directory)
    load_tokenizer(bert_dir).save_pretrained(directory)
    write_record(directory, CheckpointRecord("mlm", "trained", "run-0", "bert", sum(p.numel() for p in model.parameters())))
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(CHECKPOINTS_PARTITION_NAME, ["mlm"])
    return root, instance


def test_task_scores_read_a_hub_dataset_and_keep_each_protocols_file(scoring_store, tmp_path):
    root, instance = scoring_store
    dataset = write_hub_layout_qam(tmp_path / "xglue-hub")
    resources = {"study": StudySettings(profile="tiny", xglue_dataset=str(dataset)),
                 "artifacts": ArtifactStore(root=str(root)), "launcher": LocalWorkerLauncher()}

    def materialize(protocol):
        config = {"protocol": protocol, "max_epochs": 1, "max_train_examples": 64, "chance_reruns": 0}
        return dg.materialize([task_scores], resources=resources, partition_key=score_key("mlm", "QAM"),
                              instance=instance, run_config={"ops": {"task_scores": {"config": config}}})

    materialize("probe")
    probe = pl.read_parquet(root.joinpath(*score_parts("mlm", "QAM", "probe")))
    # the hub dataset has English and French test splits, and 120 rows each as the archive files
    assert probe["language"].to_list() == ["en", "fr"] and probe["n_examples"].to_list() == [120, 120]
    finetuned = materialize("finetune")
    meta = finetuned.asset_materializations_for_node("task_scores")[0].metadata
    assert meta["protocols"].value == "finetune" and meta["languages_missing"].value == "de"
    # fine-tuning wrote its own file; the probe's rows are still there, unchanged
    assert pl.read_parquet(root.joinpath(*score_parts("mlm", "QAM", "probe"))).equals(probe)
    assert set(pl.read_parquet(root.joinpath(*score_parts("mlm", "QAM", "finetune")))["protocol"]) == {"finetune"}
    # the chance check ran and reports its flagged runs
    [check] = finetuned.get_asset_check_evaluations()
    assert check.check_name == "english_dev_above_chance"
    assert check.passed == (check.metadata["kept_at_chance"].value == 0)
