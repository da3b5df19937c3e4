"""Does an MT checkpoint translate into the language it is asked for? Pure logic for the output-language
asset check: translate a few held-out sentences, identify the outputs' language, compare.

The trap this guards against: mBART-50 and NLLB pick the output language from the FIRST decoder token
after the decoder start, and `generate` does not set it unless told (`forced_bos_token_id`). Without
it the model writes whatever language it likes (often the source's, or English), and an evaluation
that scores those outputs measures nothing. Setting the tokenizer's `tgt_lang` is not enough.

Conventions (`study.language_token`):
- mbart (mBART-50): source `[src_code] x </s>` (the tokenizer adds it from `src_lang`); decoder
  `</s> [tgt_code] y`; the target code forced as first generated token (`fr_XX`).
- nllb (NLLB-200): the same shape with FLORES codes (`fra_Latn`).
- iso (the study's own MT models, checkpoints/objectives.py): source `<src> x </s>`, labels
  `<tgt> y </s>`, decoder start `</s>`; so `<tgt>` is forced as the first generated token.
mBART-cc25's convention (target code as decoder start) is not covered: it is no MT checkpoint here.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

from xrep_assets.errors import XrepError
from xrep_assets.study import SOURCE_LANGUAGE, HubCheckpoint, LanguageCodes, language_token

DEFAULT_THRESHOLD = 0.8  # share of outputs in the target language for the check to pass

# Short held-out sentences for the check, written for it (in no corpus, no XGLUE split).
CHECK_SENTENCES: dict[str, tuple[str, ...]] = {
    "en": (
        "The library opens at nine in the morning and closes in the evening.",
        "My brother bought a new bicycle last week.",
        "The committee will meet again next month to discuss the budget.",
        "It rained all afternoon, so we stayed at home and read.",
        "Please send me the report before Friday.",
        "The children are playing football in the park.",
    ),
    "fr": (
        "La bibliothèque ouvre à neuf heures du matin et ferme le soir.",
        "Mon frère a acheté un nouveau vélo la semaine dernière.",
        "Le comité se réunira de nouveau le mois prochain pour discuter du budget.",
        "Il a plu tout l'après-midi, alors nous sommes restés à la maison pour lire.",
        "Merci de m'envoyer le rapport avant vendredi.",
        "Les enfants jouent au football dans le parc.",
    ),
}


class TranslationCheckError(XrepError):
    """A model or tokenizer the output-language check cannot drive (missing language code, no input)."""


class OutputLanguageCheck(NamedTuple):
    passed: bool
    rate: float  # share of outputs identified as the target language
    examples: list[tuple[str, str]]  # (source, translation), the first few


def forced_bos_id(tokenizer: Any, target_lang: str, convention: LanguageCodes) -> int:
    """The id of the token that names `target_lang` (`fr_XX`, `fra_Latn`, `<fr>`), which must be the
    first generated token; an error when the tokenizer lacks it (it would come back as <unk>)."""
    token = language_token(target_lang, convention)
    token_id = tokenizer.convert_tokens_to_ids(token)
    if token_id is None or token_id == tokenizer.unk_token_id:
        raise TranslationCheckError(f"the tokenizer has no {token!r} token for {target_lang!r} ({convention} convention)")
    return int(token_id)


def _source_batch(tokenizer: Any, sentences: Sequence[str], source_lang: str, convention: LanguageCodes, max_source_tokens: int) -> dict:
    if convention == "iso" or not hasattr(tokenizer, "src_lang"):
        # As the MT objective builds it: [<src>] tokens [</s>], the tokens without special tokens
        # (also mBART-50's own layout, for a continued model whose tokenizer cannot place codes).
        tag = forced_bos_id(tokenizer, source_lang, convention)
        body = tokenizer(list(sentences), add_special_tokens=False, truncation=True, max_length=max_source_tokens - 2)["input_ids"]
        rows = [[tag, *ids, tokenizer.eos_token_id] for ids in body]
        return tokenizer.pad({"input_ids": rows}, return_tensors="pt")
    forced_bos_id(tokenizer, source_lang, convention)  # the source code must exist too
    tokenizer.src_lang = language_token(source_lang, convention)  # the tokenizer adds [src_code] ... </s>
    return tokenizer(list(sentences), return_tensors="pt", padding=True, truncation=True, max_length=max_source_tokens)


def translation_ids(
    model: Any,
    tokenizer: Any,
    sentences: Sequence[str],
    source_lang: str,
    target_lang: str,
    convention: LanguageCodes,
    max_new_tokens: int = 48,
    force_target: bool = True,
    max_source_tokens: int = 128,
) -> Any:
    """Greedy generations, `[decoder start, target code, ...]` per row. `force_target=False` leaves
    the first token to the model (only to show the trap)."""
    import torch

    if not sentences:
        raise TranslationCheckError("no sentences to translate")
    forced = forced_bos_id(tokenizer, target_lang, convention)
    batch = {name: tensor.to(model.device) for name, tensor in _source_batch(tokenizer, sentences, source_lang, convention, max_source_tokens).items()}
    with torch.no_grad():
        return model.generate(
            **batch,
            forced_bos_token_id=forced if force_target else None,
            max_new_tokens=max_new_tokens,
            num_beams=1,
            do_sample=False,
        )


def translate(
    model: Any,
    tokenizer: Any,
    sentences: Sequence[str],
    source_lang: str,
    target_lang: str,
    convention: LanguageCodes,
    max_new_tokens: int = 48,
) -> list[str]:
    """`sentences` translated from `source_lang` into `target_lang`, the target code forced."""
    ids = translation_ids(model, tokenizer, sentences, source_lang, target_lang, convention, max_new_tokens)
    return [text.strip() for text in tokenizer.batch_decode(ids, skip_special_tokens=True)]


def target_language_rate(translations: Sequence[str], target_lang: str) -> float:
    """The share of `translations` that the project's language ID (fastText, as `clean_bitext` uses
    it) identifies as `target_lang`; an empty translation counts as wrong."""
    from xrep_assets.text.langid import identify_languages

    if not translations:
        raise TranslationCheckError("no translations to identify")
    found = identify_languages(list(translations))
    return sum(language == target_lang for language in found) / len(found)


def output_language_check(
    model: Any,
    tokenizer: Any,
    sentences: Sequence[str],
    source_lang: str,
    target_lang: str,
    convention: LanguageCodes,
    threshold: float = DEFAULT_THRESHOLD,
    max_new_tokens: int = 48,
    n_examples: int = 3,
) -> OutputLanguageCheck:
    """Translates `sentences` and passes when at least `threshold` of the outputs are in `target_lang`."""
    if not 0.0 <= threshold <= 1.0:
        raise TranslationCheckError(f"threshold must be within [0, 1]; got {threshold}")
    translations = translate(model, tokenizer, sentences, source_lang, target_lang, convention, max_new_tokens)
    rate = target_language_rate(translations, target_lang)
    return OutputLanguageCheck(rate >= threshold, rate, list(zip(sentences, translations))[:n_examples])


def checkpoint_output_language(
    directory: str | Path,
    convention: LanguageCodes,
    directions: Sequence[tuple[str, str]],
    threshold: float = DEFAULT_THRESHOLD,
    max_new_tokens: int = 48,
) -> dict[str, OutputLanguageCheck]:
    """The check for each `(source, target)` direction of the checkpoint saved in `directory`, keyed
    `source>target`, on CHECK_SENTENCES[source]. Loads with trust_remote_code=False, on CPU."""
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    missing = sorted({source for source, _ in directions} - set(CHECK_SENTENCES))
    if missing:
        raise TranslationCheckError(f"no check sentences in {', '.join(missing)}; have {', '.join(CHECK_SENTENCES)}")
    tokenizer = AutoTokenizer.from_pretrained(str(directory), trust_remote_code=False)
    model = AutoModelForSeq2SeqLM.from_pretrained(str(directory), trust_remote_code=False).eval()
    return {
        f"{source}>{target}": output_language_check(
            model, tokenizer, CHECK_SENTENCES[source], source, target, convention, threshold, max_new_tokens
        )
        for source, target in directions
    }


def check_directions(entry: HubCheckpoint, target: str = "fr") -> list[tuple[str, str]]:
    """The (source, target) directions to check for a hub checkpoint: into English for a
    many-to-one model, out of English otherwise; none for a checkpoint that does not translate."""
    if entry.translates is None:
        return []
    if entry.translates == "into-english":
        return [(target, SOURCE_LANGUAGE)]
    return [(SOURCE_LANGUAGE, target)]
