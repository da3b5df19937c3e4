"""The joint tokenizer asset, trained on the cleaned corpora of the profile's language pairs."""


import dagster as dg
import polars as pl

from xrep_assets.corpora.assets import pretraining_corpus
from xrep_assets.corpora.store import monolingual_texts
from xrep_assets.markdown import markdown_table
from xrep_assets.resources import ArtifactStore, StudySettings
from xrep_assets.tokenizers.training import fertility, train_joint_tokenizer

TOKENIZER_PARTS = ("tokenizer",)


@dg.asset(deps=[pretraining_corpus], group_name="tokenizers", kinds={"sentencepiece"})
def joint_tokenizer(
    context: dg.AssetExecutionContext, study: StudySettings, artifacts: ArtifactStore
) -> dg.MaterializeResult:
    """One sentencepiece unigram model over the pretraining corpus's six languages, mixed by
    temperature sampling, language tags as special tokens; saved so `AutoTokenizer` loads it."""
    profile = study.resolved()
    texts = monolingual_texts(artifacts.path())
    with artifacts.writing_dir(*TOKENIZER_PARTS) as tmp:
        tokenizer = train_joint_tokenizer(texts, tmp, profile.tokenizer_vocab_size, profile.tokenizer_sample_alpha)
    per_language = pl.DataFrame(
        {
            "language": sorted(texts),
            "lines": [len(texts[lang]) for lang in sorted(texts)],
            "fertility": [fertility(tokenizer, texts[lang][:2000], lang) for lang in sorted(texts)],
        }
    )
    context.log.info(f"tokenizer: {len(tokenizer)} pieces")
    return dg.MaterializeResult(
        metadata={
            "vocab_size": len(tokenizer),
            "requested_vocab_size": profile.tokenizer_vocab_size,
            "path": str(artifacts.path(*TOKENIZER_PARTS)),
            # subwords per word (per character for Chinese)
            "fertility": dg.MetadataValue.md(markdown_table(per_language, float_precision=2)),
        }
    )
