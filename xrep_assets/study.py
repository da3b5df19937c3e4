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


# The study's 18 translation directions: every pair as OPUS orders it, and English <-> es, fr, ru
# both ways. The MT objectives train on the directions whose pair is in the profile.
MT_DIRECTIONS: tuple[Direction, ...] = tuple(Direction(p.l1, p.l2) for p in LANGUAGE_PAIRS) + tuple(
    Direction(lang, SOURCE_LANGUAGE) for lang in ("es", "fr", "ru")
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


@dataclass(frozen=True)
class Objective:
    key: str  # also the checkpoint partition key of the model trained with it
    name: str
    family: Family
    data: Literal["monolingual", "bitext"]
    role: Literal["LM", "MT"]
    label: str  # row label in the comparison


OBJECTIVES: dict[str, Objective] = {
    o.key: o
    for o in [
        Objective("mlm", "Masked language modelling (BERT)", "bert", "monolingual", "LM", "MLM"),
        Objective("clm", "Causal language modelling (GPT-2)", "gpt2", "monolingual", "LM", "CLM"),
        Objective("tlm", "Translation language modelling (GPT-2 on concatenated pairs)", "gpt2", "bitext", "LM", "TLM"),
        Objective("bart-denoising", "Denoising sequence-to-sequence (BART)", "bart", "monolingual", "LM", "BART"),
        Objective("mt-transformer", "Machine translation (Transformer encoder-decoder)", "marian", "bitext", "MT", "MT Transformer"),
        Objective("mt-bart", "Machine translation (BART)", "bart", "bitext", "MT", "MT BART"),
    ]
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
