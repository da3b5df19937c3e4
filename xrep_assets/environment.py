"""xrep's settings from the environment: every `XREP_*` variable is named here and read through
`env_value`, by the factories that build the code location's resources (`definitions.default_resources`,
`resources.default_study_settings`, `execution.launcher_env.launcher_from_env`) or find its state
(`paths`), when they are called: as the code location loads or a CLI command starts. Nothing reads
them inside an asset or a worker: a run takes its settings from its resources, which run config can
replace, and a worker from its spec.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

# The `study` resource's default profile (`tiny` unless set); a run's config may name another.
PROFILE_ENV_VAR = "XREP_PROFILE"
# Sources that replace the profile's (the `study` resource's defaults), and the hub checkpoints' folder.
OPUS_MIRROR_ENV_VAR = "XREP_OPUS_MIRROR"
XGLUE_DIR_ENV_VAR = "XREP_XGLUE_DIR"
XGLUE_DATASET_ENV_VAR = "XREP_XGLUE_DATASET"
UD_DIR_ENV_VAR = "XREP_UD_DIR"
HUB_DIR_ENV_VAR = "XREP_HUB_DIR"
# State: its root, the artifact store's folder (in Kubernetes the shared volume) and its remote copy.
HOME_ENV_VAR = "XREP_HOME"
ARTIFACTS_DIR_ENV_VAR = "XREP_ARTIFACTS_DIR"
ARTIFACTS_REMOTE_ENV_VAR = "XREP_ARTIFACTS_REMOTE"
# Where the workers run: `local` or `k8s`, with the worker image and the pods' namespace.
LAUNCHER_ENV_VAR = "XREP_LAUNCHER"
WORKER_IMAGE_ENV_VAR = "XREP_WORKER_IMAGE"
K8S_NAMESPACE_ENV_VAR = "XREP_K8S_NAMESPACE"


def env_value(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """`name`'s value in `environ` (default: this process's environment); unset and empty are both
    None, so a variable left blank (e.g. in Helm values) keeps the default."""
    value = (os.environ if environ is None else environ).get(name)
    return value or None
