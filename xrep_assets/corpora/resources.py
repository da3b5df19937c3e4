"""OPUS as a resource: a local mirror in OPUS's layout, or the real download into a cache."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from xrep_assets.corpora.opus import download, mirror_moses_path, moses_download_source
from xrep_assets.study import Corpus, LanguagePair


class OpusSource(dg.ConfigurableResource):
    """Finds a corpus's Moses zip: in `mirror` when one is given, else downloaded once into `cache_dir`."""

    cache_dir: str

    def moses_zip(self, corpus: Corpus, pair: LanguagePair, mirror: Path | None) -> Path:
        if mirror is not None:
            return mirror_moses_path(mirror, corpus, pair)
        a, b = corpus.opus_pair(pair)
        dest = Path(self.cache_dir) / corpus.opus_name / corpus.version / "moses" / f"{a}-{b}.txt.zip"
        if dest.exists():
            return dest  # never re-download a complete file
        url, size = moses_download_source(corpus, pair)
        return download(url, dest, size)
