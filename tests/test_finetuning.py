"""Both protocols on tiny random checkpoints through the real encoder API, and the task-score asset."""

from pathlib import Path

import dagster as dg
import numpy as np
import polars as pl
import pytest
import torch
from transformers import BartConfig, BartModel, BertConfig, BertModel, GPT2Config, GPT2Model

from conftest import load_tokenizer
from xrep_assets.checkpoints.encoder import Encoder
from xrep_assets.checkpoints.partitions import CHECKPOINTS_PARTITION_NAME
from xrep_assets.checkpoints.record import CheckpointRecord, write_record
from xrep_assets.evaluation.assets import task_scores
from xrep_assets.evaluation.finetuning import finetune_task, train_task_model
from xrep_assets.evaluation.partitions import score_key
from xrep_assets.evaluation.probing import probe_task, task_features
from xrep_assets.evaluation.protocols import TaskData, TrainingSettings
from xrep_assets.evaluation.score_files import score_parts
from xrep_assets.execution.launchers import LocalWorkerLauncher
from xrep_assets.fixtures import XGLUE_DIR
from xrep_assets.resources import ArtifactStore, StudySettings
from xrep_assets.study import TASKS
from xrep_assets.xglue.layout import task_file
from xrep_assets.xglue.readers import SENTENCE_COLUMNS, SentenceExamples, TaggedSentences

QUIET = {"log": lambda message: None}
ONE_EPOCH = TrainingSettings(learning_rate=1e-3, batch_size=8, max_epochs=1, patience=None, max_length=32, weight_decay=0.0)


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Models this small run faster on one thread, and much faster on a machine whose cores are busy."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_model(family, tokenizer):
    vocab, pad = len(tokenizer), tokenizer.pad_token_id
    if family == "bert":
        return BertModel(BertConfig(vocab_size=vocab, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                    intermediate_size=64, max_position_embeddings=64, pad_token_id=pad))
    if family == "gpt2":
        return GPT2Model(GPT2Config(vocab_size=vocab, n_embd=32, n_layer=2, n_head=2, n_positions=64, pad_token_id=pad))
    return BartModel(BartConfig(vocab_size=vocab, d_model=32, encoder_layers=2, decoder_layers=1, encoder_attention_heads=2,
                                decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64,
                                max_position_embeddings=64, pad_token_id=pad))


@pytest.fixture(scope="module")
def checkpoints(toy_tokenizer_dir, tmp_path_factory):
    """Tiny random BERT, GPT-2 and BART checkpoints with the toy tokenizer, by family."""
    torch.manual_seed(0)
    tokenizer = load_tokenizer(toy_tokenizer_dir)
    paths = {}
    for family in ("bert", "gpt2", "bart"):
        path = tmp_path_factory.mktemp(family)
        tiny_model(family, tokenizer).save_pretrained(path)
        tokenizer.save_pretrained(path)
        paths[family] = path
    return paths


def pairs(rows):
    frame = pl.DataFrame([{"text_a": a, "text_b": b, "label": label, "group": i} for i, (a, b, label) in enumerate(rows)],
                         schema=SENTENCE_COLUMNS)
    return SentenceExamples(Path("mem"), frame)


PAWS = TaskData(
    TASKS["PAWS-X"],
    train=pairs([("the committee adopted the report", "the report was adopted", "1"),
                 ("the child reads a book", "the delegate signed the resolution", "0")] * 8),
    dev={"en": pairs([("the child reads a book", "a book is read by the child", "1"),
                      ("the committee adopted the report", "the child reads a book", "0")])},
    test={"en": pairs([("the delegate signed the resolution", "the resolution was signed", "1")] * 3),
          "fr": pairs([("le comité a adopté le rapport", "l'enfant lit un livre", "0")] * 2)},
)
NER = TaskData(
    TASKS["NER"],
    train=TaggedSentences([["the", "committee", "adopted", "the", "report"]] * 8, [["O", "I-ORG", "O", "O", "O"]] * 8),
    dev={"en": TaggedSentences([["the", "committee"]], [["O", "I-ORG"]])},
    test={"fr": TaggedSentences([["le", "comité", "a", "adopté"]], [["O", "I-ORG", "O", "O"]])},
)


def weights(module):
    return {name: tensor.detach().clone() for name, tensor in module.state_dict().items()}


def test_probe_features_sum_the_token_vectors_of_the_layer(checkpoints):
    encoder = Encoder(checkpoints["bert"], max_length=32, pooling="mean")
    features = task_features(PAWS, encoder, layer=1, pooling="sum", **QUIET)
    frame = PAWS.train.frame
    mean = encoder.sentence_vectors(frame["text_a"].to_list(), frame["text_b"].to_list(), layer=1)
    tokens = encoder.encoded_texts(frame["text_a"].to_list(), frame["text_b"].to_list())["attention_mask"].sum(1)
    # the sum over a pair's real tokens is their mean times their number
    np.testing.assert_allclose(features.train.vectors.numpy(), mean * tokens.numpy()[:, None], rtol=1e-5, atol=1e-5)
    words = task_features(NER, encoder, layer=-1, **QUIET)
    np.testing.assert_allclose(words.train.vectors.numpy(), np.concatenate(encoder.word_vectors(NER.train.tokens)), atol=1e-6)


def test_fine_tuning_changes_the_encoder_weights_and_probing_does_not(checkpoints):
    encoder = Encoder(checkpoints["bert"], max_length=32)
    loaded = weights(encoder.stack)

    probe_task(task_features(PAWS, encoder, **QUIET), ONE_EPOCH, **QUIET)
    assert all(torch.equal(loaded[name], tensor) for name, tensor in weights(encoder.stack).items())

    model, _, tracker = train_task_model(PAWS, encoder, ONE_EPOCH, **QUIET)
    tuned = weights(model.stack)
    changed = [name for name, tensor in tuned.items() if not torch.equal(loaded[name], tensor)]
    assert "encoder.layer.1.output.dense.weight" in changed and "embeddings.word_embeddings.weight" in changed
    assert tracker.epochs_run == 1
    # the Encoder's own weights stay as loaded, for the next seed
    assert all(torch.equal(loaded[name], tensor) for name, tensor in weights(encoder.stack).items())


@pytest.mark.parametrize("family", ["bert", "gpt2", "bart"])
@pytest.mark.parametrize("data", [PAWS, NER], ids=["pair", "tagging"])
def test_fine_tuning_runs_on_every_architecture(checkpoints, family, data):
    encoder = Encoder(checkpoints[family], max_length=32)
    result = finetune_task(data, encoder, ONE_EPOCH, pooling="last" if family == "gpt2" else "mean", **QUIET)
    assert (result.selected, result.epochs_run) == ("epoch 1", 1)
    metric = data.task.metric
    assert [(s.language, s.metric, s.n_examples) for s in result.scores] == [
        (lang, metric, len(examples)) for lang, examples in data.test.items()
    ]
    assert all(0.0 <= s.value <= 1.0 for s in result.scores)


# --------------------------------------------------------------------------------------------------
# The asset


@pytest.fixture(scope="module")
def scoring(checkpoints, tmp_path_factory):
    """An artifact store holding the tiny BERT as checkpoint `mlm`, and an instance that knows it."""
    root = tmp_path_factory.mktemp("scoring")
    directory = root / "checkpoints" / "mlm"
    model = BertModel.from_pretrained(checkpoints["bert"])
    model.save_pretrained(directory)
    load_tokenizer(checkpoints["bert"]).save_pretrained(directory)
    write_record(directory, CheckpointRecord("mlm", "trained", "run-0", "bert", sum(p.numel() for p in model.parameters())))
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(CHECKPOINTS_PARTITION_NAME, ["mlm"])
    resources = {"study": StudySettings(profile="tiny"), "artifacts": ArtifactStore(root=str(root)),
                 "launcher": LocalWorkerLauncher()}
    return root, resources, instance


def materialize_scores(scoring, task, **config):
    """The partition's rows of every protocol the run wrote, and its metadata."""
    root, resources, instance = scoring
    result = dg.materialize([task_scores], resources=resources, partition_key=score_key("mlm", task), instance=instance,
                            run_config={"ops": {"task_scores": {"config": config}}})
    meta = {k: v.value for k, v in result.asset_materializations_for_node("task_scores")[0].metadata.items()}
    protocols = meta["protocols"].split(", ")
    files = [root.joinpath(*score_parts("mlm", task, protocol)) for protocol in protocols]
    return pl.concat([pl.read_parquet(f) for f in files]), meta


def languages_with_test_files(task):
    return [lang for lang in TASKS[task].languages if task_file(XGLUE_DIR, task, lang, "test").exists()]


def test_task_scores_probe_writes_every_metric_for_every_seed(scoring):
    scores, meta = materialize_scores(scoring, "POS", protocol="probe", seeds=[0, 1], max_epochs=2, chance_reruns=0)
    languages = languages_with_test_files("POS")
    assert scores.height == len(languages) * 2 * 2  # languages x (xglue_pos, token_accuracy) x seeds
    assert scores.filter(pl.col("metric") == "xglue_pos")["language"].to_list() == languages * 2
    assert set(scores["metric"]) == {"xglue_pos", "token_accuracy"} and set(scores["seed"]) == {0, 1}
    assert set(scores["protocol"]) == {"probe"} and set(scores["layer"]) == {-1}
    # one row per metric, everything else the same
    per_metric = scores.pivot(on="metric", index=["language", "seed", "n_examples"], values="value")
    assert per_metric.height == len(languages) * 2
    assert "token_accuracy" not in meta["probe/per_language"]  # the comparison metric only
    assert meta["task_average"] == pytest.approx(scores.filter(pl.col("metric") == "xglue_pos")["value"].mean())
    assert meta["probe/task_average"] == meta["task_average"]
    # each language's number to chart: its catalog metric's mean over the two seeds
    english = scores.filter((pl.col("metric") == "xglue_pos") & (pl.col("language") == "en"))["value"]
    assert english.len() == 2 and meta["probe/score/en"] == pytest.approx(english.mean())
    assert (meta["protocols"], meta["probe/pooling"], meta["seeds"], meta["dev_languages"]) == ("probe", "first subword", "0, 1", "en")


def test_task_scores_fine_tunes_with_all_dev_selection(scoring):
    scores, meta = materialize_scores(scoring, "QAM", protocol="finetune", selection="all-dev", max_epochs=1,
                                      max_train_examples=32, chance_reruns=0)
    assert scores["language"].to_list() == languages_with_test_files("QAM")
    assert set(scores["protocol"]) == {"finetune:all-dev"} and set(scores["metric"]) == {"accuracy"}
    assert scores["n_examples"].to_list() == [120] * len(languages_with_test_files("QAM"))
    assert meta["dev_languages"] == ", ".join(
        lang for lang in TASKS["QAM"].languages if task_file(XGLUE_DIR, "QAM", lang, "dev").exists()
    )
    settings = meta["finetune:all-dev/settings"]
    assert meta["training_examples"] == 32 and settings["max_epochs"] == 1
    assert settings["learning_rate"] == 5e-6 and meta["finetune:all-dev/pooling"] == "mean"


def test_task_scores_refuses_an_unknown_protocol(scoring):
    with pytest.raises(Exception, match="unknown protocol 'zero-shot'"):
        materialize_scores(scoring, "QAM", protocol="zero-shot")
