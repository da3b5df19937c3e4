"""Markdown tables from polars frames (asset metadata, `xrep report`)."""

from __future__ import annotations

import polars as pl


def markdown_table(frame: pl.DataFrame, float_precision: int = 1) -> str:
    with pl.Config(
        tbl_formatting="MARKDOWN",
        tbl_hide_column_data_types=True,
        tbl_hide_dataframe_shape=True,
        tbl_rows=-1,
        tbl_cols=-1,
        tbl_width_chars=1000,
        fmt_str_lengths=80,
        float_precision=float_precision,
    ):
        return str(frame)
