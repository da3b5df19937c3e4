"""The allocation worker: `python -m xrep_assets.workers.allocate SPEC.json`.

Allocates the cleaned bitexts of both corpora to the study's pairs and splits and writes the study
corpus (a memory-sized step: a pod of its own in Kubernetes), atomically into the artifact store, and
reports the sizes and where the rows went through dagster-pipes (printed when started by hand).
"""

from __future__ import annotations

import sys

from xrep_assets.corpora.spec import AllocateSpec
from xrep_assets.corpora.study_corpus import build_study_corpus
from xrep_assets.workers.runner import run_worker


def main(argv: list[str] | None = None) -> int:
    return run_worker("python -m xrep_assets.workers.allocate", __doc__, AllocateSpec, build_study_corpus, argv)


if __name__ == "__main__":
    sys.exit(main())
