"""Resources every domain shares: the study settings (profile) and the artifact store."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg

from xrep_assets.profiles import Profile, profile_name_from_env, resolve_profile


class StudySettings(dg.ConfigurableResource):
    """Selects the profile (`tiny` or `paper`) and, optionally, local sources that replace its defaults."""

    profile: str = "tiny"
    opus_mirror: str | None = None
    xglue_dir: str | None = None

    def resolved(self) -> Profile:
        return resolve_profile(self.profile, self.opus_mirror, self.xglue_dir)


class ArtifactStore(dg.ConfigurableResource):
    """A folder for corpora, tokenizers, checkpoints and score files, written atomically.

    Every writer fills a temporary sibling and renames it into place, so a failed step never leaves a
    half-written artifact where a reader would find it.
    """

    root: str

    def path(self, *parts: str) -> Path:
        return Path(self.root).joinpath(*parts)

    @contextmanager
    def writing_file(self, *parts: str) -> Iterator[Path]:
        final = self.path(*parts)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.with_name(f".{final.name}.{uuid.uuid4().hex}.tmp")
        try:
            yield tmp
            os.replace(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)

    @contextmanager
    def writing_dir(self, *parts: str) -> Iterator[Path]:
        final = self.path(*parts)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.with_name(f".{final.name}.{uuid.uuid4().hex}.tmp")
        tmp.mkdir()
        try:
            yield tmp
            # A directory cannot be replaced atomically in one call: move the old one aside first.
            old = final.with_name(f".{final.name}.{uuid.uuid4().hex}.old")
            if final.exists():
                final.rename(old)
            tmp.rename(final)
            shutil.rmtree(old, ignore_errors=True)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def default_study_settings() -> StudySettings:
    """The profile from `XREP_PROFILE`; `XREP_OPUS_MIRROR` and `XREP_XGLUE_DIR` override its sources."""
    return StudySettings(
        profile=profile_name_from_env(),
        opus_mirror=os.environ.get("XREP_OPUS_MIRROR"),
        xglue_dir=os.environ.get("XREP_XGLUE_DIR"),
    )
