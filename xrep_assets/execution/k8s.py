"""The worker as a Kubernetes pod (`paper`), through dagster-k8s's `PipesK8sClient`.

The pod's body comes from `execution/pods.py`; this module only wires it to a Dagster run. The client
creates the pod, streams its logs (the worker's dagster-pipes messages travel in them), waits for it
to end and deletes it; a container that exits non-zero, or cannot pull its image, raises
`DagsterK8sError`, which fails the step (and the asset's `RetryPolicy` may start it again).
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from dagster_k8s import PipesK8sClient
from dagster_k8s.client import DEFAULT_WAIT_TIMEOUT
from pydantic import Field

from xrep_assets.execution.launchers import WorkerLauncher
from xrep_assets.execution.pods import (
    ClusterSettings,
    spec_in_volume,
    step_resources,
    worker_pod_command,
    worker_pod_labels,
    worker_pod_spec,
)
from xrep_assets.profiles import Profile


class K8sWorkerLauncher(WorkerLauncher):
    """Runs each heavy step in its own pod, sized by the step's entry in `pods.STEP_RESOURCES` for the
    run's profile (the one the asset passes, from its `study` resource).

    The spec file must be on the artifact volume, which the Dagster run mounts at the same path as
    the pod (`artifacts_mount_path`).
    """

    image: str = Field(description="the worker image (xrep installed, `python` on its PATH)")
    namespace: str = "xrep"
    image_pull_policy: str = "IfNotPresent"
    service_account: str = "xrep-worker"
    node_selector: dict[str, str] = {}
    artifacts_claim: str = "xrep-artifacts"
    artifacts_mount_path: str = "/artifacts"
    hf_token_secret: str = "xrep-hf-token"
    # None: in-cluster credentials when running in a pod, else ~/.kube/config (dagster-k8s's default).
    kubeconfig_file: str | None = None
    kube_context: str | None = None
    poll_interval: float = Field(default=10.0, description="seconds between pod status polls")
    # Counted from the end of the pod's log stream, so a training run of several days is not cut short.
    pod_wait_timeout: float = Field(default=DEFAULT_WAIT_TIMEOUT, description="seconds to wait for the pod to end; 0 waits forever")

    def cluster_settings(self) -> ClusterSettings:
        return ClusterSettings(
            image=self.image,
            namespace=self.namespace,
            image_pull_policy=self.image_pull_policy,
            service_account=self.service_account,
            node_selector=dict(self.node_selector),
            artifacts_claim=self.artifacts_claim,
            artifacts_mount_path=self.artifacts_mount_path,
            hf_token_secret=self.hf_token_secret,
        )

    def pipes_client(self) -> PipesK8sClient:
        outside = self.kubeconfig_file is not None or self.kube_context is not None
        return PipesK8sClient(
            load_incluster_config=False if outside else None,
            kubeconfig_file=self.kubeconfig_file,
            kube_context=self.kube_context,
            poll_interval=self.poll_interval,
        )

    def worker_processes(self, module: str, profile: Profile) -> int:
        return step_resources(module, profile.name).processes

    def invoke(self, context: dg.AssetExecutionContext, module: str, spec: Path, profile: Profile) -> dg.PipesClientCompletedInvocation:
        settings = self.cluster_settings()
        spec_path = spec_in_volume(spec, settings.artifacts_mount_path)
        resources = step_resources(module, profile.name)
        command = worker_pod_command(module, spec_path, resources)
        context.log.info(f"launching {module} in a pod sized for {profile.name}: {resources}, image {self.image}, namespace {self.namespace}")
        return self.pipes_client().run(
            context=context,
            image=self.image,
            command=command,
            namespace=self.namespace,
            base_pod_spec=worker_pod_spec(resources, settings, command),
            base_pod_meta={
                "labels": worker_pod_labels(module, context.run_id),
                "annotations": {"xrep/spec": str(spec_path)},
            },
            pod_wait_timeout=self.pod_wait_timeout,
        )
