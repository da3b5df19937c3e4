"""Where the XGLUE task splits lie: the official archive's file layout and the `xglue` dataset
script's config and split names. Pure functions, no Dagster; below the stages (corpora check test
sentences against them, evaluation reads them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from xrep_assets.study import SOURCE_LANGUAGE, TASKS, CatalogError

Split = Literal["train", "dev", "test"]


# --------------------------------------------------------------------------------------------------
# File layout of the official archive


def task_file(data_dir: Path, task_key: str, lang: str, split: Split) -> Path:
    """Where `xglue_full_dataset/` (= `data_dir`) keeps one task's split for one language.

    XGLUE ships training data in English only, so `split="train"` requires `lang="en"`.
    """
    _check_split(task_key, lang, split)
    task = TASKS[task_key]
    return Path(data_dir) / task.data_dir / _file_name(task.data_dir, lang, split)


def _check_split(task_key: str, lang: str, split: str) -> None:
    task = TASKS[task_key]
    if split not in ("train", "dev", "test"):
        raise CatalogError(f"unknown split {split!r}")
    if lang not in task.languages:
        raise CatalogError(f"{task_key} has no language {lang!r}; it has {', '.join(task.languages)}")
    if split == "train" and lang != SOURCE_LANGUAGE:
        raise CatalogError(f"XGLUE has {task_key} training data only in {SOURCE_LANGUAGE!r}, not {lang!r}")


def _file_name(task_dir: str, lang: str, split: Split) -> str:
    if task_dir in ("NER", "POS"):
        return f"{lang}.{split}"
    if task_dir == "XNLI":
        return "multinli.train.en.tsv" if split == "train" else f"{lang}.{split}"
    if task_dir == "PAWSX":
        return f"{lang}/train.tsv" if split == "train" else f"{lang}/{split}_2k.tsv"
    return f"xglue.{task_dir.lower()}.{lang}.{split}"  # NC, QADSM, WPR, QAM


# --------------------------------------------------------------------------------------------------
# The `xglue` dataset script (Hugging Face)


# Our task key -> the script's config name. Its splits are `train` (English), `validation.<lang>`
# and `test.<lang>`.
HUB_CONFIGS: dict[str, str] = {
    "NC": "nc", "XNLI": "xnli", "PAWS-X": "paws-x", "QAM": "qam", "QADSM": "qadsm", "WPR": "wpr",
    "NER": "ner", "POS": "pos",
}


def hub_split_name(task_key: str, lang: str, split: Split) -> tuple[str, str]:
    """(config, split) of one task split in a dataset laid out like the `xglue` script."""
    _check_split(task_key, lang, split)
    return HUB_CONFIGS[task_key], {"train": "train", "dev": f"validation.{lang}", "test": f"test.{lang}"}[split]
