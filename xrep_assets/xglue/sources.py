"""Which XGLUE source a run reads: `DataSource`, the serialisable choice (it travels in the scoring
worker's spec), and the profile's (`profile_data_source`), which scoring and decontamination share."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from xrep_assets.errors import XrepError
from xrep_assets.profiles import Profile
from xrep_assets.xglue.readers import ArchiveSource, HubDatasetSource, TaskSource


class DataSourceError(XrepError):
    """A data source that cannot be opened (an unknown kind)."""


@dataclass(frozen=True)
class DataSource:
    """Where the task splits come from: the official archive's folder, or a hub dataset (an id or a
    local folder laid out like the `xglue` script)."""

    kind: str  # archive | hub
    location: str
    revision: str | None = None
    streaming: bool = False

    def __post_init__(self) -> None:
        if self.kind not in ("archive", "hub"):
            raise DataSourceError(f"unknown data source kind {self.kind!r}; known: archive, hub")

    def open(self) -> TaskSource:
        if self.kind == "archive":
            return ArchiveSource(Path(self.location))
        return HubDatasetSource(self.location, revision=self.revision, streaming=self.streaming)

    def describe(self) -> str:
        return self.location if self.kind == "archive" else f"hub dataset {self.location}"


def profile_data_source(profile: Profile) -> DataSource | None:
    """The profile's XGLUE source: its hub dataset when set, else its archive folder, else none.
    Scoring and decontamination both ask here, so they read the same test sets."""
    if profile.xglue_dataset:
        return DataSource("hub", profile.xglue_dataset)
    if profile.xglue_dir is not None:
        return DataSource("archive", str(profile.xglue_dir))
    return None
