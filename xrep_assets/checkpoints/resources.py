"""The Hugging Face hub as resources: `HubSource` downloads a checkpoint at a commit (or copies a local
folder in the hub's layout, offline); `HubApi` answers what the hub holds now (head commits, model
listings) for the sensor and the schedule. Both read the access token from the environment variable
named in their config, never from config itself nor from a stored `huggingface-cli login`, and
neither ever runs code from a repo (no `trust_remote_code`: code files are not even downloaded).

Every hub failure becomes a `HubError` that names the repo and revision; `HubUnavailableError`
(network, timeouts, 5xx, rate limits) is the kind worth retrying later.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import dagster as dg

from xrep_assets.checkpoints.hub_watch import ListedModel, is_commit
from xrep_assets.errors import XrepError
from xrep_assets.study import HubCheckpoint

# What a checkpoint folder must hold for `from_pretrained` to load weights.
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json")
# Never downloaded: code (xrep never trusts remote code) and weights for frameworks we do not load.
SKIPPED_FILES = ["*.py", "*.h5", "*.msgpack", "*.ot", "*.onnx", "onnx/*", "openvino/*", "coreml/*", "*.tflite", "*.gguf"]


class HubError(XrepError):
    """The hub refused or could not answer: unknown repo, missing revision, gated or private repo."""


class HubUnavailableError(HubError):
    """The hub could not be reached or answered with a server error: try again later."""


def hub_token(env_var: str) -> str | bool:
    """The token from `env_var`; False (send none, ignore any stored login) when it is unset."""
    return os.environ.get(env_var) or False


def _transport_errors() -> tuple[type[BaseException], ...]:
    """Network errors of the HTTP clients huggingface_hub may use (httpx2 in 2.x, httpx, requests)."""
    # OfflineModeIsEnabled is a ConnectionError; requests' errors are OSErrors too, but a full disk is not a network error.
    found: list[type[BaseException]] = [ConnectionError, TimeoutError]
    for module, name in (("httpx2", "HTTPError"), ("httpx", "HTTPError"), ("requests", "RequestException")):
        try:
            found.append(getattr(importlib.import_module(module), name))
        except (ImportError, AttributeError):
            continue
    return tuple(found)


def hub_exceptions() -> tuple[type[BaseException], ...]:
    from huggingface_hub.errors import HfHubHTTPError, HFValidationError

    return (HfHubHTTPError, HFValidationError, *_transport_errors())


def hub_failure(error: BaseException, repo_id: str, revision: str | None, token_env_var: str) -> HubError:
    """The project error for what the hub raised, naming the repo, the revision and what to do."""
    from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, HFValidationError, RepositoryNotFoundError, RevisionNotFoundError

    where = f"{repo_id}@{revision}" if revision else repo_id
    token = "set" if os.environ.get(token_env_var) else "unset"
    if isinstance(error, GatedRepoError):
        return HubError(f"{where}: the repo is gated; accept its terms on the hub and put a token in ${token_env_var} (now {token})")
    if isinstance(error, RepositoryNotFoundError):
        return HubError(f"{where}: no such model repo on the hub (a private repo needs a token in ${token_env_var}, now {token})")
    if isinstance(error, RevisionNotFoundError):
        return HubError(f"{where}: {repo_id} has no revision {revision!r} (no such branch, tag or commit)")
    if isinstance(error, HFValidationError):
        return HubError(f"{where}: not a valid hub repo id or revision ({error})")
    if isinstance(error, HfHubHTTPError):
        status = error.response.status_code if error.response is not None else None
        if status in (401, 403):
            return HubError(f"{where}: the hub refused access ({status}); check the token in ${token_env_var} (now {token})")
        if status is None or status == 429 or status >= 500:
            return HubUnavailableError(f"{where}: the hub answered {status}: {error}")
        return HubError(f"{where}: the hub answered {status}: {error}")
    return HubUnavailableError(f"{where}: could not reach the hub ({type(error).__name__}: {error})")


def check_checkpoint_dir(directory: Path, what: str) -> None:
    """A loadable checkpoint folder: config.json, weights, and no need for custom code."""
    if not directory.is_dir():
        raise HubError(f"{what}: no folder {directory}")
    config = directory / "config.json"
    if not config.exists():
        raise HubError(f"{what}: no config.json in {directory}")
    if not any((directory / name).exists() for name in WEIGHT_FILES):
        raise HubError(f"{what}: no weights in {directory} (looked for {', '.join(WEIGHT_FILES)})")
    try:
        auto_map = json.loads(config.read_text(encoding="utf-8")).get("auto_map")
    except json.JSONDecodeError as error:
        raise HubError(f"{what}: {config} is not JSON: {error}") from error
    if auto_map:
        raise HubError(f"{what}: the model needs its repo's own code (auto_map in {config}); xrep never enables trust_remote_code")


class HubSource(dg.ConfigurableResource):
    """Fetches a hub checkpoint into a directory and returns the revision it got: the commit, or
    `local:<folder>` offline.

    With `local_dir` set, `<local_dir>/<repo_id>/` is copied instead (offline machines, tests).
    The access token is read from the environment variable named `token_env_var`, never from config.
    """

    local_dir: str | None = None
    token_env_var: str = "HF_TOKEN"

    def client(self) -> Any:
        """The hub API client (a method, so tests hand in a fake)."""
        from huggingface_hub import HfApi

        return HfApi(token=hub_token(self.token_env_var))

    def download(self, repo_id: str, commit: str, dest: Path, skip: list[str]) -> None:
        """The files of `repo_id` at `commit` into `dest` (a method, so tests hand in a fake)."""
        from huggingface_hub import snapshot_download

        snapshot_download(repo_id, revision=commit, local_dir=str(dest), token=hub_token(self.token_env_var), ignore_patterns=skip)

    def fetch(self, checkpoint: HubCheckpoint, dest: Path, revision: str | None = None) -> str:
        """`revision` (a commit the sensor or schedule asked for) overrides the catalog's pin; with
        neither, the main branch's head is fetched. Either way the commit fetched is returned."""
        if self.local_dir is not None:
            source = Path(self.local_dir) / checkpoint.repo_id
            check_checkpoint_dir(source, f"{checkpoint.repo_id} in the local hub folder {self.local_dir}")
            shutil.copytree(source, dest, dirs_exist_ok=True)
            return f"local:{source}"

        wanted = revision or checkpoint.revision or "main"
        try:
            # Resolve the revision to a commit first, so the files and the recorded revision agree.
            info = self.client().model_info(checkpoint.repo_id, revision=wanted)
            commit = info.sha
            if not is_commit(commit):
                raise HubError(f"{checkpoint.repo_id}@{wanted}: the hub resolved it to {commit!r}, not a commit")
            if is_commit(wanted) and commit != wanted:
                raise HubError(f"{checkpoint.repo_id}@{wanted}: the hub resolved the pinned commit to another one, {commit}")
            names = [sibling.rfilename for sibling in (info.siblings or [])]
            # Repos that publish safetensors often keep the pickled copy too; safetensors is enough.
            skip = SKIPPED_FILES + (["*.bin"] if any(n.endswith(".safetensors") for n in names) else [])
            self.download(checkpoint.repo_id, commit, dest, skip)
        except hub_exceptions() as error:
            raise hub_failure(error, checkpoint.repo_id, wanted, self.token_env_var) from error
        check_checkpoint_dir(dest, f"{checkpoint.repo_id}@{commit}")
        return commit


class HubApi(dg.ConfigurableResource):
    """What the hub holds now: head commits and model listings, for the hub sensor and schedule.
    Every failure is a `HubError` (a `HubUnavailableError` for network trouble)."""

    token_env_var: str = "HF_TOKEN"
    timeout_s: float = 30.0
    listing_limit: int = 1000  # models per watch rule listing

    def client(self) -> Any:
        """The hub API client (a method, so tests hand in a fake `HfApi`)."""
        from huggingface_hub import HfApi

        return HfApi(token=hub_token(self.token_env_var))

    def head_revision(self, repo_id: str, branch: str = "main") -> str:
        """The commit `branch` of `repo_id` points at."""
        try:
            sha = self.client().model_info(repo_id, revision=branch, timeout=self.timeout_s).sha
        except hub_exceptions() as error:
            raise hub_failure(error, repo_id, branch, self.token_env_var) from error
        if not is_commit(sha):
            raise HubError(f"{repo_id}@{branch}: the hub answered {sha!r}, not a commit")
        return sha

    def list_models(self, author: str, search: str | None = None) -> list[ListedModel]:
        """`author`'s models whose repo id contains `search`, with head commit and architecture."""
        try:
            models = list(self.client().list_models(
                author=author, search=search or None, expand=["sha", "config", "tags"], limit=self.listing_limit
            ))
        except hub_exceptions() as error:
            raise hub_failure(error, f"{author}/{search or '*'}", None, self.token_env_var) from error
        return [
            ListedModel(
                repo_id=model.id,
                sha=model.sha or "",
                model_type=(model.config or {}).get("model_type"),
                tags=tuple(model.tags or ()),
            )
            for model in models
        ]
