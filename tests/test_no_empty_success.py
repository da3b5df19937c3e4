"""No empty success: an asset whose output would be empty although its input should not be fails
with an `EmptyOutputError` naming the output (and partition), the input and what is empty, and
commits nothing, so the previous materialization stays byte for byte.

Each test materializes once with good data, then with empty data, and compares the artifact (or the
warehouse rows) with what the good run left.
"""

from __future__ import annotations

import gzip
import shutil
import zipfile
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from xrep_assets.checkpoints.partitions import CHECKPOINTS_PARTITION_NAME
from xrep_assets.corpora.allocation import MONOLINGUAL_SCHEMA, AllocationParams, empty_parts
from xrep_assets.corpora.assets import cleaned_bitext, raw_bitext
from xrep_assets.corpora.layout import clean_bitext_parts, raw_bitext_parts
from xrep_assets.corpora.partitions import corpus_pair_key
from xrep_assets.corpora.readers import BITEXT_SCHEMA
from xrep_assets.corpora.spec import AllocateSpec
from xrep_assets.corpora.study_corpus import build_study_corpus
from xrep_assets.corpora.resources import OpusSource
from xrep_assets.errors import EmptyOutputError
from xrep_assets.evaluation.partitions import score_key
from xrep_assets.evaluation.score_files import SCORE_SCHEMA, score_parts
from xrep_assets.evaluation.scoring import load_task_data
from xrep_assets.fixtures import OPUS_MIRROR
from xrep_assets.resources import ArtifactStore, StudySettings
from xrep_assets.study import CORPORA, ENGLISH_PAIRS, TASKS, LanguagePair
from xrep_assets.tokenizers.spec import TokenizeSpec
from xrep_assets.tokenizers.spec import TOKENIZER_PARTS
from xrep_assets.tokenizers.training import train_tokenizer
from xrep_assets.warehouse.assets import warehouse_scores
from xrep_assets.warehouse.corpus_statistics import study_corpus_statistics
from xrep_assets.warehouse.resources import DuckDBWarehouse
from xrep_assets.xglue.readers import SENTENCE_COLUMNS, SentenceExamples

UNPC, EN_FR = CORPORA["unpc"], LanguagePair("en", "fr")
KEY = corpus_pair_key(UNPC, EN_FR)


def resources(tmp_path: Path, mirror: Path = OPUS_MIRROR) -> dict:
    return {
        "study": StudySettings(profile="tiny", opus_mirror=str(mirror)),
        "artifacts": ArtifactStore(root=str(tmp_path / "artifacts")),
        "opus": OpusSource(cache_dir=str(tmp_path / "cache")),
    }


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (temporary siblings included, if any were left) and its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def copied_mirror(tmp_path: Path) -> Path:
    mirror = tmp_path / "mirror"
    shutil.copytree(OPUS_MIRROR, mirror)
    return mirror


def empty_moses(mirror: Path) -> Path:
    path = mirror / "UNPC" / "v1.0" / "moses" / "en-fr.txt.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("UNPC.en-fr.en", b"")
        z.writestr("UNPC.en-fr.fr", b"")
    return path


def empty_tmx(mirror: Path, body: str) -> Path:
    folder = mirror / "UNPC" / "v1.0" / "tmx"
    folder.mkdir(parents=True)
    path = folder / "en-fr.tmx.gz"
    path.write_bytes(gzip.compress(
        f'<?xml version="1.0" encoding="utf-8"?><tmx version="1.4"><header srclang="en"/>{body}</tmx>'.encode()
    ))
    return path


@pytest.mark.parametrize("source", ["moses, both members empty", "tmx, empty body", "tmx, self-closed body"])
def test_an_empty_corpus_file_keeps_the_previous_raw_bitext(tmp_path, source):
    dg.materialize_to_memory([raw_bitext], resources=resources(tmp_path), partition_key=KEY)
    corpus_dir = tmp_path / "artifacts" / "corpora" / "raw"
    before = snapshot(corpus_dir)
    assert pl.read_parquet(tmp_path.joinpath("artifacts", *raw_bitext_parts(UNPC, EN_FR))).height > 0

    mirror = copied_mirror(tmp_path)
    fmt = source.split(",")[0]
    path = empty_moses(mirror) if fmt == "moses" else empty_tmx(mirror, "<body></body>" if "empty" in source else "<body/>")
    with pytest.raises(EmptyOutputError, match=rf"^raw_bitext unpc en-fr: no sentence pairs \(read from {path}\)"):
        dg.materialize_to_memory([raw_bitext], resources=resources(tmp_path, mirror), partition_key=KEY,
                                 run_config={"ops": {"raw_bitext": {"config": {"format": fmt}}}})
    assert snapshot(corpus_dir) == before


def test_cleaning_that_keeps_nothing_keeps_the_previous_cleaned_bitext_and_counts_the_removals(tmp_path):
    dg.materialize_to_memory([raw_bitext, cleaned_bitext], resources=resources(tmp_path), partition_key=KEY)
    clean_dir = tmp_path / "artifacts" / "corpora" / "clean"
    before = snapshot(clean_dir)
    raw = tmp_path.joinpath("artifacts", *raw_bitext_parts(UNPC, EN_FR))
    rows = pl.read_parquet(raw).height

    with pytest.raises(EmptyOutputError) as raised:
        dg.materialize_to_memory([cleaned_bitext], resources=resources(tmp_path), partition_key=KEY,
                                 run_config={"ops": {"cleaned_bitext": {"config": {"min_length": 1000}}}})
    message = str(raised.value)
    assert message.startswith(f"cleaned_bitext unpc en-fr: no pair kept of {rows}, removed by filter: ")
    counts = dict(part.rsplit(" ", 1) for part in message.split("removed by filter: ")[1].split(" (read from")[0].split(", "))
    assert sum(int(n) for n in counts.values()) == rows and "length" in counts
    assert str(raw) in message
    assert snapshot(clean_dir) == before


def cleaned_rows(corpus: str, pair: LanguagePair, n: int) -> pl.DataFrame:
    """`n` distinct sentence pairs (distinct after normalisation too: words, not numbers), none shared
    with another corpus or pair."""
    words = [chr(ord("a") + i // 26) + chr(ord("a") + i % 26) for i in range(n)]
    return pl.DataFrame(
        {"line_no": list(range(1, n + 1)), "doc_id": [None] * n, "lang_1": [pair.l1] * n, "lang_2": [pair.l2] * n,
         "text_1": [f"{corpus} {pair.key} {pair.l1} sentence {word}." for word in words],
         "text_2": [f"{corpus} {pair.key} {pair.l2} sentence {word}." for word in words]},
        schema=BITEXT_SCHEMA,
    )


def write_cleaned(root: Path, rows_of: dict[str, int]) -> None:
    for corpus in CORPORA.values():
        for pair in ENGLISH_PAIRS:
            path = root.joinpath(*clean_bitext_parts(corpus, pair))
            path.parent.mkdir(parents=True, exist_ok=True)
            cleaned_rows(corpus.key, pair, rows_of.get(pair.key, 30)).write_parquet(path)


def test_an_allocation_that_leaves_a_pair_or_a_language_empty_keeps_the_previous_study_corpus(tmp_path):
    root = tmp_path / "artifacts"
    spec = AllocateSpec(str(root), tuple(pair.key for pair in ENGLISH_PAIRS), AllocationParams(block_size=5))
    write_cleaned(root, {})
    build_study_corpus(spec, log=lambda line: None)
    study_dir = root / "corpora" / "study"
    before = snapshot(study_dir)
    assert pl.read_parquet(study_dir / "bitext" / "en-fr" / "train.parquet").height > 0

    write_cleaned(root, {"en-fr": 0})  # both corpora: the cap then empties every pair
    with pytest.raises(EmptyOutputError, match=r"^pretraining_corpus: ar-en train, .*en-fr train, en-fr validation, .*fr monolingual.*empty after allocation"):
        build_study_corpus(spec, log=lambda line: None)
    assert snapshot(study_dir) == before


def test_what_a_study_corpus_must_hold():
    pairs = [LanguagePair("en", "fr"), LanguagePair("en", "zh")]
    full = {(p.key, split): 3 for p in pairs for split in ("train", "validation")}
    lines = {"en": 6, "fr": 3, "zh": 3}
    assert empty_parts(full, lines, pairs) == []
    # One corpus may give a pair nothing; the study corpus (both corpora) may not.
    assert empty_parts(full | {("en-zh", "validation"): 0}, lines | {"zh": 0}, pairs) == ["en-zh validation", "zh monolingual"]
    assert empty_parts({}, {}, pairs[:1]) == ["en-fr train", "en-fr validation", "en monolingual", "fr monolingual"]


def test_the_tokenizer_refuses_a_corpus_without_one_language_and_keeps_the_previous_tokenizer(tmp_path):
    root = tmp_path / "artifacts"
    monolingual = root / "corpora" / "study" / "monolingual"
    monolingual.mkdir(parents=True)
    for lang in ("ar", "en", "fr", "ru", "es"):  # no zh
        pl.DataFrame({"lang": [lang] * 3, "text": [f"{lang} {i}" for i in range(3)]}, schema=MONOLINGUAL_SCHEMA).write_parquet(
            monolingual / f"{lang}.parquet")
    previous = root.joinpath(*TOKENIZER_PARTS)
    previous.mkdir(parents=True)
    (previous / "tokenizer.json").write_text("the previous tokenizer", encoding="utf-8")
    before = snapshot(root / "tokenizer")

    with pytest.raises(EmptyOutputError, match=r"^joint_tokenizer: no monolingual text for zh \(read from .*corpora/study\)"):
        train_tokenizer(TokenizeSpec(str(root), 100, 0.3, 1000), log=lambda line: None)
    assert snapshot(root / "tokenizer") == before
    assert sorted(p.name for p in root.iterdir()) == ["corpora", "tokenizer"]  # no temporary sibling left


class OneEmptySplit:
    """A task source (archive or hub dataset alike) whose XNLI `lang` `split` holds no row."""

    def __init__(self, lang: str, split: str):
        self.empty = (lang, split)

    def has(self, task_key: str, lang: str, split: str) -> bool:
        return lang in ("en", "fr") and split in ("train", "dev", "test")

    def load(self, task_key: str, lang: str, split: str) -> SentenceExamples:
        rows = 0 if (lang, split) == self.empty else 4
        frame = pl.DataFrame({"text_a": ["a"] * rows, "text_b": ["b"] * rows, "label": ["neutral"] * rows,
                              "group": list(range(rows))}, schema=SENTENCE_COLUMNS)
        return SentenceExamples(Path(f"{lang}.{split}"), frame)


@pytest.mark.parametrize("lang, split", [("en", "train"), ("en", "dev"), ("fr", "test")])
def test_scoring_refuses_an_empty_task_split_before_it_writes(lang, split):
    with pytest.raises(EmptyOutputError, match=rf"^task_scores mlm\|XNLI: XNLI {lang} {split}: no examples \(read from hub dataset x\)"):
        load_task_data(OneEmptySplit(lang, split), TASKS["XNLI"], "english-dev", None, "task_scores mlm|XNLI", "hub dataset x")
    data, missing = load_task_data(OneEmptySplit("xx", "test"), TASKS["XNLI"], "english-dev", None)
    assert sorted(data.test) == ["en", "fr"] and "de" in missing  # a language without a test set is no error


def score_file(root: Path, rows: int) -> Path:
    path = root.joinpath(*score_parts("mlm", "NC", "probe"))
    path.parent.mkdir(parents=True, exist_ok=True)
    row = {"checkpoint": "mlm", "revision": "r1", "task": "NC", "language": "en", "split": "test", "metric": "accuracy",
           "value": 0.8, "seed": 0, "protocol": "probe", "layer": -1, "n_examples": 10, "versions": "{}"}
    pl.DataFrame([row | {"seed": seed} for seed in range(rows)], schema=SCORE_SCHEMA).write_parquet(path)
    return path


def test_an_empty_score_file_keeps_the_partitions_rows_in_the_warehouse(tmp_path):
    res = {"artifacts": ArtifactStore(root=str(tmp_path / "artifacts")), "warehouse": DuckDBWarehouse(path=str(tmp_path / "w.duckdb"))}
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(CHECKPOINTS_PARTITION_NAME, ["mlm"])
    score_file(tmp_path / "artifacts", 2)
    dg.materialize([warehouse_scores], resources=res, instance=instance, partition_key=score_key("mlm", "NC"))
    before = res["warehouse"].query("SELECT * EXCLUDE (run_id) FROM scores ORDER BY ALL")
    assert before.height == 2

    path = score_file(tmp_path / "artifacts", 0)
    with pytest.raises(EmptyOutputError, match=rf"^warehouse_scores mlm\|NC: no score rows \(read from {path}\)"):
        dg.materialize([warehouse_scores], resources=res, instance=instance, partition_key=score_key("mlm", "NC"))
    assert res["warehouse"].query("SELECT * EXCLUDE (run_id) FROM scores ORDER BY ALL").equals(before)


def test_corpus_statistics_of_an_empty_study_corpus_fail(tmp_path):
    split = tmp_path / "corpora" / "study" / "bitext" / "en-fr" / "train.parquet"
    split.parent.mkdir(parents=True)
    cleaned_rows("unpc", EN_FR, 0).with_columns(pl.lit("unpc").alias("corpus")).write_parquet(split)
    with pytest.raises(EmptyOutputError, match=r"^corpus_statistics: no sentences in the study corpus"):
        study_corpus_statistics(tmp_path)
