"""Asset checks on the pretraining corpus: what downstream training may rely on."""

import dagster as dg
import polars as pl

from xrep_assets.corpora.allocation import overlap
from xrep_assets.corpora.assets import pretraining_corpus
from xrep_assets.corpora.store import monolingual_texts, read_study_bitext
from xrep_assets.resources import ArtifactStore, StudySettings
from xrep_assets.study import PRETRAINING_LANGUAGES


@dg.asset_check(asset=pretraining_corpus, blocking=True)
def pretraining_corpus_not_empty(study: StudySettings, artifacts: ArtifactStore) -> dg.AssetCheckResult:
    """Every pair has training and validation rows; every pretraining language has text."""
    sizes = {
        f"{pair.key} {split}": read_study_bitext(artifacts.path(), pair, split).height
        for pair in study.resolved().pairs
        for split in ("train", "validation")
    }
    texts = monolingual_texts(artifacts.path())
    empty = [name for name, rows in sizes.items() if rows == 0]
    empty += [f"{lang} monolingual" for lang in PRETRAINING_LANGUAGES if not texts.get(lang)]
    return dg.AssetCheckResult(
        passed=not empty,
        metadata={"empty": ", ".join(empty) or "none", "smallest": min(sizes.values())},
    )


@dg.asset_check(asset=pretraining_corpus, blocking=True)
def validation_disjoint_from_training(study: StudySettings, artifacts: ArtifactStore) -> dg.AssetCheckResult:
    """No validation row shares its unit (document / block) or its normalised pair with training."""
    overlapping = {
        pair.key: overlap(
            read_study_bitext(artifacts.path(), pair, "train"), read_study_bitext(artifacts.path(), pair, "validation")
        )
        for pair in study.resolved().pairs
    }
    total = sum(overlapping.values())
    return dg.AssetCheckResult(
        passed=total == 0,
        metadata={"overlapping_rows": total, "by_pair": dg.MetadataValue.json(overlapping)},
    )


CORPUS_CHECKS = [pretraining_corpus_not_empty, validation_disjoint_from_training]
