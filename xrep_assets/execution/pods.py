"""The pod of a heavy step, declared in one place: what each step needs, what the cluster provides,
and the pure function that turns both into the Pod spec `PipesK8sClient` submits.

Nothing here talks to Kubernetes or Dagster; `execution/k8s.py` does the wiring.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath, PurePosixPath

from xrep_assets.environment import ARTIFACTS_DIR_ENV_VAR
from xrep_assets.errors import XrepError
from xrep_assets.execution.commands import WORKER_ALLOCATOR_ENV, worker_command

ALLOCATE_WORKER = "xrep_assets.workers.allocate"
ANALYZE_WORKER = "xrep_assets.workers.analyze"
PRETRAIN_WORKER = "xrep_assets.workers.pretrain"
SCORE_WORKER = "xrep_assets.workers.score"
TOKENIZE_WORKER = "xrep_assets.workers.tokenize"

HF_TOKEN_ENV_VAR = "HF_TOKEN"  # the variable `HubSource.token_env_var` reads by default
GPU_RESOURCE = "nvidia.com/gpu"
# GPU nodes are tainted so that only pods asking for GPUs land there (the NVIDIA device plugin's
# convention); `Exists` tolerates whatever value the cluster gives the taint.
GPU_TOLERATIONS = ({"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"},)
WORKER_UID = 1000
CONTAINER_NAME = "worker"
IMAGE_PYTHON = "python"  # the worker image's interpreter, on its PATH


@dataclass(frozen=True)
class StepResources:
    """What one pod of a step asks for. `cpu`, `memory` and `shm_size` are Kubernetes quantities;
    `shm_size` is a RAM-backed /dev/shm (NCCL and DataLoader workers share tensors through it),
    and it counts against `memory`."""

    gpus: int
    cpu: str
    memory: str
    shm_size: str

    def __post_init__(self):
        if self.gpus < 0:
            raise XrepError(f"a step cannot ask for {self.gpus} GPUs")

    @property
    def processes(self) -> int:
        """One worker process per GPU (torchrun DDP); one process on CPU."""
        return max(1, self.gpus)


# The heavy steps, keyed by the worker module the launcher runs. `paper` sizes a pod to the study's
# models (BERT/BART-base sizes, a 100k vocabulary, all 15 pairs); `tiny` runs the same pods on CPU,
# so a cluster without GPUs can smoke-test the deployment.
STEP_RESOURCES: dict[str, dict[str, StepResources]] = {
    "paper": {
        # The allocation: ~60 B per input row at its peak (benchmarks/scale.py), ~21 GiB extrapolated
        # to one corpus of 375M rows; both corpora's peaks summed (an upper bound: the worker keeps
        # only a decided corpus's decisions) and half again for real corpora (more units, longer texts).
        ALLOCATE_WORKER: StepResources(gpus=0, cpu="8", memory="64Gi", shm_size="1Gi"),
        # One checkpoint's analyses: the encoder on one GPU; the vectors of every layer of 7 x 1,000
        # PUD sentences and 5 x 1,000 held-out pairs (XLM-R large: 25 x 17,000 x 1,024 floats, 1.7 GB).
        ANALYZE_WORKER: StepResources(gpus=1, cpu="8", memory="32Gi", shm_size="1Gi"),
        # One 8-GPU node per training run: DDP inside the pod, no cross-node rendezvous to set up.
        PRETRAIN_WORKER: StepResources(gpus=8, cpu="48", memory="384Gi", shm_size="64Gi"),
        # Probing and fine-tuning one checkpoint on one task fit on one GPU.
        SCORE_WORKER: StepResources(gpus=1, cpu="8", memory="64Gi", shm_size="8Gi"),
        # sentencepiece over the six languages' sample, capped at 10M lines: CPU-bound; ~27 GiB
        # extrapolated from 0.2M-0.8M-line samples (benchmarks/scale.py), twice that for the margin.
        TOKENIZE_WORKER: StepResources(gpus=0, cpu="32", memory="64Gi", shm_size="1Gi"),
    },
    "tiny": {
        ALLOCATE_WORKER: StepResources(gpus=0, cpu="2", memory="2Gi", shm_size="256Mi"),
        ANALYZE_WORKER: StepResources(gpus=0, cpu="2", memory="4Gi", shm_size="256Mi"),
        PRETRAIN_WORKER: StepResources(gpus=0, cpu="2", memory="4Gi", shm_size="1Gi"),
        SCORE_WORKER: StepResources(gpus=0, cpu="2", memory="4Gi", shm_size="1Gi"),
        TOKENIZE_WORKER: StepResources(gpus=0, cpu="2", memory="2Gi", shm_size="256Mi"),
    },
}


def step_resources(module: str, profile: str) -> StepResources:
    if profile not in STEP_RESOURCES:
        raise XrepError(f"no pod settings for profile {profile!r}; choose one of {sorted(STEP_RESOURCES)}")
    steps = STEP_RESOURCES[profile]
    if module not in steps:
        raise XrepError(f"{module!r} is not a heavy step with pod settings; known steps: {sorted(steps)}")
    return steps[module]


def step_name(module: str) -> str:
    """`xrep_assets.workers.pretrain` -> `pretrain`: the pod's step label."""
    return module.rsplit(".", 1)[-1]


@dataclass(frozen=True)
class ClusterSettings:
    """What the cluster provides to every worker pod."""

    image: str
    namespace: str = "xrep"
    image_pull_policy: str = "IfNotPresent"
    service_account: str = "xrep-worker"
    node_selector: Mapping[str, str] = field(default_factory=dict)
    # A ReadWriteMany claim: the Dagster run and every worker pod see the same artifact store.
    artifacts_claim: str = "xrep-artifacts"
    artifacts_mount_path: str = "/artifacts"
    hf_token_secret: str = "xrep-hf-token"
    hf_token_key: str = "token"


def spec_in_volume(spec: PurePath | str, mount_path: str) -> PurePosixPath:
    """The spec's path, checked to lie on the shared volume: the pod sees only that volume, at the
    same path as the Dagster run that wrote the spec."""
    path = PurePosixPath(posixpath.normpath(str(spec)))  # `..` must not climb out of the volume
    mount = PurePosixPath(posixpath.normpath(mount_path))
    if not path.is_absolute() or not path.is_relative_to(mount):
        raise XrepError(
            f"the worker spec {spec} is not on the shared artifact volume mounted at {mount}: a pod could not "
            f"read it (set the artifact store's root to {mount} in the Dagster run, on the same claim)"
        )
    return path


def worker_pod_command(module: str, spec: PurePath | str, resources: StepResources) -> list[str]:
    """The worker's command inside the image: under torchrun with one process per GPU when there are several."""
    return worker_command(module, spec, resources.processes, python=IMAGE_PYTHON)


def worker_pod_labels(module: str, run_id: str) -> dict[str, str]:
    """Labels that find a run's worker pods: `kubectl get pods -l dagster/run-id=<run id>`."""
    return {"app.kubernetes.io/name": "xrep-worker", "xrep/step": step_name(module), "dagster/run-id": run_id}


def worker_pod_spec(resources: StepResources, settings: ClusterSettings, command: Sequence[str]) -> dict:
    """The `spec` of the worker's Pod (camelCase, as `kubectl` takes it) for `PipesK8sClient`'s
    `base_pod_spec`."""
    quantities = {"cpu": resources.cpu, "memory": resources.memory}
    if resources.gpus:
        quantities[GPU_RESOURCE] = str(resources.gpus)
    # The worker reads the run's settings, profile included, from its spec; the pod's environment
    # holds only the deployment's: the artifact root (the volume, as `paths` reads it), the allocator's
    # setting and the token.
    env = [
        {"name": ARTIFACTS_DIR_ENV_VAR, "value": settings.artifacts_mount_path},
        *({"name": name, "value": value} for name, value in WORKER_ALLOCATOR_ENV.items()),
        # Optional: public checkpoints download without a token.
        {
            "name": HF_TOKEN_ENV_VAR,
            "valueFrom": {"secretKeyRef": {"name": settings.hf_token_secret, "key": settings.hf_token_key, "optional": True}},
        },
    ]
    container = {
        "name": CONTAINER_NAME,
        "image": settings.image,
        "imagePullPolicy": settings.image_pull_policy,
        "command": list(command),
        "env": env,
        # Requests equal to limits: a training pod is never the first one evicted under memory pressure.
        "resources": {"requests": dict(quantities), "limits": dict(quantities)},
        "volumeMounts": [
            {"name": "artifacts", "mountPath": settings.artifacts_mount_path},
            {"name": "dshm", "mountPath": "/dev/shm"},
        ],
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
    }
    spec: dict = {
        "restartPolicy": "Never",  # a failed attempt is retried by Dagster (RetryPolicy), which resumes it
        "serviceAccountName": settings.service_account,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": WORKER_UID,
            "runAsGroup": WORKER_UID,
            "fsGroup": WORKER_UID,  # the artifact volume is writable by the worker
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": [
            {"name": "artifacts", "persistentVolumeClaim": {"claimName": settings.artifacts_claim}},
            # The container runtime's default /dev/shm is 64 MiB, too small for NCCL between 8 GPUs.
            {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": resources.shm_size}},
        ],
    }
    if settings.node_selector:
        spec["nodeSelector"] = dict(settings.node_selector)
    if resources.gpus:
        spec["tolerations"] = [dict(t) for t in GPU_TOLERATIONS]
    return spec
