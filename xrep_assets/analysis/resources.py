"""The PUD treebanks as a resource: a local copy in the treebanks' layout, or the UD release's files
downloaded once into a cache."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import dagster as dg

from xrep_assets.analysis.pud import UD_RELEASE, download_pud, pud_file


class PudSource(dg.ConfigurableResource):
    """Finds the PUD treebanks: the profile's folder when it has one, else `UD_RELEASE` downloaded from
    GitHub into `cache_dir/<release>` (once: complete files are not fetched again)."""

    cache_dir: str

    def treebanks(self, local: Path | None, languages: Iterable[str]) -> Path:
        if local is not None:
            return local
        root = Path(self.cache_dir) / UD_RELEASE
        missing = [lang for lang in languages if not pud_file(root, lang).is_file()]
        if missing:
            download_pud(root, UD_RELEASE, missing)
        return root
