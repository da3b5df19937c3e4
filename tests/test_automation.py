"""Declarative automation across the graph, with the real conditions of the code location ticking on a
Dagster instance: a hub checkpoint fetched at a new revision is re-scored and re-analysed and ends in
DuckDB and the comparison, and the study's own runs leave nothing for the automation to do.

The requested runs are executed here with the real warehouse assets; the checkpoint, task_scores and
the layer-wise analyses are stand-ins under their keys (as in tests/test_warehouse.py and tests/test_hub.py), which write a
score file whose values depend on the fetched revision: the real scoring of 8 tasks would take
minutes and is covered by tests/test_checkpoint_identity.py and the study's end-to-end test."""

import dagster as dg
import polars as pl
import pytest

from xrep_assets.analysis.files import CKA_SCHEMA, analysis_parts
from xrep_assets.asset_keys import CHECKPOINT_ASSET, LAYER_ANALYSES_ASSETS, TASK_SCORES_ASSET
from xrep_assets.checkpoints.hub_watch import HUB_REVISION_TAG
from xrep_assets.checkpoints.partitions import CHECKPOINTS_PARTITION_NAME, checkpoint_partitions
from xrep_assets.evaluation.partitions import score_key, score_partitions
from xrep_assets.evaluation.score_files import SCORE_SCHEMA, score_parts
from xrep_assets.resources import ArtifactStore
from xrep_assets.study import HUB_CHECKPOINTS, TASK_KEYS, TASKS
from xrep_assets.warehouse.assets import cross_lingual_comparison, warehouse_analyses, warehouse_scores
from xrep_assets.warehouse.resources import DuckDBWarehouse

WAREHOUSE_SCORES = warehouse_scores.key
WAREHOUSE_ANALYSES = warehouse_analyses.key
COMPARISON = cross_lingual_comparison.key
HUB_KEY, OTHER_KEY = "mbart-50-m2m", "mbert"
PINNED, NEW = HUB_CHECKPOINTS[HUB_KEY].revision, "1" * 40
# The fake hub model's score at each revision: a new revision scores differently.
SCORE_AT = {PINNED: 0.5, HUB_CHECKPOINTS[OTHER_KEY].revision: 0.4, NEW: 0.75}


@dg.asset(name="checkpoint", partitions_def=checkpoint_partitions)
def checkpoint_standin(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """Records the revision it fetched: the hub sensor's tag, else the registry's pin."""
    revision = context.run.tags.get(HUB_REVISION_TAG) or HUB_CHECKPOINTS[context.partition_key].revision
    return dg.MaterializeResult(metadata={"revision": revision})


@dg.asset(name="task_scores", partitions_def=score_partitions, deps=[checkpoint_standin])
def task_scores_standin(context: dg.AssetExecutionContext, artifacts: ArtifactStore) -> None:
    """Writes the partition's score file, as task_scores does, for the checkpoint's recorded revision."""
    keys = context.partition_key.keys_by_dimension
    checkpoint, task = keys["checkpoint"], keys["task"]
    [fetch] = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=CHECKPOINT_ASSET, asset_partitions=[checkpoint]), limit=1, ascending=False
    ).records
    revision = fetch.asset_materialization.metadata["revision"].value
    rows = pl.DataFrame([
        {"checkpoint": checkpoint, "revision": revision, "task": task, "language": language, "split": "test",
         "metric": TASKS[task].metric, "value": SCORE_AT[revision], "seed": 0, "protocol": "probe", "layer": -1,
         "n_examples": 10, "versions": "{}"}
        for language in ("en", "de")
    ], schema=SCORE_SCHEMA)
    with artifacts.writing_file(*score_parts(checkpoint, task, "probe")) as tmp:
        rows.write_parquet(tmp)


@dg.multi_asset(specs=[dg.AssetSpec(key, partitions_def=checkpoint_partitions, deps=[checkpoint_standin])
                       for key in LAYER_ANALYSES_ASSETS], can_subset=True)
def analyses_standin(context: dg.AssetExecutionContext, artifacts: ArtifactStore):
    """Writes a CKA file, as layer_analyses does, for the checkpoint's recorded revision."""
    checkpoint = context.partition_key
    [fetch] = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=CHECKPOINT_ASSET, asset_partitions=[checkpoint]), limit=1, ascending=False
    ).records
    rows = pl.DataFrame([{"checkpoint": checkpoint, "revision": fetch.asset_materialization.metadata["revision"].value,
                          "dataset": "pud", "language": "fr", "reference": "en", "layer": 0, "cka": 0.5, "sentences": 40}],
                        schema=CKA_SCHEMA)
    with artifacts.writing_file(*analysis_parts(checkpoint, "cka")) as tmp:
        rows.write_parquet(tmp)
    for key in context.selected_asset_keys:
        yield dg.MaterializeResult(asset_key=key)


class Study:
    """An instance with two registered checkpoints, the local resources and the code location's
    definitions (whose automation conditions are evaluated)."""

    def __init__(self, tmp_path):
        from xrep_assets.definitions import defs

        self.defs = defs
        self.instance = dg.DagsterInstance.ephemeral()
        self.instance.add_dynamic_partitions(CHECKPOINTS_PARTITION_NAME, [HUB_KEY, OTHER_KEY])
        self.warehouse = DuckDBWarehouse(path=str(tmp_path / "w.duckdb"))
        self.resources = {"artifacts": ArtifactStore(root=str(tmp_path / "artifacts")), "warehouse": self.warehouse}
        self.cursor = None

    def materialize(self, assets, partition_key=None, tags=None) -> dg.ExecuteInProcessResult:
        return dg.materialize(assets, resources=self.resources, instance=self.instance, partition_key=partition_key, tags=tags)

    def study(self) -> None:
        """As `xrep study` runs its stage jobs: the fetches, scores_job per partition, comparison_job."""
        for key in (HUB_KEY, OTHER_KEY):
            self.materialize([checkpoint_standin], partition_key=key)
            self.materialize([analyses_standin, warehouse_analyses], partition_key=key)
        for key in (HUB_KEY, OTHER_KEY):
            for task in TASK_KEYS:
                self.materialize([task_scores_standin, warehouse_scores], partition_key=score_key(key, task))
        self.materialize([cross_lingual_comparison])

    def tick(self) -> dict[dg.AssetKey, set]:
        """One evaluation of the automation sensor: what it requests."""
        result = dg.evaluate_automation_conditions(defs=self.defs, instance=self.instance, cursor=self.cursor)
        self.cursor = result.cursor
        keys = (CHECKPOINT_ASSET, TASK_SCORES_ASSET, WAREHOUSE_SCORES, COMPARISON, *LAYER_ANALYSES_ASSETS, WAREHOUSE_ANALYSES)
        requested = {key: set(result.get_requested_partitions(key)) for key in keys if result.get_num_requested(key)}
        assert result.total_requested == sum(len(partitions) for partitions in requested.values())
        return requested

    def execute(self, requested: dict[dg.AssetKey, set]) -> None:
        """Runs the requests as the sensor launches them: one run per score partition, then the rest."""
        assert set(requested) <= {TASK_SCORES_ASSET, WAREHOUSE_SCORES, COMPARISON, *LAYER_ANALYSES_ASSETS, WAREHOUSE_ANALYSES}, requested
        analysed = set.union(set(), *(requested.get(key, set()) for key in (*LAYER_ANALYSES_ASSETS, WAREHOUSE_ANALYSES)))
        for partition in sorted(analysed):  # one run per checkpoint: its analyses and their rows
            assert requested.get(WAREHOUSE_ANALYSES, set()) >= {partition}
            assert all(partition in requested.get(key, set()) for key in LAYER_ANALYSES_ASSETS)
            assert self.materialize([analyses_standin, warehouse_analyses], partition_key=partition).success
        standins = {TASK_SCORES_ASSET: task_scores_standin, WAREHOUSE_SCORES: warehouse_scores}
        partitions = requested.get(TASK_SCORES_ASSET, set()) | requested.get(WAREHOUSE_SCORES, set())
        for partition in sorted(partitions):
            assets = [standins[key] for key in standins if partition in requested.get(key, set())]
            assert self.materialize(assets, partition_key=partition).success
        if COMPARISON in requested:
            assert self.materialize([cross_lingual_comparison]).success

    def tick_until_quiet(self) -> list[dict[dg.AssetKey, set]]:
        ticks = []
        while requested := self.tick():
            assert len(ticks) < 5, f"the automation does not settle: {ticks}"
            ticks.append(requested)
            self.execute(requested)
        return ticks


@pytest.fixture
def study(tmp_path):
    study = Study(tmp_path)
    assert study.tick() == {}  # the sensor's first tick, on a fresh instance
    study.study()
    return study


def rows_of(study: "Study", checkpoint: str) -> pl.DataFrame:
    return study.warehouse.query(f"SELECT * FROM scores WHERE checkpoint = '{checkpoint}' ORDER BY task, language")


def test_the_studys_own_runs_leave_nothing_to_the_automation(study):
    assert study.tick() == {}
    assert study.warehouse.query("SELECT count(*) FROM scores").item() == 2 * 8 * 2


def test_a_new_hub_revision_ends_in_duckdb_and_the_comparison(study):
    # The sensor ticks between the study and the fetch (a tick seeing both would take the scores'
    # own update as handling the fetch: the condition resets on a partition's own update).
    assert study.tick() == {}
    before = rows_of(study, OTHER_KEY)
    fetched = study.materialize([checkpoint_standin], partition_key=HUB_KEY, tags={HUB_REVISION_TAG: NEW})

    ticks = study.tick_until_quiet()
    m2m = {score_key(HUB_KEY, task) for task in TASK_KEYS}
    # Its 8 score partitions, each with its rows in the same run, and its analyses with their rows;
    # then the comparison, once.
    analyses = {key: {HUB_KEY} for key in (*LAYER_ANALYSES_ASSETS, WAREHOUSE_ANALYSES)}
    assert ticks == [{TASK_SCORES_ASSET: m2m, WAREHOUSE_SCORES: m2m, **analyses}, {COMPARISON: {None}}]
    assert study.tick() == {}

    rows = rows_of(study, HUB_KEY)
    assert rows.height == 8 * 2
    assert set(rows["revision"]) == {NEW} and set(rows["value"]) == {SCORE_AT[NEW]}
    assert rows_of(study, OTHER_KEY).equals(before)
    scoring_runs = {study.instance.get_run_by_id(run_id).tags.get(HUB_REVISION_TAG) for run_id in rows["run_id"]}
    assert fetched.run_id not in set(rows["run_id"]) and scoring_runs == {None}
    cka = study.warehouse.query("SELECT checkpoint, revision FROM cka_by_layer ORDER BY checkpoint")
    assert cka.rows() == [(HUB_KEY, NEW), (OTHER_KEY, HUB_CHECKPOINTS[OTHER_KEY].revision)]

    [latest] = study.instance.fetch_materializations(COMPARISON, limit=1, ascending=False).records
    comparison = latest.asset_materialization.metadata["comparison"].value
    [line] = [line for line in comparison.splitlines() if "m2m" in line]
    assert line.count("75.0") == 8 + 1  # 8 tasks and their average at the new revision's score
