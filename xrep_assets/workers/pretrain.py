"""The pretraining worker: `python -m xrep_assets.workers.pretrain SPEC.json` (or under torchrun).

Launched by Dagster through dagster-pipes, it sends its log lines and the checkpoint's metadata back
to the run; started by hand it just prints. Only rank 0 talks to Dagster.
"""

from __future__ import annotations

import sys

from xrep_assets.checkpoints.spec import PretrainSpec
from xrep_assets.checkpoints.training import train
from xrep_assets.workers.runner import Log, Metadata, run_worker


def pretrain(spec: PretrainSpec, log: Log) -> dict[str, object]:
    summary = train(spec, log=log)
    return {
        "parameters": summary.parameters,
        "steps": summary.steps,
        "final_loss": summary.final_loss,
        "best_loss": summary.best_loss,
        "tokens_seen": summary.tokens_seen,
        "tokens_per_second": summary.tokens_seen / summary.seconds if summary.seconds else 0.0,
        "train_seconds": summary.seconds,
        "resumed_from_step": summary.resumed_from,
        "processes": summary.world_size,
        "device": summary.device,
        "threads": summary.threads,
    }


def done_line(metadata: Metadata) -> str:
    return f"done: {metadata['steps']} steps, final loss {metadata['final_loss']:.4f}"


def main(argv: list[str] | None = None) -> int:
    return run_worker("python -m xrep_assets.workers.pretrain", __doc__, PretrainSpec, pretrain, argv, done_line)


if __name__ == "__main__":
    sys.exit(main())
