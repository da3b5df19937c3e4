"""The tokenizer worker: `python -m xrep_assets.workers.tokenize SPEC.json`.

Trains the joint sentencepiece model on the pretraining corpus (a CPU-heavy step: a pod with many
cores in Kubernetes), writes it atomically into the artifact store, and reports the vocabulary size
and per-language fertility back through dagster-pipes (printed when started by hand).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import polars as pl
from dagster_pipes import DAGSTER_PIPES_CONTEXT_ENV_VAR, DagsterPipesError, open_dagster_pipes

from xrep_assets.corpora.layout import monolingual_texts
from xrep_assets.markdown import markdown_table
from xrep_assets.resources import ArtifactStore
from xrep_assets.tokenizers.spec import TokenizeSpec
from xrep_assets.tokenizers.training import TOKENIZER_PARTS, fertility, train_joint_tokenizer

FERTILITY_SAMPLE = 2000  # lines per language the fertility is measured on


def train_tokenizer(spec: TokenizeSpec, log) -> dict[str, object]:
    """Trains and commits the tokenizer; returns the metadata the asset shows."""
    store = ArtifactStore(root=spec.artifacts_root, remote=spec.artifacts_remote)
    texts = monolingual_texts(store.path())
    log(f"training a {spec.vocab_size}-piece tokenizer on {', '.join(f'{k}: {len(v)}' for k, v in sorted(texts.items()))} lines")
    with store.writing_dir(*TOKENIZER_PARTS) as tmp:
        tokenizer = train_joint_tokenizer(texts, tmp, spec.vocab_size, spec.sample_alpha)
    languages = sorted(texts)
    per_language = pl.DataFrame({
        "language": languages,
        "lines": [len(texts[lang]) for lang in languages],
        "fertility": [fertility(tokenizer, texts[lang][:FERTILITY_SAMPLE], lang) for lang in languages],
    })
    return {
        "vocab_size": len(tokenizer),
        "requested_vocab_size": spec.vocab_size,
        "path": str(store.path(*TOKENIZER_PARTS)),
        # subwords per word (per character for Chinese)
        "fertility": {"raw_value": markdown_table(per_language, float_precision=2), "type": "md"},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m xrep_assets.workers.tokenize", description=__doc__)
    parser.add_argument("spec", type=Path, help="the tokenizer spec (JSON) the asset wrote")
    spec = TokenizeSpec.read(parser.parse_args(argv).spec)
    if DAGSTER_PIPES_CONTEXT_ENV_VAR not in os.environ:
        print(json.dumps(train_tokenizer(spec, log=lambda line: print(line, flush=True)), indent=2))
        return 0
    with open_dagster_pipes() as pipes:
        metadata = train_tokenizer(spec, log=pipes.log.info)
        try:
            pipes.report_asset_materialization(metadata=metadata)
        except DagsterPipesError:  # launched for an op, not an asset
            pipes.log.info(json.dumps(metadata))
    return 0


if __name__ == "__main__":
    sys.exit(main())
