"""Shared test helpers: where the optional real samples are, a tiny tokenizer trained once, made-up
encoder features, the tiny study run once in process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# ../shared/data beside the repository: real samples, absent on a user's fresh clone.
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
requires_shared = pytest.mark.skipif(not SHARED_DATA.exists(), reason="../shared/data is not present")

TOY_TEXTS = {
    "en": ["the committee adopted the report", "the delegate signed the resolution", "the child reads a book"] * 20,
    "fr": ["le comité a adopté le rapport", "le délégué a signé la résolution", "l'enfant lit un livre"] * 20,
    "zh": ["委员会通过了报告", "代表签署了决议", "孩子读一本书"] * 20,
    "ru": ["комитет принял доклад", "делегат подписал резолюцию", "ребенок читает книгу"] * 20,
}


def load_tokenizer(path: Path):
    """A tokenizer folder (the joint tokenizer's, a checkpoint's) as AutoTokenizer loads it."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(path))


@pytest.fixture(scope="session")
def toy_tokenizer_dir(tmp_path_factory):
    from xrep_assets.tokenizers.training import train_joint_tokenizer

    out = tmp_path_factory.mktemp("tokenizer")
    train_joint_tokenizer(TOY_TEXTS, out, vocab_size=150, alpha=0.3)
    return out


def write_hub_layout_qam(root: Path, extra_english_test: tuple[str, ...] = ()) -> Path:
    """The fixtures' QAM as a dataset folder laid out like the `xglue` script (its column and label
    names, its split names, only the `qam` config), which `datasets.load_dataset(folder, "qam")` reads
    offline; `extra_english_test` questions join the English test split (answer "yes", label True)."""
    import polars as pl

    from xrep_assets.xglue.readers import load_task_split
    from xrep_assets.fixtures import XGLUE_DIR

    splits = {"train": ("en", "train"), "validation.en": ("en", "dev"), "test.en": ("en", "test"),
              "test.fr": ("fr", "test")}
    lines = ["---", "configs:", "- config_name: qam", "  data_files:"]
    (root / "qam").mkdir(parents=True, exist_ok=True)
    for name, (lang, split) in splits.items():
        frame = load_task_split(XGLUE_DIR, "QAM", lang, split).frame.select("text_a", "text_b", "label")
        if name == "test.en" and extra_english_test:
            extra = pl.DataFrame({"text_a": list(extra_english_test), "text_b": ["yes"] * len(extra_english_test),
                                  "label": ["1"] * len(extra_english_test)})
            frame = pl.concat([frame, extra])
        pl.DataFrame({
            "question": frame["text_a"], "answer": frame["text_b"],
            "label": frame["label"].replace_strict({"0": "False", "1": "True"}),
        }).write_ndjson(root / "qam" / f"{name}.jsonl")
        lines += [f"  - split: {name}", f"    path: qam/{name}.jsonl"]
    (root / "README.md").write_text("\n".join([*lines, "---", ""]), encoding="utf-8")
    return root


def made_up_features(task_key: str):
    """A task's fixture splits (English train and dev, English and French test) and random vectors of
    their shapes (one per word for tagging): what the feature cache holds, without an encoder."""
    import torch

    from xrep_assets.evaluation.probing import SplitFeatures, TaskFeatures
    from xrep_assets.evaluation.protocols import TaskData
    from xrep_assets.fixtures import XGLUE_DIR
    from xrep_assets.study import TASKS
    from xrep_assets.xglue.readers import TaggedSentences, load_task_split

    data = TaskData(TASKS[task_key], load_task_split(XGLUE_DIR, task_key, "en", "train"),
                    {"en": load_task_split(XGLUE_DIR, task_key, "en", "dev")},
                    {lang: load_task_split(XGLUE_DIR, task_key, lang, "test") for lang in ("en", "fr")})
    generator = torch.Generator().manual_seed(0)

    def split(examples):
        rows = examples.num_tokens if isinstance(examples, TaggedSentences) else len(examples)
        return SplitFeatures(examples, torch.randn((rows, 8), generator=generator))

    return data, TaskFeatures(data.task, split(data.train), {k: split(e) for k, e in data.dev.items()},
                              {k: split(e) for k, e in data.test.items()})


def home_env(home: Path) -> dict[str, str]:
    """The environment of `xrep` commands on the tiny profile with `home` as XREP_HOME."""
    return {**os.environ, "XREP_HOME": str(home), "DAGSTER_HOME": str(home / "dagster_home"), "XREP_PROFILE": "tiny"}


@pytest.fixture(scope="session")
def study_home(tmp_path_factory):
    """The README's first command, `xrep study` (tiny profile, in process), run once in a fresh home:
    (home, its stdout, its environment). The instance tests compare `--submit` against it."""
    home = tmp_path_factory.mktemp("xrep_home")
    env = home_env(home)
    completed = subprocess.run(
        [sys.executable, "-m", "xrep_assets.cli", "study"], env=env, capture_output=True, text=True, timeout=1500
    )
    assert completed.returncode == 0, completed.stderr[-5000:]
    return home, completed.stdout, env
