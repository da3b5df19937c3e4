"""The artifact store without Dagster: `ArtifactFolder`, its atomic writes, and its durable copy
(committed artifacts mirrored to an fsspec URL and pulled back).

`ArtifactFolder` is what workers use; the `ArtifactStore` resource (resources.py) hands the assets the
same folder. It uploads after each local commit and pulls a missing artifact before handing out its
path. fsspec is imported only here, inside the functions, so a store without a remote never pays for it.

Layout on the remote: an artifact `a/b` is the key `<remote>/a/b`. A file is uploaded to a temporary
key and moved into place. A directory is uploaded under a temporary prefix, moved into place, and
then gets its commit marker `<remote>/a/b/.xrep-complete` (JSON: every file and its size), written
last and removed first on a rewrite: a directory without it is never pulled.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from xrep_assets.errors import XrepError

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

MARKER = ".xrep-complete"

# fsspec's own message names the package only in prose ("Install s3fs to access S3").
BACKEND_PACKAGES = {"s3": "s3fs", "s3a": "s3fs", "gs": "gcsfs", "gcs": "gcsfs", "abfs": "adlfs", "az": "adlfs"}


class ArtifactStoreError(XrepError):
    """The artifact store cannot reach, read or use its remote: names the URL and the artifact."""


class ArtifactUploadError(ArtifactStoreError):
    """An artifact was committed locally but its upload failed: the remote has no complete copy of it."""


@dataclass(frozen=True)
class ArtifactFolder:
    """A folder for corpora, tokenizers, checkpoints and score files, written atomically, optionally
    mirrored to object storage (`remote`, an fsspec URL); `ArtifactStore` in resources.py says more.

    Every writer fills a temporary sibling and renames it into place, so a failed step never leaves a
    half-written artifact where a reader would find it.
    """

    root: str
    remote: str | None = None

    def path(self, *parts: str) -> Path:
        """The local path of an artifact, pulled from the remote first if only the remote has it."""
        local = self._local(*parts)
        if self.remote and parts and not local.exists():
            pull_artifact(self.remote, Path(self.root), parts)
        return local

    def _local(self, *parts: str) -> Path:
        return Path(self.root).joinpath(*parts)

    @contextmanager
    def writing_file(self, *parts: str) -> Iterator[Path]:
        final = self._local(*parts)  # not path(): a rewrite need not download the old copy
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.with_name(f".{final.name}.{uuid.uuid4().hex}.tmp")
        try:
            yield tmp
            os.replace(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)
        if self.remote:
            upload_file(self.remote, parts, final)

    @contextmanager
    def writing_dir(self, *parts: str) -> Iterator[Path]:
        final = self._local(*parts)
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
        if self.remote:
            upload_dir(self.remote, parts, final)


def remote_filesystem(url: str) -> tuple[AbstractFileSystem, str]:
    """The fsspec filesystem of `url` and the root key inside it; credentials come from the environment
    (AWS_*, GOOGLE_APPLICATION_CREDENTIALS) as s3fs and gcsfs read them. fsspec caches the instance."""
    import fsspec
    from fsspec.implementations.local import LocalFileSystem

    protocol = fsspec.core.split_protocol(url)[0] or "file"
    try:
        fs, root = fsspec.core.url_to_fs(url)
    except ImportError as exc:
        package = BACKEND_PACKAGES.get(protocol, f"the fsspec backend for {protocol}://")
        raise ArtifactStoreError(f"artifact remote {url!r}: {protocol}:// needs {package}; pip install {package} ({exc})") from exc
    except ValueError as exc:
        raise ArtifactStoreError(f"artifact remote {url!r}: fsspec knows no protocol {protocol!r} ({exc})") from exc
    if isinstance(fs, LocalFileSystem) and not fs.auto_mkdir:
        fs = LocalFileSystem(auto_mkdir=True)  # object stores need no parent folders; a local target does
    return fs, root.rstrip("/")


def upload_file(url: str, parts: Sequence[str], local: Path) -> None:
    """Copies the committed file `local` to the artifact `parts` of the remote: temporary key, then move."""
    fs, root = remote_filesystem(url)
    key = _key(root, parts)
    tmp = _temporary_key(key)
    try:
        fs.put([str(local)], [tmp])
        fs.mv(tmp, key)
    except Exception as exc:
        _discard(fs, tmp)
        raise ArtifactUploadError(f"uploading {local} to {url}/{_rel(parts)} failed: {exc!r}") from exc


def upload_dir(url: str, parts: Sequence[str], local: Path) -> None:
    """Copies the committed directory `local` to the artifact `parts` of the remote: its files under a
    temporary prefix, the old copy's marker removed, the files moved into place, the new marker last."""
    fs, root = remote_filesystem(url)
    key = _key(root, parts)
    files = _list_files(local)
    tmp = _temporary_key(key)
    try:
        if files:
            fs.put([str(local / rel) for rel in files], [f"{tmp}/{rel}" for rel in files])
        _remove(fs, f"{key}/{MARKER}")  # the old copy stops being complete before any of it changes
        _remove(fs, key, recursive=True)
        if files:
            _move_tree(fs, tmp, key, list(files))
        marker_tmp = f"{key}/.{MARKER}.{uuid.uuid4().hex}.tmp"
        fs.pipe_file(marker_tmp, json.dumps({"files": files}, sort_keys=True).encode())
        fs.mv(marker_tmp, f"{key}/{MARKER}")
    except Exception as exc:
        _discard(fs, tmp)
        raise ArtifactUploadError(f"uploading {local} to {url}/{_rel(parts)} failed: {exc!r}") from exc


def pull_artifact(url: str, local_root: Path, parts: Sequence[str]) -> bool:
    """Downloads the artifact that holds `local_root/parts` when it is missing locally and committed
    remotely: a directory with its marker (the one at `parts` or an enclosing one, pulled whole so no
    local directory is ever half there), or a file. Returns whether anything was pulled.

    A single object cannot be told from one file of a directory whose upload broke off, so callers ask
    for a directory artifact by its own parts (as every call site does), not for a file inside it."""
    if not parts or parts[-1] == MARKER:
        return False
    fs, root = remote_filesystem(url)
    fs.invalidate_cache(_key(root, parts))  # (and its parents) another pod may have written it since we listed
    # Only levels missing locally can be pulled: an existing local directory is never merged into.
    first_missing = next((k for k in range(1, len(parts) + 1) if not local_root.joinpath(*parts[:k]).exists()), None)
    if first_missing is None:
        return False
    try:
        for depth in range(first_missing, len(parts) + 1):
            manifest = _read_marker(fs, _key(root, parts[:depth]))
            if manifest is not None:
                _download_dir(fs, _key(root, parts[:depth]), manifest, local_root.joinpath(*parts[:depth]))
                return True
        key = _key(root, parts)
        if fs.isfile(key):
            _download_file(fs, key, local_root.joinpath(*parts))
            return True
    except ArtifactStoreError:
        raise
    except Exception as exc:
        raise ArtifactStoreError(f"pulling {url}/{_rel(parts)} into {local_root} failed: {exc!r}") from exc
    return False


def _key(root: str, parts: Sequence[str]) -> str:
    return f"{root}/{_rel(parts)}"


def _rel(parts: Sequence[str]) -> str:
    return PurePosixPath(*parts).as_posix()


def _temporary_key(key: str) -> str:
    parent, _, name = key.rpartition("/")
    return f"{parent}/.{name}.{uuid.uuid4().hex}.tmp"


def _list_files(directory: Path) -> dict[str, int]:
    """Relative POSIX path → size of every file under `directory` (object stores keep no empty folders)."""
    files = {}
    for folder, _, names in os.walk(directory):
        for name in names:
            path = Path(folder, name)
            files[path.relative_to(directory).as_posix()] = path.stat().st_size
    return dict(sorted(files.items()))


def _move_tree(fs: AbstractFileSystem, src: str, dst: str, rels: list[str]) -> None:
    from fsspec.implementations.local import LocalFileSystem

    if isinstance(fs, LocalFileSystem):
        fs.mv(src, dst)  # one rename; `dst` was removed just before
        return
    # Object stores have no rename: copy each key server-side, then delete the temporary prefix.
    fs.copy([f"{src}/{rel}" for rel in rels], [f"{dst}/{rel}" for rel in rels])
    fs.rm(src, recursive=True)


def _remove(fs: AbstractFileSystem, key: str, recursive: bool = False) -> None:
    if fs.exists(key):
        fs.rm(key, recursive=recursive)


def _discard(fs: AbstractFileSystem, key: str) -> None:
    """Best-effort cleanup of a failed upload's temporary key; the upload's own error is what matters."""
    try:
        _remove(fs, key, recursive=True)
    except Exception:  # never hide the upload's error behind a cleanup error
        pass


def _read_marker(fs: AbstractFileSystem, key: str) -> dict[str, int] | None:
    try:
        raw = fs.cat_file(f"{key}/{MARKER}")
    except (FileNotFoundError, NotADirectoryError):  # the latter where `key` is a file on a local remote
        return None
    try:
        files = json.loads(raw)["files"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ArtifactStoreError(f"{key}/{MARKER}: not a commit marker ({exc!r})") from exc
    for rel in files:
        pure = PurePosixPath(rel)
        if pure.is_absolute() or ".." in pure.parts:
            raise ArtifactStoreError(f"{key}/{MARKER}: file {rel!r} lies outside the artifact")
    return files


def _download_dir(fs: AbstractFileSystem, key: str, files: dict[str, int], final: Path) -> None:
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.{uuid.uuid4().hex}.tmp")
    tmp.mkdir()
    try:
        targets = [tmp / rel for rel in files]
        for target in targets:
            target.parent.mkdir(parents=True, exist_ok=True)
        if files:
            fs.get([f"{key}/{rel}" for rel in files], [str(t) for t in targets])
        for rel, size in files.items():
            if (got := (tmp / rel).stat().st_size) != size:
                raise ArtifactStoreError(f"{key}/{rel}: {got} bytes, its marker says {size} (rewritten while pulled?)")
        try:
            tmp.rename(final)
        except OSError:
            if not final.exists():
                raise  # else another process pulled it first: keep theirs
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _download_file(fs: AbstractFileSystem, key: str, final: Path) -> None:
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.{uuid.uuid4().hex}.tmp")
    try:
        fs.get([key], [str(tmp)])
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
