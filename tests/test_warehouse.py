"""The SQL views return exactly the hand-computed numbers for hand-inserted rows."""

from __future__ import annotations

import math

import polars as pl
import pytest

from xrep_assets.evaluation.store import SCORE_SCHEMA
from xrep_assets.study import TASK_KEYS
from xrep_assets.warehouse.catalog_tables import checkpoint_rows, task_rows
from xrep_assets.warehouse.resources import DuckDBWarehouse


def score(checkpoint, task, language, value, seed=0, split="test"):
    return {
        "checkpoint": checkpoint, "revision": "r1", "task": task, "language": language, "split": split,
        "metric": "accuracy", "value": value, "seed": seed, "protocol": "probe", "layer": -1,
        "n_examples": 10, "versions": "{}",
    }


@pytest.fixture
def warehouse(tmp_path):
    wh = DuckDBWarehouse(path=str(tmp_path / "w.duckdb"))
    wh.replace_table("checkpoints", checkpoint_rows())
    wh.replace_table("tasks", task_rows())
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
    wh.replace_table("scores", pl.DataFrame(rows, schema=SCORE_SCHEMA))
    return wh


def test_comparison_has_the_study_columns_in_order(warehouse):
    table = warehouse.query("SELECT * FROM comparison")
    assert table.columns == ["Role", "Checkpoint", "Protocol", *TASK_KEYS, "Average"]


def test_comparison_averages_seeds_then_languages_then_tasks(warehouse):
    table = warehouse.query("SELECT * FROM comparison").rows_by_key("Checkpoint", named=True, unique=True)
    assert table["MLM"]["NC"] == 60.0
    assert table["MLM"]["XNLI"] == 40.0
    assert table["MLM"]["POS"] is None
    assert table["MLM"]["Average"] is None  # not every task scored yet
    assert table["CLM"]["POS"] == 90.0
    assert table["CLM"]["Average"] == 55.0


def test_per_language_view_keeps_the_spread_over_seeds(warehouse):
    row = warehouse.query(
        "SELECT value, std, seeds FROM scores_per_language WHERE checkpoint='mlm' AND task='NC' AND language='en'"
    ).row(0)
    assert row[0] == pytest.approx(0.7)
    assert row[1] == pytest.approx(math.sqrt(((0.8 - 0.7) ** 2 + (0.6 - 0.7) ** 2) / 1))
    assert row[2] == 2


def test_replacing_a_table_does_not_duplicate_rows(warehouse):
    before = warehouse.query("SELECT count(*) AS n FROM scores").item()
    rows = warehouse.query("SELECT * FROM scores")
    warehouse.replace_table("scores", rows)
    assert warehouse.query("SELECT count(*) AS n FROM scores").item() == before == 13  # 5 mlm rows + 8 clm rows
