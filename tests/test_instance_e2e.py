"""The study through a running Dagster instance (issue 16): a real `dagster dev` (webserver and daemon)
on a copy of the in-process study's home, `xrep study --submit` re-scoring a slice through its run
queue, and the UI those runs leave behind, read in a real headless Chromium.

The slice is `--rescore`: scoring is what a cluster re-runs between studies, and starting from the
in-process home keeps this module to a few minutes (the whole tiny study submitted takes ~15 min on 2
cores; benchmarks/tiny_study.py --submit checks its table too). What must hold: the queued runs write
exactly the numbers the in-process path wrote, so the comparison table comes out the same, and the
automation sensor, ticking beside them, does not run any of it a second time.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from urllib.parse import quote

import dagster as dg
import duckdb
import pytest

from browser import ERROR_MARKERS, artifacts_dir, chromium, rendered_text, screenshot
from conftest import home_env
from dagster_server import dagster_dev, launch_partition_run, wait_for_run
from xrep_assets.orchestration import study_run_config, study_slice
from xrep_assets.profiles import PROFILES
from xrep_assets.resources import default_study_settings
from xrep_assets.submission import backfill_run_config, study_targets

SLICE = ("--checkpoint", "mlm", "--task", "XNLI", "--task", "POS")
SLICE_ROWS = "SELECT task, language, split, protocol, seed, metric, value FROM scores WHERE checkpoint = 'mlm' AND task IN ('XNLI', 'POS') ORDER BY ALL"


def table_of(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith("|")]


@pytest.fixture(scope="module")
def instance(study_home, tmp_path_factory):
    """(home, webserver, submit's stdout): the in-process home copied, served by `dagster dev`, and the
    slice submitted to it with `xrep study --submit --rescore`."""
    source, _, _ = study_home
    home = tmp_path_factory.mktemp("instance") / "home"
    shutil.copytree(source, home, symlinks=True)
    env = home_env(home)
    with dagster_dev(home, env, home.parent / "dagster_dev.log") as server:
        completed = subprocess.run(
            [sys.executable, "-m", "xrep_assets.cli", "study", "--submit", "--rescore", *SLICE, "--url", server.url],
            env=env, capture_output=True, text=True, timeout=900,
        )
        assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
        yield home, server, completed.stdout


def test_submit_prints_the_in_process_comparison(study_home, instance):
    _, in_process_stdout, _ = study_home
    _, _, stdout = instance
    assert table_of(stdout) == table_of(in_process_stdout)


def test_queued_runs_write_the_in_process_rows(study_home, instance):
    source, _, _ = study_home
    home, _, _ = instance
    with duckdb.connect(str(source / "warehouse.duckdb"), read_only=True) as con:
        expected = con.execute(SLICE_ROWS).fetchall()
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        submitted = con.execute(SLICE_ROWS).fetchall()
        latest_runs = {row[0] for row in con.execute(
            "SELECT DISTINCT run_id FROM scores WHERE checkpoint = 'mlm' AND task IN ('XNLI', 'POS')").fetchall()}
    assert len(expected) > 0 and submitted == expected

    # The rows came from the backfill's runs, and every one of them went through the run queue.
    dagster_instance = dg.DagsterInstance.from_config(str(home / "dagster_home"))
    backfill_runs = dagster_instance.get_runs(filters=dg.RunsFilter(tags={"xrep/study": "xrep study (tiny)"}))
    assert {run.tags.get("dagster/partition") for run in backfill_runs} >= {"mlm|XNLI", "mlm|POS"}
    assert latest_runs <= {run.run_id for run in backfill_runs}
    for run in backfill_runs:
        assert run.is_success
        queued = dagster_instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.RUN_ENQUEUED).records
        assert queued, f"run {run.run_id} did not pass through the queue"


def test_the_automation_does_not_run_the_study_again(study_home, instance):
    """`hub_rescore_sensor` (every automation condition from `task_scores` down) ticks during the
    backfill and after it and requests nothing: while the backfill's runs go, the conditions wait; once
    it has landed, the scores, their rows and the comparison are up to date."""
    source, _, _ = study_home
    home, server, _ = instance
    dagster_instance = dg.DagsterInstance.from_config(str(home / "dagster_home"))
    runs_before = {run.run_id for run in dagster_instance.get_runs()}
    in_process = {run.run_id for run in dg.DagsterInstance.from_config(str(source / "dagster_home")).get_runs()}
    backfill = {run.run_id for run in dagster_instance.get_runs(filters=dg.RunsFilter(tags={"xrep/study": "xrep study (tiny)"}))}
    assert runs_before == in_process | backfill  # no run of the automation's during the backfill
    finished = max(dagster_instance.get_run_stats(run_id).end_time or 0 for run_id in runs_before)
    selector = {**server.repository(), "sensorName": "hub_rescore_sensor"}
    deadline = time.monotonic() + 180  # the sensor's interval is 60 s
    while True:
        ticks = server.query(
            "query($s: SensorSelector!) { sensorOrError(sensorSelector: $s) { ... on Sensor {"
            " sensorState { ticks(limit: 10) { timestamp status runIds } } } } }", {"s": selector},
        )["sensorOrError"]["sensorState"]["ticks"]
        after = [tick for tick in ticks if tick["timestamp"] > finished]
        if after or time.monotonic() > deadline:
            break
        time.sleep(5)
    assert after, "hub_rescore_sensor did not tick within 180 s of the backfill's end"
    assert all(not tick["runIds"] for tick in after), after
    assert {run.run_id for run in dagster_instance.get_runs()} == runs_before


def test_the_whole_study_is_one_backfill_in_dependency_order():
    """Without --rescore the backfill targets every asset of the study with the profile's partitions;
    the daemon orders them by dependency."""
    tiny = PROFILES["tiny"]
    targets = {t["assetKey"]["path"][0]: t.get("partitions") for t in study_targets(study_slice(tiny))}
    assert list(targets) == ["raw_bitext", "cleaned_bitext", "pretraining_corpus", "corpus_statistics", "analysis_sentences",
                             "joint_tokenizer", "checkpoint", "cka_by_layer", "probe_by_layer", "retrieval_by_layer",
                             "weight_spectrum", "warehouse_analyses", "task_scores", "warehouse_scores", "cross_lingual_comparison"]
    assert [r["start"] for r in targets["cka_by_layer"]["ranges"]] == list(tiny.checkpoints)
    assert len(targets["raw_bitext"]["ranges"]) == 2 * len(tiny.pairs)
    assert [r["start"] for r in targets["checkpoint"]["ranges"]] == list(tiny.checkpoints)
    assert len(targets["task_scores"]["ranges"]) == len(tiny.checkpoints) * 8
    assert targets["pretraining_corpus"] is None and targets["cross_lingual_comparison"] is None
    rescore = [t["assetKey"]["path"][0] for t in study_targets(study_slice(tiny, ["mlm"], ["NER"], rescore=True))]
    assert rescore == ["task_scores", "warehouse_scores", "cross_lingual_comparison"]


# The UI as users reach it, in a real browser: one more score partition launched the way the UI's
# "Materialize" launches it, then its page, the comparison's and the asset graph, each checked through
# the rendered DOM and kept as a screenshot (artifacts_dir(): CI keeps them).


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium, asked for before `instance` so that a machine without it skips at once."""
    return chromium()


@pytest.fixture(scope="module")
def ner_scored(instance):
    """`mlm|NER`, not scored by the in-process study's slice here, launched on `__ASSET_JOB` through the
    GraphQL API (its scores and their warehouse rows in one run) and followed to success."""
    home, server, _ = instance
    run_config = backfill_run_config(study_run_config(default_study_settings(environ=home_env(home))))
    run_id = launch_partition_run(server, ["task_scores", "warehouse_scores"], {"checkpoint": "mlm", "task": "NER"}, run_config)
    wait_for_run(server, run_id, timeout_s=300)
    return server


def assert_page(lines: list[str], *expected: str) -> None:
    """Every `expected` text is a node of the rendered page, and no error banner is."""
    missing = [text for text in expected if text not in lines]
    errors = [line for line in lines if any(marker in line for marker in ERROR_MARKERS)]
    assert not missing and not errors, f"missing {missing}, errors {errors}; the page read: {lines[:200]}"


def test_the_launched_partition_page_shows_its_scores(browser, ner_scored):
    url = f"{ner_scored.url}/assets/task_scores?view=partitions&partition={quote('mlm|NER', safe='')}"
    assert_page(rendered_text(url), "task_scores", "mlm|NER", "Materialized", "probe/score/en", "probe/task_average")
    screenshot(url, artifacts_dir() / "ui-task-scores-partition.png")


def test_the_comparison_page_shows_the_heatmap(browser, ner_scored):
    url = f"{ner_scored.url}/assets/cross_lingual_comparison"
    assert_page(rendered_text(url), "cross_lingual_comparison", "comparison", "heatmap", "per_language")
    screenshot(url, artifacts_dir() / "ui-comparison.png")


def test_the_asset_graph_shows_the_study(browser, ner_scored):
    # The comparison's upstream lineage: the whole chain, laid out where the DOM dump sees it (the global
    # graph with every group open is laid out later, in a web worker).
    url = f"{ner_scored.url}/assets/cross_lingual_comparison?view=lineage&lineageScope=upstream&lineageDepth=10"
    assert_page(rendered_text(url), "raw_bitext", "cleaned_bitext", "pretraining_corpus", "joint_tokenizer", "checkpoint",
                "task_scores", "warehouse_scores")
    screenshot(url, artifacts_dir() / "ui-asset-graph.png")
