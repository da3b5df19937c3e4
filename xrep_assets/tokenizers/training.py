"""Joint sentencepiece unigram tokenizer over the pretraining languages, loadable by transformers;
`train_tokenizer` is what the tokenizer worker runs for a `TokenizeSpec`."""

from __future__ import annotations

import functools
import io
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import polars as pl
import sentencepiece as spm
from transformers import PreTrainedTokenizerBase, XLMRobertaTokenizer

from xrep_assets.artifacts import ArtifactFolder
from xrep_assets.corpora.layout import monolingual_line_counts, read_monolingual_lines, study_corpus_dir
from xrep_assets.errors import EmptyOutputError
from xrep_assets.execution.cpus import available_cpus
from xrep_assets.markdown import markdown_table
from xrep_assets.study import LANGUAGES, PRETRAINING_LANGUAGES, language_token
from xrep_assets.tokenizers.sample import LineReader, temperature_sample
from xrep_assets.tokenizers.spec import TOKENIZER_PARTS, TokenizeSpec

FERTILITY_SAMPLE = 2000  # lines per language the fertility is measured on
SAMPLE_SEED = 0
SPM_MODEL = "sentencepiece.bpe.model"  # the file name XLMRobertaTokenizer converts
# sentencepiece's unigram trainer indexes the sample's characters with 32-bit integers and stops past
# 2^31 - 1 of them unless `train_extremely_large_corpus` (a 64-bit index, twice its memory, the same
# pieces) is set: set only near that limit, with a margin for normalisation lengthening the text.
LARGE_SAMPLE_CHARACTERS = int(0.9 * 2**31)

# The special tokens that mark a segment's language in TLM and MT inputs: <ar>, <zh>, ...
LANGUAGE_TAGS: tuple[str, ...] = tuple(language_token(lang, "iso") for lang in PRETRAINING_LANGUAGES)


def write_training_sample(
    path: Path, line_counts: Mapping[str, int], read_lines: LineReader, alpha: float, seed: int, cap: int | None
) -> tuple[int, int]:
    """Writes the temperature-sampled lines to `path`, one a line; returns how many lines and
    characters. The lines live only in this call: they are freed before sentencepiece loads its own
    copy."""
    lines = temperature_sample(line_counts, read_lines, alpha, seed, cap)
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        out.writelines(f"{line}\n" for line in lines)
    return len(lines), sum(map(len, lines))


def train_sentencepiece(
    sample: Path, out_dir: Path, vocab_size: int, threads: int, characters: int
) -> PreTrainedTokenizerBase:
    """Trains the unigram model on the sample file (of `characters` characters) and saves it in
    transformers' format (AutoTokenizer loads `out_dir`)."""
    model = io.BytesIO()
    with open(sample, encoding="utf-8", newline="\n") as lines:
        # Fed as an iterator and written to memory, the model records no file path: the same sample
        # gives the same bytes wherever it is trained. sentencepiece loads the whole sample (its own
        # `input_sentence_size` sampling stays off: the sample is already drawn and bounded).
        spm.SentencePieceTrainer.train(
            sentence_iterator=(line.removesuffix("\n") for line in lines),
            model_writer=model,
            vocab_size=vocab_size,
            model_type="unigram",
            character_coverage=0.9995,  # keeps rare Han characters out of <unk> without bloating the vocab
            user_defined_symbols=list(LANGUAGE_TAGS),
            hard_vocab_limit=False,  # the tiny corpora cannot fill every requested piece
            # sentencepiece splits its EM sums across the threads: another thread count gives other
            # pieces (each count from 1 to 8 did on the fixture corpus); the same tokenizer needs the same count.
            num_threads=threads,
            train_extremely_large_corpus=characters > LARGE_SAMPLE_CHARACTERS,
            minloglevel=2,
        )
    (out_dir / SPM_MODEL).write_bytes(model.getvalue())
    # XLM-R's tokenizer class wraps a sentencepiece unigram model with <s>/</s>/<pad>/<mask>.
    tokenizer = XLMRobertaTokenizer.from_pretrained(str(out_dir), additional_special_tokens=list(LANGUAGE_TAGS))
    tokenizer.save_pretrained(str(out_dir))
    return tokenizer


def train_sampled_tokenizer(
    line_counts: Mapping[str, int], read_lines: LineReader, out_dir: Path, vocab_size: int, alpha: float,
    seed: int, cap: int | None, threads: int,
) -> tuple[PreTrainedTokenizerBase, int]:
    """The tokenizer trained on the temperature sample of the lines `read_lines` gives, and the
    sample's size."""
    out_dir.mkdir(parents=True, exist_ok=True)
    sample = out_dir / "spm_input.txt"
    lines, characters = write_training_sample(sample, line_counts, read_lines, alpha, seed, cap)
    tokenizer = train_sentencepiece(sample, out_dir, vocab_size, threads, characters)
    sample.unlink()
    return tokenizer, lines


def train_joint_tokenizer(
    texts_by_lang: Mapping[str, Sequence[str]], out_dir: Path, vocab_size: int, alpha: float, seed: int = SAMPLE_SEED,
    cap: int | None = None, threads: int | None = None,
) -> PreTrainedTokenizerBase:
    """The worker's tokenizer from texts in memory (tests, benchmarks); `threads` None: this
    machine's CPUs, as the worker."""
    tokenizer, _ = train_sampled_tokenizer(
        {lang: len(texts) for lang, texts in texts_by_lang.items()},
        lambda lang, positions: [texts_by_lang[lang][i] for i in positions],
        out_dir, vocab_size, alpha, seed, cap, threads or available_cpus(),
    )
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
    """Trains the tokenizer on a sample of the pretraining corpus and commits it; returns the metadata
    the asset shows. Reads the corpus twice, streaming (`tokenizers/sample.py`); never holds it."""
    store = ArtifactFolder(spec.artifacts_root, spec.artifacts_remote)
    corpus = study_corpus_dir(store.path())
    counts = monolingual_line_counts(corpus, PRETRAINING_LANGUAGES)
    # The vocabulary is shared by the six languages: one without text would get no pieces of its own.
    empty = [lang for lang in PRETRAINING_LANGUAGES if not counts[lang]]
    if empty:
        raise EmptyOutputError("joint_tokenizer", corpus, f"no monolingual text for {', '.join(empty)}")
    threads = spec.threads or available_cpus()
    log(f"training a {spec.vocab_size}-piece tokenizer on {threads} threads, on at most {spec.sample_sentences:,} "
        f"lines sampled from {', '.join(f'{lang}: {n}' for lang, n in sorted(counts.items()))} lines")
    read = functools.partial(read_monolingual_lines, corpus)
    with store.writing_dir(*TOKENIZER_PARTS) as tmp:
        tokenizer, lines = train_sampled_tokenizer(
            counts, read, tmp, spec.vocab_size, spec.sample_alpha, SAMPLE_SEED, spec.sample_sentences, threads)
    fertilities = fertility_by_language(
        tokenizer, {lang: read(lang, range(min(n, FERTILITY_SAMPLE))) for lang, n in counts.items()})
    per_language = pl.DataFrame({
        "language": list(fertilities),
        "lines": [counts[lang] for lang in fertilities],
        "fertility": list(fertilities.values()),
    })
    return {
        "vocab_size": len(tokenizer),
        "requested_vocab_size": spec.vocab_size,
        "path": str(store.path(*TOKENIZER_PARTS)),
        "sample_lines": lines,  # the lines sentencepiece trained on
        "threads": threads,  # sentencepiece's: the pieces depend on it
        # subwords per word (per character for Chinese): the table, and one number per language to chart
        "fertility": {"raw_value": markdown_table(per_language, float_precision=2), "type": "md"},
        **{f"fertility/{lang}": value for lang, value in fertilities.items()},
    }
