"""`K8sWorkerLauncher` through dagster-k8s's real `PipesK8sClient`, against an emulated Kubernetes API
server (kmock) on 127.0.0.1: no cluster needed.

kmock stores the pods the client creates and serves them back; the test plays the node (`Kubelet`):
every poll of the pod list moves the pod one phase on, Pending (ContainerCreating), Running, then
terminated with the exit code the test chose, and the pod's log is lines the test wrote, dagster-pipes
messages included, as a worker would print them. What the client does against it is exactly what it
does against a cluster: create the pod, poll the pod list until the container is ready, stream the
log, poll until it ends, read the log's tail on failure, delete the pod.
"""

import asyncio
import json
import re
from pathlib import Path

import dagster as dg
import kubernetes
import kubernetes_validate
import pytest
from dagster_k8s.client import DagsterK8sError
from dagster_pipes import PIPES_PROTOCOL_VERSION, PIPES_PROTOCOL_VERSION_FIELD, decode_env_var

from xrep_assets.errors import XrepError
from xrep_assets.execution.k8s import K8sWorkerLauncher
from xrep_assets.execution.launchers import WorkerLauncher
from xrep_assets.execution.pods import SCORE_WORKER
from xrep_assets.resources import ArtifactStore, StudySettings, default_study_settings, study_resource_config
from xrep_assets.tokenizers.assets import joint_tokenizer

NAMESPACE = "xrep-test"
IMAGE = "registry.example.org/xrep-worker:1.0"
SPEC = Path("/artifacts/scores/.work/mlm/xnli/spec.json")
STARTED = "2025-01-01T00:00:00Z"


def pipes_line(method: str, params: dict | None) -> str:
    """One dagster-pipes message as the worker's message writer prints it (one JSON object a line)."""
    return json.dumps({PIPES_PROTOCOL_VERSION_FIELD: PIPES_PROTOCOL_VERSION, "method": method, "params": params})


def pod_status(phase: str, state: dict, ready: bool = False) -> dict:
    container = {"name": "worker", "image": IMAGE, "imageID": "", "ready": ready, "restartCount": 0, "state": state}
    return {"phase": phase, "containerStatuses": [container]}


CREATING = pod_status("Pending", {"waiting": {"reason": "ContainerCreating"}})
RUNNING = pod_status("Running", {"running": {"startedAt": STARTED}}, ready=True)
PULL_FAILED = pod_status("Pending", {"waiting": {"reason": "ErrImagePull", "message": "manifest unknown"}})


def ended(exit_code: int) -> dict:
    reason, phase = ("Completed", "Succeeded") if exit_code == 0 else ("Error", "Failed")
    return pod_status(phase, {"terminated": {"exitCode": exit_code, "reason": reason, "startedAt": STARTED, "finishedAt": STARTED}})


class Kubelet:
    """The node under the emulated API server: each poll of the pod list moves every pod one status
    on along `statuses` (the last one stays), and the pod's log is what `worker(pod)` prints, with the
    timestamps `kubectl logs --timestamps` adds."""

    def __init__(self, kmock, worker, *statuses: dict):
        self.kmock = kmock
        self.worker = worker
        self.statuses = statuses
        self.polls: dict[str, int] = {}

    def list_pods(self, request) -> dict:
        items = []
        for (resource, namespace, name), pod in self.kmock.objects.items():
            if resource.plural != "pods" or namespace != request.namespace or pod.deleted:
                continue
            step = self.polls[name] = self.polls.get(name, -1) + 1
            pod.patch({"status": self.statuses[min(step, len(self.statuses) - 1)]})
            items.append(pod.raw)
        return {"apiVersion": "v1", "kind": "PodList", "metadata": {"resourceVersion": "1"}, "items": items}

    def pod_log(self, request) -> bytes:
        pod = self.kmock.objects["v1/pods", request.namespace, request.name].last.raw
        return "".join(f"2025-01-01T00:00:{i:02d}.000000Z {line}\n" for i, line in enumerate(self.worker(pod))).encode()


def scoring_worker(pod: dict) -> list[str]:
    """What the score worker prints when it succeeds: its dagster-pipes messages, addressed to the
    asset named in the context the pod was given (as `open_dagster_pipes` reads it)."""
    env = {e["name"]: e.get("value") for e in pod["spec"]["containers"][0]["env"]}
    [asset_key] = decode_env_var(env["DAGSTER_PIPES_CONTEXT"])["data"]["asset_keys"]
    return [
        "loading checkpoint mlm",
        pipes_line("opened", {"extras": {}}),
        pipes_line("log", {"message": "xnli: probe trained, en dev 0.41", "level": "INFO"}),
        pipes_line("report_asset_materialization", {"asset_key": asset_key, "data_version": None,
                                                    "metadata": {"xnli_accuracy": {"raw_value": 0.41, "type": "float"}}}),
        pipes_line("closed", {}),
    ]


def crashing_worker(pod: dict) -> list[str]:
    return ["loading checkpoint mlm", "Traceback (most recent call last):", "torch.OutOfMemoryError: CUDA out of memory"]


def serve(kmock, kubelet: Kubelet) -> None:
    kmock.resources["v1/events"] = {"namespaced": True, "kind": "Event"}  # no events: listed empty (failure diagnostics)
    kmock[kmock.action.LIST, kmock.resource("v1/pods")] << kubelet.list_pods
    kmock["get", kmock.resource("v1/pods"), kmock.subresource("log")] << kubelet.pod_log


@pytest.fixture
def kubeconfig(kmock, tmp_path):
    """A kubeconfig pointing at the emulator; the client's global default configuration is put back after."""
    server = str(kmock.url).rstrip("/")
    path = tmp_path / "kubeconfig"
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "kmock", "cluster": {"server": server}}],
                "users": [{"name": "test", "user": {"token": "not-a-secret"}}],
                "contexts": [{"name": "kmock", "context": {"cluster": "kmock", "user": "test", "namespace": NAMESPACE}}],
                "current-context": "kmock",
            }
        )
    )
    before = kubernetes.client.Configuration.get_default_copy()
    yield str(path)
    kubernetes.client.Configuration.set_default(before)


def launcher(kubeconfig: str, artifacts_mount_path: str = "/artifacts") -> K8sWorkerLauncher:
    return K8sWorkerLauncher(
        image=IMAGE, namespace=NAMESPACE, kubeconfig_file=kubeconfig, poll_interval=0.05, pod_wait_timeout=30,
        artifacts_mount_path=artifacts_mount_path,
    )


@dg.asset
def xnli_scores(context: dg.AssetExecutionContext, study: StudySettings, launcher: WorkerLauncher) -> dg.MaterializeResult:
    """Stands in for `task_scores`: one heavy step through the launcher, for the run's profile."""
    return launcher.launch(context, SCORE_WORKER, SPEC, study.resolved())


async def in_thread(assets: list, resources: dict, **kwargs) -> dg.ExecuteInProcessResult:
    # The client blocks on HTTP while kmock serves from this event loop: run Dagster in a thread. A
    # launch that hung would fail here after 60 s instead of blocking the suite.
    return await asyncio.wait_for(asyncio.to_thread(dg.materialize, assets, resources=resources, **kwargs), timeout=60)


async def materialize(resource: K8sWorkerLauncher, raise_on_error: bool = True) -> dg.ExecuteInProcessResult:
    resources = {"launcher": resource, "study": StudySettings(profile="paper")}
    return await in_thread([xnli_scores], resources, raise_on_error=raise_on_error)


def only_pod(kmock) -> tuple[tuple, object]:
    """The one pod the emulator holds: its (resource, namespace, name) key and its stored history."""
    [(key, pod)] = [(key, pod) for key, pod in kmock.objects.items() if key[0].plural == "pods"]
    return key, pod


@pytest.mark.asyncio
async def test_the_pod_is_submitted_as_declared_and_its_report_reaches_the_run(kmock, kubeconfig):
    kubelet = Kubelet(kmock, scoring_worker, CREATING, RUNNING, ended(0))
    serve(kmock, kubelet)

    result = await materialize(launcher(kubeconfig))

    assert result.success
    [materialization] = result.asset_materializations_for_node("xnli_scores")
    assert materialization.metadata["xnli_accuracy"].value == 0.41  # came back through the pod's log

    [post] = list(kmock[f"post /api/v1/namespaces/{NAMESPACE}/pods"])
    pod = post.data
    [container] = pod["spec"]["containers"]
    assert container["image"] == IMAGE
    assert container["command"] == ["python", "-m", "xrep_assets.workers.score", str(SPEC)]
    assert container["resources"]["limits"] == {"cpu": "8", "memory": "64Gi", "nvidia.com/gpu": "1"}
    assert container["resources"]["requests"] == container["resources"]["limits"]
    env = {e["name"]: e for e in container["env"]}
    assert env["HF_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": "xrep-hf-token", "key": "token", "optional": True}
    assert "XREP_PROFILE" not in env  # the worker reads the run's settings from its spec
    assert env["XREP_ARTIFACTS_DIR"]["value"] == "/artifacts"
    assert {"DAGSTER_PIPES_CONTEXT", "DAGSTER_PIPES_MESSAGES"} <= set(env)  # how the worker finds the run
    assert {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "8Gi"}} in pod["spec"]["volumes"]
    assert {"name": "artifacts", "persistentVolumeClaim": {"claimName": "xrep-artifacts"}} in pod["spec"]["volumes"]
    assert pod["spec"]["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert pod["spec"]["restartPolicy"] == "Never"
    labels = pod["metadata"]["labels"]
    assert labels["app.kubernetes.io/name"] == "xrep-worker"
    assert labels["xrep/step"] == "score"
    assert labels["dagster/run-id"] == result.run_id
    assert pod["metadata"]["annotations"] == {"xrep/spec": str(SPEC)}
    # What dagster-k8s sent, its own additions included, is a valid Pod of the Kubernetes API.
    assert kubernetes_validate.validate({"apiVersion": "v1", "kind": "Pod", **pod}, "1.33", strict=True) == "1.33"

    (_, namespace, name), stored = only_pod(kmock)
    assert namespace == NAMESPACE and name == pod["metadata"]["name"]
    assert stored.deleted  # the client cleaned up after the pod ended
    assert kubelet.polls[name] >= 2  # it polled through Pending and Running until the pod ended
    assert kmock.errors == []


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "statuses, expected",
    [
        ((CREATING, RUNNING, ended(1)), r'(?s)exited with errors.*Container "worker" failed.*torch.OutOfMemoryError: CUDA out of memory'),
        ((CREATING, PULL_FAILED), r'Reason="ErrImagePull" Message="manifest unknown"'),
    ],
    ids=["exit-code-1", "image-pull"],
)
async def test_a_failed_pod_fails_the_step_and_is_deleted(kmock, kubeconfig, statuses, expected):
    serve(kmock, Kubelet(kmock, crashing_worker, *statuses))

    result = await materialize(launcher(kubeconfig), raise_on_error=False)

    assert not result.success
    [failure] = result.get_step_failure_events()
    assert failure.step_key == "xnli_scores"
    error = failure.step_failure_data.error
    assert error.cause.cls_name == DagsterK8sError.__name__
    assert re.search(expected, error.cause.message)

    _, stored = only_pod(kmock)
    assert stored.deleted
    assert kmock.errors == []


@pytest.mark.asyncio
async def test_a_spec_off_the_shared_volume_is_refused_before_any_pod(kmock, kubeconfig):
    @dg.asset
    def stray(context: dg.AssetExecutionContext, study: StudySettings, launcher: WorkerLauncher) -> dg.MaterializeResult:
        return launcher.launch(context, SCORE_WORKER, Path("/tmp/spec.json"), study.resolved())

    with pytest.raises(XrepError, match="/tmp/spec.json is not on the shared artifact volume mounted at /artifacts"):
        await in_thread([stray], {"launcher": launcher(kubeconfig), "study": StudySettings(profile="paper")})
    assert len(kmock) == 0  # no request reached the API server


# The tokenizer's pod and spec under each profile, from pods.STEP_RESOURCES and profiles.PROFILES.
TOKENIZER_POD = {
    "paper": ({"cpu": "32", "memory": "64Gi"}, "1Gi", 100_000),
    "tiny": ({"cpu": "2", "memory": "2Gi"}, "256Mi", 2000),
}


@pytest.mark.asyncio
@pytest.mark.parametrize("environment, configured", [("tiny", "paper"), ("paper", "tiny")])
async def test_the_pod_follows_the_runs_profile_not_the_environments(kmock, kubeconfig, tmp_path, monkeypatch, environment, configured):
    """The real `joint_tokenizer` asset in a code location whose `study` resource defaults to
    XREP_PROFILE, in a run configured with the other profile (the UI's launchpad, `xrep study
    --profile`): its spec and its pod are both the configured profile's."""
    serve(kmock, Kubelet(kmock, scoring_worker, CREATING, RUNNING, ended(0)))  # any worker's report will do
    for name in ("XREP_OPUS_MIRROR", "XREP_XGLUE_DIR", "XREP_XGLUE_DATASET", "XREP_UD_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XREP_PROFILE", environment)
    artifacts = tmp_path / "artifacts"  # stands in for the shared volume
    resources = {
        "study": default_study_settings(),  # as the code location builds it
        "artifacts": ArtifactStore(root=str(artifacts)),
        "launcher": launcher(kubeconfig, artifacts_mount_path=str(artifacts)),
    }
    assert resources["study"].profile == environment
    run_config = {"resources": {"study": study_resource_config(StudySettings(profile=configured))}}

    result = await in_thread([joint_tokenizer], resources, run_config=run_config)

    assert result.success
    [post] = list(kmock[f"post /api/v1/namespaces/{NAMESPACE}/pods"])
    pod = post.data
    [container] = pod["spec"]["containers"]
    limits, shm, vocab_size = TOKENIZER_POD[configured]
    assert container["resources"]["limits"] == container["resources"]["requests"] == limits
    assert {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": shm}} in pod["spec"]["volumes"]
    assert "XREP_PROFILE" not in {e["name"] for e in container["env"]}
    # The spec the pod runs is the same run's: the configured profile's vocabulary.
    spec = json.loads(Path(pod["metadata"]["annotations"]["xrep/spec"]).read_text(encoding="utf-8"))
    assert spec["vocab_size"] == vocab_size
    assert container["command"][-1] == pod["metadata"]["annotations"]["xrep/spec"]
