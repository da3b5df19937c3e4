"""The analyses' files in the artifact store, one per checkpoint and analysis (the source of truth the
warehouse loads), and the parallel sentences they read."""

from __future__ import annotations

from pathlib import Path

import polars as pl

# One row per sentence of a parallel set (`parallel.py`): rows of the same `item` translate each other.
SENTENCES_SCHEMA: dict[str, pl.DataType] = {"dataset": pl.String(), "item": pl.String(), "lang": pl.String(), "text": pl.String()}
SENTENCES_PARTS = ("analyses", "sentences.parquet")

CKA_SCHEMA: dict[str, pl.DataType] = {
    "checkpoint": pl.String(), "revision": pl.String(), "dataset": pl.String(), "language": pl.String(),
    "reference": pl.String(), "layer": pl.Int32(), "cka": pl.Float64(), "sentences": pl.Int32(),
}
RETRIEVAL_SCHEMA: dict[str, pl.DataType] = {
    "checkpoint": pl.String(), "revision": pl.String(), "dataset": pl.String(), "source": pl.String(),
    "target": pl.String(), "layer": pl.Int32(), "accuracy": pl.Float64(), "sentences": pl.Int32(),
}
SPECTRUM_SCHEMA: dict[str, pl.DataType] = {
    "checkpoint": pl.String(), "revision": pl.String(), "layer": pl.Int32(), "matrix": pl.String(),
    "rows": pl.Int32(), "cols": pl.Int32(), "effective_rank": pl.Float64(), "top_singular_value": pl.Float64(),
    "singular_values": pl.List(pl.Float64()),
}
# The layer-wise probe: one row per test language, metric, layer and seed (as a score file's rows).
PROBE_SCHEMA: dict[str, pl.DataType] = {
    "checkpoint": pl.String(), "revision": pl.String(), "task": pl.String(), "protocol": pl.String(),
    "language": pl.String(), "layer": pl.Int32(), "metric": pl.String(), "value": pl.Float64(), "seed": pl.Int32(),
    "n_examples": pl.Int32(),
}
SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    "cka": CKA_SCHEMA, "retrieval": RETRIEVAL_SCHEMA, "spectrum": SPECTRUM_SCHEMA, "probe": PROBE_SCHEMA,
}


def analysis_parts(checkpoint: str, analysis: str) -> tuple[str, ...]:
    return ("analyses", "by_checkpoint", checkpoint, f"{analysis}.parquet")


def read_analysis_file(path: Path, analysis: str) -> pl.DataFrame:
    """One analysis file in its schema (no rows where there is no file)."""
    schema = SCHEMAS[analysis]
    return pl.read_parquet(path).select(list(schema)).cast(schema) if path.exists() else pl.DataFrame(schema=schema)


def read_all_analyses(root: Path, analysis: str) -> pl.DataFrame:
    """Every checkpoint's rows of `analysis` under the store's `root`."""
    files = sorted(root.joinpath("analyses", "by_checkpoint").glob(f"*/{analysis}.parquet"))
    return pl.concat([pl.DataFrame(schema=SCHEMAS[analysis]), *(read_analysis_file(f, analysis) for f in files)])
