import polars as pl

from xrep_assets.fixtures import XGLUE_DIR
from xrep_assets.xglue.contamination import contaminated_sentences, evaluation_sentences


def test_matches_are_per_language_after_normalisation():
    pretraining = pl.DataFrame({"lang": ["en", "en", "fr"], "text": ["hello world", "a b c", "Bonjour"]})
    evaluation = pl.DataFrame({
        "task": ["XNLI"] * 4,
        "lang": ["en", "en", "de", "fr"],
        "text": ["Hello, world!", "something else", "hello world", "bonjour !"],
    })
    hits = contaminated_sentences(pretraining, evaluation)
    # "Hello, world!" (en) and "bonjour !" (fr) match; German "hello world" has no German pretraining text
    assert hits["text"].to_list() == ["Hello, world!", "bonjour !"]


def test_evaluation_sentences_cover_every_fixture_test_file():
    sentences = evaluation_sentences(XGLUE_DIR)
    # XNLI test: 120 rows x 2 texts (premise, hypothesis) in each of en, ar, es, fr, ru, zh
    xnli = sentences.filter(pl.col("task") == "XNLI")
    assert xnli.group_by("lang").len().sort("lang")["len"].to_list() == [240] * 6
    # POS test: 120 sentences in each of its 6 fixture languages
    assert sentences.filter(pl.col("task") == "POS").height == 6 * 120
