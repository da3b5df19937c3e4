"""The pretraining worker: `python -m xrep_assets.workers.pretrain SPEC.json` (or under torchrun).

Launched by Dagster through dagster-pipes, it sends its log lines and the checkpoint's metadata back
to the run; started by hand it just prints. Only rank 0 talks to Dagster.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from dagster_pipes import DAGSTER_PIPES_CONTEXT_ENV_VAR, DagsterPipesError, PipesContext, open_dagster_pipes

from xrep_assets.checkpoints.spec import PretrainSpec
from xrep_assets.checkpoints.training import Distributed, TrainingSummary, train


def summary_metadata(summary: TrainingSummary) -> dict:
    return {
        "parameters": summary.parameters,
        "steps": summary.steps,
        "final_loss": summary.final_loss,
        "tokens_seen": summary.tokens_seen,
        "tokens_per_second": summary.tokens_seen / summary.seconds if summary.seconds else 0.0,
        "train_seconds": summary.seconds,
        "resumed_from_step": summary.resumed_from,
        "processes": summary.world_size,
        "device": summary.device,
        "threads": summary.threads,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m xrep_assets.workers.pretrain", description=__doc__)
    parser.add_argument("spec", type=Path, help="the pretraining spec (JSON) the asset wrote")
    args = parser.parse_args(argv)
    spec = PretrainSpec.read(args.spec)
    if Distributed.from_env().is_main and DAGSTER_PIPES_CONTEXT_ENV_VAR in os.environ:
        with open_dagster_pipes() as pipes:
            return _run_reporting(spec, pipes)
    summary = train(spec, log=lambda line: print(line, flush=True))
    print(f"done: {summary.steps} steps, final loss {summary.final_loss:.4f}", flush=True)
    return 0


def _run_reporting(spec: PretrainSpec, pipes: PipesContext) -> int:
    summary = train(spec, log=pipes.log.info)
    try:
        pipes.report_asset_materialization(metadata=summary_metadata(summary))
    except DagsterPipesError:  # launched for an op, not an asset: the log lines are the report
        pipes.log.info(f"done: {summary_metadata(summary)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
