"""The scoring worker: `python -m xrep_assets.workers.score SPEC.json`.

Launched by Dagster through dagster-pipes (a subprocess here, a GPU pod in Kubernetes), it scores one
checkpoint x task partition, writes the score files, and reports the partition's metadata back to
the run; started by hand it prints the metadata as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from dagster_pipes import DAGSTER_PIPES_CONTEXT_ENV_VAR, DagsterPipesError, open_dagster_pipes

from xrep_assets.evaluation.scoring import partition_metadata, score_partition
from xrep_assets.evaluation.spec import ScoreSpec


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m xrep_assets.workers.score", description=__doc__)
    parser.add_argument("spec", type=Path, help="the scoring spec (JSON) the asset wrote")
    args = parser.parse_args(argv)
    spec = ScoreSpec.read(args.spec)
    if DAGSTER_PIPES_CONTEXT_ENV_VAR not in os.environ:
        metadata = partition_metadata(spec, score_partition(spec, log=lambda line: print(line, flush=True)))
        print(json.dumps(metadata, indent=2, default=str))
        return 0
    with open_dagster_pipes() as pipes:
        metadata = partition_metadata(spec, score_partition(spec, log=pipes.log.info))
        try:
            pipes.report_asset_materialization(metadata=metadata)
        except DagsterPipesError:  # launched for an op, not an asset: the log lines are the report
            pipes.log.info(json.dumps(metadata, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
