"""Task-file readers: every XGLUE format on tiny hand-made files, the error cases, and the real samples."""

from __future__ import annotations

from pathlib import Path

import datasets
import pytest

from xrep_assets.errors import TaskDataError
from xrep_assets.evaluation.metrics import accuracy, ner_f1, xglue_pos_value
from xrep_assets.xglue.layout import HUB_CONFIGS, task_file
from xrep_assets.study import CatalogError
from xrep_assets.xglue.readers import (
    ArchiveSource,
    HubDatasetSource,
    SentenceExamples,
    TaggedSentences,
    load_task_split,
    load_task_split_from_hub,
    read_task_file,
    task_labels,
)

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
needs_shared = pytest.mark.skipif(not SHARED.exists(), reason="shared sample data (../shared/data) not present")


def write_task_file(root: Path, task_key: str, lang: str, split: str, text: str | bytes) -> Path:
    path = task_file(root, task_key, lang, split)
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, str):
        text = text.encode("utf-8")
    path.write_bytes(text)
    return path


def rows(examples: SentenceExamples) -> list[tuple]:
    return examples.frame.rows()


# --------------------------------------------------------------------------------------------------
# Layout


@pytest.mark.parametrize(
    ("task_key", "lang", "split", "relative"),
    [
        ("NER", "en", "train", "NER/en.train"),
        ("NER", "de", "dev", "NER/de.dev"),
        ("POS", "zh", "test", "POS/zh.test"),
        ("NC", "fr", "dev", "NC/xglue.nc.fr.dev"),
        ("QADSM", "en", "train", "QADSM/xglue.qadsm.en.train"),
        ("WPR", "it", "test", "WPR/xglue.wpr.it.test"),
        ("QAM", "de", "test", "QAM/xglue.qam.de.test"),
        ("XNLI", "en", "train", "XNLI/multinli.train.en.tsv"),
        ("XNLI", "sw", "dev", "XNLI/sw.dev"),
        ("PAWS-X", "en", "train", "PAWSX/en/train.tsv"),
        ("PAWS-X", "de", "dev", "PAWSX/de/dev_2k.tsv"),
        ("PAWS-X", "fr", "test", "PAWSX/fr/test_2k.tsv"),
    ],
)
def test_task_file_follows_the_official_archive(task_key, lang, split, relative):
    assert task_file(Path("/x"), task_key, lang, split) == Path("/x") / relative


def test_task_file_rejects_languages_and_splits_xglue_does_not_have():
    with pytest.raises(CatalogError, match="training data only in 'en'"):
        task_file(Path("/x"), "NER", "de", "train")  # English-only training data
    with pytest.raises(CatalogError, match="QAM has no language 'es'"):
        task_file(Path("/x"), "QAM", "es", "dev")  # QAM has en, de, fr
    with pytest.raises(CatalogError, match="unknown split 'valid'"):
        task_file(Path("/x"), "QAM", "de", "valid")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------------
# Sentence, pair and ranking tasks


def test_nc_title_body_category(tmp_path):
    write_task_file(tmp_path, "NC", "de", "dev", "Titel eins\tKörper \"eins\"\tsports\nZwei\tKörper zwei\tnews")
    examples = load_task_split(tmp_path, "NC", "de", "dev")
    assert isinstance(examples, SentenceExamples) and len(examples) == 2
    # no final newline, a quoted field kept verbatim, groups are row indices
    assert rows(examples) == [("Titel eins", 'Körper "eins"', "sports", 0), ("Zwei", "Körper zwei", "news", 1)]


def test_xnli_dev_and_train_with_header_and_alias(tmp_path):
    write_task_file(tmp_path, "XNLI", "de", "dev", "P1\tH1\tneutral\nP1\tH2\tentailment\n\n")
    assert rows(load_task_split(tmp_path, "XNLI", "de", "dev")) == [
        ("P1", "H1", "neutral", 0),
        ("P1", "H2", "entailment", 1),
    ]
    # XNLI-MT's English train file has a header and spells contradiction "contradictory"
    write_task_file(tmp_path, "XNLI", "en", "train", "premise\thypo\tlabel\nA\tB\tcontradictory\r\n")
    assert rows(load_task_split(tmp_path, "XNLI", "en", "train")) == [("A", "B", "contradiction", 0)]


def test_pawsx_skips_its_header_and_the_id(tmp_path):
    write_task_file(tmp_path, "PAWS-X", "de", "dev", "id\tsentence1\tsentence2\tlabel\n4\tS1\tS2\t1\n6\tT1\tT2\t0\n")
    assert rows(load_task_split(tmp_path, "PAWS-X", "de", "dev")) == [("S1", "S2", "1", 0), ("T1", "T2", "0", 1)]


def test_qam_question_passage_label(tmp_path):
    write_task_file(tmp_path, "QAM", "fr", "dev", "quoi ?\tun passage\t0\n")
    assert rows(load_task_split(tmp_path, "QAM", "fr", "dev")) == [("quoi ?", "un passage", "0", 0)]


def test_qadsm_joins_ad_title_and_description(tmp_path):
    write_task_file(tmp_path, "QADSM", "de", "dev", "fast\tFasten Insel\tWandern - Yoga\tGood\n")
    assert rows(load_task_split(tmp_path, "QADSM", "de", "dev")) == [("fast", "Fasten Insel Wandern - Yoga", "Good", 0)]


def test_wpr_groups_runs_of_the_same_query(tmp_path):
    lines = ["q1\tt1\ts1\t4", "q1\tt2\ts2\t0", "q2\tt3\ts3\t2", "q1\tt4\ts4\t1"]
    write_task_file(tmp_path, "WPR", "zh", "dev", "\n".join(lines) + "\n")
    # q1 coming back after q2 is a new query (group 2), as in XGLUE's evaluator
    assert rows(load_task_split(tmp_path, "WPR", "zh", "dev")) == [
        ("q1", "t1 s1", "4", 0),
        ("q1", "t2 s2", "0", 0),
        ("q2", "t3 s3", "2", 1),
        ("q1", "t4 s4", "1", 2),
    ]


def test_fields_keep_unicode_and_lone_carriage_returns(tmp_path):
    # only \n ends a line; U+2028 and a lone \r are text
    write_task_file(tmp_path, "QAM", "de", "dev", "Frage\u2028zwei\tAnt\rwort ü 中文\t1\n")
    assert rows(load_task_split(tmp_path, "QAM", "de", "dev")) == [("Frage\u2028zwei", "Ant\rwort ü 中文", "1", 0)]


# --------------------------------------------------------------------------------------------------
# Tagging tasks


def test_ner_and_pos_files(tmp_path):
    write_task_file(tmp_path, "NER", "de", "dev", "NORDEND I-LOC\n. O\n\nEinen O\nTest O\n\n\n")
    ner = load_task_split(tmp_path, "NER", "de", "dev")
    assert isinstance(ner, TaggedSentences)
    assert ner.tokens == [["NORDEND", "."], ["Einen", "Test"]]
    assert ner.tags == [["I-LOC", "O"], ["O", "O"]]
    # the last sentence without a final newline; a Vietnamese-style word with a space stays whole
    write_task_file(tmp_path, "POS", "vi", "dev", "công ty NOUN\r\nlớn ADJ")
    pos = load_task_split(tmp_path, "POS", "vi", "dev")
    assert (pos.tokens, pos.tags, len(pos), pos.num_tokens) == ([["công ty", "lớn"]], [["NOUN", "ADJ"]], 1, 2)


# --------------------------------------------------------------------------------------------------
# Errors


def test_wrong_column_count_names_file_and_line(tmp_path):
    path = write_task_file(tmp_path, "QAM", "de", "dev", "q\tp\t1\nq\tp\n")
    with pytest.raises(TaskDataError) as caught:
        load_task_split(tmp_path, "QAM", "de", "dev")
    assert caught.value.line == 2
    assert f"{path}:2" in str(caught.value) and "xglue.qam.de.dev" in str(caught.value)
    assert "'q\\tp'" in str(caught.value)  # the offending content


def test_unknown_labels_are_errors(tmp_path):
    write_task_file(tmp_path, "XNLI", "de", "dev", "P\tH\tneutral\nP\tH\tmaybe\n")
    with pytest.raises(TaskDataError, match=r"de\.dev:2: unknown label 'maybe'"):
        load_task_split(tmp_path, "XNLI", "de", "dev")
    write_task_file(tmp_path, "WPR", "de", "dev", "q\tt\ts\t5\n")
    with pytest.raises(TaskDataError, match="unknown label '5'"):
        load_task_split(tmp_path, "WPR", "de", "dev")
    write_task_file(tmp_path, "POS", "de", "dev", "Haus NOUN\nder ART\n")
    with pytest.raises(TaskDataError, match=r"de\.dev:2: unknown tag 'ART'"):
        load_task_split(tmp_path, "POS", "de", "dev")


def test_empty_fields_blank_lines_and_headers_are_errors(tmp_path):
    write_task_file(tmp_path, "QADSM", "de", "dev", "q\t\tdesc\tBad\n")
    with pytest.raises(TaskDataError, match=r":1: empty field 'ad_title'"):
        load_task_split(tmp_path, "QADSM", "de", "dev")
    write_task_file(tmp_path, "NC", "de", "dev", "a\tb\tnews\n\nc\td\tnews\n")
    with pytest.raises(TaskDataError, match=r":2: blank line"):
        load_task_split(tmp_path, "NC", "de", "dev")
    write_task_file(tmp_path, "PAWS-X", "fr", "dev", "4\tS1\tS2\t1\n")
    with pytest.raises(TaskDataError, match=r":1: expected the header"):
        load_task_split(tmp_path, "PAWS-X", "fr", "dev")
    write_task_file(tmp_path, "NER", "de", "dev", "Haus\n")
    with pytest.raises(TaskDataError, match=r":1: expected 'word label'"):
        load_task_split(tmp_path, "NER", "de", "dev")
    write_task_file(tmp_path, "QAM", "de", "dev", b"q\tp\xff\t1\n")
    with pytest.raises(TaskDataError, match=r":1: not UTF-8"):
        load_task_split(tmp_path, "QAM", "de", "dev")


def test_missing_file_has_no_line(tmp_path):
    with pytest.raises(TaskDataError, match="missing") as caught:
        load_task_split(tmp_path, "NC", "de", "test")
    assert caught.value.line is None and caught.value.path.endswith("xglue.nc.de.test")


# --------------------------------------------------------------------------------------------------
# Real samples (../shared/data; counts from its README)

XGLUE = SHARED / "xglue" / "xglue_full_dataset"


@needs_shared
@pytest.mark.parametrize(
    ("task_key", "rows_expected", "label_counts"),
    [
        ("PAWS-X", 2000, {"0": 1169, "1": 831}),
        ("XNLI", 2495, {"contradiction": 832, "entailment": 832, "neutral": 831}),
        ("QADSM", 10000, {"Good": 5000, "Bad": 5000}),
        ("QAM", 10000, {"0": 5000, "1": 5000}),
        ("NC", 1000, {"news": 294, "foodanddrink": 2}),
    ],
)
def test_real_german_dev_sets(task_key, rows_expected, label_counts):
    examples = load_task_split(XGLUE, task_key, "de", "dev")
    assert len(examples) == rows_expected
    counts = dict(examples.frame["label"].value_counts().rows())
    assert {label: counts[label] for label in label_counts} == label_counts


@needs_shared
def test_real_german_pawsx_majority_class_accuracy():
    gold = load_task_split(XGLUE, "PAWS-X", "de", "dev").labels
    assert accuracy(gold, ["0"] * len(gold)) == pytest.approx(1169 / 2000)


@needs_shared
def test_real_german_tagging_dev_sets():
    pos = load_task_split(XGLUE, "POS", "de", "dev")
    assert (len(pos), pos.num_tokens) == (799, 12486)
    assert xglue_pos_value(pos.tags, pos.tags) == 1.0
    ner = load_task_split(XGLUE, "NER", "de", "dev")
    assert (len(ner), ner.num_tokens) == (2874, 51444)
    assert sum(tag.startswith("B-") for tags in ner.tags for tag in tags) == 19  # IOB1: B- only between entities
    assert ner_f1(ner.tags, ner.tags) == 1.0
    assert ner_f1(ner.tags, [["O"] * len(tags) for tags in ner.tags]) == 0.0


# --------------------------------------------------------------------------------------------------
# Semantics shared with XGLUE's evaluator


def test_tagging_lines_are_split_like_the_evaluator(tmp_path):
    # the evaluator ends a sentence at -DOCSTART-, takes the last whitespace-separated field as the
    # tag (tab or trailing whitespace allowed); a word with an inner no-break space stays whole
    write_task_file(
        tmp_path, "NER", "en", "test",
        "-DOCSTART- -X- -X- O\n\nEU\tI-ORG\nrejects O  \n-DOCSTART- O\nPeter I-PER\nvon\u00a0Bonn O\n",
    )
    ner = load_task_split(tmp_path, "NER", "en", "test")
    assert ner.tokens == [["EU", "rejects"], ["Peter", "von\u00a0Bonn"]]
    assert ner.tags == [["I-ORG", "O"], ["I-PER", "O"]]
    write_task_file(tmp_path, "NER", "en", "test", "EU I-ORG\n I-ORG\n")
    with pytest.raises(TaskDataError, match=r":2: expected 'word label'"):
        load_task_split(tmp_path, "NER", "en", "test")
    # the evaluator would count a whitespace-only word as a token, but it is no text to encode
    write_task_file(tmp_path, "POS", "en", "test", "Ja INTJ\n\u00a0 PUNCT\n")
    with pytest.raises(TaskDataError, match=r"en\.test:2: the word is only whitespace"):
        load_task_split(tmp_path, "POS", "en", "test")


def test_nc_categories_are_the_ten_of_xglue(tmp_path):
    write_task_file(tmp_path, "NC", "fr", "dev", "t\tb\tsports\nt\tb\tpolitics\n")
    with pytest.raises(TaskDataError, match=r":2: unknown label 'politics'"):
        load_task_split(tmp_path, "NC", "fr", "dev")


def test_read_task_file_and_task_labels(tmp_path):
    path = tmp_path / "anywhere.tsv"
    path.write_text("q\tt\ts\t3\n", encoding="utf-8")
    assert rows(read_task_file(path, "WPR")) == [("q", "t s", "3", 0)]
    assert task_labels("WPR") == frozenset("01234") and "SCONJ" in task_labels("POS")


# --------------------------------------------------------------------------------------------------
# Hugging Face datasets with the `xglue` script's configs (huggingface/datasets datasets/xglue/xglue.py)


def hub_features(config: str):
    """The features the `xglue` dataset script declares in `_info` for `config`."""
    Value, ClassLabel, Sequence = datasets.Value, datasets.ClassLabel, datasets.Sequence
    string = Value("string")
    ner_tags = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
    upos = "ADJ ADP ADV AUX CCONJ DET INTJ NOUN NUM PART PRON PROPN PUNCT SCONJ SYM VERB X".split()
    news = "foodanddrink sports travel finance lifestyle news entertainment health video autos".split()
    features = {
        "ner": {"words": Sequence(string), "ner": Sequence(ClassLabel(names=ner_tags))},
        "pos": {"words": Sequence(string), "pos": Sequence(ClassLabel(names=upos))},
        "nc": {"news_title": string, "news_body": string, "news_category": ClassLabel(names=news)},
        "xnli": {"premise": string, "hypothesis": string,
                 "label": ClassLabel(names=["entailment", "neutral", "contradiction"])},
        "paws-x": {"sentence1": string, "sentence2": string, "label": ClassLabel(names=["different", "same"])},
        "qadsm": {"query": string, "ad_title": string, "ad_description": string,
                  "relevance_label": ClassLabel(names=["Bad", "Good"])},
        "wpr": {"query": string, "web_page_title": string, "web_page_snippet": string,
                "relavance_label": ClassLabel(names=["Bad", "Fair", "Good", "Excellent", "Perfect"])},
        "qam": {"question": string, "answer": string, "label": ClassLabel(names=["False", "True"])},
    }[config]
    return datasets.Features(features)


def hub_dataset(config: str, split: str, columns: dict):
    table = datasets.Dataset.from_dict(columns, features=hub_features(config))
    return datasets.DatasetDict({split: table})


# task, hub split, hub columns (ClassLabel ids), the same rows as an official file
HUB_CASES = [
    ("NC", "validation.de", {"news_title": ["T1", "T2"], "news_body": ["B1", "B2"], "news_category": [1, 0]},
     "T1\tB1\tsports\nT2\tB2\tfoodanddrink\n"),
    ("XNLI", "test.sw", {"premise": ["P", "P"], "hypothesis": ["H1", "H2"], "label": [2, 0]},
     "P\tH1\tcontradiction\nP\tH2\tentailment\n"),
    ("PAWS-X", "validation.fr", {"sentence1": ["S1", "T1"], "sentence2": ["S2", "T2"], "label": [1, 0]},
     "id\tsentence1\tsentence2\tlabel\n7\tS1\tS2\t1\n8\tT1\tT2\t0\n"),
    ("QAM", "test.de", {"question": ["q"], "answer": ["a"], "label": [1]}, "q\ta\t1\n"),
    ("QADSM", "test.fr", {"query": ["q"], "ad_title": ["Titre"], "ad_description": ["Desc"], "relevance_label": [0]},
     "q\tTitre\tDesc\tBad\n"),
    ("WPR", "test.it",
     {"query": ["q1", "q1", "q2", "q1"], "web_page_title": ["t1", "t2", "t3", "t4"],
      "web_page_snippet": ["s1", "s2", "s3", "s4"], "relavance_label": [4, 0, 2, 1]},
     "q1\tt1\ts1\t4\nq1\tt2\ts2\t0\nq2\tt3\ts3\t2\nq1\tt4\ts4\t1\n"),
]


@pytest.mark.parametrize(("task", "hub_split", "columns", "file_text"), HUB_CASES)
def test_hub_rows_equal_the_archive_rows(tmp_path, task, hub_split, columns, file_text):
    lang = hub_split.split(".")[1]
    split = "dev" if hub_split.startswith("validation") else "test"
    write_task_file(tmp_path, task, lang, split, file_text)
    dataset = hub_dataset(HUB_CONFIGS[task], hub_split, columns)
    from_hub = load_task_split_from_hub("someone/xglue", task, lang, split, dataset=dataset)
    assert rows(from_hub) == rows(load_task_split(tmp_path, task, lang, split))


def test_hub_tagging_equals_the_archive_and_streams(tmp_path):
    columns = {"words": [["EU", "rejects"], ["Peter"]], "ner": [[4, 0], [2]]}  # I-ORG O | I-PER
    write_task_file(tmp_path, "NER", "nl", "test", "EU I-ORG\nrejects O\n\nPeter I-PER\n")
    dataset = hub_dataset("ner", "test.nl", columns)
    archive = load_task_split(tmp_path, "NER", "nl", "test")
    for given in (dataset, dataset["test.nl"], dataset["test.nl"].to_iterable_dataset()):
        hub = load_task_split_from_hub("someone/xglue", "NER", "nl", "test", dataset=given)
        assert (hub.tokens, hub.tags) == (archive.tokens, archive.tags)
    pos = hub_dataset("pos", "train", {"words": [["Ja", "!"]], "pos": [[6, 12]]})
    hub = load_task_split_from_hub("someone/xglue", "POS", "en", "train", dataset=pos)
    assert (hub.tokens, hub.tags) == ([["Ja", "!"]], [["INTJ", "PUNCT"]])


def test_hub_string_labels_as_older_script_versions_declare():
    string = datasets.Value("string")
    features = datasets.Features({"words": datasets.Sequence(string), "ner": datasets.Sequence(string)})
    table = datasets.Dataset.from_dict({"words": [["Bonn"]], "ner": [["I-LOC"]]}, features=features)
    assert load_task_split_from_hub("x", "NER", "de", "dev", dataset=table).tags == [["I-LOC"]]
    features = datasets.Features({"question": string, "answer": string, "label": string})
    table = datasets.Dataset.from_dict({"question": ["q"], "answer": ["a"], "label": ["True"]}, features=features)
    assert rows(load_task_split_from_hub("x", "QAM", "fr", "test", dataset=table)) == [("q", "a", "1", 0)]


def test_hub_errors_name_the_split_and_row():
    dataset = hub_dataset("qam", "test.de", {"question": ["q", "q2"], "answer": ["a", "b"], "label": [1, -1]})
    with pytest.raises(TaskDataError, match=r"someone/xglue\[qam/test\.de\]:2: label id -1 has no name"):
        load_task_split_from_hub("someone/xglue", "QAM", "de", "test", dataset=dataset)
    no_split = r"\[qam/validation\.de\]: no split 'validation\.de'; the dataset has test\.de"
    with pytest.raises(TaskDataError, match=no_split):
        load_task_split_from_hub("someone/xglue", "QAM", "de", "dev", dataset=dataset)
    with pytest.raises(CatalogError, match="only in 'en'"):
        load_task_split_from_hub("someone/xglue", "QAM", "de", "train", dataset=dataset)
    wrong = hub_dataset("paws-x", "test.de", {"sentence1": ["a"], "sentence2": ["b"], "label": [1]})
    with pytest.raises(TaskDataError, match=r"missing columns \['question', 'answer'\]"):
        load_task_split_from_hub("someone/xglue", "QAM", "de", "test", dataset=wrong)


def test_hub_splits_without_rows_or_words_are_errors():
    empty = hub_dataset("qam", "test.de", {"question": [], "answer": [], "label": []})
    with pytest.raises(TaskDataError, match=r"\[qam/test\.de\]: no rows: the split is empty"):
        load_task_split_from_hub("someone/xglue", "QAM", "de", "test", dataset=empty)
    empty = hub_dataset("ner", "test.de", {"words": [], "ner": []})
    with pytest.raises(TaskDataError, match=r"\[ner/test\.de\]: no sentences: the split is empty"):
        load_task_split_from_hub("someone/xglue", "NER", "de", "test", dataset=empty)
    wordless = hub_dataset("ner", "test.de", {"words": [["Bonn"], []], "ner": [[6], []]})
    with pytest.raises(TaskDataError, match=r"\[ner/test\.de\]:2: a sentence without words"):
        load_task_split_from_hub("someone/xglue", "NER", "de", "test", dataset=wordless)
    blank_word = hub_dataset("pos", "test.de", {"words": [["Ja", " "]], "pos": [[6, 12]]})
    with pytest.raises(TaskDataError, match=r"\[pos/test\.de\]:1: a word that is empty or only whitespace"):
        load_task_split_from_hub("someone/xglue", "POS", "de", "test", dataset=blank_word)


def test_task_sources_share_one_interface(tmp_path):
    write_task_file(tmp_path, "QAM", "fr", "test", "q\ta\t1\n")
    archive = ArchiveSource(tmp_path)
    qam = hub_dataset("qam", "test.fr", {"question": ["q"], "answer": ["a"], "label": [1]})
    hub = HubDatasetSource("someone/xglue", preloaded={"qam": qam})
    for source in (archive, hub):
        assert source.has("QAM", "fr", "test") and not source.has("QAM", "de", "test")
        assert rows(source.load("QAM", "fr", "test")) == [("q", "a", "1", 0)]

