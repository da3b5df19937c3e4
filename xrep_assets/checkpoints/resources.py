"""The Hugging Face hub as a resource: pinned downloads, or a local folder in the same layout offline."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import dagster as dg

from xrep_assets.errors import XrepError
from xrep_assets.study import HubCheckpoint


class HubSource(dg.ConfigurableResource):
    """Fetches a hub checkpoint into a directory and returns the revision it got.

    With `local_dir` set, `<local_dir>/<repo_id>/` is copied instead (offline machines, tests).
    The access token is read from the environment variable named `token_env_var`, never from config.
    """

    local_dir: str | None = None
    token_env_var: str = "HF_TOKEN"

    def fetch(self, checkpoint: HubCheckpoint, dest: Path) -> str:
        if self.local_dir is not None:
            source = Path(self.local_dir) / checkpoint.repo_id
            if not (source / "config.json").exists():
                raise XrepError(f"{checkpoint.repo_id} is not in the local hub folder: no {source / 'config.json'}")
            shutil.copytree(source, dest, dirs_exist_ok=True)
            return f"local:{source}"
        from huggingface_hub import HfApi, snapshot_download

        token = os.environ.get(self.token_env_var)
        # Resolve the revision to a commit first, so the files and the recorded revision agree.
        sha = HfApi(token=token).model_info(checkpoint.repo_id, revision=checkpoint.revision).sha
        snapshot_download(checkpoint.repo_id, revision=sha, local_dir=str(dest), token=token)
        return sha
