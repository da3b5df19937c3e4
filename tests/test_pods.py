"""Worker pods of the heavy steps: the Pod bodies of the `paper` profile, checked value by value and
against the Kubernetes 1.33 schema (strict: unknown fields are errors), and `launcher_from_env`."""

from __future__ import annotations

import copy

import kubernetes_validate
import pytest

from xrep_assets.errors import XrepError
from xrep_assets.execution.launcher_env import launcher_from_env
from xrep_assets.execution.launchers import LauncherError, LocalWorkerLauncher
from xrep_assets.execution.pods import (
    PRETRAIN_WORKER,
    SCORE_WORKER,
    STEP_RESOURCES,
    TOKENIZE_WORKER,
    ClusterSettings,
    StepResources,
    spec_in_volume,
    step_resources,
    worker_pod_command,
    worker_pod_labels,
    worker_pod_spec,
)
from xrep_assets.profiles import PROFILES

IMAGE = "registry.example.org/xrep-worker:1.0"
SETTINGS = ClusterSettings(image=IMAGE, namespace="xrep", node_selector={"pool": "ml"})
SPEC = "/artifacts/checkpoints/.work/mlm/abc123/spec.json"
KUBERNETES_VERSION = "1.33"


def paper_pod(module: str) -> dict:
    """The full Pod of a heavy step, as `kubectl apply` would take it."""
    resources = step_resources(module, "paper")
    spec = worker_pod_spec(resources, SETTINGS, worker_pod_command(module, SPEC, resources))
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "xrep-worker", "labels": worker_pod_labels(module, "0f3c2a")}, "spec": spec}


def env_of(container: dict) -> dict[str, dict]:
    return {entry["name"]: entry for entry in container["env"]}


@pytest.mark.parametrize("module", [PRETRAIN_WORKER, SCORE_WORKER, TOKENIZE_WORKER])
def test_every_heavy_step_has_a_valid_pod(module):
    assert kubernetes_validate.validate(paper_pod(module), KUBERNETES_VERSION, strict=True) == KUBERNETES_VERSION


def test_a_misspelled_or_mistyped_field_fails_validation():
    """The schema check above is not vacuous: it rejects what the API server would."""
    misspelled = paper_pod(SCORE_WORKER)
    misspelled["spec"]["containers"][0]["volumeMount"] = misspelled["spec"]["containers"][0].pop("volumeMounts")
    with pytest.raises(kubernetes_validate.ValidationError, match="'volumeMount' was unexpected"):
        kubernetes_validate.validate(misspelled, KUBERNETES_VERSION, strict=True)
    mistyped = copy.deepcopy(paper_pod(SCORE_WORKER))
    mistyped["spec"]["securityContext"]["runAsUser"] = "1000"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(mistyped, KUBERNETES_VERSION, strict=True)


def test_gpu_limits_follow_the_step():
    limits = {module: paper_pod(module)["spec"]["containers"][0]["resources"] for module in (PRETRAIN_WORKER, SCORE_WORKER, TOKENIZE_WORKER)}
    assert limits[PRETRAIN_WORKER]["limits"]["nvidia.com/gpu"] == "8"
    assert limits[SCORE_WORKER]["limits"]["nvidia.com/gpu"] == "1"
    assert "nvidia.com/gpu" not in limits[TOKENIZE_WORKER]["limits"]
    assert "nvidia.com/gpu" not in limits[TOKENIZE_WORKER]["requests"]
    # Requests equal limits (Guaranteed QoS), GPUs included: the API server rejects them unequal.
    assert all(r["requests"] == r["limits"] for r in limits.values())
    assert limits[TOKENIZE_WORKER]["limits"] == {"cpu": "32", "memory": "64Gi"}


def test_only_gpu_steps_tolerate_the_gpu_taint():
    toleration = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    assert paper_pod(PRETRAIN_WORKER)["spec"]["tolerations"] == [toleration]
    assert paper_pod(SCORE_WORKER)["spec"]["tolerations"] == [toleration]
    assert "tolerations" not in paper_pod(TOKENIZE_WORKER)["spec"]
    assert all(paper_pod(m)["spec"]["nodeSelector"] == {"pool": "ml"} for m in (PRETRAIN_WORKER, TOKENIZE_WORKER))


def test_multi_gpu_steps_run_under_torchrun_and_single_gpu_steps_plainly():
    [pretrain] = paper_pod(PRETRAIN_WORKER)["spec"]["containers"]
    assert pretrain["command"] == [
        "python", "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=8", "-m", "xrep_assets.workers.pretrain", SPEC
    ]
    [score] = paper_pod(SCORE_WORKER)["spec"]["containers"]
    assert score["command"] == ["python", "-m", "xrep_assets.workers.score", SPEC]
    [tokenize] = paper_pod(TOKENIZE_WORKER)["spec"]["containers"]
    assert tokenize["command"] == ["python", "-m", "xrep_assets.workers.tokenize", SPEC]
    assert score["image"] == IMAGE and score["imagePullPolicy"] == "IfNotPresent"


@pytest.mark.parametrize("module", [PRETRAIN_WORKER, SCORE_WORKER, TOKENIZE_WORKER])
def test_env_volumes_and_security(module):
    pod = paper_pod(module)
    spec = pod["spec"]
    [container] = spec["containers"]
    env = env_of(container)
    assert env["HF_TOKEN"] == {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "xrep-hf-token", "key": "token", "optional": True}}}
    assert env["XREP_ARTIFACTS_DIR"]["value"] == "/artifacts"
    assert "XREP_PROFILE" not in env  # the worker reads the run's settings from its spec
    shm = STEP_RESOURCES["paper"][module].shm_size
    assert spec["volumes"] == [
        {"name": "artifacts", "persistentVolumeClaim": {"claimName": "xrep-artifacts"}},
        {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": shm}},
    ]
    assert container["volumeMounts"] == [{"name": "artifacts", "mountPath": "/artifacts"}, {"name": "dshm", "mountPath": "/dev/shm"}]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] == 1000
    assert spec["securityContext"]["fsGroup"] == 1000
    assert container["securityContext"] == {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    assert spec["restartPolicy"] == "Never"
    assert spec["serviceAccountName"] == "xrep-worker"
    assert pod["metadata"]["labels"]["xrep/step"] == module.rsplit(".", 1)[1]


def test_shm_sizes_and_the_paper_gpu_counts():
    paper = STEP_RESOURCES["paper"]
    assert (paper[PRETRAIN_WORKER].gpus, paper[PRETRAIN_WORKER].processes) == (8, 8)
    assert (paper[SCORE_WORKER].gpus, paper[SCORE_WORKER].processes) == (1, 1)
    assert (paper[TOKENIZE_WORKER].gpus, paper[TOKENIZE_WORKER].processes) == (0, 1)
    assert paper[PRETRAIN_WORKER].shm_size == "64Gi"
    # The tiny profile's pods never ask for a GPU: a CPU-only cluster can run the whole study.
    assert all(r.gpus == 0 for r in STEP_RESOURCES["tiny"].values())


def test_unknown_steps_profiles_and_gpu_counts_are_errors():
    with pytest.raises(XrepError, match=r"'xrep_assets.workers.nothing' is not a heavy step.*xrep_assets.workers.pretrain"):
        step_resources("xrep_assets.workers.nothing", "paper")
    with pytest.raises(XrepError, match=r"profile 'huge'.*\['paper', 'tiny'\]"):
        step_resources(PRETRAIN_WORKER, "huge")
    with pytest.raises(XrepError, match="-1 GPUs"):
        StepResources(gpus=-1, cpu="1", memory="1Gi", shm_size="64Mi")


def test_the_spec_must_be_on_the_artifact_volume():
    assert str(spec_in_volume("/artifacts/scores/spec.json", "/artifacts")) == "/artifacts/scores/spec.json"
    assert str(spec_in_volume("/artifacts/", "/artifacts/")) == "/artifacts"
    for outside in ("/tmp/spec.json", "/artifacts-old/spec.json", "/artifacts/../etc/spec.json", "artifacts/spec.json"):
        with pytest.raises(XrepError, match="not on the shared artifact volume mounted at /artifacts"):
            spec_in_volume(outside, "/artifacts")


# --------------------------------------------------------------------------------------------------
# launcher_from_env


def test_the_local_launcher_is_the_default():
    assert isinstance(launcher_from_env({}), LocalWorkerLauncher)
    assert isinstance(launcher_from_env({"XREP_LAUNCHER": "local", "XREP_WORKER_IMAGE": IMAGE}), LocalWorkerLauncher)


def test_the_k8s_launcher_takes_image_and_namespace_from_the_environment_but_no_profile():
    from xrep_assets.execution.k8s import K8sWorkerLauncher

    launcher = launcher_from_env({"XREP_LAUNCHER": "k8s", "XREP_WORKER_IMAGE": IMAGE, "XREP_PROFILE": "tiny"})
    assert isinstance(launcher, K8sWorkerLauncher)
    assert (launcher.image, launcher.namespace) == (IMAGE, "xrep")
    # The pods are sized by the profile each run passes (its `study` resource's), never by the environment.
    assert "profile" not in K8sWorkerLauncher.model_fields
    assert launcher.worker_processes(PRETRAIN_WORKER, PROFILES["paper"]) == 8
    assert launcher.worker_processes(PRETRAIN_WORKER, PROFILES["tiny"]) == 1
    # Empty values (a Helm value left blank) are unset.
    other = launcher_from_env({"XREP_LAUNCHER": "k8s", "XREP_WORKER_IMAGE": IMAGE, "XREP_K8S_NAMESPACE": "study"})
    assert other.namespace == "study"
    assert launcher_from_env({"XREP_LAUNCHER": "k8s", "XREP_WORKER_IMAGE": IMAGE, "XREP_K8S_NAMESPACE": ""}).namespace == "xrep"
    assert isinstance(launcher_from_env({"XREP_LAUNCHER": ""}), LocalWorkerLauncher)


def test_the_local_launcher_runs_its_configured_processes_whatever_the_profile():
    assert LocalWorkerLauncher(processes=2).worker_processes(PRETRAIN_WORKER, PROFILES["paper"]) == 2
    assert LocalWorkerLauncher().worker_processes(PRETRAIN_WORKER, PROFILES["paper"]) == 1


def test_the_k8s_launcher_without_an_image_is_an_error():
    with pytest.raises(LauncherError, match="XREP_LAUNCHER=k8s needs the worker image in XREP_WORKER_IMAGE"):
        launcher_from_env({"XREP_LAUNCHER": "k8s"})


def test_an_unknown_launcher_is_an_error():
    with pytest.raises(LauncherError, match=r"XREP_LAUNCHER='slurm' is not a launcher; choose one of local, k8s"):
        launcher_from_env({"XREP_LAUNCHER": "slurm"})
