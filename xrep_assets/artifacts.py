"""The artifact store without Dagster: `ArtifactFolder`, its crash-safe writes, and its durable copy
(committed artifacts mirrored to an fsspec URL and pulled back).

Local commits (`committing_file`, `committing_dir`): a file is filled under a temporary sibling name,
fsynced, `os.replace`d onto its name, and its folder fsynced (every file the platform writes, artifact
or not, goes through `committing_file` or `commit_file`). A directory `a/b` is filled as the
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

Layout on the remote, the same idea with a pointer object for the symlink (an object store replaces
one small object atomically; a file:// remote renames, and is fsynced like the local root):
- a file `a/b` is the object `<remote>/a/b`, uploaded to a temporary key and moved into place;
- a directory `a/b` is a version `<remote>/a/.b.v<N>/` (its files) and the pointer
  `<remote>/a/b.xrep-pointer` (JSON: the version's name, every file and its size). An upload puts the
  files under a new version, then replaces the pointer (a temporary key moved into place): that is the
  commit. Only then are the version the old pointer named and an old-layout copy removed. A pull reads
  the pointer and downloads the version it names, checking every size; a pull that races a rewrite
  (its version removed under it) follows the pointer to the new one.
So another machine pulls the complete old copy or the complete new one at every instant of an upload,
killed or not. Each upload first removes what killed or failed uploads of the artifact left: temporary
keys and versions the pointer does not name (never the one it names). The old layout, the files under
`<remote>/a/b/` with the marker `.xrep-complete` written last, is still pulled where no pointer is, and
replaced by the next upload. A pulled directory is committed locally like a written one.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from xrep_assets.errors import XrepError

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

POINTER = ".xrep-pointer"  # `<remote>/a/b.xrep-pointer` names the committed version of the directory `a/b`
MARKER = ".xrep-complete"  # the old layout's commit record, inside `<remote>/a/b/`: still read, no longer written

# A pull that races rewrites on another machine: how many pointer moves it follows before it gives up.
PULL_ATTEMPTS = 3

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
        with committing_file(final) as tmp:
            yield tmp
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
def committing_file(final: Path) -> Iterator[Path]:
    """A temporary sibling of `final` to fill, committed as `final` (`commit_file`) when the block ends
    cleanly and removed otherwise; the orphans of earlier writes of `final` are removed first. Every
    file the platform writes goes through it (or `commit_file`), artifact or not: spec files, the
    feature cache."""
    make_dirs(final.parent)
    clean_orphans(final)
    tmp = temporary_sibling(final)
    try:
        yield tmp
        commit_file(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


def commit_file(filled: Path, final: Path) -> None:
    """Publishes the file `filled` (in `final`'s folder) as `final`, durably and atomically: its bytes
    reach the disk before its new name does, so a crash never leaves a short file under `final`."""
    fsync_path(filled)
    os.replace(filled, final)
    fsync_path(final.parent)


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
    """Copies the committed file `local` to the artifact `parts` of the remote: a temporary key, then
    moved into place (an object store replaces one object atomically; a local remote renames)."""
    fs, root = remote_filesystem(url)
    key = _key(root, parts)
    _discard_remote_orphans(fs, key)
    tmp = _temporary_key(key)
    try:
        fs.put([str(local)], [tmp])
        _flush_local_remote(fs, tmp)
        fs.mv(tmp, key)
        _flush_local_remote(fs, key)
    except Exception as exc:
        _discard(fs, tmp)
        raise ArtifactUploadError(f"uploading {local} to {url}/{_rel(parts)} failed: {exc!r}") from exc


def upload_dir(url: str, parts: Sequence[str], local: Path) -> None:
    """Copies the committed directory `local` to the artifact `parts` of the remote: its files as a new
    version `.<name>.v<N>/`, then the pointer `<name>.xrep-pointer` replaced by one naming it (the
    commit); only then are the version the old pointer named and an old-layout copy removed."""
    fs, root = remote_filesystem(url)
    key = _key(root, parts)
    files = _list_files(local)
    try:
        previous = _read_pointer(fs, key)
        parent, _, name = key.rpartition("/")
        version = f"{parent}/.{name}.v{_discard_remote_orphans(fs, key) + 1}"
        if files:
            fs.put([str(local / rel) for rel in files], [f"{version}/{rel}" for rel in files])
            _flush_local_remote(fs, version)
        tmp = _temporary_key(key)
        fs.pipe_file(tmp, json.dumps({"version": _base(version), "files": files}, sort_keys=True).encode())
        _flush_local_remote(fs, tmp)
        fs.mv(tmp, _pointer_key(key))
        _flush_local_remote(fs, _pointer_key(key))
    except Exception as exc:
        with suppress(Exception):  # best effort: the next upload removes what is left; the error is what matters
            _discard_remote_orphans(fs, key)
        raise ArtifactUploadError(f"uploading {local} to {url}/{_rel(parts)} failed: {exc!r}") from exc
    # Committed. No reader takes the replaced version or the old layout's copy (marker first) any more.
    if previous is not None:
        _discard(fs, previous.key)
    _discard(fs, f"{key}/{MARKER}")
    _discard(fs, key)


def pull_artifact(url: str, local_root: Path, parts: Sequence[str]) -> bool:
    """Downloads the artifact that holds `local_root/parts` when it is missing locally and committed
    remotely: a directory its pointer (or old-layout marker) names (the one at `parts` or an enclosing
    one, pulled whole so no local directory is ever half there), or a file. Returns whether anything
    was pulled.

    A single object cannot be told from a file of a directory's version, so callers ask for a directory
    artifact by its own parts (as every call site does), not for a file inside it."""
    if not parts or parts[-1] == MARKER or parts[-1].endswith(POINTER):
        return False
    fs, root = remote_filesystem(url)
    fs.invalidate_cache(_key(root, parts))  # (and its parents) another pod may have written it since we listed
    # Only levels missing locally can be pulled: an existing local directory is never merged into.
    first_missing = next((k for k in range(1, len(parts) + 1) if not local_root.joinpath(*parts[:k]).exists()), None)
    if first_missing is None:
        return False
    try:
        for depth in range(first_missing, len(parts) + 1):
            if _pull_dir(fs, _key(root, parts[:depth]), local_root.joinpath(*parts[:depth])):
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


@dataclass(frozen=True)
class RemoteCommit:
    """A directory committed on the remote: the key its files lie under and each file's size, as its
    pointer (or, in the old layout, the marker inside the directory) `source` records them."""

    key: str
    files: dict[str, int]
    source: str


def _committed_dir(fs: AbstractFileSystem, key: str) -> RemoteCommit | None:
    return _read_pointer(fs, key) or _read_marker(fs, key)


def _pull_dir(fs: AbstractFileSystem, key: str, final: Path) -> bool:
    """Downloads the directory committed at `key`, if one is. A rewrite removes the version it replaced
    once its pointer has moved, perhaps while we read it: a download that fails while the pointer moves
    on is retried on the version it names now."""
    commit = _committed_dir(fs, key)
    for _ in range(PULL_ATTEMPTS):
        if commit is None:
            return False
        try:
            _download_dir(fs, commit, final)
            return True
        except Exception:
            latest = _committed_dir(fs, key)
            if latest == commit:
                raise
            commit = latest
    raise ArtifactStoreError(f"{_pointer_key(key)}: moved {PULL_ATTEMPTS} times while it was pulled; try again")


def _key(root: str, parts: Sequence[str]) -> str:
    return f"{root}/{_rel(parts)}"


def _rel(parts: Sequence[str]) -> str:
    return PurePosixPath(*parts).as_posix()


def _base(key: str) -> str:
    return key.rstrip("/").rpartition("/")[2]


def _pointer_key(key: str) -> str:
    return f"{key}{POINTER}"


def _temporary_key(key: str) -> str:
    parent, _, name = key.rpartition("/")
    return f"{parent}/.{name}.{uuid.uuid4().hex}.tmp"


def _discard_remote_orphans(fs: AbstractFileSystem, key: str) -> int:
    """Removes what killed or failed uploads of `key` left beside it: temporary keys
    (`.<name>.<hex>.tmp`) and versions (`.<name>.v<N>`) its pointer does not name, never the one it
    does. Returns the highest version number there is (0 if none), so the next one is new."""
    commit = _read_pointer(fs, key)
    current = _base(commit.key) if commit else None
    parent, _, name = key.rpartition("/")
    highest = int(current.rpartition(".v")[2]) if current else 0
    try:
        fs.invalidate_cache(parent)
        entries = fs.ls(parent, detail=False)
    except (FileNotFoundError, NotADirectoryError):
        return highest
    prefix = f".{name}."
    for entry in entries:
        base = _base(entry)
        if not base.startswith(prefix):
            continue
        rest = base[len(prefix):]
        if version := _VERSION.fullmatch(rest):
            highest = max(highest, int(version.group(1)))
            if base != current:
                _discard(fs, entry.rstrip("/"))
        elif _TEMPORARY.fullmatch(rest):
            _discard(fs, entry.rstrip("/"))
    return highest


def _flush_local_remote(fs: AbstractFileSystem, key: str) -> None:
    """On a local (file://) remote, a disk like the local root: `key` (a file, or a folder and all it
    holds) and its folder's entries fsynced, so a pointer never reaches the disk before what it names.
    An object store has the object durably once the write returns."""
    from fsspec.implementations.local import LocalFileSystem

    if isinstance(fs, LocalFileSystem):
        path = Path(key)
        if path.is_dir():
            fsync_tree(path)
        else:
            fsync_path(path)
        fsync_path(path.parent)


def _list_files(directory: Path) -> dict[str, int]:
    """Relative POSIX path → size of every file under `directory` (object stores keep no empty folders)."""
    files = {}
    for folder, _, names in os.walk(directory):
        for name in names:
            path = Path(folder, name)
            files[path.relative_to(directory).as_posix()] = path.stat().st_size
    return dict(sorted(files.items()))


def _remove(fs: AbstractFileSystem, key: str, recursive: bool = False) -> None:
    if fs.exists(key):
        fs.rm(key, recursive=recursive)


def _discard(fs: AbstractFileSystem, key: str) -> None:
    """Best-effort removal of a key or prefix no reader takes: what is left is still an orphan by its
    name, and the next upload of the artifact tries again. Never hides the upload's own error."""
    try:
        _remove(fs, key, recursive=True)
    except Exception:
        pass


def _read_pointer(fs: AbstractFileSystem, key: str) -> RemoteCommit | None:
    """The version `<key>.xrep-pointer` names, with its files; None where there is no pointer."""
    source = _pointer_key(key)
    try:
        raw = fs.cat_file(source)
    except (FileNotFoundError, NotADirectoryError):
        return None
    parent, _, name = key.rpartition("/")
    try:
        record = json.loads(raw)
        version, files = record["version"], record["files"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ArtifactStoreError(f"{source}: not a commit pointer ({exc!r})") from exc
    own = isinstance(version, str) and version.startswith(f".{name}.") and _VERSION.fullmatch(version[len(name) + 2:])
    if not own:
        raise ArtifactStoreError(f"{source}: names {version!r}, not a version of {name}")
    return RemoteCommit(f"{parent}/{version}", _checked_files(files, source), source)


def _read_marker(fs: AbstractFileSystem, key: str) -> RemoteCommit | None:
    """The old layout (written before pointers, still read): the files lie under `key` itself and its
    marker `key/.xrep-complete`, written last, lists them."""
    source = f"{key}/{MARKER}"
    try:
        raw = fs.cat_file(source)
    except (FileNotFoundError, NotADirectoryError):  # the latter where `key` is a file on a local remote
        return None
    try:
        files = json.loads(raw)["files"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ArtifactStoreError(f"{source}: not a commit marker ({exc!r})") from exc
    return RemoteCommit(key, _checked_files(files, source), source)


def _checked_files(files: object, source: str) -> dict[str, int]:
    if not isinstance(files, dict) or not all(isinstance(rel, str) and type(size) is int for rel, size in files.items()):
        raise ArtifactStoreError(f"{source}: its files are not a mapping of paths to sizes")
    for rel in files:
        pure = PurePosixPath(rel)
        if pure.is_absolute() or ".." in pure.parts:
            raise ArtifactStoreError(f"{source}: file {rel!r} lies outside the artifact")
    return files


def _download_dir(fs: AbstractFileSystem, commit: RemoteCommit, final: Path) -> None:
    make_dirs(final.parent)
    tmp = temporary_sibling(final)
    tmp.mkdir()
    try:
        targets = [tmp / rel for rel in commit.files]
        for target in targets:
            target.parent.mkdir(parents=True, exist_ok=True)
        if commit.files:
            fs.get([f"{commit.key}/{rel}" for rel in commit.files], [str(t) for t in targets])
        for rel, size in commit.files.items():
            if (got := (tmp / rel).stat().st_size) != size:
                raise ArtifactStoreError(f"{commit.key}/{rel}: {got} bytes, {commit.source} says {size} (rewritten while pulled?)")
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
        commit_file(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
