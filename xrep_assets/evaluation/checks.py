"""Asset checks that need the evaluation data: no test sentence inside the pretraining text."""

import dagster as dg
import polars as pl

from xrep_assets.corpora.assets import pretraining_corpus
from xrep_assets.corpora.layout import monolingual_batches
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
    tests = evaluation_sentences(source.open()).with_row_index("test_row")
    # Batch by batch: the check reads the whole pretraining text, which a paper-size run cannot hold.
    found = [contaminated_sentences(batch, tests).get_column("test_row") for batch in monolingual_batches(artifacts.path())]
    hits = tests.filter(pl.col("test_row").is_in(pl.concat([pl.Series("test_row", [], pl.UInt32), *found]).implode())).drop("test_row")
    return dg.AssetCheckResult(
        passed=hits.height == 0,
        metadata={
            "source": source.describe(),
            "test_sentences": tests.height,
            "contaminated": hits.height,
            "examples": dg.MetadataValue.md(markdown_table(hits.head(10)) if hits.height else "none"),
        },
    )
