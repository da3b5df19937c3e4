"""What the analysis assets show, drawn from an analysis file in the run process (matplotlib and
polars only, no model): a table per layer, one plot per set (a curve per language pair or matrix,
layers on the x axis) and the numbers a user charts, each its own entry."""

from __future__ import annotations

from collections.abc import Callable

import dagster as dg
import polars as pl

from xrep_assets.markdown import markdown_table
from xrep_assets.plots import layer_curves, png_markdown
from xrep_assets.study import TASKS



def _md(text: str) -> dg.MetadataValue:
    return dg.MetadataValue.md(text)


def _by_layer_table(frame: pl.DataFrame, series: str, value: str) -> pl.DataFrame:
    return frame.pivot(on=series, index="layer", values=value, aggregate_function="mean", sort_columns=True).sort("layer")


def _plots(frame: pl.DataFrame, series: str, value: str, title: str, ylabel: str) -> dict[str, object]:
    """One plot per dataset, one curve per `series`, layers on the x axis."""
    out = {}
    for (dataset,), rows in frame.group_by("dataset", maintain_order=True):
        curves = {str(name): list(zip(part["layer"], part[value])) for (name,), part in rows.sort("layer").group_by(series, maintain_order=True)}
        out[f"plot/{dataset}"] = _md(png_markdown(layer_curves(curves, f"{title}: {dataset}", ylabel), f"{title} {dataset}"))
    return out


def cka_metadata(frame: pl.DataFrame, checkpoint: str) -> dict[str, object]:
    last = frame.filter(pl.col("layer") == pl.col("layer").max().over("dataset"))
    return {
        "layers": int(frame["layer"].max()) + 1,
        **{f"cka/{d}/{lang}": float(v) for d, lang, v in last.select("dataset", "language", "cka").iter_rows()},
        **{f"table/{d}": _md(markdown_table(_by_layer_table(rows, "language", "cka"), float_precision=3))
           for (d,), rows in frame.group_by("dataset", maintain_order=True)},
        **_plots(frame, "language", "cka", f"linear CKA with English, {checkpoint}", "CKA"),
    }


def retrieval_metadata(frame: pl.DataFrame, checkpoint: str) -> dict[str, object]:
    pairs = frame.with_columns(pl.concat_str("source", pl.lit("-"), "target").alias("direction"))
    last = pairs.filter(pl.col("layer") == pl.col("layer").max().over("dataset"))
    return {
        "layers": int(frame["layer"].max()) + 1,
        **{f"retrieval/{d}/{direction}": float(v) for d, direction, v in last.select("dataset", "direction", "accuracy").iter_rows()},
        **{f"table/{d}": _md(markdown_table(_by_layer_table(rows, "direction", "accuracy"), float_precision=3))
           for (d,), rows in pairs.group_by("dataset", maintain_order=True)},
        **_plots(pairs, "direction", "accuracy", f"retrieval accuracy, {checkpoint}", "accuracy"),
    }


def spectrum_metadata(frame: pl.DataFrame, checkpoint: str) -> dict[str, object]:
    per_layer = frame.group_by("layer").agg(pl.col("effective_rank").mean(), pl.len().alias("matrices")).sort("layer")
    # A matrix's role across layers: its name without the layer's block index.
    roles = frame.with_columns(pl.col("matrix").str.replace(r"(^|\.)(layer|layers|h|block)\.\d+\.", "${1}").alias("role"))
    curves = {str(role): list(zip(part["layer"], part["effective_rank"]))
              for (role,), part in roles.filter(pl.col("layer") > 0).sort("layer").group_by("role", maintain_order=True)}
    return {
        "matrices": frame.height,
        **{f"effective_rank/layer_{layer}": float(rank) for layer, rank in per_layer.select("layer", "effective_rank").iter_rows()},
        "table": _md(markdown_table(per_layer, float_precision=1)),
        "plot": _md(png_markdown(layer_curves(curves, f"effective rank of the weights, {checkpoint}", "effective rank"),
                                 f"effective rank {checkpoint}")),
    }


def probe_metadata(frame: pl.DataFrame, checkpoint: str) -> dict[str, object]:
    task = TASKS[frame["task"][0]]
    per_language = (frame.filter(pl.col("metric") == task.metric)
                    .group_by("layer", "language", maintain_order=True).agg(pl.col("value").mean()))
    average = per_language.group_by("layer").agg(pl.col("value").mean()).sort("layer")
    curves = {str(lang): list(zip(part["layer"], part["value"]))
              for (lang,), part in per_language.sort("layer").group_by("language", maintain_order=True)}
    curves["average"] = list(zip(average["layer"], average["value"]))
    return {
        "task": task.key,
        "protocol": frame["protocol"][0],
        **{f"task_average/layer_{layer}": float(value) for layer, value in average.iter_rows()},
        "table": _md(markdown_table(_by_layer_table(per_language, "language", "value"), float_precision=3)),
        "plot": _md(png_markdown(layer_curves(curves, f"{task.key} {frame['protocol'][0]} by layer, {checkpoint}", task.metric),
                                 f"probe by layer {checkpoint}")),
    }


METADATA: dict[str, Callable[[pl.DataFrame, str], dict[str, object]]] = {
    "cka": cka_metadata, "retrieval": retrieval_metadata, "spectrum": spectrum_metadata, "probe": probe_metadata,
}
