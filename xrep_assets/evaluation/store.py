"""Per-partition score files: the source of truth the warehouse is rebuilt from."""

from __future__ import annotations

from pathlib import Path

import polars as pl

SCORE_SCHEMA: dict[str, pl.DataType] = {
    "checkpoint": pl.String(),
    "revision": pl.String(),
    "task": pl.String(),
    "language": pl.String(),
    "split": pl.String(),
    "metric": pl.String(),
    "value": pl.Float64(),
    "seed": pl.Int32(),
    "protocol": pl.String(),
    "layer": pl.Int32(),
    "n_examples": pl.Int32(),
    "versions": pl.String(),
}


def score_parts(checkpoint: str, task: str) -> tuple[str, ...]:
    return ("scores", checkpoint, f"{task}.parquet")


def read_all_scores(root: Path) -> pl.DataFrame:
    files = sorted((root / "scores").glob("*/*.parquet"))
    if not files:
        return pl.DataFrame(schema=SCORE_SCHEMA)
    return pl.concat([pl.read_parquet(f).cast(SCORE_SCHEMA) for f in files])
