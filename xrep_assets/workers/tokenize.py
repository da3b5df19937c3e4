"""The tokenizer worker: `python -m xrep_assets.workers.tokenize SPEC.json`.

Trains the joint sentencepiece model on the pretraining corpus (a CPU-heavy step: a pod with many
cores in Kubernetes), writes it atomically into the artifact store, and reports the vocabulary size
and per-language fertility back through dagster-pipes (printed when started by hand).
"""

from __future__ import annotations

import sys

from xrep_assets.tokenizers.spec import TokenizeSpec
from xrep_assets.tokenizers.training import train_tokenizer
from xrep_assets.workers.runner import run_worker


def main(argv: list[str] | None = None) -> int:
    return run_worker("python -m xrep_assets.workers.tokenize", __doc__, TokenizeSpec, train_tokenizer, argv)


if __name__ == "__main__":
    sys.exit(main())
