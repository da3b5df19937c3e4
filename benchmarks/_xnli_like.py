"""Shared by `encoding.py` and `probing.py`: synthetic XNLI-like pairs and a random BERT to encode them.

Lengths. A premise's length in words is drawn from lognormal(mu 2.9, sigma 0.6): mean 21.8 words,
median 18, 99th percentile 74, the longest of a few thousand ~150 (cut at `MAX_WORDS`); a
hypothesis's from lognormal(mu 2.2, sigma 0.4): mean 9.8, median 9. MultiNLI's training premises
(XNLI's training set) average ~22 words with a tail past 100 and its hypotheses ~11; the German XNLI
dev sample in ../shared/data has premises of mean 17.7 words (log-sd 0.52, longest 48) and
hypotheses of 9.2 (log-sd 0.40).

Subwords. What batching sees is subwords, and the toy tokenizer cuts ~2 a word where XLM-R's and
mBERT's cut English into ~1.2 (the fixture corpora are too small for its unigram model to learn
"▁the"). By default (`subwords_per_word=1.2`) a text of w words therefore gets the length a real
tokenizer would give it, round(1.2 w) subwords: whole words are taken from the stream until the toy
tokenizer's subwords reach it (a word's subwords do not depend on its neighbours: the tokenizer splits
at spaces first). A pair then averages ~43 subwords with its four special tokens, as XNLI does under
XLM-R. With `subwords_per_word=None` the drawn words are kept as they are (~2x longer rows).

The words are consecutive runs of real-looking text (the fixture corpora's lines, joined), so the
tokenizer splits them as it splits text.

Model: a randomly initialised `BertModel` of the given size (seeded), saved with `save_pretrained` beside
a joint unigram tokenizer trained on the fixture texts (`train_joint_tokenizer`, as the study trains
its own), so `xrep_assets.checkpoints.encoder.Encoder` loads the folder like any checkpoint. The
weights are random: the benchmarks time the work, not the vectors' quality.
"""

from __future__ import annotations

import math
import os
import random
import sys
from dataclasses import dataclass
from pathlib import Path

SEED = 0
MAX_WORDS = 200
PREMISE_WORDS = (2.9, 0.6)  # lognormal mu, sigma of a premise's words
HYPOTHESIS_WORDS = (2.2, 0.4)
TOKENIZER_LANGUAGES = ("en", "fr")
SUBWORDS_PER_WORD = 1.2  # XLM-R / mBERT on English


@dataclass(frozen=True)
class ModelSize:
    layers: int = 4
    hidden: int = 256
    heads: int = 4
    ffn: int = 1024
    max_positions: int = 512

    def describe(self) -> str:
        return (f"random BERT, {self.layers} layers, hidden {self.hidden}, {self.heads} heads, FFN {self.ffn}, "
                f"{self.max_positions} positions")


def fixture_texts() -> dict[str, list[str]]:
    """English and French lines of the UNPC and OpenSubtitles en-fr fixture zips."""
    from xrep_assets.corpora.readers import bitext_frame, read_moses_zip
    from xrep_assets.fixtures import OPUS_MIRROR
    from xrep_assets.study import CORPORA, LanguagePair

    pair = LanguagePair("en", "fr")
    texts: dict[str, list[str]] = {lang: [] for lang in TOKENIZER_LANGUAGES}
    for key in ("unpc", "opensubtitles"):
        corpus = CORPORA[key]
        name = f"{'-'.join(corpus.opus_pair(pair))}.txt.zip"
        zip_path = OPUS_MIRROR / corpus.opus_name / corpus.version / "moses" / name
        frame = bitext_frame(read_moses_zip(zip_path, corpus, pair))
        texts["en"] += frame["text_1"].to_list()
        texts["fr"] += frame["text_2"].to_list()
    return texts


def word_count(rng: random.Random, mu: float, sigma: float) -> int:
    return max(1, min(MAX_WORDS, round(math.exp(rng.gauss(mu, sigma)))))


def xnli_like_pairs(
    words: list[str], subwords: list[int], n: int, seed: int, subwords_per_word: float | None = SUBWORDS_PER_WORD
) -> tuple[list[str], list[str]]:
    """`n` premise/hypothesis pairs, each a run of consecutive `words` (`subwords[i]`: the toy
    tokenizer's subwords of `words[i]`) from a random place, as long as the module docstring says."""
    rng = random.Random(seed)

    def text(count: int) -> str:
        start = rng.randrange(len(words) - 2 * MAX_WORDS)
        if subwords_per_word is None:
            return " ".join(words[start : start + count])
        wanted, end, total = max(1, round(subwords_per_word * count)), start, 0
        while total < wanted:
            total += subwords[end]
            end += 1
        return " ".join(words[start:end])

    premises = [text(word_count(rng, *PREMISE_WORDS)) for _ in range(n)]
    hypotheses = [text(word_count(rng, *HYPOTHESIS_WORDS)) for _ in range(n)]
    return premises, hypotheses


def subword_counts(tokenizer, words: list[str]) -> list[int]:
    """The tokenizer's subwords of each word, alone."""
    distinct = sorted(set(words))
    counts = dict(zip(distinct, map(len, tokenizer(distinct, add_special_tokens=False)["input_ids"]), strict=True))
    return [max(1, counts[w]) for w in words]


def word_stream(lines: list[str]) -> list[str]:
    """The lines' words in order, repeated until there are enough for the longest premise."""
    words = [w for line in lines for w in line.split()]
    return words * max(2, math.ceil(8 * MAX_WORDS / max(len(words), 1)))


def build_checkpoint(folder: Path, texts: dict[str, list[str]], size: ModelSize) -> Path:
    """The tokenizer and a seeded random BERT of `size`, saved in `folder` as a checkpoint."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from xrep_assets.tokenizers.training import train_joint_tokenizer

    tokenizer_dir = folder / "tokenizer"
    train_joint_tokenizer(texts, tokenizer_dir, vocab_size=8000, alpha=0.3, seed=SEED)  # the fixture fills ~700
    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    checkpoint = folder / "checkpoint"
    torch.manual_seed(SEED)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=size.hidden, num_hidden_layers=size.layers,
                        num_attention_heads=size.heads, intermediate_size=size.ffn,
                        max_position_embeddings=size.max_positions, pad_token_id=tokenizer.pad_token_id)
    BertModel(config).save_pretrained(checkpoint)
    tokenizer.save_pretrained(checkpoint)
    return checkpoint


def wait_passively() -> str:
    """OpenMP's wait policy for this process: PASSIVE unless the environment names one. Must run
    before torch is imported (OpenMP reads it once).

    With the default policy (unset: libgomp spins, measured the same as ACTIVE), a thread that reaches
    the end of a parallel region spins until its partner arrives; on cores shared with other jobs the
    partner is often descheduled, so every parallel op waits out a time slice: a cost per op, not per
    token. Measured here at load ~3.5 on 2 cores: a probe head step (128 x 256 features) 192 ms instead
    of 2 ms, a BERT forward on 32 x 48 tokens 2,200 tokens/s instead of 10,000. That would credit fewer,
    larger batches with a speed-up that is not the batching's, and make the heads' cost the scheduler's.
    """
    if "torch" in sys.modules:
        raise RuntimeError("wait_passively() must run before torch is imported")
    return os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def add_model_arguments(parser) -> None:
    """The random BERT's size and the torch threads, the same options in every benchmark of this kind."""
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--ffn", type=int, default=1024)
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="torch threads")


def prepare_torch(args) -> tuple[str, ModelSize]:
    """Passive OpenMP waits (before torch loads), quiet transformers, `--threads` torch threads; the
    wait policy in force and the model size the arguments ask for."""
    wait_policy = wait_passively()
    import torch
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    torch.set_num_threads(args.threads)
    return wait_policy, ModelSize(args.layers, args.hidden, args.heads, args.ffn)


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())
