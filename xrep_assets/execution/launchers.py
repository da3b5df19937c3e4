"""Where heavy steps run: one launcher interface; a local subprocess here, a Kubernetes pod in `paper`.

A launcher starts a worker module (e.g. `xrep_assets.workers.pretrain`) with one spec file through
dagster-pipes, so the worker's log lines and reported metadata reach the Dagster run wherever it runs.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

import dagster as dg

from xrep_assets.errors import XrepError
from xrep_assets.profiles import DEFAULT_PROFILE, PROFILE_ENV_VAR

LAUNCHER_ENV_VAR = "XREP_LAUNCHER"
WORKER_IMAGE_ENV_VAR = "XREP_WORKER_IMAGE"
K8S_NAMESPACE_ENV_VAR = "XREP_K8S_NAMESPACE"
LAUNCHERS = ("local", "k8s")
# OpenMP threads that spin while they wait steal the cores from each other on a shared machine: a
# probe head's step took 100x longer (benchmarks/README.md). An explicit setting wins.
WORKER_ENV = {"OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}


class LauncherError(XrepError):
    """The launcher cannot be set up or cannot start a worker as asked."""


def worker_command(module: str, spec: Path, processes: int = 1, python: str = sys.executable) -> list[str]:
    """The worker's command line; several processes run it under torchrun (DDP, one per device)."""
    if processes <= 1:
        return [python, "-m", module, str(spec)]
    return [python, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}", "-m", module, str(spec)]


class WorkerLauncher(dg.ConfigurableResource):
    """Runs a worker module on a spec file and returns what the worker reported."""

    def launch(self, context: dg.AssetExecutionContext, module: str, spec: Path) -> dg.MaterializeResult:
        raise NotImplementedError

    def worker_processes(self, module: str) -> int:
        """How many processes (DDP ranks) run `module`'s worker: a spec divides its batch by it."""
        raise NotImplementedError


class LocalWorkerLauncher(WorkerLauncher):
    """The worker as a local subprocess (`tiny`; also any single machine). `processes` > 1 uses torchrun."""

    processes: int = 1

    def worker_processes(self, module: str) -> int:
        return self.processes

    def launch(self, context: dg.AssetExecutionContext, module: str, spec: Path) -> dg.MaterializeResult:
        client = dg.PipesSubprocessClient(env=WORKER_ENV)
        command = worker_command(module, spec, self.processes)
        return client.run(context=context, command=command).get_materialize_result()


def launcher_from_env(environ: Mapping[str, str] | None = None) -> WorkerLauncher:
    """The launcher `XREP_LAUNCHER` names: `local` (default) or `k8s`, a pod per heavy step, running
    the image `XREP_WORKER_IMAGE` in the namespace `XREP_K8S_NAMESPACE` (default `xrep`), sized for
    the profile `XREP_PROFILE`."""
    environ = os.environ if environ is None else environ
    kind = environ.get(LAUNCHER_ENV_VAR) or "local"
    if kind == "local":
        return LocalWorkerLauncher()
    if kind == "k8s":
        image = environ.get(WORKER_IMAGE_ENV_VAR)
        if not image:
            raise LauncherError(f"{LAUNCHER_ENV_VAR}=k8s needs the worker image in {WORKER_IMAGE_ENV_VAR} (e.g. registry/xrep-worker:TAG)")
        # The Kubernetes client takes seconds to import: only deployments that run pods load it.
        from xrep_assets.execution.k8s import K8sWorkerLauncher

        namespace = environ.get(K8S_NAMESPACE_ENV_VAR) or "xrep"
        return K8sWorkerLauncher(image=image, namespace=namespace, profile=environ.get(PROFILE_ENV_VAR) or DEFAULT_PROFILE)
    raise LauncherError(f"{LAUNCHER_ENV_VAR}={kind!r} is not a launcher; choose one of {', '.join(LAUNCHERS)}")
