"""Asset checks that need the evaluation data: no test sentence inside the pretraining text."""

import dagster as dg
import polars as pl

from xrep_assets.corpora.assets import pretraining_corpus
from xrep_assets.corpora.layout import monolingual_texts
from xrep_assets.markdown import markdown_table
from xrep_assets.resources import ArtifactStore, StudySettings
from xrep_assets.xglue.contamination import contaminated_sentences, evaluation_sentences
from xrep_assets.xglue.sources import profile_data_source


@dg.asset_check(asset=pretraining_corpus, blocking=True)
def no_test_contamination(study: StudySettings, artifacts: ArtifactStore) -> dg.AssetCheckResult:
    """No sentence of any evaluation task's test set occurs in the pretraining text (same language,
    compared after normalisation)."""
    source = profile_data_source(study.resolved())
    if source is None:
        return dg.AssetCheckResult(passed=False, metadata={"reason": "no XGLUE source configured to check against"})
    texts = monolingual_texts(artifacts.path())
    pretraining = pl.DataFrame(
        [(lang, text) for lang, sentences in texts.items() for text in sentences], schema=["lang", "text"], orient="row"
    )
    tests = evaluation_sentences(source.open())
    hits = contaminated_sentences(pretraining, tests)
    return dg.AssetCheckResult(
        passed=hits.height == 0,
        metadata={
            "source": source.describe(),
            "test_sentences": tests.height,
            "contaminated": hits.height,
            "examples": dg.MetadataValue.md(markdown_table(hits.head(10)) if hits.height else "none"),
        },
    )
