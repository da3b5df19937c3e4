"""The comparison as a table to print (`xrep report`) or to show in asset metadata."""

from __future__ import annotations

import polars as pl

from xrep_assets.study import LANGUAGES, SOURCE_LANGUAGE, TASK_KEYS
from xrep_assets.warehouse.resources import DuckDBWarehouse

ROW_COLUMNS = ("Role", "Checkpoint", "Protocol")
VALUE_COLUMNS = (*TASK_KEYS, "Average")
# English first, then the catalog's order: the per-language table's columns.
LANGUAGE_ORDER = (SOURCE_LANGUAGE, *[code for code in LANGUAGES if code != SOURCE_LANGUAGE])


def with_spread(frame: pl.DataFrame, columns: tuple[str, ...], std_suffix: str = " std") -> pl.DataFrame:
    """Each value column as text, `mean ± std` where a std exists (two or more seeds), the std
    columns dropped."""
    def cell(column: str) -> pl.Expr:
        value, std = pl.col(column), pl.col(f"{column}{std_suffix}")
        text = value.round(1).cast(pl.String)
        return pl.when(std.is_null()).then(text).otherwise(pl.concat_str(text, pl.lit(" ± "), std.round(1).cast(pl.String))).alias(column)

    return frame.with_columns(cell(c) for c in columns).drop(f"{c}{std_suffix}" for c in columns)


def for_display(frame: pl.DataFrame) -> pl.DataFrame:
    """Numbers to 1 decimal and missing cells as a dash, for markdown (where null would read "null")."""
    return frame.with_columns(pl.col(pl.Float64).round(1).cast(pl.String)).with_columns(pl.col(pl.String).fill_null("–"))


def per_language_table(per_language: pl.DataFrame, spread: bool = False) -> pl.DataFrame:
    """`comparison_per_language` (long) as rows = checkpoint x task, columns = languages, English
    first (`report` adds the task average)."""
    if spread:
        per_language = with_spread(per_language.rename({"Std": "Value std"}), ("Value",))
    languages = [code for code in LANGUAGE_ORDER if code in set(per_language["Language"].to_list())]
    index = [*ROW_COLUMNS, "Task"]
    if per_language.height == 0:
        return pl.DataFrame(schema={c: pl.String() for c in index})
    table = per_language.pivot("Language", index=index, values="Value", maintain_order=True)
    return table.select(*index, *languages)


def report(warehouse: DuckDBWarehouse, per_language: bool = False, spread: bool = False) -> pl.DataFrame:
    """The study's table (`comparison`) or the same per language (`comparison_per_language`), as
    numbers; with `spread`, as text for display: `mean ± std` over seeds, a dash where no score."""
    if per_language:
        table = per_language_table(warehouse.query('SELECT * FROM comparison_per_language'), spread)
        averages = (
            warehouse.query("SELECT * FROM comparison")
            .select(*ROW_COLUMNS, *TASK_KEYS)
            .unpivot(index=list(ROW_COLUMNS), on=list(TASK_KEYS), variable_name="Task", value_name="Average")
        )
        table = table.join(averages, on=[*ROW_COLUMNS, "Task"], how="left", maintain_order="left")
        return for_display(table) if spread else table
    comparison = warehouse.query("SELECT * FROM comparison")
    if spread:
        comparison = for_display(with_spread(comparison, VALUE_COLUMNS))
    return comparison.select(*ROW_COLUMNS, *VALUE_COLUMNS)


def vs_published_table(vs_published: pl.DataFrame) -> pl.DataFrame:
    """`vs_published` (long) as rows = checkpoints, columns = ours - published per task, then the
    mean absolute difference over the tasks both have."""
    if vs_published.height == 0:
        return pl.DataFrame(schema={"Role": pl.String(), "Checkpoint": pl.String(), "Protocol": pl.String()})
    summary = vs_published.group_by(*ROW_COLUMNS, maintain_order=True).agg(
        pl.col("Difference").abs().mean().round(1).alias("Mean abs difference")
    )
    wide = vs_published.pivot("Task", index=list(ROW_COLUMNS), values="Difference", maintain_order=True)
    return wide.select(*ROW_COLUMNS, *[t for t in TASK_KEYS if t in wide.columns]).join(
        summary, on=list(ROW_COLUMNS), maintain_order="left"
    )


def comparison_numbers(comparison: pl.DataFrame, mt_vs_lm: pl.DataFrame) -> dict[str, float]:
    """The comparison's numbers as metadata entries the UI charts wave after wave, in percent: each
    row's 8-task average (`average/<checkpoint>/<protocol>`) and each MT or CP checkpoint's average
    minus its LM's (`mt_minus_lm/<checkpoint>/<protocol>`). A row whose average is not there yet (a
    task unscored) has no entry."""
    return {
        f"{name}/{row['Checkpoint']}/{row['Protocol']}": float(row["Average"])
        for name, frame in (("average", comparison), ("mt_minus_lm", mt_vs_lm))
        for row in frame.iter_rows(named=True)
        if row["Average"] is not None
    }
