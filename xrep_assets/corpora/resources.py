"""OPUS as a resource: a local mirror in OPUS's layout, or the real download into a cache."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from xrep_assets.corpora.opus import OpusFormat, download, download_source, mirror_path, relative_path
from xrep_assets.study import Corpus, LanguagePair


class OpusSource(dg.ConfigurableResource):
    """Finds a corpus file: in `mirror` when one is given, else downloaded once into `cache_dir`."""

    cache_dir: str

    def corpus_file(self, corpus: Corpus, pair: LanguagePair, fmt: OpusFormat, mirror: Path | None) -> Path:
        if mirror is not None:
            return mirror_path(mirror, corpus, pair, fmt)
        dest = Path(self.cache_dir) / relative_path(corpus, pair, fmt)
        if dest.exists():
            return dest  # never re-download a complete file
        url, size = download_source(corpus, pair, fmt)
        return download(url, dest, size)
