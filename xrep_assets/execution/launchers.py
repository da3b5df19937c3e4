"""Where heavy steps run: one launcher interface; a local subprocess here, a Kubernetes pod in `paper`.

A launcher starts a worker module (e.g. `xrep_assets.workers.pretrain`) with one spec file through
dagster-pipes, so the worker's log lines and reported metadata reach the Dagster run wherever it runs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import dagster as dg


def worker_command(module: str, spec: Path, processes: int = 1, python: str = sys.executable) -> list[str]:
    """The worker's command line; several processes run it under torchrun (DDP, one per device)."""
    if processes <= 1:
        return [python, "-m", module, str(spec)]
    return [python, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}", "-m", module, str(spec)]


class WorkerLauncher(dg.ConfigurableResource):
    """Runs a worker module on a spec file and returns what the worker reported."""

    def launch(self, context: dg.AssetExecutionContext, module: str, spec: Path) -> dg.MaterializeResult:
        raise NotImplementedError


class LocalWorkerLauncher(WorkerLauncher):
    """The worker as a local subprocess (`tiny`; also any single machine). `processes` > 1 uses torchrun."""

    processes: int = 1

    def launch(self, context: dg.AssetExecutionContext, module: str, spec: Path) -> dg.MaterializeResult:
        client = dg.PipesSubprocessClient()
        command = worker_command(module, spec, self.processes)
        return client.run(context=context, command=command).get_materialize_result()
