"""The language-ID check against hand-made monolingual text: right languages pass, a mislabelled one fails."""

import polars as pl

from xrep_assets.corpora.checks import LanguageIdCheckConfig, language_id_agreement
from xrep_assets.resources import ArtifactStore

TEXTS = {
    "en": ["The committee adopted the report on the situation in the region.", "Where is the railway station?"],
    "fr": ["Le comité a adopté le rapport sur la situation dans la région.", "Où est la gare ?"],
    # mislabelled: these Russian-file sentences are Spanish
    "ru": ["El comité aprobó el informe sobre la situación en la región.", "¿Dónde está la estación de tren?"],
}


def write_monolingual(root):
    folder = root / "corpora" / "study" / "monolingual"
    folder.mkdir(parents=True)
    for lang, texts in TEXTS.items():
        pl.DataFrame({"lang": lang, "text": texts}).write_parquet(folder / f"{lang}.parquet")


def test_a_language_whose_text_is_another_language_fails_the_check(tmp_path):
    write_monolingual(tmp_path)
    result = language_id_agreement(LanguageIdCheckConfig(min_agreement=0.9), ArtifactStore(root=str(tmp_path)))
    assert not result.passed
    assert result.metadata["below"].value == "ru"
    assert result.metadata["lowest"].value == 0.0  # en 2/2, fr 2/2, ru 0/2
