"""PNG plots for asset metadata: Dagster renders a markdown image with a data URI inline."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")  # no display on workers and CI
import matplotlib.pyplot as plt  # noqa: E402


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
