import pytest

from conftest import load_tokenizer
from xrep_assets.tokenizers.training import (
    LANGUAGE_TAGS,
    balanced_sample,
    fertility,
    fertility_by_language,
    language_sample_sizes,
)


def test_sample_sizes_follow_the_temperature_formula():
    # p = (0.9, 0.1); p^0.5 = (0.9487, 0.3162); q = (0.75, 0.25) of 1000 lines
    assert language_sample_sizes({"en": 900, "fr": 100}, alpha=0.5) == {"en": 750, "fr": 250}
    # alpha = 1 keeps the natural distribution
    assert language_sample_sizes({"en": 900, "fr": 100}, alpha=1.0) == {"en": 900, "fr": 100}


def test_balanced_sample_upsamples_the_small_language():
    lines = balanced_sample({"en": ["e"] * 900, "fr": ["f"] * 100}, alpha=0.5, seed=0)
    assert lines.count("e") == 750 and lines.count("f") == 250


def test_trained_tokenizer_loads_with_auto_tokenizer_and_keeps_language_tags_whole(toy_tokenizer_dir):
    tokenizer = load_tokenizer(toy_tokenizer_dir)
    for tag in LANGUAGE_TAGS:
        assert tokenizer.tokenize(f"{tag} le comité") [0] == tag
    ids = tokenizer("委员会通过了报告")["input_ids"]
    assert ids[0] == tokenizer.cls_token_id and ids[-1] == tokenizer.sep_token_id
    assert tokenizer.unk_token_id not in ids


class _SplitTokenizer:
    """Stands in for a tokenizer: one piece per whitespace-separated token."""

    def tokenize(self, text):
        return text.split()


def test_fertility_counts_words_or_characters():
    tok = _SplitTokenizer()
    assert fertility(tok, ["a b c", "d e"], "en") == 1.0
    # Chinese: 2 pieces over 5 characters
    assert fertility(tok, ["委员会 通过"], "zh") == pytest.approx(0.4)


class _PairTokenizer:
    """Stands in for a tokenizer: each whitespace-separated word cut into pieces of two characters."""

    def tokenize(self, text):
        return [word[i:i + 2] for word in text.split() for i in range(0, len(word), 2)]


def test_fertility_by_language_measures_each_language_on_its_first_lines():
    tok = _PairTokenizer()
    texts = {"zh": ["委员会通过"], "en": ["abc de", "fghij"]}
    # en, first line: ab c de = 3 pieces over 2 words; zh: 委员 会通 过 = 3 pieces over 5 characters
    assert fertility_by_language(tok, texts, sample=1) == {"en": 1.5, "zh": pytest.approx(0.6)}
    # en, both lines: 3 + 3 (fg hi j) pieces over 3 words
    assert fertility_by_language(tok, texts, sample=2)["en"] == 2.0
    assert list(fertility_by_language(tok, texts)) == ["en", "zh"]  # the metadata's order
