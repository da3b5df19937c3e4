"""Score files, one per partition and protocol: the source of truth the warehouse is rebuilt from."""

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


def score_dir_parts(checkpoint: str, task: str) -> tuple[str, ...]:
    """The folder of one partition's score files, one file per protocol."""
    return ("scores", checkpoint, task)


def score_parts(checkpoint: str, task: str, protocol: str) -> tuple[str, ...]:
    """One protocol's score file of a partition, so that a fine-tuning run keeps the probe's rows.
    `protocol` is the rows' label (`probe`, `finetune:all-dev`, ...)."""
    return (*score_dir_parts(checkpoint, task), f"{protocol.replace(':', '_')}.parquet")


def read_score_files(files: list[Path]) -> pl.DataFrame:
    if not files:
        return pl.DataFrame(schema=SCORE_SCHEMA)
    return pl.concat([pl.read_parquet(f).select(list(SCORE_SCHEMA)).cast(SCORE_SCHEMA) for f in files])


def partition_score_files(root: Path, checkpoint: str, task: str) -> list[Path]:
    return sorted(root.joinpath(*score_dir_parts(checkpoint, task)).glob("*.parquet"))


def read_all_scores(root: Path) -> pl.DataFrame:
    return read_score_files(sorted((root / "scores").glob("*/*/*.parquet")))
