"""The study's catalog: languages, corpora, language pairs, objectives, hub checkpoints and tasks.

Everything else in xrep reads these declarations; nothing repeats them. Adding a task, a corpus or a
checkpoint is one entry here.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Literal

from xrep_assets.errors import XrepError


class CatalogError(XrepError):
    """A name that the study catalog does not know (corpus, language, task, checkpoint)."""

# --------------------------------------------------------------------------------------------------
# Languages


@dataclass(frozen=True)
class Language:
    code: str  # ISO 639-1, as XGLUE names its files
    name: str
    script: Literal["Arabic", "Han", "Latin", "Cyrillic", "Greek", "Devanagari", "Thai"]
    # Chinese and Thai are written without spaces: lengths are counted in characters there.
    space_delimited: bool = True
    # The language's code in the hub models' conventions (None: the convention lacks the language).
    mbart_code: str | None = None  # mBART-50's codes (en_XX, zh_CN, ...); mBART-cc25 has a subset
    nllb_code: str | None = None  # NLLB-200 (FLORES-200): eng_Latn, zho_Hans, ...


LANGUAGES: dict[str, Language] = {
    lang.code: lang
    for lang in [
        # the study's six pretraining languages (the UN languages)
        Language("ar", "Arabic", "Arabic", mbart_code="ar_AR", nllb_code="arb_Arab"),
        Language("zh", "Chinese", "Han", space_delimited=False, mbart_code="zh_CN", nllb_code="zho_Hans"),
        Language("en", "English", "Latin", mbart_code="en_XX", nllb_code="eng_Latn"),
        Language("fr", "French", "Latin", mbart_code="fr_XX", nllb_code="fra_Latn"),
        Language("ru", "Russian", "Cyrillic", mbart_code="ru_RU", nllb_code="rus_Cyrl"),
        Language("es", "Spanish", "Latin", mbart_code="es_XX", nllb_code="spa_Latn"),
        # the other XGLUE test languages: evaluated zero-shot, never seen in pretraining
        Language("bg", "Bulgarian", "Cyrillic", nllb_code="bul_Cyrl"),
        Language("de", "German", "Latin", mbart_code="de_DE", nllb_code="deu_Latn"),
        Language("el", "Greek", "Greek", nllb_code="ell_Grek"),
        Language("hi", "Hindi", "Devanagari", mbart_code="hi_IN", nllb_code="hin_Deva"),
        Language("it", "Italian", "Latin", mbart_code="it_IT", nllb_code="ita_Latn"),
        Language("nl", "Dutch", "Latin", mbart_code="nl_XX", nllb_code="nld_Latn"),
        Language("pl", "Polish", "Latin", mbart_code="pl_PL", nllb_code="pol_Latn"),
        Language("pt", "Portuguese", "Latin", mbart_code="pt_XX", nllb_code="por_Latn"),
        Language("sw", "Swahili", "Latin", mbart_code="sw_KE", nllb_code="swh_Latn"),
        Language("th", "Thai", "Thai", space_delimited=False, mbart_code="th_TH", nllb_code="tha_Thai"),
        Language("tr", "Turkish", "Latin", mbart_code="tr_TR", nllb_code="tur_Latn"),
        Language("ur", "Urdu", "Arabic", mbart_code="ur_PK", nllb_code="urd_Arab"),
        Language("vi", "Vietnamese", "Latin", mbart_code="vi_VN", nllb_code="vie_Latn"),
    ]
}

PRETRAINING_LANGUAGES: tuple[str, ...] = ("ar", "zh", "en", "fr", "ru", "es")
SOURCE_LANGUAGE = "en"  # fine-tuning language; every other language is zero-shot

# --------------------------------------------------------------------------------------------------
# Corpora and language pairs


@dataclass(frozen=True)
class Corpus:
    key: str  # partition key
    opus_name: str  # name on OPUS (URL path and file prefix)
    version: str
    # OPUS names some languages differently from the study (OpenSubtitles has zh_cn, not zh).
    opus_codes: tuple[tuple[str, str], ...] = ()
    has_document_ids: bool = False  # OpenSubtitles Moses zips carry an .ids member, UNPC's do not

    def opus_code(self, lang: str) -> str:
        return dict(self.opus_codes).get(lang, lang)

    def opus_pair(self, pair: "LanguagePair") -> tuple[str, str]:
        """The pair as OPUS names its files: both codes mapped, in alphabetical order."""
        return tuple(sorted((self.opus_code(pair.l1), self.opus_code(pair.l2))))  # type: ignore[return-value]


def corpus_named(key: str) -> Corpus:
    if key not in CORPORA:
        raise CatalogError(f"unknown corpus {key!r}; known: {', '.join(CORPORA)}")
    return CORPORA[key]


CORPORA: dict[str, Corpus] = {
    c.key: c
    for c in [
        Corpus("unpc", "UNPC", "v1.0"),
        Corpus("opensubtitles", "OpenSubtitles", "v2018", opus_codes=(("zh", "zh_cn"),), has_document_ids=True),
    ]
}


@dataclass(frozen=True, order=True)
class LanguagePair:
    l1: str
    l2: str

    @property
    def key(self) -> str:
        return f"{self.l1}-{self.l2}"

    @classmethod
    def parse(cls, key: str) -> "LanguagePair":
        """`ar-en` -> LanguagePair("ar", "en"); unknown codes and malformed keys are CatalogErrors."""
        parts = key.split("-")
        if len(parts) != 2:
            raise CatalogError(f"language pair {key!r} is not of the form xx-yy")
        for code in parts:
            if code not in LANGUAGES:
                raise CatalogError(f"unknown language code {code!r} in pair {key!r}; known: {', '.join(LANGUAGES)}")
        return cls(*parts)


# All 15 pairs of the six languages, each in alphabetical order (as OPUS names them).
LANGUAGE_PAIRS: tuple[LanguagePair, ...] = tuple(
    LanguagePair(*sorted(p)) for p in combinations(PRETRAINING_LANGUAGES, 2)
)
ENGLISH_PAIRS: tuple[LanguagePair, ...] = tuple(p for p in LANGUAGE_PAIRS if SOURCE_LANGUAGE in (p.l1, p.l2))


@dataclass(frozen=True)
class Direction:
    source: str
    target: str

    @property
    def key(self) -> str:
        return f"{self.source}>{self.target}"


# The study's 18 translation directions, exactly `--lang-pairs` of pretrain/train-bart-mt.sh
# (Helsinki-NLP/lm-vs-mt): 14 of the 15 pairs as OPUS orders them, English <-> es, fr, ru both ways,
# and zh->en where OPUS's order would give en->zh. The MT objectives train on the directions whose
# pair is in the profile.
MT_DIRECTIONS: tuple[Direction, ...] = tuple(
    Direction(*key.split("-"))
    for key in "ar-en,ar-es,ar-fr,ar-ru,ar-zh,en-es,en-fr,en-ru,es-en,es-fr,es-ru,es-zh,fr-en,fr-ru,fr-zh,ru-en,ru-zh,zh-en".split(",")
)


def directions_for(pairs: tuple[LanguagePair, ...]) -> tuple[Direction, ...]:
    keys = {p.key for p in pairs}
    return tuple(d for d in MT_DIRECTIONS if "-".join(sorted((d.source, d.target))) in keys)


LanguageCodes = Literal["iso", "mbart", "nllb"]


def language_token(lang: str, convention: LanguageCodes) -> str:
    """The token that names `lang` in a model's inputs: `<en>` (ours), `en_XX` (mBART), `eng_Latn` (NLLB)."""
    language = LANGUAGES.get(lang)
    if language is None:
        raise CatalogError(f"unknown language code {lang!r}")
    if convention == "iso":
        return f"<{lang}>"
    code = language.mbart_code if convention == "mbart" else language.nllb_code
    if code is None:
        raise CatalogError(f"{language.name} has no {convention} language code")
    return code

# --------------------------------------------------------------------------------------------------
# Pretraining objectives (models the study trains itself)

Family = Literal["bert", "xlm-roberta", "gpt2", "bart", "mbart", "m2m100", "marian"]
# How an objective's corpus rows become examples and batches (checkpoints/batches.py, BATCH_BUILDERS):
# mlm, clm: sentences packed into blocks, BERT-masked or all predicted; tlm: a translation pair as one
# sequence; denoising: documents noised as BART; translation: source in, target out.
BatchKind = Literal["mlm", "clm", "tlm", "denoising", "translation"]
# What the loss predicts (checkpoints/models.py, objective_loss): the masked tokens, the next token,
# or the labels through a decoder.
LossKind = Literal["masked", "causal", "seq2seq"]


@dataclass(frozen=True)
class Objective:
    """One pretraining objective. Its fields say all the training code varies on, so an objective
    that combines existing kinds is this entry (and its recipe in `RECIPES`) and nothing else."""

    key: str  # also the checkpoint partition key of the model trained with it
    name: str
    family: Family  # the architecture trained (checkpoints/models.py, ARCHITECTURES)
    data: Literal["monolingual", "bitext"]
    role: Literal["LM", "MT"]
    label: str  # row label in the comparison
    batches: BatchKind
    loss: LossKind
    # Positions restart at a pair's second sentence (Conneau & Lample's TLM): the batches carry
    # position_ids, which the loss requires and passes to the model.
    position_reset: bool = False
    # Share of the positions that carry a label: BERT masks 15 %. The masked batches draw it, and the
    # plan's FLOP estimate runs the output head at that share only (the sparse MLM loss).
    predicted_share: float = 1.0
    # The LM this MT objective is compared with in `mt_vs_lm`. Ours are trained from scratch, so each is
    # paired with denoising BART, the LM that is an encoder-decoder of the same size (seq2seq_size).
    lm_counterpart: str | None = None


OBJECTIVES: dict[str, Objective] = {
    o.key: o
    for o in [
        Objective("mlm", "Masked language modelling (BERT)", "bert", "monolingual", "LM", "MLM",
                  batches="mlm", loss="masked", predicted_share=0.15),
        Objective("clm", "Causal language modelling (GPT-2)", "gpt2", "monolingual", "LM", "CLM",
                  batches="clm", loss="causal"),
        Objective("tlm", "Translation language modelling (GPT-2 on concatenated pairs)", "gpt2", "bitext", "LM", "TLM",
                  batches="tlm", loss="causal", position_reset=True),
        Objective("bart-denoising", "Denoising sequence-to-sequence (BART)", "bart", "monolingual", "LM", "BART",
                  batches="denoising", loss="seq2seq"),
        Objective("mt-transformer", "Machine translation (Transformer encoder-decoder)", "marian", "bitext", "MT",
                  "MT Transformer", batches="translation", loss="seq2seq", lm_counterpart="bart-denoising"),
        Objective("mt-bart", "Machine translation (BART, pre-norm)", "mbart", "bitext", "MT", "MT BART",
                  batches="translation", loss="seq2seq", lm_counterpart="bart-denoising"),
    ]
}

# --------------------------------------------------------------------------------------------------
# Pretraining recipes: how the study trains each objective


@dataclass(frozen=True)
class DenoisingNoise:
    """BART's noise (fairseq `denoising` task). The study's script sets none of it, so fairseq's
    defaults apply: half the documents rotated, no masking, no sentence permutation."""

    mask: float  # share of tokens removed by span infilling (--mask)
    poisson_lambda: float  # mean infilled span length (--poisson-lambda)
    permute_sentences: float  # share of a document's sentences shuffled (--permute-sentences)
    rotate: float  # share of documents rotated to start at a random token (--rotate)


# fairseq's `denoising` task defaults (fairseq/tasks/denoising.py), in force in train-bart-lm.sh.
FAIRSEQ_DENOISING_DEFAULTS = DenoisingNoise(mask=0.0, poisson_lambda=3.0, permute_sentences=0.0, rotate=0.5)


@dataclass(frozen=True)
class Recipe:
    """One objective's training recipe, in the study's terms (fairseq's flags, named in the comments).

    The `paper` profile uses these values as they are; a profile changes only sizes and steps
    (`profiles.scaled_recipe`). Batches are per GPU as in the scripts: the global batch of an update is
    `gpus` GPU batches, whatever number of processes runs them (the worker accumulates gradients).
    """

    script: str  # where the values come from (Helsinki-NLP/lm-vs-mt)
    fairseq_arch: str  # --arch of the script (the architecture xrep builds is the objective's family)
    updates: int  # --max-update (= --total-num-update for the polynomial schedule)
    save_interval_updates: int  # --save-interval-updates
    learning_rate: float  # --lr
    schedule: Literal["polynomial_decay", "inverse_sqrt"]  # --lr-scheduler (polynomial: power 1, to 0)
    warmup_updates: int  # --warmup-updates (linear from 0)
    adam_betas: tuple[float, float]  # --adam-betas
    adam_eps: float  # --adam-eps
    weight_decay: float  # --weight-decay (fairseq's Adam decouples it and applies it to every parameter)
    clip_norm: float  # --clip-norm; 0 disables clipping
    dropout: float  # --dropout
    attention_dropout: float  # --attention-dropout (the architecture's fairseq default when unset)
    activation_dropout: float  # --activation-dropout / --act-dropout (fairseq default 0)
    label_smoothing: float  # --label-smoothing of label_smoothed_cross_entropy; 0: plain cross-entropy
    batching: Literal["sentences", "tokens"]  # a fixed number of sequences, or at most N tokens per GPU
    sentences_per_gpu: int  # --batch-size (a cap when batching by tokens)
    tokens_per_gpu: int | None  # --max-tokens (token batching only)
    gpus: int  # --distributed-world-size: the data-parallel width the batch is defined over
    tokens_per_sample: int  # --tokens-per-sample (MT: the longest side kept)
    # complete: whole sentences packed up to tokens_per_sample; complete_doc: the same within a
    # document; eos: one example (a sentence, or a translation pair) per sample.
    sample_break_mode: Literal["complete", "complete_doc", "eos"]
    precision: Literal["fp16", "bf16", "fp32"]  # --fp16 (on GPUs; CPUs train in fp32)
    pre_norm: bool  # --encoder-normalize-before --decoder-normalize-before
    layernorm_embedding: bool  # --layernorm-embedding
    noise: DenoisingNoise | None = None  # BART denoising only
    # What the script leaves open and xrep assumes, or where xrep departs from it, and why.
    notes: tuple[str, ...] = ()


_ADAM = dict(adam_betas=(0.9, 0.98), adam_eps=1e-6)
_LM_RECIPE = dict(
    **_ADAM, updates=600_000, save_interval_updates=5_000, learning_rate=5e-4, schedule="polynomial_decay",
    warmup_updates=8_000, weight_decay=0.01, clip_norm=0.0, dropout=0.1, activation_dropout=0.0,
    label_smoothing=0.0, batching="sentences", tokens_per_gpu=None, tokens_per_sample=512,
    sample_break_mode="complete", precision="fp16", pre_norm=False, layernorm_embedding=False,
)
_BART_RECIPE = dict(
    **_ADAM, updates=600_000, save_interval_updates=5_000, learning_rate=3e-5, schedule="inverse_sqrt",
    warmup_updates=2_500, weight_decay=0.1, clip_norm=0.0, dropout=0.3, attention_dropout=0.1,
    activation_dropout=0.0, label_smoothing=0.2, batching="tokens", sentences_per_gpu=64, tokens_per_gpu=8_192,
    # --distributed-world-size is $SLURM_NTASKS, which the scripts do not fix.
    gpus=8, precision="fp16", layernorm_embedding=True,
)
_WORLD_SIZE_NOTE = "gpus: the script takes $SLURM_NTASKS; xrep assumes one node of 8, as train-clm.sh uses"

RECIPES: dict[str, Recipe] = {
    "mlm": Recipe(
        script="pretrain/train-mlm.sh", fairseq_arch="masked_lm", **_LM_RECIPE,
        attention_dropout=0.1,  # fairseq masked_lm's default
        sentences_per_gpu=64, gpus=128,
    ),
    "clm": Recipe(
        script="pretrain/train-clm.sh", fairseq_arch="transformer_lm", **_LM_RECIPE,
        attention_dropout=0.0,  # fairseq transformer_lm's default
        sentences_per_gpu=32, gpus=8,
        notes=("architecture: GPT-2 (pre-norm, as the study names it); fairseq's transformer_lm is post-norm",),
    ),
    "tlm": Recipe(
        script="pretrain/train-clm.sh (pretrain/readme.md: TLM is the CLM script on concatenated pairs)",
        fairseq_arch="transformer_lm", **{**_LM_RECIPE, "sample_break_mode": "eos"},
        attention_dropout=0.0, sentences_per_gpu=32, gpus=8,
        notes=(
            "samples: one pair per sequence with language tags and positions restarting at the target "
            "(Conneau & Lample 2019); the script packs concatenated pairs `complete` with running positions",
        ),
    ),
    "bart-denoising": Recipe(
        script="pretrain/train-bart-lm.sh", fairseq_arch="bart_base", **_BART_RECIPE,
        tokens_per_sample=512, sample_break_mode="complete_doc",  # the denoising task's defaults
        pre_norm=False, noise=FAIRSEQ_DENOISING_DEFAULTS,
        notes=(_WORLD_SIZE_NOTE,
               "noise: the script sets no --mask/--permute-sentences, so fairseq's defaults (rotation of half "
               "the documents only) are the study's; BART's paper noise is mask 0.3, permute 1.0"),
    ),
    "mt-bart": Recipe(
        script="pretrain/train-bart-mt.sh", fairseq_arch="bart_base", **_BART_RECIPE,
        tokens_per_sample=1_024,  # --max-source-positions / --max-target-positions default
        sample_break_mode="eos", pre_norm=True,
        notes=(_WORLD_SIZE_NOTE,),
    ),
    "mt-transformer": Recipe(
        script="pretrain/train-bart-mt.sh (no script trains the classic Transformer: it follows BART MT)",
        fairseq_arch="transformer", **{**_BART_RECIPE, "layernorm_embedding": False},
        tokens_per_sample=1_024, sample_break_mode="eos",
        # Vaswani et al.'s stack is post-norm, without an embedding LayerNorm: the architecture the
        # study names, so only the training recipe follows BART MT.
        pre_norm=False,
        notes=(_WORLD_SIZE_NOTE, "architecture: Vaswani et al. (post-norm, no embedding LayerNorm); the "
               "optimiser, schedule, dropouts, label smoothing, batching and precision are BART MT's"),
    ),
}


# --------------------------------------------------------------------------------------------------
# Public hub checkpoints


@dataclass(frozen=True)
class HubCheckpoint:
    key: str  # checkpoint partition key
    repo_id: str
    # The commit the study evaluates (40 hex digits). None: not pinned yet (no commit found with
    # evidence); the fetch resolves the branch head and records the commit it got as `revision`.
    revision: str | None
    family: Family
    # LM: language-model pretraining; MT: trained for translation; CP: an LM continued on MT.
    role: Literal["LM", "MT", "CP"]
    lang_codes: LanguageCodes
    label: str  # row label as in the study's table
    # The directions an MT checkpoint translates (the output-language check tests those only):
    # mBART-50 many-to-one translates into English only, one-to-many out of English only.
    translates: Literal["into-english", "from-english", "any-pair"] | None = None


# Commits from public code and notes that pin these repos (snapshot folders, `revision=` arguments);
# the rest are None until someone with hub access pins them from the fetch's recorded revision.
HUB_CHECKPOINTS: dict[str, HubCheckpoint] = {
    h.key: h
    for h in [
        HubCheckpoint("mbert", "google-bert/bert-base-multilingual-cased", "3f076fdb1ab68d5b2880cb87a0886f315b8146f8",
                      "bert", "LM", "iso", "mBERT"),
        HubCheckpoint("xlmr-base", "FacebookAI/xlm-roberta-base", "e73636d4f797dec63c3081bb6ed5c7b0bb3f2089",
                      "xlm-roberta", "LM", "iso", "XLM-R"),
        HubCheckpoint("mbart-cc25", "facebook/mbart-large-cc25", None, "mbart", "LM", "mbart", "mBART"),
        HubCheckpoint("mbart-50", "facebook/mbart-large-50", None, "mbart", "LM", "mbart", "mBART-50"),
        HubCheckpoint("nllb-600m", "facebook/nllb-200-distilled-600M", "f8d333a098d19b4fd9a8b18f94170487ad3f821d",
                      "m2m100", "MT", "nllb", "NLLB 600M", translates="any-pair"),
        HubCheckpoint("mbart-50-m2o", "facebook/mbart-large-50-many-to-one-mmt", None, "mbart", "CP", "mbart", "mBART m2o",
                      translates="into-english"),
        HubCheckpoint("mbart-50-o2m", "facebook/mbart-large-50-one-to-many-mmt", None, "mbart", "CP", "mbart", "mBART o2m",
                      translates="from-english"),
        HubCheckpoint("mbart-50-m2m", "facebook/mbart-large-50-many-to-many-mmt", "e30b6cb8eb0d43a0b73cab73c7676b9863223a30",
                      "mbart", "CP", "mbart", "mBART m2m", translates="any-pair"),
    ]
}


@dataclass(frozen=True)
class HubWatchRule:
    """Hub models the study picks up as they appear: `author`'s repos whose name matches `pattern`
    (fnmatch, case-sensitive) and whose architecture is `family`. A match that is not in
    HUB_CHECKPOINTS becomes a checkpoint with the fields below (see checkpoints/hub_watch.py)."""

    author: str
    pattern: str
    family: Family
    role: Literal["LM", "MT", "CP"]
    lang_codes: LanguageCodes
    translates: Literal["into-english", "from-english", "any-pair"] | None = None


HUB_WATCH_RULES: tuple[HubWatchRule, ...] = (
    # A new facebook mBART-50 repo is most likely another MT fine-tune; its directions are unknown, so unchecked.
    HubWatchRule("facebook", "mbart-large-50*", "mbart", "CP", "mbart"),
    HubWatchRule("facebook", "nllb-200*", "m2m100", "MT", "nllb", translates="any-pair"),
)


@dataclass(frozen=True)
class ContinuedPretraining:
    """A hub checkpoint trained further with one of our objectives: does MT training help or hinder?"""

    key: str  # checkpoint partition key
    objective: str  # a key of OBJECTIVES
    init_from: str  # a key of HUB_CHECKPOINTS
    label: str


CONTINUED_PRETRAINING: dict[str, ContinuedPretraining] = {
    c.key: c
    for c in [
        ContinuedPretraining("mbart-50+mt", "mt-bart", "mbart-50", "mBART-50 + MT (ours)"),
    ]
}

# --------------------------------------------------------------------------------------------------
# XGLUE understanding tasks

Head = Literal["sentence", "pair", "ranking", "tagging"]
# "xglue_pos" is what XGLUE's official evaluator reports for POS: seqeval's chunk precision over the
# tag sequences, not plain token accuracy (see evaluation/metrics.py); published POS numbers use it.
Metric = Literal["accuracy", "ndcg", "f1", "xglue_pos"]


@dataclass(frozen=True)
class Task:
    key: str  # partition key and column name in the comparison
    name: str
    head: Head
    metric: Metric
    languages: tuple[str, ...]  # English first; the others are evaluated zero-shot
    data_dir: str  # folder inside xglue_full_dataset/


TASKS: dict[str, Task] = {
    t.key: t
    for t in [
        Task("NC", "News classification", "pair", "accuracy", ("en", "de", "es", "fr", "ru"), "NC"),
        Task("XNLI", "Cross-lingual natural language inference", "pair", "accuracy",
             ("en", "ar", "bg", "de", "el", "es", "fr", "hi", "ru", "sw", "th", "tr", "ur", "vi", "zh"), "XNLI"),
        Task("PAWS-X", "Paraphrase adversaries from word scrambling", "pair", "accuracy",
             ("en", "de", "es", "fr"), "PAWSX"),
        Task("QAM", "Question-answer matching", "pair", "accuracy", ("en", "de", "fr"), "QAM"),
        Task("QADSM", "Query-ad matching", "pair", "accuracy", ("en", "de", "fr"), "QADSM"),
        Task("WPR", "Web page ranking", "ranking", "ndcg", ("en", "de", "es", "fr", "it", "pt", "zh"), "WPR"),
        Task("NER", "Named entity recognition", "tagging", "f1", ("en", "de", "es", "nl"), "NER"),
        Task("POS", "Part-of-speech tagging", "tagging", "xglue_pos",
             ("en", "ar", "bg", "de", "el", "es", "fr", "hi", "it", "nl", "pl", "pt", "ru", "th", "tr", "ur", "vi", "zh"),
             "POS"),
    ]
}
TASK_KEYS: tuple[str, ...] = tuple(TASKS)
