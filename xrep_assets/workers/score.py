"""The scoring worker: `python -m xrep_assets.workers.score SPEC.json`.

Launched by Dagster through dagster-pipes (a subprocess here, a GPU pod in Kubernetes), it scores one
checkpoint x task partition, writes the score files, and reports the partition's metadata back to
the run; started by hand it prints the metadata as JSON.
"""

from __future__ import annotations

import sys

from xrep_assets.evaluation.scoring import partition_metadata, score_partition
from xrep_assets.evaluation.spec import ScoreSpec
from xrep_assets.workers.runner import Log, run_worker


def score(spec: ScoreSpec, log: Log) -> dict[str, object]:
    return partition_metadata(spec, score_partition(spec, log=log))


def main(argv: list[str] | None = None) -> int:
    return run_worker("python -m xrep_assets.workers.score", __doc__, ScoreSpec, score, argv)


if __name__ == "__main__":
    sys.exit(main())
