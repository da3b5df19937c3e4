"""The shipped format fixtures (xrep_assets/fixtures): reproducible by their generator
(tools/build_fixtures.py, not shipped), and in the real OPUS / XGLUE layouts.

Parsing here is deliberately local and minimal (no project readers), so the fixtures are checked
independently of the code that consumes them.
"""

from __future__ import annotations

import ast
import itertools
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from xrep_assets.fixtures import FIXTURES_DIR, OPUS_MIRROR, XGLUE_DIR

REPO = Path(__file__).resolve().parents[1]
GENERATOR = REPO / "tools" / "build_fixtures.py"

SIX = ("ar", "zh", "en", "fr", "ru", "es")
PAIRS = sorted(tuple(sorted(p)) for p in itertools.combinations(SIX, 2))
CORPORA = {  # opus name: (version, code renames, has .ids member)
    "UNPC": ("v1.0", {}, False),
    "OpenSubtitles": ("v2018", {"zh": "zh_cn"}, True),
}
# task dir: languages with dev and test files besides English (the task's languages among the six)
TASK_LANGS = {
    "NC": ["es", "fr", "ru"],
    "XNLI": ["ar", "es", "fr", "ru", "zh"],
    "PAWSX": ["es", "fr"],
    "QAM": ["fr"],
    "QADSM": ["fr"],
    "WPR": ["es", "fr", "zh"],
    "NER": ["es"],
    "POS": ["ar", "es", "fr", "ru", "zh"],
}
UPOS = set("ADJ ADP ADV AUX CCONJ DET INTJ NOUN NUM PART PRON PROPN PUNCT SCONJ SYM VERB X".split())
NER_TAGS = {"O"} | {f"{p}-{t}" for p in "BI" for t in ("PER", "LOC", "ORG", "MISC")}
NC_CATEGORIES = {"news", "sports", "finance", "health", "travel", "autos", "foodanddrink", "entertainment"}


def generated_files(root: Path) -> dict[str, bytes]:
    """What the generator writes: README.md and everything under opus/ and xglue/."""
    files = {
        p.relative_to(root).as_posix(): p.read_bytes()
        for sub in ("opus", "xglue")
        for p in sorted((root / sub).rglob("*"))
        if p.is_file()
    }
    files["README.md"] = (root / "README.md").read_bytes()
    return files


# --------------------------------------------------------------------------------------------------
# Reproducibility


def test_regenerating_gives_byte_identical_files(tmp_path):
    # As a developer runs it: the script, in its own process.
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, str(GENERATOR), str(tmp_path)], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    fresh = generated_files(tmp_path)
    shipped = generated_files(FIXTURES_DIR)
    assert sorted(fresh) == sorted(shipped)
    changed = [name for name in shipped if fresh[name] != shipped[name]]
    assert not changed, f"regenerate with `python tools/build_fixtures.py`: {changed[:5]}"


def test_the_generator_uses_only_the_packages_public_names():
    """It lives outside the package (tests/test_architecture.py does not see it), so it is held here
    to what any user of the package may import."""
    tree = ast.parse(GENERATOR.read_text(encoding="utf-8"))
    imported = [(node.module, alias.name) for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                for alias in node.names if node.module and node.module.startswith("xrep_assets")]
    assert imported
    private = [f"{module}.{name}" for module, name in imported if any(part.startswith("_") for part in [*module.split("."), name])]
    assert not private


def test_fixtures_stay_small():
    assert sum(len(b) for b in generated_files(FIXTURES_DIR).values()) < 3 * 1024 * 1024


def test_readme_says_synthetic():
    readme = (FIXTURES_DIR / "README.md").read_text(encoding="utf-8")
    assert "FORMAT FIXTURES" in readme and "NOT real data" in readme
    assert "python tools/build_fixtures.py" in readme


# --------------------------------------------------------------------------------------------------
# OPUS Moses zips


def moses_cases():
    for name, (version, renames, has_ids) in CORPORA.items():
        for l1, l2 in PAIRS:
            a, b = sorted((renames.get(l1, l1), renames.get(l2, l2)))
            yield pytest.param(name, version, a, b, has_ids, id=f"{name}-{a}-{b}")


@pytest.mark.parametrize("corpus, version, a, b, has_ids", list(moses_cases()))
def test_moses_zip(corpus, version, a, b, has_ids):
    path = OPUS_MIRROR / corpus / version / "moses" / f"{a}-{b}.txt.zip"
    assert path.is_file()
    prefix = f"{corpus}.{a}-{b}"
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        expected = [f"{prefix}.{a}", f"{prefix}.{b}"] + ([f"{prefix}.ids"] if has_ids else []) + ["README"]
        assert names == expected
        assert b"SYNTHETIC" in zf.read("README")
        side_a = zf.read(f"{prefix}.{a}").decode("utf-8").split("\n")
        side_b = zf.read(f"{prefix}.{b}").decode("utf-8").split("\n")
        ids = zf.read(f"{prefix}.ids").decode("utf-8").split("\n") if has_ids else None
    # every member ends with a newline, one aligned unit per line
    assert side_a[-1] == "" and side_b[-1] == ""
    side_a, side_b = side_a[:-1], side_b[:-1]
    assert len(side_a) == len(side_b)
    assert 240 <= len(side_a) <= 310
    assert all(line.strip() for line in side_a + side_b)
    # mostly clean: the deliberate noise stays around 5 %
    pairs = list(zip(side_a, side_b))
    assert 0 < len(pairs) - len(set(pairs)) <= 0.05 * len(pairs)
    assert any(x == "-" or y == "-" for x, y in pairs)
    if has_ids:
        assert ids[-1] == ""
        ids = ids[:-1]
        assert len(ids) == len(side_a)
        doc = re.compile(r"^(?P<lang>[a-z_]+)/\d{4}/\d+/\d+\.xml\.gz$")
        docs = []
        for line in ids:
            fields = line.split("\t")
            assert len(fields) == 4
            ma, mb = doc.match(fields[0]), doc.match(fields[1])
            assert ma and mb and ma["lang"] == a and mb["lang"] == b
            assert all(re.fullmatch(r"\d+( \d+)*", f) for f in fields[2:])
            docs.append(fields[0])
        runs = [len(list(g)) for _, g in itertools.groupby(docs)]
        assert all(20 <= n <= 40 for n in runs[:-1]) and runs[-1] <= 40


def test_opensubtitles_chinese_is_zh_cn_and_unspaced():
    with zipfile.ZipFile(OPUS_MIRROR / "OpenSubtitles" / "v2018" / "moses" / "en-zh_cn.txt.zip") as zf:
        zh = zf.read("OpenSubtitles.en-zh_cn.zh_cn").decode("utf-8").splitlines()
    han = [line for line in zh if re.search(r"[\u4e00-\u9fff]", line)]
    assert len(han) > 0.9 * len(zh)
    assert sum(" " in line for line in han) < 0.05 * len(han)


# --------------------------------------------------------------------------------------------------
# XGLUE task files


def xglue_name(task: str, lang: str, split: str) -> str:
    if task in ("NER", "POS"):
        return f"{task}/{lang}.{split}"
    if task == "XNLI":
        return "XNLI/multinli.train.en.tsv" if split == "train" else f"XNLI/{lang}.{split}"
    if task == "PAWSX":
        return f"PAWSX/{lang}/" + {"train": "train.tsv", "dev": "dev_2k.tsv", "test": "test_2k.tsv"}[split]
    return f"{task}/xglue.{task.lower()}.{lang}.{split}"


def expected_xglue_files() -> list[tuple[str, str, str]]:
    out = []
    for task, langs in TASK_LANGS.items():
        out.append((task, "en", "train"))
        out.append((task, "en", "dev"))
        for lang in langs:
            out += [(task, lang, "dev"), (task, lang, "test")]
    return out


def read_lines(path: Path) -> list[str]:
    data = path.read_bytes().decode("utf-8")
    assert data.endswith("\n") and "\r" not in data
    return data[:-1].split("\n")


def test_every_task_has_its_files():
    missing = [xglue_name(*c) for c in expected_xglue_files() if not (XGLUE_DIR / xglue_name(*c)).is_file()]
    assert not missing


# columns, label set, header
TSV_FORMATS = {
    "NC": (3, NC_CATEGORIES, None),
    "XNLI": (3, {"entailment", "neutral", "contradiction"}, None),
    "PAWSX": (4, {"0", "1"}, "id\tsentence1\tsentence2\tlabel"),
    "QAM": (3, {"0", "1"}, None),
    "QADSM": (4, {"Good", "Bad"}, None),
    "WPR": (4, {"0", "1", "2", "3", "4"}, None),
}


@pytest.mark.parametrize("task, lang, split", [c for c in expected_xglue_files() if c[0] in TSV_FORMATS],
                         ids=lambda v: str(v))
def test_tsv_task_file(task, lang, split):
    lines = read_lines(XGLUE_DIR / xglue_name(task, lang, split))
    columns, labels, header = TSV_FORMATS[task]
    if task == "XNLI" and split == "train":  # XNLI-MT's file: header, and "contradictory"
        header, labels = "premise\thypo\tlabel", {"entailment", "neutral", "contradictory"}
    if header:
        assert lines[0] == header
        lines = lines[1:]
    rows = [line.split("\t") for line in lines]
    assert all(len(r) == columns and all(field.strip() for field in r) for r in rows)
    found = [r[-1] for r in rows]
    assert set(found) == labels  # every label occurs, nothing else
    if task == "WPR":
        queries = [r[0] for r in rows]
        runs = [(q, len(list(g))) for q, g in itertools.groupby(queries)]
        assert len(runs) == len(set(queries))  # rows of one query are consecutive
        assert all(3 <= n <= 8 for _, n in runs)
        assert 35 <= len(runs) <= 70
    else:
        assert 100 <= len(rows) <= 400
        counts = [found.count(label) for label in labels]
        assert min(counts) >= 0.25 * max(counts)  # roughly balanced
    if task == "PAWSX":
        assert [r[0] for r in rows] == [str(i) for i in range(1, len(rows) + 1)]


@pytest.mark.parametrize("task, lang, split", [c for c in expected_xglue_files() if c[0] in ("NER", "POS")],
                         ids=lambda v: str(v))
def test_tagging_task_file(task, lang, split):
    lines = read_lines(XGLUE_DIR / xglue_name(task, lang, split))
    assert lines[-1] == ""  # blank line after the last sentence too
    sentences, current = [], []
    for line in lines:
        if not line:
            assert current, "two blank lines in a row"
            sentences.append(current)
            current = []
            continue
        fields = line.split(" ")
        assert len(fields) == 2 and fields[0]
        current.append(tuple(fields))
    assert 100 <= len(sentences) <= 400
    tags = {t for s in sentences for _, t in s}
    if task == "POS":
        assert tags <= UPOS and {"NOUN", "VERB", "PUNCT"} <= tags
    else:
        assert tags <= NER_TAGS
        assert {"I-PER", "I-LOC", "I-ORG", "O"} <= tags
        for s in sentences:  # IOB1: B- only right after an entity of the same type
            for (_, prev), (_, tag) in zip([("", "O")] + s, s):
                if tag.startswith("B-"):
                    assert prev[2:] == tag[2:]


def test_parallel_dev_sets_share_labels():
    """Dev sets of one task are translations of each other: same labels row by row."""
    for task, langs in TASK_LANGS.items():
        if task in ("NER", "POS"):
            continue
        en = [line.split("\t")[-1] for line in read_lines(XGLUE_DIR / xglue_name(task, "en", "dev"))]
        for lang in langs:
            other = [line.split("\t")[-1] for line in read_lines(XGLUE_DIR / xglue_name(task, lang, "dev"))]
            assert other == en, (task, lang)
