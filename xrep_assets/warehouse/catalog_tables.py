"""The catalog as warehouse rows: the SQL seeds derive from xrep_assets/study.py, never repeat it."""

from __future__ import annotations

import polars as pl

from xrep_assets.study import CONTINUED_PRETRAINING, HUB_CHECKPOINTS, OBJECTIVES, TASKS


def checkpoint_rows() -> pl.DataFrame:
    trained = [
        {"checkpoint": o.key, "label": o.label, "role": o.role, "family": o.family, "source": "trained", "repo_id": None}
        for o in OBJECTIVES.values()
    ]
    continued = [
        {
            "checkpoint": c.key, "label": c.label, "role": "CP", "family": HUB_CHECKPOINTS[c.init_from].family,
            "source": "continued", "repo_id": HUB_CHECKPOINTS[c.init_from].repo_id,
        }
        for c in CONTINUED_PRETRAINING.values()
    ]
    hub = [
        {"checkpoint": h.key, "label": h.label, "role": h.role, "family": h.family, "source": "hub", "repo_id": h.repo_id}
        for h in HUB_CHECKPOINTS.values()
    ]
    return pl.DataFrame(trained + continued + hub, schema={k: pl.String() for k in ("checkpoint", "label", "role", "family", "source", "repo_id")})


def task_rows() -> pl.DataFrame:
    return pl.DataFrame(
        [{"task": t.key, "position": i, "metric": t.metric} for i, t in enumerate(TASKS.values())],
        schema={"task": pl.String(), "position": pl.Int32(), "metric": pl.String()},
    )
