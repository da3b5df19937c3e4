"""The deployment's launcher, chosen by environment variables: a local subprocess or a Kubernetes pod
per heavy step. Kept apart from `launchers.py` so that `k8s.py` (a `WorkerLauncher`) and the choice
between the launchers do not import each other."""

from __future__ import annotations

from collections.abc import Mapping

from xrep_assets.environment import K8S_NAMESPACE_ENV_VAR, LAUNCHER_ENV_VAR, WORKER_IMAGE_ENV_VAR, env_value
from xrep_assets.execution.launchers import LauncherError, LocalWorkerLauncher, WorkerLauncher

LAUNCHERS = ("local", "k8s")


def launcher_from_env(environ: Mapping[str, str] | None = None) -> WorkerLauncher:
    """The launcher `XREP_LAUNCHER` names: `local` (default) or `k8s`, a pod per heavy step, running
    the image `XREP_WORKER_IMAGE` in the namespace `XREP_K8S_NAMESPACE` (default `xrep`). A pod's
    size follows the profile of the run that launches it, not the environment."""
    kind = env_value(LAUNCHER_ENV_VAR, environ) or "local"
    if kind == "local":
        return LocalWorkerLauncher()
    if kind == "k8s":
        image = env_value(WORKER_IMAGE_ENV_VAR, environ)
        if not image:
            raise LauncherError(f"{LAUNCHER_ENV_VAR}=k8s needs the worker image in {WORKER_IMAGE_ENV_VAR} (e.g. registry/xrep-worker:TAG)")
        # The Kubernetes client takes seconds to import: only deployments that run pods load it.
        from xrep_assets.execution.k8s import K8sWorkerLauncher

        return K8sWorkerLauncher(image=image, namespace=env_value(K8S_NAMESPACE_ENV_VAR, environ) or "xrep")
    raise LauncherError(f"{LAUNCHER_ENV_VAR}={kind!r} is not a launcher; choose one of {', '.join(LAUNCHERS)}")
