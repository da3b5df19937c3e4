"""The SQL views return exactly the hand-computed numbers for hand-inserted rows; partition writes
replace exactly their own rows; the warehouse assets and plots run on a temporary warehouse."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import dagster as dg
import duckdb
import polars as pl
import pytest

from xrep_assets.checkpoints.partitions import CHECKPOINTS_PARTITION_NAME, checkpoint_partitions
from xrep_assets.evaluation.partitions import score_key, score_partitions
from xrep_assets.evaluation.score_files import SCORE_SCHEMA, score_parts
from xrep_assets.plots import comparison_heatmap, per_language_bars, png_markdown
from xrep_assets.resources import ArtifactStore
from xrep_assets.study import CONTINUED_PRETRAINING, HUB_CHECKPOINTS, OBJECTIVES, TASK_KEYS, TASKS
from xrep_assets.warehouse.assets import corpus_statistics, cross_lingual_comparison, warehouse_scores
from xrep_assets.warehouse.catalog_tables import checkpoint_rows
from xrep_assets.warehouse.corpus_statistics import side_statistics
from xrep_assets.warehouse.loading import partition_load, rebuild_tables, training_run_ids
from xrep_assets.warehouse.report import comparison_numbers, report, vs_published_table
from xrep_assets.warehouse.resources import DuckDBWarehouse, WarehouseError


def score(checkpoint, task, language, value, seed=0, split="test", metric=None):
    return {
        "checkpoint": checkpoint, "revision": "r1", "task": task, "language": language, "split": split,
        "metric": metric or TASKS[task].metric, "value": value, "seed": seed, "protocol": "probe", "layer": -1,
        "n_examples": 10, "versions": "{}",
    }


def two_seeds(checkpoint, task, en, de):
    """en and de, each as (seed 0, seed 1)."""
    return [score(checkpoint, task, lang, v, seed=s) for lang, pair in (("en", en), ("de", de)) for s, v in enumerate(pair)]


def study_rows():
    rows = [
        # mlm, NC: en over two seeds (0.8, 0.6) -> 0.7; fr 0.5 -> task mean (0.7 + 0.5) / 2 = 0.6
        score("mlm", "NC", "en", 0.8, seed=0),
        score("mlm", "NC", "en", 0.6, seed=1),
        score("mlm", "NC", "fr", 0.5),
        score("mlm", "NC", "fr", 0.99, split="dev"),  # dev rows never enter the comparison
        score("mlm", "XNLI", "en", 0.4),
    ]
    # clm: every task 0.5 except POS 0.9 -> average (7 * 0.5 + 0.9) / 8 = 0.55
    rows += [score("clm", task, "en", 0.9 if task == "POS" else 0.5) for task in TASK_KEYS]
    rows.append(score("clm", "POS", "en", 0.1, metric="token_accuracy"))  # a secondary metric: not compared
    # mbart-50, two seeds: en (0.8, 0.7), de (0.6, 0.5) -> 0.65 per task, seed means 0.70 / 0.60;
    # NER en (0.9, 0.9), de (0.8, 0.8) -> 0.85. Average (7 * 0.65 + 0.85) / 8 = 0.675.
    for task in TASK_KEYS:
        rows += two_seeds("mbart-50", task, (0.9, 0.9), (0.8, 0.8)) if task == "NER" else two_seeds("mbart-50", task, (0.8, 0.7), (0.6, 0.5))
    # mbart-50-m2o: 0.1 below mbart-50 on every task (0.55), NER en 0.6, de 0.4 -> 0.5 (0.35 below)
    for task in TASK_KEYS:
        rows += two_seeds("mbart-50-m2o", task, (0.6, 0.6), (0.4, 0.4)) if task == "NER" else two_seeds("mbart-50-m2o", task, (0.7, 0.6), (0.5, 0.4))
    # xlmr-base, XNLI only: en 0.85, ar 0.70 -> 0.775 (published: 73.5)
    rows += [score("xlmr-base", "XNLI", "en", 0.85), score("xlmr-base", "XNLI", "ar", 0.70)]
    return pl.DataFrame(rows, schema=SCORE_SCHEMA)


@pytest.fixture
def warehouse(tmp_path):
    wh = DuckDBWarehouse(path=str(tmp_path / "w.duckdb"))
    wh.replace_table("scores", study_rows())
    return wh


def by_checkpoint(frame):
    return frame.rows_by_key("Checkpoint", named=True, unique=True)


def test_comparison_has_the_study_columns_in_order(warehouse):
    table = warehouse.query("SELECT * FROM comparison")
    assert table.columns == [
        "Role", "Checkpoint", "Protocol", *TASK_KEYS, "Average", *[f"{t} std" for t in TASK_KEYS], "Average std", "Seeds"
    ]
    # roles LM, MT, CP; within a role the catalog's order (hub checkpoints first, as in the study)
    assert table.select("Role", "Checkpoint").rows() == [
        ("LM", "XLM-R"), ("LM", "mBART-50"), ("LM", "MLM"), ("LM", "CLM"), ("CP", "mBART m2o")
    ]


def test_comparison_averages_seeds_then_languages_then_tasks(warehouse):
    table = by_checkpoint(warehouse.query("SELECT * FROM comparison"))
    assert table["MLM"]["NC"] == 60.0
    assert table["MLM"]["XNLI"] == 40.0
    assert table["MLM"]["POS"] is None
    assert table["MLM"]["Average"] is None  # not every task scored yet
    assert table["CLM"]["POS"] == 90.0  # xglue_pos, POS's catalog metric; its token_accuracy row stays out
    assert table["CLM"]["Average"] == 55.0
    assert table["mBART-50"]["NC"] == 65.0
    assert table["mBART-50"]["NER"] == 85.0
    assert table["mBART-50"]["Average"] == 67.5


def test_comparison_carries_the_std_over_seeds(warehouse):
    table = by_checkpoint(warehouse.query("SELECT * FROM comparison"))
    # NC seed means (0.8 + 0.6) / 2 = 0.70 and (0.7 + 0.5) / 2 = 0.60: sample std 0.1 / sqrt(2)
    assert table["mBART-50"]["NC std"] == round(100 * 0.1 / math.sqrt(2), 1) == 7.1
    assert table["mBART-50"]["NER std"] == 0.0
    # seed averages over the 8 tasks: (7 * 0.70 + 0.85) / 8 and (7 * 0.60 + 0.85) / 8
    seed_0, seed_1 = (7 * 0.70 + 0.85) / 8, (7 * 0.60 + 0.85) / 8
    assert table["mBART-50"]["Average std"] == round(100 * abs(seed_0 - seed_1) / math.sqrt(2), 1) == 6.2
    assert table["mBART-50"]["Seeds"] == 2
    assert table["CLM"]["NC std"] is None and table["CLM"]["Seeds"] == 1  # one seed: no spread


def test_per_language_view_keeps_the_spread_over_seeds(warehouse):
    row = warehouse.query(
        "SELECT value, std, seeds FROM scores_per_language WHERE checkpoint='mlm' AND task='NC' AND language='en'"
    ).row(0)
    assert row[0] == pytest.approx(0.7)
    assert row[1] == pytest.approx(math.sqrt(((0.8 - 0.7) ** 2 + (0.6 - 0.7) ** 2) / 1))
    assert row[2] == 2
    secondary = warehouse.query("SELECT value FROM scores_per_language WHERE checkpoint='clm' AND metric='token_accuracy'")
    assert secondary.item() == pytest.approx(0.1)  # every metric recorded stays queryable


def test_comparison_per_language_answers_which_checkpoint_transfers_best(warehouse):
    best = warehouse.query(
        """SELECT "Checkpoint", "Value", "Pretraining language" FROM comparison_per_language
           WHERE "Task" = 'XNLI' AND "Language" = 'ar' ORDER BY "Value" DESC LIMIT 1"""
    ).row(0)
    assert best == ("XLM-R", 70.0, True)
    xnli = warehouse.query("""SELECT "Language", "Value", "Std" FROM comparison_per_language WHERE "Checkpoint" = 'XLM-R'""")
    assert xnli.rows() == [("en", 85.0, None), ("ar", 70.0, None)]  # English first, the catalog's order
    nc = warehouse.query(
        """SELECT "Language", "Value", "Std", "Seeds" FROM comparison_per_language WHERE "Checkpoint" = 'mBART-50' AND "Task" = 'NC'"""
    )
    assert nc.rows() == [("en", 75.0, 7.1, 2), ("de", 55.0, 7.1, 2)]


def test_mt_vs_lm_is_the_mt_checkpoint_minus_the_lm_it_comes_from(warehouse):
    [row] = warehouse.query("SELECT * FROM mt_vs_lm").rows(named=True)
    assert (row["Checkpoint"], row["Base"], row["Relation"]) == ("mBART m2o", "mBART-50", "initialised from")
    assert row["NC"] == -10.0
    assert row["NER"] == -35.0
    assert row["Average"] == round(100 * ((7 * 0.55 + 0.5) / 8 - 0.675), 1) == -13.1


def test_published_is_the_studys_table(warehouse):
    table = warehouse.query("SELECT * FROM published")
    assert table.select("Role", "Checkpoint").rows() == [
        ("LM", "mBERT"), ("LM", "XLM-R"), ("LM", "mBART"), ("MT", "NLLB 600M"),
        ("CP", "mBART m2o"), ("CP", "mBART o2m"), ("CP", "mBART m2m"),
    ]
    rows = by_checkpoint(table)
    assert rows["XLM-R"]["XNLI"] == 73.5
    assert rows["mBART o2m"]["POS"] == 55.7
    assert rows["mBERT"]["Average"] == round((81.3 + 65.2 + 86.6 + 64.6 + 63.1 + 74.4 + 77.5 + 76.0) / 8, 1) == 73.6
    assert rows["mBERT"]["Source"].startswith("Ji et al.")


def test_published_keys_are_catalog_checkpoints_with_the_same_role(warehouse):
    pairs = warehouse.query("SELECT p.checkpoint, p.role, c.role AS catalog_role FROM published_scores p LEFT JOIN checkpoints c USING (checkpoint)")
    assert pairs.height == 7 * 8
    assert pairs.filter(pl.col("role") != pl.col("catalog_role")).height == 0


def test_vs_published_is_ours_minus_the_published_value(warehouse):
    table = warehouse.query("SELECT * FROM vs_published")
    assert table.height == 8 + 1  # m2o on every task, XLM-R on XNLI; nothing else is scored and published
    xlmr = table.filter(pl.col("Checkpoint") == "XLM-R").row(0, named=True)
    assert (xlmr["Task"], xlmr["Ours"], xlmr["Published"], xlmr["Difference"]) == ("XNLI", 77.5, 73.5, 4.0)
    m2o = table.filter(pl.col("Checkpoint") == "mBART m2o").rows_by_key("Task", named=True, unique=True)
    assert m2o["NC"]["Difference"] == round(55.0 - 80.4, 1) == -25.4
    assert m2o["NER"]["Difference"] == round(50.0 - 61.5, 1) == -11.5
    wide = by_checkpoint(vs_published_table(table))
    assert wide["XLM-R"]["Mean abs difference"] == 4.0
    assert wide["XLM-R"]["XNLI"] == 4.0


def test_replacing_a_partition_leaves_row_counts_unchanged(warehouse):
    before = warehouse.query("SELECT checkpoint, task, count(*) AS n FROM scores GROUP BY ALL ORDER BY ALL")
    rows = warehouse.query("SELECT * FROM scores WHERE checkpoint = 'mbart-50' AND task = 'NC'").drop("run_id")
    for _ in range(2):
        assert warehouse.replace_partition("mbart-50", "NC", rows) == 4
    assert warehouse.query("SELECT checkpoint, task, count(*) AS n FROM scores GROUP BY ALL ORDER BY ALL").equals(before)


def test_a_partition_write_removes_that_partitions_stale_rows_only(warehouse):
    total = warehouse.query("SELECT count(*) AS n FROM scores").item()
    english = warehouse.query("SELECT * FROM scores WHERE checkpoint = 'mbart-50' AND task = 'NC' AND language = 'en'").drop("run_id")
    warehouse.replace_partition("mbart-50", "NC", english)
    assert warehouse.query("SELECT count(*) AS n FROM scores").item() == total - 2  # the two de rows
    assert by_checkpoint(warehouse.query("SELECT * FROM comparison"))["mBART-50"]["NC"] == 75.0


def test_a_partition_write_refuses_rows_of_another_partition(warehouse):
    stray = pl.DataFrame([score("mbart-50", "XNLI", "en", 0.5)], schema=SCORE_SCHEMA)
    with pytest.raises(WarehouseError, match="task 'XNLI'"):
        warehouse.replace_partition("mbart-50", "NC", stray)


def test_a_writer_waits_for_a_lock_held_outside_dagster(warehouse):
    """Another process (a DuckDB client, or a second writer Dagster's SQLite pool let in at the same
    instant) holds the file: a write waits up to lock_timeout_s, then fails naming the file and DuckDB's lock error."""
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True); time.sleep(3)",
         warehouse.path], stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        rows = study_rows().filter((pl.col("checkpoint") == "clm") & (pl.col("task") == "NC"))
        with pytest.raises(WarehouseError, match=r"warehouse at .* stayed locked for 0 s: .*lock") as raised:
            DuckDBWarehouse(path=warehouse.path, lock_timeout_s=0).replace_partition("clm", "NC", rows)
        assert isinstance(raised.value.__cause__, duckdb.IOException)
        assert DuckDBWarehouse(path=warehouse.path, lock_timeout_s=60).replace_partition("clm", "NC", rows) == 1
    finally:
        holder.kill()
        holder.wait()


def test_a_warehouse_from_another_schema_is_refused_until_rebuilt(tmp_path):
    path = tmp_path / "old.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE scores (checkpoint VARCHAR)")
    wh = DuckDBWarehouse(path=str(path))
    with pytest.raises(WarehouseError, match="warehouse_rebuild_job"):
        wh.replace_table("scores", study_rows())
    wh.rebuild({"scores": study_rows()})
    assert wh.query("SELECT count(*) AS n FROM scores").item() == study_rows().height


def test_the_warehouse_is_rebuilt_from_the_score_files(tmp_path):
    rows = study_rows()
    for (checkpoint, task, protocol), part in rows.group_by("checkpoint", "task", "protocol"):
        path = tmp_path.joinpath(*score_parts(checkpoint, task, protocol))
        path.parent.mkdir(parents=True, exist_ok=True)
        part.write_parquet(path)
    wh = DuckDBWarehouse(path=str(tmp_path / "w.duckdb"))
    wh.replace_table("scores", rows.head(3))  # a warehouse that has drifted from the files
    wh.rebuild(rebuild_tables(None, tmp_path))
    assert wh.query("SELECT count(*) AS n FROM scores").item() == rows.height
    assert by_checkpoint(wh.query("SELECT * FROM comparison"))["mBART-50"]["Average"] == 67.5

    from xrep_assets.definitions import warehouse_rebuild_job

    wh.replace_partition("mbart-50", "NC", rows.head(0))  # rows lost from the warehouse...
    result = warehouse_rebuild_job.execute_in_process(
        resources={"artifacts": ArtifactStore(root=str(tmp_path)), "warehouse": wh}, instance=dg.DagsterInstance.ephemeral()
    )
    assert result.success
    assert wh.query("SELECT count(*) AS n FROM scores").item() == rows.height  # ...come back from the files


def test_report_tables(warehouse):
    table = report(warehouse)
    assert table.columns == ["Role", "Checkpoint", "Protocol", *TASK_KEYS, "Average"]
    assert by_checkpoint(report(warehouse, spread=True))["mBART-50"]["NC"] == "65.0 ± 7.1"
    assert by_checkpoint(report(warehouse, spread=True))["CLM"]["NC"] == "50.0"
    per_language = report(warehouse, per_language=True)
    assert per_language.columns[:6] == ["Role", "Checkpoint", "Protocol", "Task", "en", "ar"]
    xnli = per_language.filter((pl.col("Checkpoint") == "XLM-R") & (pl.col("Task") == "XNLI")).row(0, named=True)
    assert (xnli["en"], xnli["ar"], xnli["de"], xnli["Average"]) == (85.0, 70.0, None, 77.5)


def test_the_comparisons_numbers_to_chart_are_its_averages_and_mt_minus_lm(warehouse):
    numbers = comparison_numbers(report(warehouse), warehouse.query("SELECT * FROM mt_vs_lm"))
    # MLM and XLM-R have unscored tasks: no average yet (test_comparison_averages_seeds_then_languages_then_tasks)
    assert numbers == {
        "average/mBART-50/probe": 67.5,
        "average/CLM/probe": 55.0,
        "average/mBART m2o/probe": round(100 * (7 * 0.55 + 0.5) / 8, 1),
        "mt_minus_lm/mBART m2o/probe": -13.1,
    }
    assert all(type(value) is float for value in numbers.values())


def test_catalog_pairs_each_mt_checkpoint_with_an_lm_of_the_catalog():
    rows = checkpoint_rows().rows_by_key("checkpoint", named=True, unique=True)
    assert set(rows) == {*OBJECTIVES, *HUB_CHECKPOINTS, *CONTINUED_PRETRAINING}
    for key, row in rows.items():
        if row["base"] is not None:
            assert rows[row["base"]]["role"] == "LM" and row["role"] in ("MT", "CP"), key
    assert rows["mbart-50-o2m"]["base"] == "mbart-50"
    assert rows["mbart-50+mt"]["base"] == "mbart-50"
    assert rows["mt-bart"]["base"] == "bart-denoising"


def test_corpus_statistics_count_words_or_characters():
    frame = pl.DataFrame({
        "corpus": ["unpc", "unpc"], "lang_1": ["en", "en"], "lang_2": ["zh", "zh"],
        "text_1": ["the report  was adopted", "yes"], "text_2": ["报告通过了", "是"],
    })
    stats = side_statistics(frame, "en-zh", "train").rows_by_key("language", named=True, unique=True)
    assert (stats["en"]["sentences"], stats["en"]["words"], stats["en"]["characters"]) == (2, 5, 23 + 3)
    assert (stats["zh"]["sentences"], stats["zh"]["words"], stats["zh"]["characters"]) == (2, 6, 6)


def test_corpus_statistics_asset_fills_its_table(tmp_path):
    from xrep_assets.corpora.layout import study_bitext_name, study_corpus_dir
    from xrep_assets.study import LanguagePair

    path = study_corpus_dir(tmp_path) / study_bitext_name(LanguagePair("en", "fr"), "train")
    path.parent.mkdir(parents=True)
    pl.DataFrame({"corpus": ["unpc"] * 2, "lang_1": ["en"] * 2, "lang_2": ["fr"] * 2,
                  "text_1": ["a b", "c"], "text_2": ["d e f", "g"]}).write_parquet(path)
    warehouse = DuckDBWarehouse(path=str(tmp_path / "w.duckdb"))
    dg.materialize([corpus_statistics], resources={"artifacts": ArtifactStore(root=str(tmp_path)), "warehouse": warehouse})
    table = warehouse.query("SELECT corpus, pair, split, language, sentences, words FROM corpus_statistics ORDER BY language")
    assert table.rows() == [("unpc", "en-fr", "train", "en", 2, 3), ("unpc", "en-fr", "train", "fr", 2, 4)]


def test_plots_render(warehouse):
    heatmap = comparison_heatmap(report(warehouse), (*TASK_KEYS, "Average"))
    assert len(heatmap.axes[0].texts) == report(warehouse).select(*TASK_KEYS, "Average").count().sum_horizontal().item()
    bars = per_language_bars(warehouse.query("SELECT * FROM comparison_per_language"), ["XNLI", "NER"])
    assert [a.get_title(loc="left") for a in bars.axes] == ["XNLI", "NER"]
    assert png_markdown(bars, "bars").startswith("![bars](data:image/png;base64,")


@dg.asset(name="task_scores", partitions_def=score_partitions)
def stand_in_task_scores(context, artifacts: ArtifactStore) -> None:
    """Writes the partition's rows of study_rows() where task_scores writes its file."""
    keys = context.partition_key.keys_by_dimension
    rows = study_rows().filter((pl.col("checkpoint") == keys["checkpoint"]) & (pl.col("task") == keys["task"]))
    for (protocol,), part in rows.group_by("protocol"):
        with artifacts.writing_file(*score_parts(keys["checkpoint"], keys["task"], protocol)) as tmp:
            part.write_parquet(tmp)


def test_warehouse_scores_asset_replaces_its_partition_and_the_comparison_shows_it(tmp_path):
    resources = {"artifacts": ArtifactStore(root=str(tmp_path / "artifacts")), "warehouse": DuckDBWarehouse(path=str(tmp_path / "w.duckdb"))}
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(CHECKPOINTS_PARTITION_NAME, ["mbart-50", "mbart-50-m2o"])
    for checkpoint in ("mbart-50", "mbart-50-m2o"):
        for task in TASK_KEYS:
            dg.materialize([stand_in_task_scores, warehouse_scores], resources=resources, instance=instance,
                           partition_key=score_key(checkpoint, task))
    again = dg.materialize([warehouse_scores], resources=resources, instance=instance, partition_key=score_key("mbart-50", "NC"))
    meta = again.asset_materializations_for_node("warehouse_scores")[0].metadata
    assert (meta["rows"].value, meta["rows_replaced"].value, meta["seeds"].value) == (4, 4, 2)
    assert resources["warehouse"].query("SELECT count(*) AS n FROM scores").item() == 2 * 8 * 4

    # each partition's rows point at the run that scored them, recorded with its config and versions
    runs = resources["warehouse"].query(
        "SELECT DISTINCT s.run_id, r.kind, r.checkpoint, r.task, r.config, r.versions FROM scores s JOIN runs r USING (run_id)"
    )
    assert runs.height == 2 * 8
    scoring = runs.filter((pl.col("checkpoint") == "mbart-50") & (pl.col("task") == "NC")).row(0, named=True)
    assert scoring["kind"] == "scoring" and scoring["versions"] == "{}"
    assert instance.get_run_by_id(scoring["run_id"]).run_config == json.loads(scoring["config"])

    result = dg.materialize([cross_lingual_comparison], resources=resources, instance=instance)
    meta = {k: v.value for k, v in result.asset_materializations_for_node("cross_lingual_comparison")[0].metadata.items()}
    assert meta["rows"] == 2
    assert "| mBART-50   | probe    | 65.0 ± 7.1" in meta["comparison"]
    assert meta["heatmap"].startswith("![comparison heatmap](data:image/png;base64,")
    assert meta["per_language"].startswith("![per-language scores](data:image/png;base64,")
    assert "-35.0" in meta["mt_vs_lm"] and "-25.4" in meta["vs_published"]
    numbers = {k: v for k, v in result.asset_materializations_for_node("cross_lingual_comparison")[0].metadata.items()
               if k.startswith(("average/", "mt_minus_lm/"))}
    assert {k: v.value for k, v in numbers.items()} == {
        "average/mBART-50/probe": 67.5, "average/mBART m2o/probe": 54.4, "mt_minus_lm/mBART m2o/probe": -13.1,
    }
    assert all(isinstance(v, dg.FloatMetadataValue) for v in numbers.values())


REVISION_TAG = "xrep/test_revision"


@dg.asset(name="checkpoint", partitions_def=checkpoint_partitions)
def stand_in_checkpoint(context) -> dg.MaterializeResult:
    """Records the revision its run is tagged with, as the checkpoint asset records its weights' digest."""
    return dg.MaterializeResult(metadata={"revision": context.run.tags[REVISION_TAG]})


def test_the_training_run_is_found_by_the_revision_of_the_weights():
    """A trained checkpoint's revision is a digest of its files: the run that trained it is the
    checkpoint materialization that recorded that digest. A run id (score files written before) is
    looked up as it is; a hub commit has no training run here."""
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(CHECKPOINTS_PARTITION_NAME, ["mlm"])
    first, second = (
        dg.materialize([stand_in_checkpoint], instance=instance, partition_key="mlm", tags={REVISION_TAG: revision})
        for revision in ("sha256:0000000000000001", "sha256:0000000000000002")
    )
    revisions = ["sha256:0000000000000001", "sha256:0000000000000002", "sha256:00000000000000ff", "legacy-run-id"]
    assert training_run_ids(instance, "mlm", revisions) == [first.run_id, second.run_id, "legacy-run-id"]

    rows = pl.DataFrame([{**score("mlm", "NC", "en", 0.5), "revision": "sha256:0000000000000002"}], schema=SCORE_SCHEMA)
    _, runs = partition_load(instance, "mlm", "NC", rows)
    assert runs.select("run_id", "kind", "checkpoint", "job_name").rows() == [(second.run_id, "pretraining", "mlm", "__ephemeral_asset_job__")]
