"""The artifact store without Dagster: `ArtifactFolder`, its crash-safe writes, and its durable copy
(committed artifacts mirrored to an fsspec URL and pulled back).

Local commits (`committing_dir`, `writing_file`): a file is filled under a temporary sibling name,
fsynced, `os.replace`d onto its name, and its folder fsynced. A directory `a/b` is filled as the
temporary sibling `a/.b.<hex>.tmp`, fsynced file by file, renamed to the next version `a/.b.v<N>`, and
published by atomically replacing the symlink `a/b` -> `.b.v<N>` (a temporary symlink, `os.replace`,
fsync of `a`). At every instant `a/b` resolves to a complete version, the old or the new one; readers
just open `a/b`. Each write first removes what killed writes of the same artifact left (temporaries,
superseded versions, the old scheme's `.old` folders) and, once committed, the version it replaced;
never the version the symlink names, nor a newer one. One writer per artifact at a time: a second,
concurrent one may lose its temporary folder and fail, but never damages the committed artifact.

`ArtifactFolder` is what workers use; the `ArtifactStore` resource (resources.py) hands the assets the
same folder. It uploads after each local commit and pulls a missing artifact before handing out its
path. fsspec is imported only here, inside the functions, so a store without a remote never pays for it.

Layout on the remote: an artifact `a/b` is the key `<remote>/a/b`. A file is uploaded to a temporary
key and moved into place. A directory is uploaded under a temporary prefix, moved into place, and
then gets its commit marker `<remote>/a/b/.xrep-complete` (JSON: every file and its size), written
last and removed first on a rewrite: a directory without it is never pulled. A killed upload thus
leaves the old copy, the new one, or (mid-rewrite) none that is pulled, never a partial one; the next
upload of the artifact removes its temporary keys. A pulled directory is committed locally like a
written one.
"""

from __future__ import annotations

import json
import os
import re
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

    Every writer fills a temporary sibling and commits it durably (the module's docstring), so neither
    a failed step nor a killed process leaves a half-written artifact where a reader would find it.
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
        make_dirs(final.parent)
        clean_orphans(final)
        tmp = temporary_sibling(final)
        try:
            yield tmp
            fsync_path(tmp)
            os.replace(tmp, final)
            fsync_path(final.parent)
        finally:
            tmp.unlink(missing_ok=True)
        if self.remote:
            upload_file(self.remote, parts, final)

    @contextmanager
    def writing_dir(self, *parts: str) -> Iterator[Path]:
        final = self._local(*parts)
        with committing_dir(final) as tmp:
            yield tmp
        if self.remote:
            upload_dir(self.remote, parts, final)


# --------------------------------------------------------------------------------------------------
# Local commits: fsync, versions, the symlink that names the current one, and orphans


def temporary_sibling(final: Path) -> Path:
    return final.with_name(f".{final.name}.{uuid.uuid4().hex}.tmp")


def fsync_path(path: Path | str) -> None:
    """Flushes a file's bytes, or a folder's entries (a rename or a new name in it), to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(directory: Path) -> None:
    """Every file and folder under `directory`, each folder after what it holds."""
    for folder, _, names in os.walk(directory, topdown=False):
        for name in names:
            fsync_path(os.path.join(folder, name))
        fsync_path(folder)


def make_dirs(directory: Path) -> None:
    """`mkdir -p`, each new folder's entry fsynced in its parent so a crash cannot drop it."""
    missing = []
    while not directory.exists():
        missing.append(directory)
        directory = directory.parent
    for folder in reversed(missing):
        folder.mkdir(exist_ok=True)
        fsync_path(folder.parent)


@contextmanager
def committing_dir(final: Path) -> Iterator[Path]:
    """A temporary sibling of `final` to fill, committed as `final` (`commit_dir`) when the block ends
    cleanly and removed otherwise; the orphans of earlier writes of `final` are removed first."""
    make_dirs(final.parent)
    clean_orphans(final)
    tmp = temporary_sibling(final)
    tmp.mkdir()
    try:
        yield tmp
        commit_dir(tmp, final)
    finally:
        _discard_local(tmp)


def commit_dir(filled: Path, final: Path) -> None:
    """Publishes the directory `filled` (a sibling of `final`) as `final`, durably and atomically."""
    fsync_tree(filled)
    if final.is_dir() and not final.is_symlink():
        if not any(final.iterdir()):
            # An empty folder holds no artifact (the one an asset hands its worker): one rename replaces it.
            os.rename(filled, final)
            fsync_path(final.parent)
            return
        # A folder written before versions: it becomes one first. A kill between these two renames
        # leaves the name empty until the next write of it points it at that version again.
        _point(final, _rename_to_next_version(final, final))
    _point(final, _rename_to_next_version(filled, final))
    clean_orphans(final)


def clean_orphans(final: Path) -> None:
    """Removes what earlier writes of `final` left behind: temporaries (with their own), `.old` folders
    and versions older than the one `final` points at. A name whose symlink was never set (a kill in
    `commit_dir`) is pointed at its newest version, which is complete."""
    if not final.parent.is_dir():
        return
    versions = _versions(final)
    if versions and not final.exists() and not final.is_symlink():
        _point(final, versions[max(versions)])
    current = _current_version(final)
    for entry in _own_entries(final):
        if not _VERSION.fullmatch(entry.name[len(final.name) + 2:]):
            _discard_local(entry)
    for number, version in versions.items():
        if current is not None and number < current:
            _discard_local(version)


# `.<name>.<hex>.tmp` (this scheme's and the old one's temporaries), `.<name>.<hex>.old` (the old
# scheme's moved-aside folders), `.<name>.v<N>` (versions): matched whole, so `a`'s never match `a.v1`'s.
_TEMPORARY = re.compile(r"[0-9a-f]{32}\.(tmp|old)")
_VERSION = re.compile(r"v([1-9][0-9]*)")


def _own_entries(final: Path) -> list[Path]:
    prefix = f".{final.name}."
    if not final.parent.is_dir():
        return []
    return [
        entry for entry in final.parent.iterdir()
        if entry.name.startswith(prefix) and (_TEMPORARY.fullmatch(rest := entry.name[len(prefix):]) or _VERSION.fullmatch(rest))
    ]


def _versions(final: Path) -> dict[int, Path]:
    prefix_length = len(final.name) + 2
    return {int(m.group(1)): e for e in _own_entries(final) if (m := _VERSION.fullmatch(e.name[prefix_length:]))}


def _current_version(final: Path) -> int | None:
    if not final.is_symlink():
        return None
    target = os.readlink(final)
    match = _VERSION.fullmatch(target[len(final.name) + 2:]) if target.startswith(f".{final.name}.") else None
    return int(match.group(1)) if match else None


def _rename_to_next_version(directory: Path, final: Path) -> Path:
    version = final.with_name(f".{final.name}.v{max(_versions(final), default=0) + 1}")
    os.rename(directory, version)
    fsync_path(final.parent)
    return version


def _point(final: Path, version: Path) -> None:
    """Atomically makes `final` the relative symlink to `version` (a sibling): the volume may be
    mounted elsewhere by another pod."""
    link = temporary_sibling(final)
    os.symlink(version.name, link)
    os.replace(link, final)
    fsync_path(final.parent)


def _discard_local(path: Path) -> None:
    """Removes `path` and its own temporaries and versions. Best effort: what is left is still an
    orphan by its name, and the next write of the artifact tries again."""
    for own in _own_entries(path):
        _discard_local(own)
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.is_dir():
        shutil.rmtree(path, ignore_errors=True)


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
    _discard_remote_orphans(fs, key)
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
    _discard_remote_orphans(fs, key)
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


def _discard_remote_orphans(fs: AbstractFileSystem, key: str) -> None:
    """Removes the temporary keys killed uploads of `key` left (`.<name>.<hex>.tmp` beside it)."""
    parent, _, name = key.rpartition("/")
    try:
        fs.invalidate_cache(parent)
        entries = fs.ls(parent, detail=False)
    except (FileNotFoundError, NotADirectoryError):
        return
    prefix = f".{name}."
    for entry in entries:
        base = entry.rstrip("/").rpartition("/")[2]
        if base.startswith(prefix) and _TEMPORARY.fullmatch(base[len(prefix):]):
            _discard(fs, entry.rstrip("/"))


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
    make_dirs(final.parent)
    tmp = temporary_sibling(final)
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
        fsync_tree(tmp)
        version = _rename_to_next_version(tmp, final)
        try:
            os.symlink(version.name, final)  # created only where nothing is: never replaces a write
            fsync_path(final.parent)
        except FileExistsError:
            _discard_local(version)  # another process pulled or wrote it first: keep theirs
    finally:
        _discard_local(tmp)


def _download_file(fs: AbstractFileSystem, key: str, final: Path) -> None:
    make_dirs(final.parent)
    tmp = temporary_sibling(final)
    try:
        fs.get([key], [str(tmp)])
        fsync_path(tmp)
        os.replace(tmp, final)
        fsync_path(final.parent)
    finally:
        tmp.unlink(missing_ok=True)
