import pytest

from xrep_assets.corpora.readers import read_moses_zip
from xrep_assets.profiles import PROFILES, resolve_profile
from xrep_assets.resources import default_study_settings
from xrep_assets.study import CONTINUED_PRETRAINING, CORPORA, ENGLISH_PAIRS, HUB_CHECKPOINTS, LANGUAGE_PAIRS, OBJECTIVES


def test_the_environment_variable_selects_the_profile(monkeypatch):
    monkeypatch.setenv("XREP_PROFILE", "paper")
    monkeypatch.setenv("XREP_XGLUE_DIR", "/data/xglue_full_dataset")
    settings = default_study_settings()
    assert settings.profile == "paper"
    assert str(settings.resolved().xglue_dir) == "/data/xglue_full_dataset"
    monkeypatch.delenv("XREP_PROFILE")
    assert default_study_settings().resolved().name == "tiny"


def test_unknown_profile_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown profile 'huge'.*paper.*tiny"):
        resolve_profile("huge")


def test_paper_profile_has_the_studys_sizes_and_sources():
    paper = PROFILES["paper"]
    size = paper.model_size
    assert (size.layers, size.hidden, size.heads, size.ffn) == (12, 512, 8, 2048)
    assert paper.tokenizer_vocab_size == 100_000 and paper.train_steps is None  # the recipes' 600k updates
    assert paper.tokenizer_sample_sentences == 10_000_000
    assert paper.opus_mirror is None and paper.pairs == LANGUAGE_PAIRS and len(paper.pairs) == 15
    assert set(paper.checkpoints) == set(OBJECTIVES) | set(HUB_CHECKPOINTS) | set(CONTINUED_PRETRAINING)
    seq2seq = paper.seq2seq_size  # BART-base per stack
    assert (seq2seq.layers, seq2seq.hidden, seq2seq.heads, seq2seq.ffn) == (6, 768, 12, 3072)


def test_tiny_profile_reads_the_shipped_fixtures():
    tiny = PROFILES["tiny"]
    assert tiny.pairs == ENGLISH_PAIRS
    assert (tiny.opus_mirror / "UNPC" / "v1.0" / "moses" / "en-fr.txt.zip").is_file()
    assert (tiny.xglue_dir / "PAWSX" / "en" / "train.tsv").is_file()


def test_the_tiny_tokenizer_samples_the_whole_fixture_corpus():
    # Each fixture pair gives both sides to the monolingual text, before cleaning removes any: the cap
    # never binds, so the tiny tokenizer (and the README's table) is what it was before the cap.
    tiny = PROFILES["tiny"]
    lines = sum(
        2 * sum(1 for _ in read_moses_zip(tiny.opus_mirror / corpus.opus_name / corpus.version / "moses"
                                          / f"{'-'.join(corpus.opus_pair(pair))}.txt.zip", corpus, pair))
        for corpus in CORPORA.values() for pair in tiny.pairs
    )
    assert 5_000 < lines < tiny.tokenizer_sample_sentences
