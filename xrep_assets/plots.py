"""PNG plots for asset metadata: Dagster renders a markdown image with a data URI inline."""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import matplotlib
import numpy as np

matplotlib.use("Agg")  # no display on workers and CI
import matplotlib.pyplot as plt  # noqa: E402

if TYPE_CHECKING:
    import polars as pl


def png_markdown(figure: "plt.Figure", alt: str) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(figure)
    return f"![{alt}](data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode('ascii')})"


def loss_curve(points: Sequence[tuple[int, float]], title: str) -> "plt.Figure":
    figure, axis = plt.subplots(figsize=(6, 3.2))
    steps, losses = zip(*points) if points else ((), ())
    axis.plot(steps, losses, marker="o", markersize=2)
    axis.set_xlabel("step")
    axis.set_ylabel("training loss")
    axis.set_title(title)
    axis.grid(alpha=0.3)
    return figure


def comparison_heatmap(frame: "pl.DataFrame", value_columns: Sequence[str] | None = None, title: str = "") -> "plt.Figure":
    """The study's table as a heatmap: rows = checkpoints (role · label, protocol when several),
    columns = the tasks and their average, each cell annotated; a missing score stays blank."""
    columns = list(value_columns) if value_columns is not None else [
        c for c in frame.columns if c not in ("Role", "Checkpoint", "Protocol") and not c.endswith(" std") and c != "Seeds"
    ]
    several_protocols = "Protocol" in frame.columns and frame["Protocol"].n_unique() > 1
    labels = [
        f"{row.get('Role') or '?'} · {row['Checkpoint']}" + (f" ({row['Protocol']})" if several_protocols else "")
        for row in frame.iter_rows(named=True)
    ]
    values = np.array(
        [[np.nan if row[c] is None else float(row[c]) for c in columns] for row in frame.iter_rows(named=True)], dtype=float
    ).reshape(len(labels), len(columns))
    figure, axis = plt.subplots(figsize=(1.2 + 0.85 * len(columns), 0.8 + 0.42 * max(len(labels), 1)))
    image = axis.imshow(np.ma.masked_invalid(values), cmap="viridis", aspect="auto")
    axis.set_xticks(range(len(columns)), columns)
    axis.set_yticks(range(len(labels)), labels)
    axis.xaxis.tick_top()
    finite = values[np.isfinite(values)]
    middle = (finite.min() + finite.max()) / 2 if finite.size else 0.0
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            if np.isfinite(values[i, j]):
                axis.text(j, i, f"{values[i, j]:.1f}", ha="center", va="center", fontsize=8,
                          color="white" if values[i, j] < middle else "black")
    figure.colorbar(image, ax=axis, fraction=0.03, pad=0.02)
    if title:
        axis.set_title(title, pad=24)
    return figure


def per_language_bars(frame: "pl.DataFrame", tasks: Sequence[str]) -> "plt.Figure":
    """One panel per task: a group of bars per language (the frame's order), a bar per checkpoint,
    error bars = std over seeds. `frame` has the columns of the `comparison_per_language` view."""
    figure, axes = plt.subplots(len(tasks), 1, figsize=(9, 2.6 * max(len(tasks), 1)), squeeze=False)
    checkpoints = list(dict.fromkeys(frame["Checkpoint"].to_list())) if frame.height else []
    width = 0.8 / max(len(checkpoints), 1)
    for axis, task in zip(axes[:, 0], tasks):
        rows = frame.filter(frame["Task"] == task) if frame.height else frame
        axis.set_title(task, loc="left", fontsize=10)
        axis.set_ylabel("score (%)")
        axis.grid(axis="y", alpha=0.3)
        if rows.height == 0:
            axis.text(0.5, 0.5, "no scores", ha="center", va="center", transform=axis.transAxes)
            axis.set_xticks([])
            continue
        languages = list(dict.fromkeys(rows["Language"].to_list()))
        for k, name in enumerate(checkpoints):
            mine = {r["Language"]: r for r in rows.filter(rows["Checkpoint"] == name).iter_rows(named=True)}
            heights = [np.nan if lang not in mine or mine[lang]["Value"] is None else mine[lang]["Value"] for lang in languages]
            errors = [np.nan if lang not in mine or mine[lang]["Std"] is None else mine[lang]["Std"] for lang in languages]
            axis.bar(np.arange(len(languages)) + (k - (len(checkpoints) - 1) / 2) * width, heights, width,
                     yerr=errors, capsize=2, label=name)
        axis.set_xticks(range(len(languages)), languages)
        axis.set_ylim(0, 100)
    if checkpoints:
        axes[0, 0].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    figure.tight_layout()
    return figure


def layer_curves(series: Mapping[str, Sequence[tuple[int, float]]], title: str, ylabel: str) -> "plt.Figure":
    """One curve per series (a language pair, a weight matrix) with the layers on the x axis."""
    figure, axis = plt.subplots(figsize=(6.4, 3.6))
    for label, points in series.items():
        layers, values = zip(*points) if points else ((), ())
        axis.plot(layers, values, marker="o", markersize=3, label=label)
    axis.set_xlabel("layer (0: embeddings)")
    axis.set_ylabel(ylabel)
    axis.set_title(title)
    axis.grid(alpha=0.3)
    if len(series) > 1:
        axis.legend(fontsize=7, ncol=2 if len(series) > 8 else 1, loc="best")
    return figure
