"""Resources every domain shares: the study settings (profile) and the artifact store."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from pathlib import Path

import dagster as dg

from xrep_assets.artifacts import ArtifactFolder
from xrep_assets.environment import (
    OPUS_MIRROR_ENV_VAR,
    PROFILE_ENV_VAR,
    UD_DIR_ENV_VAR,
    XGLUE_DATASET_ENV_VAR,
    XGLUE_DIR_ENV_VAR,
    env_value,
)
from xrep_assets.profiles import DEFAULT_PROFILE, Profile, resolve_profile


class StudySettings(dg.ConfigurableResource):
    """Selects the profile (`tiny` or `paper`) and, optionally, local sources that replace its defaults.

    The one channel of the profile: every asset resolves it here, and the assets that launch a worker
    pass the resolved profile to the launcher, which sizes the pod by it."""

    profile: str = DEFAULT_PROFILE
    opus_mirror: str | None = None
    xglue_dir: str | None = None
    xglue_dataset: str | None = None  # a hub dataset (or local folder) with the `xglue` script's configs
    ud_dir: str | None = None  # a local copy of the PUD treebanks

    def resolved(self) -> Profile:
        return resolve_profile(self.profile, self.opus_mirror, self.xglue_dir, self.xglue_dataset, self.ud_dir)


class ArtifactStore(dg.ConfigurableResource):
    """A folder for corpora, tokenizers, checkpoints and score files, written atomically, optionally
    mirrored to object storage.

    `root` is a local folder, or in Kubernetes a volume (ReadWriteMany, at /artifacts) shared by the run
    pods and the worker pods. Every writer fills a temporary sibling and commits it durably (fsynced; a
    directory becomes a new version that the artifact's symlink is atomically switched to; see
    `xrep_assets/artifacts.py`), so neither a failed step nor a killed process leaves a half-written
    artifact where a reader would find it.

    `remote` (in `default_resources()`: env `XREP_ARTIFACTS_REMOTE`) is an fsspec URL, e.g.
    `s3://bucket/xrep` or `gs://bucket/xrep` (needs s3fs / gcsfs; credentials from AWS_* or
    GOOGLE_APPLICATION_CREDENTIALS as those packages read them). When set, each committed artifact is
    also uploaded there (a file to a temporary key then moved, a directory under a temporary prefix
    then moved, with its commit marker written last; see `xrep_assets/artifacts.py`), and `path()`
    downloads an artifact missing from `root` but committed remotely, so a fresh volume or a laptop
    can read what a cluster produced. A failed upload raises `ArtifactUploadError` after the local
    commit.
    """

    root: str
    remote: str | None = None

    @property
    def folder(self) -> ArtifactFolder:
        """The same store without Dagster, as the workers open it from their spec."""
        return ArtifactFolder(self.root, self.remote)

    def path(self, *parts: str) -> Path:
        """The local path of an artifact, pulled from the remote first if only the remote has it."""
        return self.folder.path(*parts)

    def writing_file(self, *parts: str) -> AbstractContextManager[Path]:
        """A temporary path to fill; fsynced and renamed to the artifact (and uploaded) when the block ends cleanly."""
        return self.folder.writing_file(*parts)

    def writing_dir(self, *parts: str) -> AbstractContextManager[Path]:
        """A temporary directory to fill; committed as the artifact's new version (and uploaded) when the
        block ends cleanly."""
        return self.folder.writing_dir(*parts)


def default_study_settings(profile: str | None = None, environ: Mapping[str, str] | None = None) -> StudySettings:
    """The profile from `XREP_PROFILE` (or `profile`, e.g. `xrep study --profile`, which changes only
    the profile); `XREP_OPUS_MIRROR`, `XREP_XGLUE_DIR`, `XREP_XGLUE_DATASET` and `XREP_UD_DIR` override
    its sources.
    `environ` defaults to this process's environment."""
    return StudySettings(
        profile=profile or env_value(PROFILE_ENV_VAR, environ) or DEFAULT_PROFILE,
        opus_mirror=env_value(OPUS_MIRROR_ENV_VAR, environ),
        xglue_dir=env_value(XGLUE_DIR_ENV_VAR, environ),
        xglue_dataset=env_value(XGLUE_DATASET_ENV_VAR, environ),
        ud_dir=env_value(UD_DIR_ENV_VAR, environ),
    )


def study_resource_config(settings: StudySettings) -> dict[str, object]:
    """Every field of `settings` as the `study` resource's run config. Dagster builds a configured
    resource from the run config alone: a field left out falls back to the class default (None), not
    to the value the Definitions hold, so a partial config would silently drop the sources."""
    return {"config": settings.model_dump()}
