"""The deployment in k8s/, checked offline.

Every manifest is validated as a Kubernetes object (kubernetes-validate's bundled schemas, strict: an
unknown or misspelt field is an error), and the Helm values are checked against the manifests and
against the code: names (claim, secret, service accounts, namespace), the env variables the code
reads, the module the code server loads, the tags the run coordinator limits, the pins the images
install. A rename in one place fails here.
"""

from __future__ import annotations

import copy
import re
import tomllib

import dagster as dg
import kubernetes_validate
import pytest
import yaml

from xrep_assets.checkpoints.resources import HubSource
from xrep_assets.corpora.partitions import corpus_pair_partitions
from xrep_assets.evaluation.partitions import score_partitions
from xrep_assets.environment import K8S_NAMESPACE_ENV_VAR, LAUNCHER_ENV_VAR, PROFILE_ENV_VAR, WORKER_IMAGE_ENV_VAR
from xrep_assets.execution.k8s import K8sWorkerLauncher
from xrep_assets.execution.launcher_env import launcher_from_env
from xrep_assets.execution.pods import PRETRAIN_WORKER, WORKER_UID, step_resources, worker_pod_command, worker_pod_spec
from xrep_assets.paths import REPO_ROOT, dagster_yaml, default_artifacts_dir, default_warehouse_path
from xrep_assets.profiles import PROFILES
from xrep_assets.resources import default_study_settings
from xrep_assets.warehouse.assets import WAREHOUSE_POOL

# The oldest Kubernetes minor the deployment targets; kubernetes-validate picks that version's schemas.
K8S_VERSION = "1.33"
K8S_DIR = REPO_ROOT / "k8s"
VALUES_FILE = K8S_DIR / "values.yaml"  # Helm values, not a Kubernetes object
MANIFEST_FILES = sorted(p for p in K8S_DIR.glob("*.yaml") if p != VALUES_FILE)
# The storage estimate of k8s/README.md ("Storage"): the claim must hold at least that much.
ESTIMATED_ARTIFACT_BYTES = 420e9

# Keys of the dagster chart's values (1.13), transcribed from its schema (helm/dagster/schema in
# dagster-io/dagster). Helm ignores a misspelt key silently; these sets turn it into a failure.
CHART_TOP_LEVEL = {
    "global", "serviceAccount", "postgresql", "generatePostgresqlPasswordSecret", "generateCeleryConfigSecret",
    "dagster-user-deployments", "dagsterWebserver", "runLauncher", "dagsterDaemon", "concurrency", "telemetry",
    "computeLogManager", "scheduler", "pythonLogs", "busybox", "migrate", "rabbitmq", "redis", "flower",
    "ingress", "imagePullSecrets", "retention", "additionalInstanceConfig", "rbacEnabled",
}
CHART_GLOBAL = {"postgresqlSecretName", "dagsterHome", "serviceAccountName", "celeryConfigSecretName", "dagsterInstanceConfigMap"}
CHART_POSTGRESQL = {"image", "enabled", "postgresqlHost", "postgresqlUsername", "postgresqlPassword", "postgresqlDatabase",
                    "postgresqlParams", "postgresqlScheme", "service"}
CHART_USER_DEPLOYMENTS = {"enabled", "enableSubchart", "imagePullSecrets", "deployments"}
CHART_DEPLOYMENT = {
    "name", "image", "dagsterApiGrpcArgs", "codeServerArgs", "includeConfigInLaunchedRuns", "deploymentNamespace", "port",
    "replicaCount", "env", "envConfigMaps", "envSecrets", "annotations", "nodeSelector", "affinity", "tolerations",
    "podSecurityContext", "securityContext", "resources", "livenessProbe", "readinessProbe", "startupProbe", "labels",
    "volumeMounts", "volumes", "schedulerName", "initContainers", "sidecarContainers", "deploymentStrategy",
}
CHART_K8S_RUN_LAUNCHER = {
    "image", "imagePullPolicy", "jobNamespace", "loadInclusterConfig", "kubeconfigFile", "envConfigMaps", "envSecrets",
    "envVars", "volumeMounts", "volumes", "labels", "failPodOnRunFailure", "resources", "schedulerName",
    "securityContext", "runK8sConfig",
}
CHART_RUN_K8S_CONFIG = {"containerConfig", "podSpecConfig", "podTemplateSpecMetadata", "jobSpecConfig", "jobMetadata"}
CHART_QUEUED_RUN_COORDINATOR = {"maxConcurrentRuns", "tagConcurrencyLimits", "dequeueIntervalSeconds", "dequeueNumWorkers",
                                "dequeueUseThreads", "blockOpConcurrencyLimitedRuns"}
CHART_RUN_RETRIES = {"enabled", "maxRetries", "retryOnAssetOrOpFailure"}
CHART_RUN_MONITORING = {"enabled", "startTimeoutSeconds", "pollIntervalSeconds", "maxResumeRunAttempts",
                        "freeSlotsAfterRunEndSeconds"}
CHART_CONCURRENCY = {"enabled", "pools", "runs"}
CHART_CONCURRENCY_POOLS = {"defaultLimit", "granularity", "opGranularityRunBuffer"}


def load_documents(path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc is not None]


MANIFESTS = [(path.name, doc) for path in MANIFEST_FILES for doc in load_documents(path)]


def manifest(kind: str, name: str) -> dict:
    found = [doc for _, doc in MANIFESTS if doc["kind"] == kind and doc["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name!r} in k8s/*.yaml, found {len(found)}"
    return found[0]


def namespace() -> str:
    (ns,) = [doc["metadata"]["name"] for _, doc in MANIFESTS if doc["kind"] == "Namespace"]
    return ns


@pytest.fixture(scope="module")
def values() -> dict:
    return yaml.safe_load(VALUES_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def deployment(values) -> dict:
    (only,) = values["dagster-user-deployments"]["deployments"]
    return only


@pytest.fixture(scope="module")
def run_launcher(values) -> dict:
    return values["runLauncher"]["config"]["k8sRunLauncher"]


def env_values(env: list[dict]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in env if "value" in e}


def validate_as_pod(name: str, spec: dict, metadata: dict | None = None) -> None:
    """Objects embedded in the values (env, volumes, security contexts...) checked in a minimal Pod."""
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace(), **(metadata or {})}, "spec": spec}
    kubernetes_validate.validate(pod, K8S_VERSION, strict=True)


def bytes_of(quantity: str) -> float:
    number, unit = re.fullmatch(r"(\d+(?:\.\d+)?)([KMGTP]i?)?", quantity).groups()
    powers = {"K": 1, "M": 2, "G": 3, "T": 4, "P": 5}
    if not unit:
        return float(number)
    return float(number) * (1024 if unit.endswith("i") else 1000) ** powers[unit[0]]


def pyproject() -> dict:
    return tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def pinned(requirement: str) -> str:
    """The exact version pyproject.toml pins for `requirement`."""
    for dep in pyproject()["project"]["dependencies"]:
        match = re.fullmatch(rf"{re.escape(requirement)}==([^\s;]+)", dep.split("#")[0].strip())
        if match:
            return match.group(1)
    raise AssertionError(f"{requirement} is not pinned with == in pyproject.toml")


# --------------------------------------------------------------------------------------------------
# The manifests as Kubernetes objects


def test_the_folder_holds_the_deployment_manifests():
    assert {p.name for p in MANIFEST_FILES} >= {"namespace.yaml", "secret.yaml", "storage.yaml", "rbac.yaml", "postgres.yaml"}
    assert len(MANIFESTS) >= 10


@pytest.mark.parametrize(("file", "doc"), MANIFESTS, ids=[f"{f}:{d['kind']}/{d['metadata']['name']}" for f, d in MANIFESTS])
def test_manifest_is_a_valid_kubernetes_object(file, doc):
    assert kubernetes_validate.validate(doc, K8S_VERSION, strict=True) == K8S_VERSION


def test_strict_validation_rejects_misspelt_and_mistyped_fields():
    claim = copy.deepcopy(manifest("PersistentVolumeClaim", "xrep-artifacts"))
    claim["spec"]["accesModes"] = claim["spec"].pop("accessModes")
    with pytest.raises(kubernetes_validate.ValidationError, match="accesModes"):
        kubernetes_validate.validate(claim, K8S_VERSION, strict=True)
    role = copy.deepcopy(manifest("Role", "xrep-dagster"))
    role["rules"][0]["verbs"] = "create"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(role, K8S_VERSION, strict=True)


def test_every_object_lives_in_the_one_namespace(deployment):
    ns = namespace()
    for file, doc in MANIFESTS:
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == ns, f"{file}: {doc['kind']}/{doc['metadata']['name']}"
    assert env_values(deployment["env"])[K8S_NAMESPACE_ENV_VAR] == ns
    for subject in manifest("RoleBinding", "xrep-dagster")["subjects"]:
        assert subject["namespace"] == ns


def test_artifact_claim_is_shared_and_large_enough():
    claim = manifest("PersistentVolumeClaim", K8sWorkerLauncher.model_fields["artifacts_claim"].default)
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]  # run pods and worker pods on many nodes
    assert bytes_of(claim["spec"]["resources"]["requests"]["storage"]) >= ESTIMATED_ARTIFACT_BYTES


def test_run_pods_may_manage_worker_pods_and_worker_pods_get_no_token(values):
    runs_account = values["global"]["serviceAccountName"]
    assert values["serviceAccount"]["create"] is False  # rbac.yaml owns it
    manifest("ServiceAccount", runs_account)
    binding = manifest("RoleBinding", runs_account)
    assert {"kind": "ServiceAccount", "name": runs_account, "namespace": namespace()} in binding["subjects"]
    role = manifest("Role", binding["roleRef"]["name"])

    def allowed(group: str, resource: str, verb: str) -> bool:
        return any(group in r["apiGroups"] and resource in r["resources"] and verb in r["verbs"] for r in role["rules"])

    for verb in ("create", "get", "list", "watch", "delete"):
        assert allowed("", "pods", verb), f"pods/{verb}"  # PipesK8sClient
        assert allowed("batch", "jobs", verb), f"jobs/{verb}"  # K8sRunLauncher
    assert allowed("", "pods/log", "get")  # the dagster-pipes messages travel in the worker's log
    assert not allowed("", "secrets", "get")

    worker_account = manifest("ServiceAccount", "xrep-worker")
    assert worker_account["automountServiceAccountToken"] is False


# --------------------------------------------------------------------------------------------------
# The Helm values against the chart, the manifests and the code


def test_values_use_only_keys_the_chart_knows(values, deployment, run_launcher):
    daemon = values["dagsterDaemon"]
    checks = {
        "top level": (values, CHART_TOP_LEVEL),
        "global": (values["global"], CHART_GLOBAL),
        "postgresql": (values["postgresql"], CHART_POSTGRESQL),
        "dagster-user-deployments": (values["dagster-user-deployments"], CHART_USER_DEPLOYMENTS),
        "deployment": (deployment, CHART_DEPLOYMENT),
        "k8sRunLauncher": (run_launcher, CHART_K8S_RUN_LAUNCHER),
        "runK8sConfig": (run_launcher["runK8sConfig"], CHART_RUN_K8S_CONFIG),
        "queuedRunCoordinator": (daemon["runCoordinator"]["config"]["queuedRunCoordinator"], CHART_QUEUED_RUN_COORDINATOR),
        "runRetries": (daemon["runRetries"], CHART_RUN_RETRIES),
        "runMonitoring": (daemon["runMonitoring"], CHART_RUN_MONITORING),
        "concurrency": (values["concurrency"], CHART_CONCURRENCY),
        "concurrency.pools": (values["concurrency"]["pools"], CHART_CONCURRENCY_POOLS),
    }
    for where, (section, known) in checks.items():
        assert set(section) <= known, f"{where}: unknown keys {sorted(set(section) - known)}"


def test_k8s_run_launcher_runs_the_code_location_module(values, deployment):
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    module = pyproject()["tool"]["dagster"]["module_name"]
    assert module == "xrep_assets.definitions"
    assert deployment["dagsterApiGrpcArgs"] == ["--module-name", module]
    assert values["dagster-user-deployments"]["enabled"] and values["dagster-user-deployments"]["enableSubchart"]
    dockerfile = (K8S_DIR / "Dockerfile.code-location").read_text(encoding="utf-8")
    assert module in dockerfile
    # The chart passes the whole `dagster api grpc ...` command as args: an ENTRYPOINT would prefix it.
    assert not re.search(r"^ENTRYPOINT", dockerfile, re.MULTILINE)


def test_env_selects_the_paper_profile_and_the_pod_launcher(deployment):
    env = env_values(deployment["env"])
    assert env[PROFILE_ENV_VAR] == "paper" and env[PROFILE_ENV_VAR] in PROFILES
    assert env[LAUNCHER_ENV_VAR] == "k8s"
    # The code's own selection, fed the deployment's env: `paper` is the study resource's default
    # (a run's config may name another, and its pods follow), the pod launcher has our image and names.
    study = default_study_settings(environ=env)
    assert study.profile == "paper"
    assert str(study.resolved().xglue_dir) == env["XREP_XGLUE_DIR"]
    launcher = launcher_from_env(env)
    assert isinstance(launcher, K8sWorkerLauncher)
    assert launcher.image == env[WORKER_IMAGE_ENV_VAR]
    assert launcher.namespace == namespace()
    manifest("PersistentVolumeClaim", launcher.artifacts_claim)
    manifest("ServiceAccount", launcher.service_account)
    assert manifest("Secret", launcher.hf_token_secret)["stringData"].keys() >= {launcher.cluster_settings().hf_token_key}


def test_state_root_and_task_data_are_on_the_shared_volume(deployment, monkeypatch):
    (mount,) = deployment["volumeMounts"]
    (volume,) = deployment["volumes"]
    assert mount["name"] == volume["name"]
    assert volume["persistentVolumeClaim"]["claimName"] == "xrep-artifacts"
    manifest("PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"])
    assert mount["mountPath"] == K8sWorkerLauncher.model_fields["artifacts_mount_path"].default
    env = env_values(deployment["env"])
    monkeypatch.setenv("XREP_HOME", env["XREP_HOME"])  # what xrep_assets/paths.py reads
    for path in (default_artifacts_dir(), default_warehouse_path()):
        assert path.is_relative_to(mount["mountPath"]), path
    assert env["XREP_XGLUE_DIR"].startswith(mount["mountPath"] + "/")


def test_hf_token_comes_from_the_secret_key(deployment):
    (token,) = [e for e in deployment["env"] if e["name"] == HubSource.model_fields["token_env_var"].default]
    ref = token["valueFrom"]["secretKeyRef"]
    assert ref["key"] in manifest("Secret", ref["name"])["stringData"]
    assert (ref["name"], ref["key"]) == (K8sWorkerLauncher.model_fields["hf_token_secret"].default, "token")


def test_run_pods_get_the_code_servers_env_volumes_and_security(deployment, run_launcher):
    assert deployment["includeConfigInLaunchedRuns"]["enabled"] is True
    assert run_launcher["volumes"] == deployment["volumes"]
    assert run_launcher["volumeMounts"] == deployment["volumeMounts"]
    assert run_launcher["runK8sConfig"]["containerConfig"]["env"] == deployment["env"]
    assert run_launcher["securityContext"] == deployment["securityContext"]
    assert run_launcher["runK8sConfig"]["podSpecConfig"]["securityContext"] == deployment["podSecurityContext"]
    # Inherited by run pods, a code-server `resources` would replace the run pods' own.
    assert "resources" not in deployment
    assert deployment["podSecurityContext"]["runAsUser"] == WORKER_UID
    assert deployment["podSecurityContext"]["runAsNonRoot"] is True


def test_objects_embedded_in_the_values_are_valid(deployment, run_launcher):
    image = f"{deployment['image']['repository']}:{deployment['image']['tag']}"
    validate_as_pod("code-server", {
        "securityContext": deployment["podSecurityContext"],
        "containers": [{
            "name": "xrep", "image": image, "env": deployment["env"],
            "volumeMounts": deployment["volumeMounts"], "securityContext": deployment["securityContext"],
        }],
        "volumes": deployment["volumes"],
    })
    run = run_launcher["runK8sConfig"]
    validate_as_pod("run", {
        **run["podSpecConfig"],
        "containers": [{
            "name": "dagster", "image": image, **run["containerConfig"], "resources": run_launcher["resources"],
            "volumeMounts": run_launcher["volumeMounts"], "securityContext": run_launcher["securityContext"],
        }],
        "volumes": run_launcher["volumes"],
    }, metadata=run["podTemplateSpecMetadata"])


def test_worker_pod_built_from_these_values_is_valid_and_uses_the_manifests(deployment):
    env = env_values(deployment["env"])
    launcher = launcher_from_env(env)
    resources = step_resources(PRETRAIN_WORKER, default_study_settings(environ=env).profile)
    spec = worker_pod_spec(resources, launcher.cluster_settings(), worker_pod_command(PRETRAIN_WORKER, "/artifacts/spec.json", resources))
    validate_as_pod("worker", spec)
    assert spec["serviceAccountName"] == "xrep-worker"
    claims = [v["persistentVolumeClaim"]["claimName"] for v in spec["volumes"] if "persistentVolumeClaim" in v]
    assert claims == [deployment["volumes"][0]["persistentVolumeClaim"]["claimName"]]


def test_postgres_manifest_and_values_agree(values):
    pg = values["postgresql"]
    assert pg["enabled"] is False and values["generatePostgresqlPasswordSecret"] is False
    service = manifest("Service", pg["postgresqlHost"])
    assert [p["port"] for p in service["spec"]["ports"]] == [pg["service"]["port"]]
    secret = manifest("Secret", values["global"]["postgresqlSecretName"])
    assert "postgresql-password" in secret["stringData"]  # the key the chart reads
    (container,) = manifest("StatefulSet", pg["postgresqlHost"])["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["POSTGRES_USER"]["value"] == pg["postgresqlUsername"]
    assert env["POSTGRES_DB"]["value"] == pg["postgresqlDatabase"]
    assert env["POSTGRES_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": secret["metadata"]["name"], "key": "postgresql-password"}
    assert service["spec"]["selector"].items() <= manifest("StatefulSet", pg["postgresqlHost"])["spec"]["template"]["metadata"]["labels"].items()


def test_run_coordinator_limits_tags_dagster_puts_on_our_runs(values):
    coordinator = values["dagsterDaemon"]["runCoordinator"]
    assert coordinator["enabled"] and coordinator["type"] == "QueuedRunCoordinator"
    queued = coordinator["config"]["queuedRunCoordinator"]
    limits = {limit["key"]: limit for limit in queued["tagConcurrencyLimits"]}
    score_tags = score_partitions.get_tags_for_partition_key(dg.MultiPartitionKey({"checkpoint": "mlm", "task": "NC"}))
    corpus_tags = corpus_pair_partitions.get_tags_for_partition_key(dg.MultiPartitionKey({"corpus": "unpc", "pair": "ar-en"}))
    assert set(limits) <= set(score_tags) | set(corpus_tags)
    # One scoring pod (one GPU) per score run: this limit is the scoring GPU budget of the scale plan.
    assert 1 <= limits["dagster/partition/task"]["limit"] <= queued["maxConcurrentRuns"]
    assert "dagster/partition/task" not in corpus_tags and "dagster/partition/pair" not in score_tags
    per_partition = limits["dagster/partition"]
    assert per_partition["value"] == {"applyLimitPerUniqueValue": True} and per_partition["limit"] == 1
    assert values["dagsterDaemon"]["runRetries"]["retryOnAssetOrOpFailure"] is False  # RetryPolicy retries steps


def test_warehouse_pool_admits_one_writer_as_locally(values):
    local = yaml.safe_load(dagster_yaml())["concurrency"]["pools"]["default_limit"]
    assert values["concurrency"]["enabled"] is True
    assert values["concurrency"]["pools"]["defaultLimit"] == local == 1
    assert WAREHOUSE_POOL == "duckdb_warehouse"  # the pool named in values.yaml's comment and the README


def test_images_share_a_release_tag(deployment):
    code_location = f"{deployment['image']['repository']}:{deployment['image']['tag']}"
    worker = env_values(deployment["env"])[WORKER_IMAGE_ENV_VAR]
    assert worker.rsplit(":", 1)[1] == deployment["image"]["tag"]
    assert worker.rsplit("/", 1)[0] == deployment["image"]["repository"].rsplit("/", 1)[0]
    (toolbox,) = manifest("Pod", "xrep-toolbox")["spec"]["containers"]
    assert toolbox["image"] == code_location


@pytest.mark.parametrize("dockerfile", ["Dockerfile.code-location", "Dockerfile.worker"])
def test_dockerfiles_install_the_pinned_project_as_the_pod_user(dockerfile):
    text = (K8S_DIR / dockerfile).read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11-", text, re.MULTILINE)
    assert pyproject()["project"]["requires-python"].startswith(">=3.11")
    assert f"torch=={pinned('torch')}" in text
    assert re.findall(r"torch==[\w.+]+", text) == [f"torch=={pinned('torch')}"]
    assert re.search(rf"useradd --uid {WORKER_UID} ", text) and re.search(rf"^USER {WORKER_UID}$", text, re.MULTILINE)
    assert re.search(r"^RUN pip install \. ", text, re.MULTILINE)  # a wheel: sql/ ships inside it (tests/test_install.py)
    if dockerfile == "Dockerfile.code-location":
        assert f"dagster-postgres=={pinned('dagster-k8s')}" in text  # libraries share one release number
