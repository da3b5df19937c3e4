"""What the Dagster UI shows of every asset: a description whose first line says what the asset is and
how it is partitioned, kinds, an owner team, and its checks. The numeric metadata each asset reports
is checked where the asset runs (tests/test_assets.py, tests/test_warehouse.py)."""

import dagster as dg
import pytest

from xrep_assets.asset_keys import TEAMS
from xrep_assets.definitions import defs

SPECS = {spec.key.to_user_string(): spec for spec in defs.resolve_all_asset_specs()}

# Each asset's checks as they are wired today, and whether they block what is downstream.
CHECKS = {
    "raw_bitext": {},
    "cleaned_bitext": {},
    "pretraining_corpus": {
        "pretraining_corpus_not_empty": True, "validation_disjoint_from_training": True,
        "language_id_agreement": True, "no_test_contamination": True,
    },
    "joint_tokenizer": {},
    "checkpoint": {"output_language": False},
    "task_scores": {"english_dev_above_chance": False},
    "warehouse_scores": {},
    "corpus_statistics": {},
    "cross_lingual_comparison": {},
    "analysis_sentences": {},
    "cka_by_layer": {},
    "probe_by_layer": {},
    "retrieval_by_layer": {},
    "weight_spectrum": {},
    "warehouse_analyses": {},
}


def test_every_asset_is_listed_here():
    assert set(SPECS) == set(CHECKS)


@pytest.mark.parametrize("key", sorted(CHECKS))
def test_the_first_line_says_what_the_asset_is_and_how_it_is_partitioned(key):
    spec = SPECS[key]
    first_line = (spec.description or "").splitlines()[0]
    assert first_line.endswith("."), key
    partitions = spec.partitions_def
    if partitions is None:
        assert "unpartitioned" in first_line, key
    else:
        assert "partition" in first_line, key
        # A multi-partitioned asset names each dimension; the checkpoints' dynamic partitions say "checkpoint".
        dimensions = [d.name for d in partitions.partitions_defs] if isinstance(partitions, dg.MultiPartitionsDefinition) else ["checkpoint"]
        assert all(d in first_line for d in dimensions), (key, dimensions)


@pytest.mark.parametrize("key", sorted(CHECKS))
def test_every_asset_has_kinds_and_an_owner_team(key):
    spec = SPECS[key]
    assert spec.kinds, key
    assert spec.owners and set(spec.owners) <= set(TEAMS), key


def test_each_asset_shows_its_checks_with_a_description():
    graph = defs.resolve_asset_graph()
    found: dict[str, dict[str, bool]] = {key: {} for key in SPECS}
    for check_key in graph.asset_check_keys:
        spec = graph.get_check_spec(check_key)
        assert spec.description, check_key
        found[check_key.asset_key.to_user_string()][check_key.name] = spec.blocking
    assert found == CHECKS
