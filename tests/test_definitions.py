import subprocess
import sys

import dagster as dg

from xrep_assets.checkpoints.partitions import CHECKPOINTS_PARTITION_NAME
from xrep_assets.checkpoints.sensors import catalog_checkpoints_sensor
from xrep_assets.definitions import defs
from xrep_assets.profiles import PROFILES
from xrep_assets.resources import StudySettings
from xrep_assets.study import CORPORA, LANGUAGE_PAIRS, TASK_KEYS


def test_definitions_load_and_validate():
    dg.Definitions.validate_loadable(defs)


def test_the_graph_runs_from_corpora_to_the_comparison():
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert keys == {
        "raw_bitext", "cleaned_bitext", "pretraining_corpus", "joint_tokenizer", "checkpoint", "task_scores",
        "warehouse_scores", "corpus_statistics", "cross_lingual_comparison", "analysis_sentences", "cka_by_layer",
        "retrieval_by_layer", "weight_spectrum", "probe_by_layer", "warehouse_analyses",
    }
    upstream = {key.to_user_string(): {p.to_user_string() for p in graph.get(key).parent_keys} for key in graph.get_all_asset_keys()}
    assert upstream["cleaned_bitext"] == {"raw_bitext"}
    assert upstream["pretraining_corpus"] == {"cleaned_bitext"}
    assert upstream["joint_tokenizer"] == {"pretraining_corpus"}
    assert upstream["checkpoint"] == {"joint_tokenizer"}
    assert upstream["task_scores"] == {"checkpoint"}
    assert upstream["warehouse_scores"] == {"task_scores"}
    assert upstream["corpus_statistics"] == {"pretraining_corpus"}
    assert upstream["cross_lingual_comparison"] == {"warehouse_scores"}
    assert upstream["analysis_sentences"] == {"pretraining_corpus"}
    assert upstream["cka_by_layer"] == upstream["retrieval_by_layer"] == {"checkpoint", "analysis_sentences"}
    assert upstream["weight_spectrum"] == upstream["probe_by_layer"] == {"checkpoint"}
    assert upstream["warehouse_analyses"] == {"cka_by_layer", "retrieval_by_layer", "weight_spectrum", "probe_by_layer"}


def test_partitions_come_from_the_catalog():
    corpus_partitions = defs.resolve_assets_def("cleaned_bitext").partitions_def
    assert len(corpus_partitions.get_partition_keys()) == len(CORPORA) * len(LANGUAGE_PAIRS) == 30
    scores = defs.resolve_assets_def("task_scores").partitions_def
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(CHECKPOINTS_PARTITION_NAME, ["mlm"])
    keys = scores.get_partition_keys(dynamic_partitions_store=instance)
    assert sorted(k.keys_by_dimension["task"] for k in keys) == sorted(TASK_KEYS)


def test_sensor_adds_the_profiles_checkpoints_once():
    instance = dg.DagsterInstance.ephemeral()
    context = dg.build_sensor_context(instance=instance, resources={"study": StudySettings(profile="tiny")})
    result = catalog_checkpoints_sensor(context)
    [request] = result.dynamic_partitions_requests
    assert list(request.partition_keys) == list(PROFILES["tiny"].checkpoints)
    instance.add_dynamic_partitions(CHECKPOINTS_PARTITION_NAME, list(request.partition_keys))
    assert isinstance(catalog_checkpoints_sensor(context), dg.SkipReason)


def test_the_pretraining_corpus_is_guarded_by_blocking_checks():
    checks = {key.name for key in defs.resolve_asset_graph().asset_check_keys if key.asset_key.to_user_string() == "pretraining_corpus"}
    assert checks == {
        "pretraining_corpus_not_empty", "validation_disjoint_from_training", "language_id_agreement", "no_test_contamination"
    }


def test_loading_the_code_location_imports_no_model_library():
    """Every run process and the code server import the definitions; torch, transformers, matplotlib,
    scikit-learn and sentencepiece load only in the steps (and workers) that use them, which keeps
    each of a backfill's runs from paying seconds of imports it does not need."""
    heavy = ("torch", "transformers", "matplotlib", "sklearn", "sentencepiece", "huggingface_hub")
    probe = f"import sys, xrep_assets.definitions; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120).stdout
    assert loaded.strip() == "[]"
