"""The catalog as warehouse rows: the SQL seeds derive from xrep_assets/study.py, never repeat it."""

from __future__ import annotations

import polars as pl

from xrep_assets.study import CONTINUED_PRETRAINING, HUB_CHECKPOINTS, LANGUAGES, OBJECTIVES, PRETRAINING_LANGUAGES, TASKS

# The LM each MT or CP checkpoint is compared with in `mt_vs_lm` (the continued checkpoints of
# CONTINUED_PRETRAINING take theirs from `init_from`, our MT objectives from `lm_counterpart`). The
# hub's MT versions of mBART-50 were trained from it. NLLB has no LM ancestor and stays unpaired.
HUB_BASES: dict[str, str] = {"mbart-50-m2o": "mbart-50", "mbart-50-o2m": "mbart-50", "mbart-50-m2m": "mbart-50"}

CHECKPOINT_SCHEMA: dict[str, pl.DataType] = {
    "checkpoint": pl.String(), "label": pl.String(), "role": pl.String(), "family": pl.String(),
    "source": pl.String(), "repo_id": pl.String(), "revision": pl.String(), "base": pl.String(),
    "base_relation": pl.String(), "position": pl.Int32(),
}


def checkpoint_rows() -> pl.DataFrame:
    trained = [
        {"checkpoint": o.key, "label": o.label, "role": o.role, "family": o.family, "source": "trained",
         "repo_id": None, "revision": None, "base": o.lm_counterpart,
         "base_relation": "LM counterpart" if o.lm_counterpart else None}
        for o in OBJECTIVES.values()
    ]
    continued = [
        {"checkpoint": c.key, "label": c.label, "role": "CP", "family": HUB_CHECKPOINTS[c.init_from].family,
         "source": "continued", "repo_id": HUB_CHECKPOINTS[c.init_from].repo_id, "revision": None,
         "base": c.init_from, "base_relation": "initialised from"}
        for c in CONTINUED_PRETRAINING.values()
    ]
    hub = [
        {"checkpoint": h.key, "label": h.label, "role": h.role, "family": h.family, "source": "hub",
         "repo_id": h.repo_id, "revision": h.revision, "base": HUB_BASES.get(h.key),
         "base_relation": "initialised from" if h.key in HUB_BASES else None}
        for h in HUB_CHECKPOINTS.values()
    ]
    # Hub checkpoints first: the study's table lists mBERT, XLM-R, mBART before its own models.
    rows = [{**row, "position": i} for i, row in enumerate(hub + trained + continued)]
    return pl.DataFrame(rows, schema=CHECKPOINT_SCHEMA)


def task_rows() -> pl.DataFrame:
    return pl.DataFrame(
        [{"task": t.key, "name": t.name, "position": i, "metric": t.metric} for i, t in enumerate(TASKS.values())],
        schema={"task": pl.String(), "name": pl.String(), "position": pl.Int32(), "metric": pl.String()},
    )


def language_rows() -> pl.DataFrame:
    return pl.DataFrame(
        [{"language": lang.code, "name": lang.name, "script": lang.script, "pretraining": lang.code in PRETRAINING_LANGUAGES}
         for lang in LANGUAGES.values()],
        schema={"language": pl.String(), "name": pl.String(), "script": pl.String(), "pretraining": pl.Boolean()},
    )


def task_language_rows() -> pl.DataFrame:
    return pl.DataFrame(
        [{"task": t.key, "language": lang, "position": i} for t in TASKS.values() for i, lang in enumerate(t.languages)],
        schema={"task": pl.String(), "language": pl.String(), "position": pl.Int32()},
    )


def catalog_tables() -> dict[str, pl.DataFrame]:
    """Every table the catalog seeds, by table name."""
    return {
        "checkpoints": checkpoint_rows(),
        "tasks": task_rows(),
        "languages": language_rows(),
        "task_languages": task_language_rows(),
    }
