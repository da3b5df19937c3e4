"""The two study profiles. A profile changes sizes and sources, never code paths.

`tiny` runs the whole study on a laptop CPU in minutes on the shipped fixtures; `paper` uses the OPUS
downloads, the official XGLUE archive and the study's model sizes. One setting selects it: the
`profile` field of the `study` resource (`resources.StudySettings`), which run config may set and
whose default is the `XREP_PROFILE` environment variable; the assets, and through them the worker
pods' sizes, follow it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from xrep_assets.errors import SettingError
from xrep_assets.fixtures import OPUS_MIRROR, UD_DIR, XGLUE_DIR
from xrep_assets.study import (
    CONTINUED_PRETRAINING,
    ENGLISH_PAIRS,
    HUB_CHECKPOINTS,
    LANGUAGE_PAIRS,
    OBJECTIVES,
    RECIPES,
    CatalogError,
    LanguagePair,
    Recipe,
)

DEFAULT_PROFILE = "tiny"


@dataclass(frozen=True)
class ModelSize:
    """One transformer stack; two-stack models use it for encoder and decoder alike."""

    layers: int
    hidden: int
    heads: int
    ffn: int
    max_positions: int


@dataclass(frozen=True)
class Profile:
    name: str
    pairs: tuple[LanguagePair, ...]
    # A folder in OPUS's own layout; None downloads from OPUS.
    opus_mirror: Path | None
    # The unpacked `xglue_full_dataset` folder (the official archive sits behind XGLUE's terms).
    xglue_dir: Path | None
    # A Hugging Face dataset laid out like the `xglue` script (a hub id or a local folder); when set
    # the tasks are read from it instead of `xglue_dir`.
    xglue_dataset: str | None
    # A folder with the PUD treebanks (`UD_<Name>-PUD/<lang>_pud-ud-test.conllu`) the layer-wise
    # analyses read; None downloads them from the UD release `analysis.pud.UD_RELEASE` on GitHub.
    ud_dir: Path | None
    tokenizer_vocab_size: int
    tokenizer_sample_alpha: float  # exponent of the temperature sampling across languages (XLM: 0.3)
    # The most sentences the tokenizer trains on, drawn with that temperature (sentencepiece's
    # `input_sentence_size`, sampled by us): its memory and time follow this, not the corpus.
    tokenizer_sample_sentences: int
    model_size: ModelSize  # the single-stack models (BERT, GPT-2)
    seq2seq_size: ModelSize  # each stack of the two-stack models (BART, Transformer MT)
    # The recipes (`study.RECIPES`) scaled down, sizes and steps only; None keeps the study's value.
    train_steps: int | None  # updates; warmup shrinks in proportion
    max_tokens_per_sample: int | None
    max_sentences_per_gpu: int | None
    max_tokens_per_gpu: int | None
    gpus: int | None  # the data-parallel width the recipe's batch is defined over
    checkpoints: tuple[str, ...]  # partitions of the checkpoint asset that `xrep study` evaluates
    eval_seeds: tuple[int, ...]
    protocols: tuple[str, ...]  # evaluation protocols a score partition runs (evaluation/protocols.py)
    # A seed whose English dev score is at chance level is flagged and re-run with a new seed this
    # many times.
    chance_reruns: int
    # Early-stopping patience of the probe; None keeps the study's 3. The tiny fixtures give the head
    # ~3 steps per epoch, so patience 3 would stop it almost untrained.
    probe_patience: int | None
    device: str
    # CPU threads of the workers (torch's; sentencepiece's in the tokenizer worker); None keeps torch's
    # default, one per physical core, and gives sentencepiece the CPUs the worker may use. A float sum
    # split over a different number of threads rounds differently, so on a CPU the weights, scores and
    # tokenizer pieces follow the machine's core count unless this is fixed (README: Reproducibility).
    threads: int | None = None


PROFILES: dict[str, Profile] = {
    "tiny": Profile(
        name="tiny",
        pairs=ENGLISH_PAIRS,
        opus_mirror=OPUS_MIRROR,
        xglue_dir=XGLUE_DIR,
        xglue_dataset=None,
        ud_dir=UD_DIR,
        tokenizer_vocab_size=2000,
        tokenizer_sample_alpha=0.3,
        # Far above the fixtures' monolingual text (under 6,000 lines): the whole corpus is sampled.
        tokenizer_sample_sentences=100_000,
        model_size=ModelSize(layers=2, hidden=64, heads=2, ffn=256, max_positions=128),
        seq2seq_size=ModelSize(layers=1, hidden=64, heads=2, ffn=256, max_positions=128),
        train_steps=400,
        max_tokens_per_sample=64,
        max_sentences_per_gpu=32,
        max_tokens_per_gpu=1024,
        gpus=1,
        # One LM and one MT model keep `xrep study` to minutes on a laptop; every
        # objective trains in the tiny profile too (the tests do), by partition from the UI.
        checkpoints=("mlm", "mt-transformer"),
        eval_seeds=(0,),
        protocols=("probe", "finetune"),
        chance_reruns=1,
        probe_patience=20,
        device="cpu",
        # The README's table was measured with 2 threads (a 2-core machine): any machine then
        # computes the same sums in the same order, whatever its core count.
        threads=2,
    ),
    "paper": Profile(
        name="paper",
        pairs=LANGUAGE_PAIRS,
        opus_mirror=None,
        xglue_dir=None,  # set XREP_XGLUE_DIR to the unpacked official archive
        xglue_dataset=None,  # or XREP_XGLUE_DATASET to a hub dataset with the `xglue` configs
        ud_dir=None,  # or XREP_UD_DIR to a local copy of the PUD treebanks
        tokenizer_vocab_size=100_000,
        tokenizer_sample_alpha=0.3,
        # The study's scripts load a trained model (`-spm_file` of preprocessing/scripts/*/make_corpus.py
        # in Helsinki-NLP/lm-vs-mt) and do not say how it was trained. 10M sentences: the upper end of
        # common practice for sentencepiece's `input_sentence_size` (a few million to ~10M; its options
        # doc advises setting one for large corpora but names no number).
        tokenizer_sample_sentences=10_000_000,
        # The study's single-stack size: 12 layers, d=512, 8 heads, FFN 2048.
        model_size=ModelSize(layers=12, hidden=512, heads=8, ffn=2048, max_positions=512),
        # BART-base: 6 + 6 layers, d=768, 12 heads, FFN 3072.
        seq2seq_size=ModelSize(layers=6, hidden=768, heads=12, ffn=3072, max_positions=1024),
        # The study's recipes as they are: pretrain/*.sh of Helsinki-NLP/lm-vs-mt (README: the table).
        train_steps=None,
        max_tokens_per_sample=None,
        max_sentences_per_gpu=None,
        max_tokens_per_gpu=None,
        gpus=None,
        checkpoints=tuple(OBJECTIVES) + tuple(HUB_CHECKPOINTS) + tuple(CONTINUED_PRETRAINING),
        eval_seeds=(0, 1, 2),
        protocols=("probe", "finetune"),
        chance_reruns=1,
        probe_patience=None,
        device="cuda",
        threads=None,  # the GPU does the arithmetic; the CPU threads only feed it
    ),
}


def resolve_profile(
    name: str,
    opus_mirror: str | None = None,
    xglue_dir: str | None = None,
    xglue_dataset: str | None = None,
    ud_dir: str | None = None,
) -> Profile:
    """The named profile with optional source overrides (e.g. a local OPUS mirror for `paper`)."""
    if name not in PROFILES:
        raise SettingError(f"unknown profile {name!r}; choose one of {sorted(PROFILES)}")
    profile = PROFILES[name]
    if opus_mirror:
        profile = replace(profile, opus_mirror=Path(opus_mirror))
    if xglue_dir:
        profile = replace(profile, xglue_dir=Path(xglue_dir))
    if xglue_dataset:
        profile = replace(profile, xglue_dataset=xglue_dataset)
    if ud_dir:
        profile = replace(profile, ud_dir=Path(ud_dir))
    return profile


def scaled_recipe(objective: str, profile: Profile, steps: int | None = None) -> Recipe:
    """`objective`'s recipe as `profile` runs it: the study's values, with sizes and steps scaled.

    `steps` (a run's override) wins over the profile's; the warmup keeps its share of the updates
    (at least one update), so a schedule has the study's shape at any length.
    """
    if objective not in RECIPES:
        raise CatalogError(f"no training recipe for {objective!r}; known: {', '.join(RECIPES)}")
    recipe = RECIPES[objective]
    updates = steps or profile.train_steps or recipe.updates

    def capped(value: int | None, cap: int | None) -> int | None:
        return value if value is None or cap is None else min(value, cap)

    return replace(
        recipe,
        updates=updates,
        warmup_updates=min(max(1, round(recipe.warmup_updates * updates / recipe.updates)), updates - 1),
        tokens_per_sample=capped(recipe.tokens_per_sample, profile.max_tokens_per_sample),
        sentences_per_gpu=capped(recipe.sentences_per_gpu, profile.max_sentences_per_gpu),
        tokens_per_gpu=capped(recipe.tokens_per_gpu, profile.max_tokens_per_gpu),
        gpus=profile.gpus or recipe.gpus,
    )
