"""The artifact store: atomic local commits, the remote copy (a directory a version its pointer names), and
pulls back, the old remote layout (a marker inside the directory) included."""

from __future__ import annotations

import json
import os
import re
import sys
import uuid
from pathlib import Path

import pytest

from xrep_assets.artifacts import MARKER, POINTER, ArtifactFolder, ArtifactStoreError, ArtifactUploadError, remote_filesystem
from xrep_assets.resources import ArtifactStore

CHECKPOINT = ("checkpoints", "mlm")
SCORES = ("scores", "mlm", "pawsx.parquet")
# Bytes a text mode would change (CRLF, NUL, non-UTF-8) and one file in a subfolder.
DIR_FILES = {"config.json": b'{"hidden": 64}\r\n', "weights.bin": bytes(range(256)) * 40, "tokenizer/spm.model": b"\x00\xffsp"}


class Boom(Exception):
    pass


@pytest.fixture(params=["memory", "file"])
def remote(request, tmp_path) -> str:
    """A fresh remote per test: fsspec's in-memory store (a key-value store like S3) or a file:// URL."""
    if request.param == "memory":
        url = f"memory://xrep-{uuid.uuid4().hex}"
        yield url
        fs, root = remote_filesystem(url)
        if fs.exists(root):
            fs.rm(root, recursive=True)
    else:
        yield (tmp_path / "remote").as_uri()


def write_checkpoint(store: ArtifactStore | ArtifactFolder, files: dict[str, bytes] = DIR_FILES) -> Path:
    with store.writing_dir(*CHECKPOINT) as tmp:
        for rel, data in files.items():
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp / rel).write_bytes(data)
    return store.path(*CHECKPOINT)


def read_tree(directory: Path) -> dict[str, bytes]:
    return {p.relative_to(directory).as_posix(): p.read_bytes() for p in directory.rglob("*") if p.is_file()}


def remote_tree(url: str, *parts: str) -> dict[str, bytes]:
    fs, root = remote_filesystem(url)
    base = "/".join([root, *parts])
    return {path[len(base) + 1:]: fs.cat_file(path) for path in fs.find(base)}


def remote_keys(url: str) -> list[str]:
    """Every key on the remote, relative to its root."""
    fs, root = remote_filesystem(url)
    fs.invalidate_cache()
    return sorted(path[len(root) + 1:] for path in fs.find(root))


def pointer(url: str) -> dict:
    fs, root = remote_filesystem(url)
    return json.loads(fs.cat_file(f"{root}/checkpoints/mlm{POINTER}"))


def write_old_layout(url: str, files: dict[str, bytes] = DIR_FILES, marker: bool = True) -> None:
    """A directory as uploads wrote it before pointers: its files under its own key, the marker last."""
    fs, root = remote_filesystem(url)
    for rel, data in files.items():
        fs.pipe_file(f"{root}/checkpoints/mlm/{rel}", data)
    if marker:
        sizes = {rel: len(data) for rel, data in sorted(files.items())}
        fs.pipe_file(f"{root}/checkpoints/mlm/{MARKER}", json.dumps({"files": sizes}).encode())


def leftovers(directory: Path) -> list[str]:
    """Hidden entries but the versions a directory artifact's symlink names (its committed copy)."""
    live = {p.parent / os.readlink(p) for p in directory.rglob("*") if p.is_symlink()}
    return sorted(p.name for p in directory.rglob(".*") if p not in live)


# (a) without a remote: atomic local commits, as before


def test_a_file_and_a_dir_are_committed_locally(tmp_path):
    store = ArtifactStore(root=str(tmp_path))
    with store.writing_file(*SCORES) as tmp:
        tmp.write_bytes(b"scores v1")
    assert store.path(*SCORES) == tmp_path / "scores" / "mlm" / "pawsx.parquet"
    assert store.path(*SCORES).read_bytes() == b"scores v1"
    assert read_tree(write_checkpoint(store)) == DIR_FILES
    assert leftovers(tmp_path) == []


def test_a_failed_write_leaves_nothing_and_keeps_the_old_artifact(tmp_path):
    store = ArtifactStore(root=str(tmp_path))
    with pytest.raises(Boom), store.writing_file("new.bin") as tmp:
        tmp.write_bytes(b"half")
        raise Boom
    with pytest.raises(Boom), store.writing_dir("newdir") as tmp:
        (tmp / "a").write_bytes(b"half")
        raise Boom
    assert not (tmp_path / "new.bin").exists() and not (tmp_path / "newdir").exists()

    with store.writing_file(*SCORES) as tmp:
        tmp.write_bytes(b"scores v1")
    write_checkpoint(store)
    with pytest.raises(Boom), store.writing_file(*SCORES) as tmp:
        tmp.write_bytes(b"scores v2")
        raise Boom
    with pytest.raises(Boom), store.writing_dir(*CHECKPOINT) as tmp:
        (tmp / "config.json").write_bytes(b"v2")
        raise Boom
    assert store.path(*SCORES).read_bytes() == b"scores v1"
    assert read_tree(store.path(*CHECKPOINT)) == DIR_FILES
    assert leftovers(tmp_path) == []


def test_a_rewrite_replaces_the_whole_dir(tmp_path):
    store = ArtifactStore(root=str(tmp_path))
    write_checkpoint(store)
    assert read_tree(write_checkpoint(store, {"only.txt": b"v2"})) == {"only.txt": b"v2"}


def test_a_store_without_remote_never_imports_fsspec(tmp_path):
    import subprocess
    import sys

    code = (
        "import sys; from xrep_assets.resources import ArtifactStore; s = ArtifactStore(root=sys.argv[1])\n"
        "with s.writing_file('a.txt') as t: t.write_text('x')\n"
        "with s.writing_dir('d') as t: (t / 'f').write_text('y')\n"
        "s.path('missing'); print('fsspec' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# (b) with a remote: the committed artifact appears there, a directory as a version its pointer names


def test_written_artifacts_appear_remotely_as_a_version_and_its_pointer(tmp_path, remote):
    store = ArtifactStore(root=str(tmp_path / "local"), remote=remote)
    with store.writing_file(*SCORES) as tmp:
        tmp.write_bytes(b"scores v1")
    write_checkpoint(store)

    assert remote_tree(remote, *SCORES[:-1]) == {"pawsx.parquet": b"scores v1"}
    assert remote_tree(remote, "checkpoints", ".mlm.v1") == DIR_FILES
    assert pointer(remote) == {"version": ".mlm.v1", "files": {"config.json": 16, "tokenizer/spm.model": 4, "weights.bin": 10240}}
    # Nothing else: no temporary key survives a successful upload.
    assert remote_keys(remote) == sorted(
        [f"checkpoints/mlm{POINTER}", "scores/mlm/pawsx.parquet", *(f"checkpoints/.mlm.v1/{rel}" for rel in DIR_FILES)]
    )


def test_a_rewritten_dir_is_a_new_version_and_the_old_one_goes(tmp_path, remote):
    store = ArtifactStore(root=str(tmp_path / "local"), remote=remote)
    write_checkpoint(store)
    write_checkpoint(store, {"only.txt": b"v2"})
    assert pointer(remote) == {"version": ".mlm.v2", "files": {"only.txt": 2}}
    assert remote_keys(remote) == ["checkpoints/.mlm.v2/only.txt", f"checkpoints/mlm{POINTER}"]


# (c) a fresh local root pulls what another store committed


def test_a_fresh_store_pulls_files_and_dirs_through_path(tmp_path, remote):
    writer = ArtifactStore(root=str(tmp_path / "cluster"), remote=remote)
    with writer.writing_file(*SCORES) as tmp:
        tmp.write_bytes(b"scores v1")
    write_checkpoint(writer)

    laptop = ArtifactStore(root=str(tmp_path / "laptop"), remote=remote)
    assert laptop.path(*SCORES).read_bytes() == b"scores v1"
    assert read_tree(laptop.path(*CHECKPOINT)) == DIR_FILES  # the marker stays remote
    assert leftovers(tmp_path / "laptop") == []


def test_a_workers_folder_and_the_resource_are_one_store(tmp_path, remote):
    """A worker writes through ArtifactFolder (no Dagster); an asset reads through the resource."""
    pod = ArtifactFolder(str(tmp_path / "pod"), remote)
    with pod.writing_file(*SCORES) as tmp:
        tmp.write_bytes(b"scores v1")
    write_checkpoint(pod)
    run = ArtifactStore(root=str(tmp_path / "run"), remote=remote)
    assert run.folder == ArtifactFolder(str(tmp_path / "run"), remote)
    assert run.path(*SCORES).read_bytes() == b"scores v1"
    assert read_tree(run.path(*CHECKPOINT)) == DIR_FILES


def test_a_path_inside_a_remote_dir_pulls_the_whole_dir(tmp_path, remote):
    write_checkpoint(ArtifactStore(root=str(tmp_path / "cluster"), remote=remote))
    laptop = ArtifactStore(root=str(tmp_path / "laptop"), remote=remote)
    assert laptop.path(*CHECKPOINT, "config.json").read_bytes() == DIR_FILES["config.json"]
    assert read_tree(tmp_path / "laptop" / "checkpoints" / "mlm") == DIR_FILES


def test_a_path_that_exists_nowhere_is_still_returned(tmp_path, remote):
    store = ArtifactStore(root=str(tmp_path / "local"), remote=remote)
    assert store.path("checkpoints", "absent") == tmp_path / "local" / "checkpoints" / "absent"
    assert not (tmp_path / "local").exists()


# (d) an interrupted directory upload is never taken as complete; the old layout is still read


def test_a_remote_version_no_pointer_names_is_not_pulled(tmp_path, remote):
    write_checkpoint(ArtifactStore(root=str(tmp_path / "cluster"), remote=remote))
    fs, root = remote_filesystem(remote)
    fs.rm(f"{root}/checkpoints/mlm{POINTER}")
    laptop = ArtifactStore(root=str(tmp_path / "laptop"), remote=remote)
    assert not laptop.path(*CHECKPOINT).exists()
    assert not (tmp_path / "laptop" / "checkpoints").exists()
    # Once a later upload completes, the same call pulls it, and the unnamed version is gone.
    write_checkpoint(ArtifactStore(root=str(tmp_path / "cluster2"), remote=remote), {"only.txt": b"v2"})
    assert read_tree(laptop.path(*CHECKPOINT)) == {"only.txt": b"v2"}
    assert remote_keys(remote) == ["checkpoints/.mlm.v2/only.txt", f"checkpoints/mlm{POINTER}"]


def test_an_old_layout_dir_is_pulled_and_its_next_upload_replaces_it(tmp_path, remote):
    write_old_layout(remote)
    laptop = ArtifactStore(root=str(tmp_path / "laptop"), remote=remote)
    assert read_tree(laptop.path(*CHECKPOINT)) == DIR_FILES
    write_checkpoint(ArtifactStore(root=str(tmp_path / "cluster"), remote=remote), {"only.txt": b"v2"})
    assert remote_keys(remote) == ["checkpoints/.mlm.v1/only.txt", f"checkpoints/mlm{POINTER}"]
    assert read_tree(ArtifactStore(root=str(tmp_path / "laptop2"), remote=remote).path(*CHECKPOINT)) == {"only.txt": b"v2"}


def test_an_old_layout_dir_without_its_marker_is_not_pulled(tmp_path, remote):
    write_old_layout(remote, marker=False)
    laptop = ArtifactStore(root=str(tmp_path / "laptop"), remote=remote)
    assert not laptop.path(*CHECKPOINT).exists()


def test_a_pull_follows_the_pointer_when_a_rewrite_removes_the_version_it_reads(tmp_path, remote, monkeypatch):
    """Another machine rewrites the artifact between our reading its pointer and its files: the version
    we read is removed once the new pointer is in place, and the pull takes the new one."""
    write_checkpoint(ArtifactStore(root=str(tmp_path / "cluster"), remote=remote))
    fs, _ = remote_filesystem(remote)
    get = fs.get

    def rewritten_first(*args, **kwargs):
        monkeypatch.setattr(fs, "get", get)
        write_checkpoint(ArtifactStore(root=str(tmp_path / "cluster"), remote=remote), {"only.txt": b"v2"})
        return get(*args, **kwargs)

    monkeypatch.setattr(fs, "get", rewritten_first)
    laptop = ArtifactStore(root=str(tmp_path / "laptop"), remote=remote)
    assert read_tree(laptop.path(*CHECKPOINT)) == {"only.txt": b"v2"}
    assert leftovers(tmp_path / "laptop") == []


@pytest.mark.parametrize(("record", "problem"), [
    (b"{half", "not a commit pointer"),
    (b'{"version": "../../etc", "files": {}}', "names '../../etc', not a version of mlm"),
    (b'{"version": ".mlm.v1", "files": {"../x": 1}}', "file '../x' lies outside the artifact"),
    (b'{"version": ".mlm.v1", "files": ["x"]}', "its files are not a mapping of paths to sizes"),
])
def test_a_pointer_that_is_not_one_is_an_error_naming_it(tmp_path, remote, record, problem):
    fs, root = remote_filesystem(remote)
    fs.pipe_file(f"{root}/checkpoints/mlm{POINTER}", record)
    laptop = ArtifactStore(root=str(tmp_path / "laptop"), remote=remote)
    with pytest.raises(ArtifactStoreError, match=f"checkpoints/mlm{POINTER}: {re.escape(problem)}"):
        laptop.path(*CHECKPOINT)
    assert leftovers(tmp_path / "laptop") == []


# (e) a failed upload: the local commit stands, the remote keeps what it had


def test_a_failed_upload_raises_and_leaves_nothing_remotely(tmp_path, remote, monkeypatch):
    store = ArtifactStore(root=str(tmp_path / "local"), remote=remote)
    fs, root = remote_filesystem(remote)

    def refuse(*args, **kwargs):
        raise ConnectionError("network down")

    monkeypatch.setattr(fs, "put", refuse)
    with pytest.raises(ArtifactUploadError, match=r"checkpoints/mlm failed: ConnectionError\('network down'\)"):
        write_checkpoint(store)
    with pytest.raises(ArtifactUploadError, match="network down"), store.writing_file(*SCORES) as tmp:
        tmp.write_bytes(b"scores v1")
    assert read_tree(tmp_path / "local" / "checkpoints" / "mlm") == DIR_FILES
    assert (tmp_path / "local" / "scores" / "mlm" / "pawsx.parquet").read_bytes() == b"scores v1"
    assert remote_keys(remote) == []


def test_a_failed_rewrite_upload_keeps_the_old_remote_copy(tmp_path, remote, monkeypatch):
    store = ArtifactStore(root=str(tmp_path / "local"), remote=remote)
    write_checkpoint(store)
    fs, _ = remote_filesystem(remote)
    monkeypatch.setattr(fs, "put", lambda *a, **k: (_ for _ in ()).throw(ConnectionError("network down")))
    with pytest.raises(ArtifactUploadError):
        write_checkpoint(store, {"only.txt": b"v2"})
    monkeypatch.undo()
    laptop = ArtifactStore(root=str(tmp_path / "laptop"), remote=remote)
    assert read_tree(laptop.path(*CHECKPOINT)) == DIR_FILES


def test_an_upload_broken_off_before_its_pointer_moves_keeps_the_old_copy(tmp_path, remote, monkeypatch):
    """The new version is all there but not committed: readers keep pulling the old one, and the
    new version and the pointer's temporary key are removed."""
    store = ArtifactStore(root=str(tmp_path / "local"), remote=remote)
    write_checkpoint(store)
    fs, _ = remote_filesystem(remote)
    monkeypatch.setattr(fs, "mv", lambda *a, **k: (_ for _ in ()).throw(ConnectionError("connection reset")))
    with pytest.raises(ArtifactUploadError, match="connection reset"):
        write_checkpoint(store, {"only.txt": b"v2"})
    monkeypatch.undo()
    assert read_tree(tmp_path / "local" / "checkpoints" / "mlm") == {"only.txt": b"v2"}
    assert remote_keys(remote) == sorted([f"checkpoints/mlm{POINTER}", *(f"checkpoints/.mlm.v1/{rel}" for rel in DIR_FILES)])
    laptop = ArtifactStore(root=str(tmp_path / "laptop"), remote=remote)
    assert read_tree(laptop.path(*CHECKPOINT)) == DIR_FILES


def test_a_file_that_disagrees_with_the_pointer_is_not_pulled(tmp_path, remote):
    write_checkpoint(ArtifactStore(root=str(tmp_path / "cluster"), remote=remote))
    fs, root = remote_filesystem(remote)
    fs.pipe_file(f"{root}/checkpoints/.mlm.v1/weights.bin", b"truncated")
    laptop = ArtifactStore(root=str(tmp_path / "laptop"), remote=remote)
    with pytest.raises(ArtifactStoreError, match=f"weights.bin: 9 bytes, .*checkpoints/mlm{POINTER} says 10240"):
        laptop.path(*CHECKPOINT)
    assert not (tmp_path / "laptop" / "checkpoints" / "mlm").exists()
    assert leftovers(tmp_path / "laptop") == []


# (f) a remote fsspec cannot open says so, naming the URL


def test_an_unknown_protocol_is_a_clear_error(tmp_path):
    store = ArtifactStore(root=str(tmp_path), remote="nosuchproto://bucket/xrep")
    with pytest.raises(ArtifactStoreError, match=r"'nosuchproto://bucket/xrep': fsspec knows no protocol 'nosuchproto'"):
        store.path("checkpoints", "mlm")
    with pytest.raises(ArtifactStoreError, match="nosuchproto"), store.writing_file("a.txt") as tmp:
        tmp.write_bytes(b"x")
    assert (tmp_path / "a.txt").read_bytes() == b"x"  # committed locally all the same


def test_a_missing_backend_names_the_package(tmp_path, monkeypatch):
    """Whether or not s3fs is installed here: the import is made to fail as it does without it."""
    from fsspec.registry import _registry  # the classes fsspec has imported so far

    monkeypatch.setitem(sys.modules, "s3fs", None)  # `import s3fs` raises ImportError
    monkeypatch.delitem(_registry, "s3", raising=False)
    store = ArtifactStore(root=str(tmp_path), remote="s3://bucket/xrep")
    with pytest.raises(ArtifactStoreError, match=r"'s3://bucket/xrep': s3:// needs s3fs; pip install s3fs"):
        store.path("checkpoints", "mlm")


def test_default_resources_read_the_remote_from_the_environment(monkeypatch):
    from xrep_assets.definitions import default_resources

    monkeypatch.setenv("XREP_ARTIFACTS_REMOTE", "s3://bucket/xrep")
    assert default_resources()["artifacts"].remote == "s3://bucket/xrep"
    monkeypatch.delenv("XREP_ARTIFACTS_REMOTE")
    assert default_resources()["artifacts"].remote is None
