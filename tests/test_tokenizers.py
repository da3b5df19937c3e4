import random
import tracemalloc
from collections.abc import Mapping, Sequence
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import load_tokenizer
from xrep_assets.errors import XrepError
from xrep_assets.study import PRETRAINING_LANGUAGES
from xrep_assets.corpora.layout import monolingual_line_counts, read_monolingual_lines
from xrep_assets.tokenizers.sample import (
    drawn_positions,
    language_sample_sizes,
    temperature_sample,
)
from xrep_assets.tokenizers import training
from xrep_assets.tokenizers.spec import TOKENIZER_PARTS, TokenizeSpec
from xrep_assets.tokenizers.training import (
    LANGUAGE_TAGS,
    fertility,
    fertility_by_language,
    train_joint_tokenizer,
    train_tokenizer,
)

BOUNDED = settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


def balanced_sample(texts_by_lang: Mapping[str, Sequence[str]], alpha: float, seed: int) -> list[str]:
    """The sample as the tokenizer drew it before the cap (the whole corpus in memory): the reference
    the streamed sample must equal, line for line, whenever the cap does not bind."""
    rng = random.Random(seed)
    sizes = language_sample_sizes({lang: len(t) for lang, t in texts_by_lang.items()}, alpha)
    lines: list[str] = []
    for lang in sorted(texts_by_lang):
        texts = list(texts_by_lang[lang])
        k = sizes[lang]
        lines += rng.sample(texts, k) if k <= len(texts) else rng.choices(texts, k=k)
    rng.shuffle(lines)
    return lines


def in_memory(texts_by_lang: Mapping[str, Sequence[str]]):
    return {lang: len(t) for lang, t in texts_by_lang.items()}, lambda lang, at: [texts_by_lang[lang][i] for i in at]


def write_monolingual(corpus_dir: Path, texts_by_lang: Mapping[str, Sequence[str]]) -> Path:
    """The study corpus's monolingual files, as `pretraining_corpus` lays them out."""
    (corpus_dir / "monolingual").mkdir(parents=True, exist_ok=True)
    for lang, texts in texts_by_lang.items():
        pl.DataFrame({"lang": [lang] * len(texts), "text": list(texts)}, schema={"lang": pl.String, "text": pl.String}
                     ).write_parquet(corpus_dir / "monolingual" / f"{lang}.parquet")
    return corpus_dir


def test_sample_sizes_follow_the_temperature_formula():
    # p = (0.9, 0.1); p^0.5 = (0.9487, 0.3162); q = (0.75, 0.25) of 1000 lines
    assert language_sample_sizes({"en": 900, "fr": 100}, alpha=0.5) == {"en": 750, "fr": 250}
    # alpha = 1 keeps the natural distribution
    assert language_sample_sizes({"en": 900, "fr": 100}, alpha=1.0) == {"en": 900, "fr": 100}


def test_the_cap_scales_the_sizes_and_never_rounds_above_itself():
    # q = (0.75, 0.25) of the cap's 100 lines
    assert language_sample_sizes({"en": 900, "fr": 100}, alpha=0.5, cap=100) == {"en": 75, "fr": 25}
    # a cap above the corpus changes nothing
    assert language_sample_sizes({"en": 900, "fr": 100}, alpha=0.5, cap=10_000) == {"en": 750, "fr": 250}
    # p = (3/8, 3/8, 2/8) of a cap of 4: quotas 1.5, 1.5, 1.0 round to 2, 2, 1 = 5 lines; the first of
    # the two languages rounded up by half a line gives one back
    assert language_sample_sizes({"a": 3, "b": 3, "c": 2}, alpha=1.0, cap=4) == {"a": 1, "b": 2, "c": 1}
    assert language_sample_sizes({"a": 3, "b": 3, "c": 2}, alpha=1.0, cap=100) == {"a": 3, "b": 3, "c": 2}


def test_drawing_positions_picks_the_lines_drawing_the_texts_picks():
    for lines, k in ((50, 20), (100_000, 10), (30, 80)):  # sample from a copied pool, from a set; choices
        texts = [f"line {i}" for i in range(lines)]
        draw = random.Random(7).sample if k <= lines else lambda p, k: random.Random(7).choices(p, k=k)
        assert [texts[i] for i in drawn_positions(random.Random(7), lines, k)] == draw(texts, k)


def test_drawing_from_a_huge_corpus_keeps_memory_to_the_sample():
    tracemalloc.start()
    positions = drawn_positions(random.Random(0), 10**12, 1000)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(set(positions)) == 1000 and peak < 1_000_000  # a set of 1,000 positions, not a copy of the range


corpora = st.dictionaries(
    st.sampled_from(PRETRAINING_LANGUAGES),
    st.lists(st.text(alphabet="abcdefgh ", max_size=6), max_size=40),
    min_size=1,
)


@BOUNDED
@given(texts=corpora, alpha=st.sampled_from([0.3, 0.5, 1.0]), seed=st.integers(0, 3), slack=st.integers(0, 50))
def test_the_sample_is_the_uncapped_sample_line_for_line_while_the_cap_does_not_bind(texts, alpha, seed, slack):
    counts, read = in_memory(texts)
    reference = balanced_sample(texts, alpha, seed)
    assert temperature_sample(counts, read, alpha, seed) == reference
    assert temperature_sample(counts, read, alpha, seed, cap=len(reference) + slack) == reference


def test_the_sample_is_the_uncapped_sample_where_a_large_language_draws_into_a_set():
    # 30,000 English lines against 5 x 10 lines, alpha 0.01: English draws ~5,000 of 30,000 (the set path)
    texts = {"en": [f"en {i}" for i in range(30_000)]}
    texts |= {lang: [f"{lang} {i}" for i in range(10)] for lang in ("ab", "cd", "ef", "gh", "ij")}
    counts, read = in_memory(texts)
    assert temperature_sample(counts, read, 0.01, seed=3, cap=10**9) == balanced_sample(texts, 0.01, seed=3)


@BOUNDED
@given(counts=st.dictionaries(st.sampled_from(PRETRAINING_LANGUAGES), st.integers(0, 500), min_size=1),
       alpha=st.sampled_from([0.1, 0.3, 0.7, 1.0]), cap=st.integers(1, 800))
def test_the_sample_never_exceeds_the_cap(counts, alpha, cap):
    lines = temperature_sample(counts, lambda lang, at: [f"{lang} {i}" for i in at], alpha, seed=0, cap=cap)
    assert len(lines) == sum(language_sample_sizes(counts, alpha, cap).values()) <= cap
    # rounding down loses less than half a line per language
    assert len(lines) >= min(cap, sum(counts.values())) - len(counts) / 2


def test_a_language_short_of_its_share_is_upsampled_with_replacement():
    texts = {"en": [f"e{i}" for i in range(900)], "fr": [f"f{i}" for i in range(100)]}
    counts, read = in_memory(texts)
    lines = temperature_sample(counts, read, alpha=0.5, seed=0)
    french = [line for line in lines if line.startswith("f")]
    assert len(lines) - len(french) == 750 and len(french) == 250  # q = (0.75, 0.25) of 1000 lines
    assert set(french) <= set(texts["fr"])  # 250 draws of its 100 lines
    # capped, English is drawn without replacement: no line twice
    capped = temperature_sample(counts, read, alpha=0.5, seed=0, cap=100)
    assert len(capped) == 100 and len({line for line in capped if line.startswith("e")}) == 75


@BOUNDED
@given(texts=st.lists(st.text(max_size=8), min_size=1, max_size=60), data=st.data())
def test_reading_streamed_lines_gives_the_lines_at_the_positions_in_their_order(tmp_path_factory, texts, data):
    corpus = write_monolingual(tmp_path_factory.mktemp("corpus"), {"en": texts})
    positions = data.draw(st.lists(st.integers(0, len(texts) - 1), max_size=80))
    # batches of 7 rows: many batches, positions on both sides of their edges
    assert read_monolingual_lines(corpus, "en", positions, batch_rows=7) == [texts[i] for i in positions]
    assert monolingual_line_counts(corpus, ["en", "fr"]) == {"en": len(texts), "fr": 0}


def test_the_streamed_sample_is_the_in_memory_sample(tmp_path):
    sizes = {"ar": 40, "en": 300, "es": 90, "fr": 120, "ru": 55, "zh": 7}
    texts = {lang: [f"{lang} line {i}" for i in range(n)] for lang, n in sizes.items()}
    corpus = write_monolingual(tmp_path, texts)
    counts, read = in_memory(texts)
    streamed = lambda lang, at: read_monolingual_lines(corpus, lang, at, batch_rows=16)  # noqa: E731
    assert monolingual_line_counts(corpus, PRETRAINING_LANGUAGES) == counts
    for cap in (None, 200):
        assert temperature_sample(counts, streamed, 0.3, 0, cap) == temperature_sample(counts, read, 0.3, 0, cap)
    with pytest.raises(XrepError, match=r"en.parquet: 300 lines, but line 300 was asked for"):
        read_monolingual_lines(corpus, "en", [5, 300])
    with pytest.raises(XrepError, match=r"no pretraining corpus at .*: materialize pretraining_corpus first"):
        monolingual_line_counts(tmp_path / "elsewhere", PRETRAINING_LANGUAGES)


def generated_corpus(seed: int = 0) -> dict[str, list[str]]:
    """Six languages of made-up words, uneven in size: a corpus the up-sampling and the cap both touch."""
    rng = random.Random(seed)
    texts = {}
    for lang, lines in zip(PRETRAINING_LANGUAGES, (400, 120, 60, 200, 90, 150)):
        letters = "委员会通过了报告代表签署决议" if lang == "zh" else "abcdefghijklmnop"
        words = ["".join(rng.choice(letters) for _ in range(rng.randint(2, 7))) for _ in range(80)]
        texts[lang] = [" ".join(rng.choices(words, k=rng.randint(3, 12))) for _ in range(lines)]
    return texts


def tokenizer_files(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def pieces(folder: Path) -> list[tuple[str, float]]:
    """The sentencepiece model's pieces and scores (what tokenizes), without its training options."""
    import sentencepiece as spm

    model = spm.SentencePieceProcessor(model_file=str(folder / "sentencepiece.bpe.model"))
    return [(model.id_to_piece(i), model.get_score(i)) for i in range(model.get_piece_size())]


def test_the_same_seed_gives_the_same_tokenizer_byte_for_byte(tmp_path):
    texts = generated_corpus()
    runs = []
    for attempt in ("a", "b"):
        root = tmp_path / attempt / "artifacts"
        write_monolingual(root / "corpora" / "study", texts)
        spec = TokenizeSpec(str(root), vocab_size=300, sample_alpha=0.3, sample_sentences=500, threads=2)
        meta = train_tokenizer(spec, log=lambda line: None)
        assert meta["sample_lines"] == 500 and meta["threads"] == 2
        runs.append(tokenizer_files(root.joinpath(*TOKENIZER_PARTS)))
    assert runs[0] == runs[1]
    assert "sentencepiece.bpe.model" in runs[0] and "spm_input.txt" not in runs[0]
    # the in-memory path (tests, benchmarks) trains the same tokenizer from the same lines
    train_joint_tokenizer(texts, tmp_path / "memory", vocab_size=300, alpha=0.3, cap=500, threads=2)
    assert tokenizer_files(tmp_path / "memory") == runs[0]


def test_the_index_for_huge_samples_gives_the_same_tokenizer(tmp_path, monkeypatch):
    texts = generated_corpus()
    train_joint_tokenizer(texts, tmp_path / "32", vocab_size=300, alpha=0.3, threads=2)
    monkeypatch.setattr(training, "LARGE_SAMPLE_CHARACTERS", 0)  # as if the sample were over 1.9G characters
    train_joint_tokenizer(texts, tmp_path / "64", vocab_size=300, alpha=0.3, threads=2)
    assert pieces(tmp_path / "64") == pieces(tmp_path / "32")
    assert (tmp_path / "64" / "tokenizer.json").read_bytes() == (tmp_path / "32" / "tokenizer.json").read_bytes()


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
