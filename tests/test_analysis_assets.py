"""The layer-wise analyses as assets: the parallel sentences from the PUD fixtures and the study corpus's
held-out bitext, one worker for a checkpoint's analyses, the warehouse's tables and views."""

from __future__ import annotations

import dagster as dg
import numpy as np
import polars as pl
import pytest
import torch
from transformers import BertConfig, BertModel

from conftest import load_tokenizer
from xrep_assets.analysis.assets import analysis_sentences, layer_analyses
from xrep_assets.analysis.files import CKA_SCHEMA, SENTENCES_PARTS, analysis_parts
from xrep_assets.analysis.measures import linear_cka
from xrep_assets.analysis.parallel import ParallelSetError, parallel_sets
from xrep_assets.analysis.pud import PUD_TREEBANKS, ConlluError
from xrep_assets.analysis.resources import PudSource
from xrep_assets.checkpoints.encoder import Encoder
from xrep_assets.checkpoints.partitions import CHECKPOINTS_PARTITION_NAME
from xrep_assets.checkpoints.record import CheckpointRecord, write_record
from xrep_assets.corpora.layout import study_corpus_dir, study_bitext_name
from xrep_assets.evaluation.assets import task_scores
from xrep_assets.evaluation.partitions import score_key
from xrep_assets.evaluation.score_files import score_parts
from xrep_assets.execution.launchers import LocalWorkerLauncher
from xrep_assets.fixtures import UD_DIR
from xrep_assets.resources import ArtifactStore, StudySettings
from xrep_assets.study import ENGLISH_PAIRS
from xrep_assets.warehouse.assets import warehouse_analyses
from xrep_assets.warehouse.loading import rebuild_tables
from xrep_assets.warehouse.resources import DuckDBWarehouse

HELD_OUT = 12  # validation rows per English pair in the fake study corpus
LAYERS = 2


@pytest.fixture(scope="module")
def store(toy_tokenizer_dir, tmp_path_factory):
    """An artifact store with a random 2-layer BERT as checkpoint `mlm` and a study corpus whose en-fr
    validation rows say the same text on both sides (so its CKA is 1 and its retrieval complete)."""
    root = tmp_path_factory.mktemp("artifacts")
    torch.manual_seed(0)
    tokenizer = load_tokenizer(toy_tokenizer_dir)
    directory = root / "checkpoints" / "mlm"
    model = BertModel(BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=LAYERS, num_attention_heads=2,
                                 intermediate_size=64, max_position_embeddings=64, pad_token_id=tokenizer.pad_token_id))
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    write_record(directory, CheckpointRecord("mlm", "trained", "run-0", "bert", sum(p.numel() for p in model.parameters())))
    words = ["the", "committee", "adopted", "report", "le", "comité", "a", "adopté", "rapport", "session", "today", "new"]
    for pair in ENGLISH_PAIRS:
        other = pair.l2 if pair.l1 == "en" else pair.l1
        english = [" ".join(words[(i * k) % len(words)] for k in range(1, 4 + i % 5)) + f" {i}" for i in range(HELD_OUT + 3)]
        foreign = english if other == "fr" else [f"{other} {text}" for text in english]
        side = {"en": english, other: foreign}
        path = study_corpus_dir(root) / study_bitext_name(pair, "validation")
        path.parent.mkdir(parents=True)
        pl.DataFrame({"text_1": side[pair.l1], "text_2": side[pair.l2]}).write_parquet(path)
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(CHECKPOINTS_PARTITION_NAME, ["mlm"])
    resources = {
        "study": StudySettings(profile="tiny"), "artifacts": ArtifactStore(root=str(root)),
        "pud": PudSource(cache_dir=str(root / "ud_cache")), "launcher": LocalWorkerLauncher(),
        "warehouse": DuckDBWarehouse(path=str(root / "warehouse.duckdb")),
    }
    sentences = dg.materialize([analysis_sentences], resources=resources, instance=instance,
                               run_config={"ops": {"analysis_sentences": {"config": {"held_out_sentences": HELD_OUT}}}})
    return root, resources, instance, sentences


# The linear head keeps the layer-wise probe quick; the MLP probe runs in the tiny study.
LINEAR = {"ops": {"layer_analyses": {"config": {"probe_protocol": "linear", "probe_task": "XNLI"}}}}


def analyses_run(store, selection=None):
    root, resources, instance, _ = store
    return dg.materialize([layer_analyses, analysis_sentences], resources=resources, instance=instance, partition_key="mlm",
                          selection=selection or [layer_analyses], run_config=LINEAR)


@pytest.fixture(scope="module")
def analysed(store):
    """Every analysis of `mlm`, one worker run shared by the tests that read its files."""
    return analyses_run(store)


def test_the_parallel_sentences_are_pud_and_each_english_pairs_held_out_rows(store):
    root, _, _, result = store
    frame = pl.read_parquet(root.joinpath(*SENTENCES_PARTS))
    sets = parallel_sets(frame, "sentences")
    assert sorted(sets) == sorted("held-out/" + p.key for p in ENGLISH_PAIRS) + ["pud"]
    assert sorted(sets["pud"]) == sorted(PUD_TREEBANKS) and all(len(t) == 40 for t in sets["pud"].values())
    assert sets["pud"]["de"][0] == "Pierre Martin liest die Zeitung und Sophie Dubois das Buch."
    assert sets["held-out/en-fr"]["en"] == sets["held-out/en-fr"]["fr"] and len(sets["held-out/en-fr"]["en"]) == HELD_OUT
    metadata = result.asset_materializations_for_node("analysis_sentences")[0].metadata
    assert metadata["items/pud"].value == 40 and metadata["sentences"].value == 7 * 40 + 5 * 2 * HELD_OUT


def test_one_worker_writes_every_analysis_of_a_checkpoint(store, analysed):
    root, _, _, _ = store
    result = analysed
    reported = {e.asset_key.to_user_string(): e.event_specific_data.materialization.metadata
                for e in result.get_asset_materialization_events()}
    assert set(reported) == {"cka_by_layer", "retrieval_by_layer", "weight_spectrum", "probe_by_layer"}
    cka = pl.read_parquet(root.joinpath(*analysis_parts("mlm", "cka")))
    retrieval = pl.read_parquet(root.joinpath(*analysis_parts("mlm", "retrieval")))
    spectrum = pl.read_parquet(root.joinpath(*analysis_parts("mlm", "spectrum")))
    # PUD: 6 languages against English; held-out: one per pair; every layer, embeddings included
    assert cka.height == (6 + 5) * (LAYERS + 1) and set(cka["layer"]) == set(range(LAYERS + 1))
    # PUD: 21 pairs of its 7 languages, both ways; held-out: 5 pairs both ways
    assert retrieval.height == (21 + 5) * 2 * (LAYERS + 1)
    # The same text on both sides: CKA 1 and every sentence finds its translation, at every layer.
    same = cka.filter(pl.col("dataset") == "held-out/en-fr")["cka"].to_list()
    assert same == pytest.approx([1.0] * (LAYERS + 1))
    assert set(retrieval.filter(pl.col("dataset") == "held-out/en-fr")["accuracy"]) == {1.0}
    # A number checked by hand: CKA of the PUD French and English vectors at layer 1.
    encoder = Encoder(root / "checkpoints" / "mlm")
    sets = parallel_sets(pl.read_parquet(root.joinpath(*SENTENCES_PARTS)), "sentences")
    by_hand = linear_cka(encoder.sentence_vectors(sets["pud"]["fr"], layer=1), encoder.sentence_vectors(sets["pud"]["en"], layer=1))
    row = cka.filter((pl.col("dataset") == "pud") & (pl.col("language") == "fr") & (pl.col("layer") == 1))
    assert row["cka"].item() == pytest.approx(by_hand, rel=1e-5)
    # The spectrum: the embeddings (3 matrices) and each layer's 6 weight matrices.
    assert spectrum.group_by("layer").len().sort("layer")["len"].to_list() == [3, 6, 6]
    meta = reported["cka_by_layer"]
    assert meta["cka/held-out/en-fr/fr"].value == pytest.approx(1.0) and "plot/pud" in meta
    assert "retrieval/pud/en-fr" in reported["retrieval_by_layer"] and "effective_rank/layer_1" in reported["weight_spectrum"]


def test_the_layer_wise_probe_shares_the_scorers_features_and_its_last_layer_is_the_scorers_number(store):
    root, resources, instance, _ = store
    config = {"protocol": "linear", "chance_reruns": 0, "seeds": [0]}
    dg.materialize([task_scores], resources=resources, instance=instance, partition_key=score_key("mlm", "XNLI"),
                   run_config={"ops": {"task_scores": {"config": config}}})
    result = analyses_run(store, selection=["probe_by_layer"])
    logs = [e.message for e in instance.all_logs(result.run_id) if e.message]
    assert any("features of layer 2 from the cache" in line for line in logs)  # one entry for layer 2 and -1
    probe = pl.read_parquet(root.joinpath(*analysis_parts("mlm", "probe")))
    assert set(probe["layer"]) == {0, 1, 2} and set(probe["protocol"]) == {"linear"}
    scores = pl.read_parquet(root.joinpath(*score_parts("mlm", "XNLI", "linear"))).filter(pl.col("split") == "test")
    last = probe.filter(pl.col("layer") == LAYERS).select("language", "metric", "value").sort("language", "metric")
    assert last.equals(scores.select("language", "metric", "value").sort("language", "metric"))
    meta = result.asset_materializations_for_node("layer_analyses")[0].metadata
    assert meta["task"].value == "XNLI" and "task_average/layer_0" in meta and "plot" in meta


def test_a_subset_runs_only_its_analyses(store, analysed):
    root, _, _, _ = store
    before = root.joinpath(*analysis_parts("mlm", "cka")).stat().st_mtime_ns
    result = analyses_run(store, selection=["weight_spectrum"])
    keys = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert keys == {"weight_spectrum"}
    assert root.joinpath(*analysis_parts("mlm", "cka")).stat().st_mtime_ns == before


def test_the_warehouse_holds_the_analyses_and_their_views(store, analysed):
    root, resources, instance, _ = store
    dg.materialize([warehouse_analyses], resources=resources, instance=instance, partition_key="mlm")
    dg.materialize([warehouse_analyses], resources=resources, instance=instance, partition_key="mlm")  # no duplicates
    warehouse = resources["warehouse"]
    assert warehouse.query("SELECT count(*) AS n FROM cka_by_layer")["n"].item() == (6 + 5) * (LAYERS + 1)
    alignment = warehouse.query("SELECT * FROM alignment_by_layer WHERE dataset = 'held-out/en-fr' ORDER BY layer")
    assert alignment["cka"].to_list() == pytest.approx([1.0] * (LAYERS + 1))
    assert alignment["retrieval"].to_list() == [1.0] * (LAYERS + 1)
    assert warehouse.query("SELECT count(*) AS n FROM weight_spectrum")["n"].item() == 15
    probe = warehouse.query("SELECT DISTINCT layer FROM probe_by_layer WHERE task = 'XNLI' ORDER BY layer")
    assert probe["layer"].to_list() == list(range(LAYERS + 1))
    # Rows lost from the warehouse come back from the analysis files with a rebuild.
    warehouse.replace_checkpoint("mlm", {"cka_by_layer": pl.DataFrame(schema=CKA_SCHEMA)})
    warehouse.rebuild(rebuild_tables(None, root))
    assert warehouse.query("SELECT count(*) AS n FROM cka_by_layer")["n"].item() == (6 + 5) * (LAYERS + 1)


def test_alignment_against_transfer_is_a_rank_correlation_by_hand(tmp_path):
    """Three checkpoints, one language, one layer: alignment ranks 1, 2, 3; scores ranks 1, 3, 2 ->
    Spearman 1 - 6 * (0 + 1 + 1) / (3 * 8) = 0.5. Ties get their mean rank."""
    warehouse = DuckDBWarehouse(path=str(tmp_path / "w.duckdb"))
    cka = pl.DataFrame({"checkpoint": ["a", "b", "c"], "revision": "r", "dataset": "pud", "language": "fr",
                        "reference": "en", "layer": 1, "cka": [0.1, 0.5, 0.9], "sentences": 40})
    for key, rows in cka.group_by("checkpoint"):
        warehouse.replace_checkpoint(key[0], {"cka_by_layer": rows})
    scores = pl.DataFrame({
        "checkpoint": ["a", "b", "c"], "revision": "r", "task": "XNLI", "language": "fr", "split": "test",
        "metric": "accuracy", "value": [0.40, 0.60, 0.50], "seed": 0, "protocol": "probe", "layer": -1,
        "n_examples": 10, "versions": "{}", "run_id": None,
    })
    for key, rows in scores.group_by("checkpoint"):
        warehouse.replace_partition(key[0], "XNLI", rows)
    row = warehouse.query("SELECT * FROM alignment_vs_transfer WHERE task = 'XNLI' AND measure = 'cka'")
    assert row["spearman"].item() == pytest.approx(0.5) and row["pairs"].item() == 3 and row["checkpoints"].item() == 3
    # a tie in the scores (b and c both 0.5): ranks 1, 2.5, 2.5 against 1, 2, 3
    warehouse.replace_partition("b", "XNLI", scores.filter(pl.col("checkpoint") == "b").with_columns(value=pl.lit(0.5)))
    tied = warehouse.query("SELECT spearman FROM alignment_vs_transfer WHERE task = 'XNLI' AND measure = 'cka'")
    x, y = np.array([1, 2, 3.0]), np.array([1, 2.5, 2.5])
    assert tied["spearman"].item() == pytest.approx(np.corrcoef(x, y)[0, 1])


def test_a_missing_treebank_or_a_set_without_pairs_is_refused(store, tmp_path):
    root, resources, instance, _ = store
    partial = tmp_path / "ud"
    (partial / PUD_TREEBANKS["en"]).mkdir(parents=True)
    (partial / PUD_TREEBANKS["en"] / "en_pud-ud-test.conllu").write_bytes((UD_DIR / PUD_TREEBANKS["en"] / "en_pud-ud-test.conllu").read_bytes())
    before = root.joinpath(*SENTENCES_PARTS).read_bytes()
    with pytest.raises(ConlluError, match="missing PUD file for ar"):
        dg.materialize([analysis_sentences], resources={**resources, "study": StudySettings(profile="tiny", ud_dir=str(partial))},
                       instance=instance)
    assert root.joinpath(*SENTENCES_PARTS).read_bytes() == before  # nothing half-written
    lonely = pl.DataFrame({"dataset": "pud", "item": ["1", "2"], "lang": "en", "text": ["a", "b"]})
    with pytest.raises(ParallelSetError, match="x.parquet: pud has 2 items in 1 languages"):
        parallel_sets(lonely, "x.parquet")
    uneven = pl.DataFrame({"dataset": "pud", "item": ["1", "2", "1"], "lang": ["en", "en", "fr"], "text": ["a", "b", "c"]})
    with pytest.raises(ParallelSetError, match="pud fr does not hold the same items"):
        parallel_sets(uneven, "x.parquet")


def test_analyses_with_nothing_to_show_write_nothing(store, tmp_path):
    """Sets without English give CKA no row: an error before any analysis's file is written."""
    from xrep_assets.analysis.spec import AnalyzeSpec
    from xrep_assets.analysis.work import run_analyses
    from xrep_assets.errors import EmptyOutputError

    root, _, _, _ = store
    sentences = tmp_path / "sentences.parquet"
    pl.DataFrame({"dataset": "pud", "item": ["1", "2", "1", "2"], "lang": ["fr", "fr", "de", "de"],
                  "text": ["le comité", "la session", "der Ausschuss", "die Sitzung"]}).write_parquet(sentences)
    spec = AnalyzeSpec(checkpoint="mlm", revision=None, checkpoint_dir=str(root / "checkpoints" / "mlm"),
                       analyses=("cka", "retrieval"), sentences=str(sentences), artifacts_root=str(tmp_path / "store"))
    with pytest.raises(EmptyOutputError, match=r"cka_by_layer mlm: no row \(read from .*sentences.parquet\)"):
        run_analyses(spec, Encoder(root / "checkpoints" / "mlm"), log=lambda line: None)
    assert not (tmp_path / "store").exists() or not any((tmp_path / "store").rglob("*.parquet"))
