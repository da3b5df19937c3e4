"""Joint sentencepiece unigram tokenizer over the pretraining languages, loadable by transformers;
`train_tokenizer` is what the tokenizer worker runs for a `TokenizeSpec`."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import polars as pl
import sentencepiece as spm
from transformers import PreTrainedTokenizerBase, XLMRobertaTokenizer

from xrep_assets.artifacts import ArtifactFolder
from xrep_assets.corpora.layout import monolingual_texts, study_corpus_dir
from xrep_assets.errors import EmptyOutputError
from xrep_assets.markdown import markdown_table
from xrep_assets.study import LANGUAGES, PRETRAINING_LANGUAGES, language_token
from xrep_assets.tokenizers.spec import TOKENIZER_PARTS, TokenizeSpec

FERTILITY_SAMPLE = 2000  # lines per language the fertility is measured on

# The special tokens that mark a segment's language in TLM and MT inputs: <ar>, <zh>, ...
LANGUAGE_TAGS: tuple[str, ...] = tuple(language_token(lang, "iso") for lang in PRETRAINING_LANGUAGES)


def language_sample_sizes(line_counts: Mapping[str, int], alpha: float) -> dict[str, int]:
    """Lines to draw per language so that low-resource languages are up-sampled (XLM, alpha=0.3).

    q_l = p_l^alpha / sum_k p_k^alpha with p_l the language's share; the total stays the same.
    """
    total = sum(line_counts.values())
    if total == 0:
        return {lang: 0 for lang in line_counts}
    weights = {lang: (n / total) ** alpha for lang, n in line_counts.items() if n > 0}
    norm = sum(weights.values())
    return {lang: round(total * weights.get(lang, 0.0) / norm) for lang in line_counts}


def balanced_sample(texts_by_lang: Mapping[str, Sequence[str]], alpha: float, seed: int) -> list[str]:
    """Temperature-sampled training lines: with replacement where a language needs more than it has."""
    rng = random.Random(seed)
    sizes = language_sample_sizes({lang: len(t) for lang, t in texts_by_lang.items()}, alpha)
    lines: list[str] = []
    for lang in sorted(texts_by_lang):
        texts = list(texts_by_lang[lang])
        k = sizes[lang]
        lines += rng.sample(texts, k) if k <= len(texts) else rng.choices(texts, k=k)
    rng.shuffle(lines)
    return lines


def train_joint_tokenizer(
    texts_by_lang: Mapping[str, Sequence[str]], out_dir: Path, vocab_size: int, alpha: float, seed: int = 0
) -> PreTrainedTokenizerBase:
    """Trains the unigram model and saves it in transformers' format (AutoTokenizer loads `out_dir`)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    corpus = out_dir / "spm_input.txt"
    corpus.write_text("\n".join(balanced_sample(texts_by_lang, alpha, seed)) + "\n", encoding="utf-8")
    spm.SentencePieceTrainer.train(
        input=str(corpus),
        model_prefix=str(out_dir / "sentencepiece.bpe"),  # the file name XLMRobertaTokenizer converts
        vocab_size=vocab_size,
        model_type="unigram",
        character_coverage=0.9995,  # keeps rare Han characters out of <unk> without bloating the vocab
        user_defined_symbols=list(LANGUAGE_TAGS),
        hard_vocab_limit=False,  # the tiny corpora cannot fill every requested piece
        num_threads=2,
        minloglevel=2,
    )
    corpus.unlink()
    # XLM-R's tokenizer class wraps a sentencepiece unigram model with <s>/</s>/<pad>/<mask>.
    tokenizer = XLMRobertaTokenizer.from_pretrained(str(out_dir), additional_special_tokens=list(LANGUAGE_TAGS))
    tokenizer.save_pretrained(str(out_dir))
    return tokenizer


def fertility(tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], lang: str) -> float:
    """Subwords per word (per character for languages written without spaces)."""
    pieces = sum(len(tokenizer.tokenize(t)) for t in texts)
    if LANGUAGES[lang].space_delimited:
        units = sum(len(t.split()) for t in texts)
    else:
        units = sum(len("".join(t.split())) for t in texts)
    return pieces / units if units else float("nan")


def fertility_by_language(
    tokenizer: PreTrainedTokenizerBase, texts_by_lang: Mapping[str, Sequence[str]], sample: int = FERTILITY_SAMPLE
) -> dict[str, float]:
    """Each language's fertility on its first `sample` lines, languages in alphabetical order (the
    allocation's seeded order makes the first lines a random sample)."""
    return {lang: fertility(tokenizer, texts_by_lang[lang][:sample], lang) for lang in sorted(texts_by_lang)}


def train_tokenizer(spec: TokenizeSpec, log: Callable[[str], None]) -> dict[str, object]:
    """Trains the tokenizer on the pretraining corpus and commits it; returns the metadata the asset shows."""
    store = ArtifactFolder(spec.artifacts_root, spec.artifacts_remote)
    texts = monolingual_texts(store.path())
    # The vocabulary is shared by the six languages: one without text would get no pieces of its own.
    empty = [lang for lang in PRETRAINING_LANGUAGES if not texts.get(lang)]
    if empty:
        raise EmptyOutputError(
            "joint_tokenizer", study_corpus_dir(store.path()), f"no monolingual text for {', '.join(empty)}"
        )
    log(f"training a {spec.vocab_size}-piece tokenizer on {', '.join(f'{k}: {len(v)}' for k, v in sorted(texts.items()))} lines")
    with store.writing_dir(*TOKENIZER_PARTS) as tmp:
        tokenizer = train_joint_tokenizer(texts, tmp, spec.vocab_size, spec.sample_alpha)
    fertilities = fertility_by_language(tokenizer, texts)
    per_language = pl.DataFrame({
        "language": list(fertilities),
        "lines": [len(texts[lang]) for lang in fertilities],
        "fertility": list(fertilities.values()),
    })
    return {
        "vocab_size": len(tokenizer),
        "requested_vocab_size": spec.vocab_size,
        "path": str(store.path(*TOKENIZER_PARTS)),
        # subwords per word (per character for Chinese): the table, and one number per language to chart
        "fertility": {"raw_value": markdown_table(per_language, float_precision=2), "type": "md"},
        **{f"fertility/{lang}": value for lang, value in fertilities.items()},
    }
