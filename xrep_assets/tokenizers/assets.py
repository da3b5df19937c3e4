"""The joint tokenizer asset, trained on the cleaned corpora of the profile's language pairs."""


import dagster as dg

from xrep_assets.asset_keys import CORPORA_TEAM
from xrep_assets.corpora.assets import pretraining_corpus
from xrep_assets.execution.launchers import WorkerLauncher
from xrep_assets.execution.pods import TOKENIZE_WORKER
from xrep_assets.resources import ArtifactStore, StudySettings
from xrep_assets.tokenizers.spec import TokenizeSpec


@dg.asset(deps=[pretraining_corpus], group_name="tokenizers", kinds={"sentencepiece"}, owners=[CORPORA_TEAM],
          retry_policy=dg.RetryPolicy(max_retries=2))
def joint_tokenizer(
    context: dg.AssetExecutionContext, study: StudySettings, artifacts: ArtifactStore, launcher: WorkerLauncher
) -> dg.MaterializeResult:
    """The joint subword vocabulary of the six pretraining languages; unpartitioned (one for the study).

    One sentencepiece unigram model over a seeded sample of the pretraining corpus's monolingual
    text (at most the profile's `tokenizer_sample_sentences` lines, mixed by temperature sampling),
    language tags as special tokens; saved so `AutoTokenizer` loads it. The tokenizer worker trains
    it (a subprocess here, a many-core pod in Kubernetes). Metadata: `vocab_size`, `sample_lines`,
    `threads`, and `fertility/<language>`: subword tokens per word (per character for Chinese) on
    the language's first 2,000 allocated lines.
    """
    profile = study.resolved()
    spec = TokenizeSpec(str(artifacts.path()), profile.tokenizer_vocab_size, profile.tokenizer_sample_alpha,
                        profile.tokenizer_sample_sentences, artifacts.remote, threads=profile.threads)
    spec_path = spec.write(artifacts.path("specs", "tokenizer", f"{context.run_id}.json"))
    return launcher.launch(context, TOKENIZE_WORKER, spec_path, profile)
