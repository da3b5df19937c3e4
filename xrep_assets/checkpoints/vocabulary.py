"""The token ids the pretraining objectives need, read once from a tokenizer."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from transformers import PreTrainedTokenizerBase

from xrep_assets.errors import XrepError
from xrep_assets.study import LanguageCodes, language_token


class VocabularyError(XrepError):
    """A tokenizer lacks a token an objective needs."""


@dataclass(frozen=True)
class TokenIds:
    size: int  # len(tokenizer): the embedding rows a model needs
    pad: int
    bos: int
    eos: int
    mask: int
    languages: Mapping[str, int]  # language code -> id of the token that names it (<en>, en_XX, eng_Latn)

    def language(self, lang: str) -> int:
        if lang not in self.languages:
            raise VocabularyError(f"the tokenizer has no token for language {lang!r}; it has {sorted(self.languages)}")
        return self.languages[lang]

    @property
    def special(self) -> frozenset[int]:
        """Ids never masked or noised."""
        return frozenset({self.pad, self.bos, self.eos, self.mask, *self.languages.values()})


def token_ids(
    tokenizer: PreTrainedTokenizerBase, languages: Iterable[str], convention: LanguageCodes = "iso"
) -> TokenIds:
    """Reads the special and language-token ids; a missing one is an error that names it."""
    vocab = tokenizer.get_vocab()
    langs: dict[str, int] = {}
    for lang in languages:
        token = language_token(lang, convention)
        if token not in vocab:
            raise VocabularyError(
                f"the tokenizer has no language token {token!r} for {lang!r} ({convention} convention)"
            )
        langs[lang] = vocab[token]
    ids = {name: getattr(tokenizer, f"{name}_token_id") for name in ("pad", "bos", "eos", "mask")}
    missing = [name for name, value in ids.items() if value is None]
    if missing:
        raise VocabularyError(f"the tokenizer has no {', '.join(missing)} token")
    return TokenIds(size=len(tokenizer), languages=langs, **ids)
