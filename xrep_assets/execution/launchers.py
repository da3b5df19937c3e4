"""Where heavy steps run: one launcher interface; a local subprocess here, a Kubernetes pod in `paper`.

A launcher starts a worker module (e.g. `xrep_assets.workers.pretrain`) with one spec file through
dagster-pipes, so the worker's log lines and reported metadata reach the Dagster run wherever it runs.
The deployment's launcher is chosen in `execution/launcher_env.py`; the Kubernetes one is `execution/k8s.py`.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from xrep_assets.errors import XrepError
from xrep_assets.execution.commands import WORKER_ALLOCATOR_ENV, worker_command
from xrep_assets.profiles import Profile

# OpenMP threads that spin while they wait steal the cores from each other on a shared machine: a
# probe head's step took 100x longer (benchmarks/README.md). An explicit setting wins.
WORKER_ENV = {"OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE"), **WORKER_ALLOCATOR_ENV}


class LauncherError(XrepError):
    """The launcher cannot be set up or cannot start a worker as asked."""


class WorkerLauncher(dg.ConfigurableResource):
    """Runs a worker module on a spec file and returns what the worker reported.

    `profile` is the run's, resolved from its `study` resource: a launcher that sizes the worker's
    machine (a pod) sizes it for that profile, so the pods follow the run's config, never a setting
    of their own."""

    def invoke(self, context: dg.AssetExecutionContext, module: str, spec: Path, profile: Profile) -> dg.PipesClientCompletedInvocation:
        raise NotImplementedError

    def launch(self, context: dg.AssetExecutionContext, module: str, spec: Path, profile: Profile) -> dg.MaterializeResult:
        """The worker's report for the one asset being materialized."""
        return self.invoke(context, module, spec, profile).get_materialize_result()

    def launch_assets(
        self, context: dg.AssetExecutionContext, module: str, spec: Path, profile: Profile
    ) -> tuple[dg.MaterializeResult, ...]:
        """The worker's reports, one per asset of a multi-asset it computed in one process."""
        return tuple(self.invoke(context, module, spec, profile).get_results())

    def worker_processes(self, module: str, profile: Profile) -> int:
        """How many processes (DDP ranks) run `module`'s worker: a spec divides its batch by it."""
        raise NotImplementedError


class LocalWorkerLauncher(WorkerLauncher):
    """The worker as a local subprocess (`tiny`; also any single machine). `processes` > 1 uses torchrun."""

    processes: int = 1

    def worker_processes(self, module: str, profile: Profile) -> int:
        return self.processes

    def invoke(self, context: dg.AssetExecutionContext, module: str, spec: Path, profile: Profile) -> dg.PipesClientCompletedInvocation:
        client = dg.PipesSubprocessClient(env=WORKER_ENV)
        command = worker_command(module, spec, self.processes)
        return client.run(context=context, command=command)
