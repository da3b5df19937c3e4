"""Crash safety: a real process is SIGKILLed at every filesystem step of every artifact write (a
directory, a file, each with and without the remote copy, the worker's final save, a training state,
a spec file, a feature cache entry) and of a pull from the remote, and a fresh reader (on this
machine, and on another one pulling from the remote) then finds the complete old artifact or the
complete new one, the next write removes the orphans, and a resume starts from the newest intact
training state.

Each kill point runs in a child forked from this process (the modules are loaded once), which patches
`os`'s filesystem calls (and the file:// remote's fsspec calls) to SIGKILL itself at its N-th call;
N grows until the write completes unkilled.
"""

from __future__ import annotations

import json
import os
import signal
import time
import traceback
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from conftest import made_up_features
from test_pretraining_worker import corpus_tokenizer, make_spec, weights, write_study_corpus

from xrep_assets.artifacts import MARKER, POINTER, ArtifactFolder, remote_filesystem
from xrep_assets.checkpoints.training import (
    Distributed,
    TrainingStateError,
    latest_state,
    load_latest_state,
    save_state,
    state_dirs,
    train,
)
from xrep_assets.evaluation.probing import FeatureCacheError, load_task_features, save_task_features
from xrep_assets.tokenizers.spec import TokenizeSpec

PARTS = ("checkpoints", "mlm")
FILE_PARTS = ("scores", "mlm", "pawsx.parquet")
OLD = {"config.json": b'{"v": 1}\r\n', "weights.bin": bytes(range(256)) * 8, "tokenizer/spm.model": b"\x00old"}
NEW = {"config.json": b'{"v": 2}', "weights.bin": bytes(range(255, -1, -1)) * 16, "extra.txt": b"new only"}
THIRD = {"only.txt": b"third"}
OS_STEPS = ("fsync", "rename", "replace", "symlink", "unlink", "remove", "rmdir", "mkdir")
FSSPEC_STEPS = ("put", "get", "mv", "copy", "rm", "pipe_file")
CHILD_TIMEOUT_S = 120


def killed_at(step: int, action: Callable[[], object]) -> bool:
    """Runs `action` in a forked child that SIGKILLs itself at its `step`-th filesystem call: True if
    it was killed, False if `action` completed first."""
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            from fsspec.implementations.local import LocalFileSystem

            calls = 0

            def armed(original):
                def call(*args, **kwargs):
                    nonlocal calls
                    calls += 1
                    if calls == step:
                        os.kill(os.getpid(), signal.SIGKILL)
                    return original(*args, **kwargs)
                return call

            for name in OS_STEPS:
                setattr(os, name, armed(getattr(os, name)))
            for name in FSSPEC_STEPS:
                setattr(LocalFileSystem, name, armed(getattr(LocalFileSystem, name)))
            action()
            os._exit(0)
        except BaseException:
            traceback.print_exc()
            os._exit(1)
    deadline = time.monotonic() + CHILD_TIMEOUT_S
    while (waited := os.waitpid(pid, os.WNOHANG)) == (0, 0):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail(f"the child killed at step {step} hung")
        time.sleep(0.005)
    status = waited[1]
    if os.WIFSIGNALED(status):
        assert os.WTERMSIG(status) == signal.SIGKILL
        return True
    assert os.WEXITSTATUS(status) == 0, f"the child killed at step {step} failed (its traceback is above)"
    return False


def every_kill_point(
    root: Path, setup: Callable[[Path], None], write: Callable[[Path], object], check: Callable[[Path, bool], None]
) -> int:
    """For N = 1, 2, ...: `setup(folder)` in a fresh folder under `root`, `write(folder)` killed at
    step N, then `check(folder, killed)`; until a write completes. Returns how many kill points there were."""
    for step in range(1, 1000):
        folder = root / str(step)
        setup(folder)
        killed = killed_at(step, lambda: write(folder))
        check(folder, killed)
        if not killed:
            return step - 1
    pytest.fail("the write never completed")


def write_tree(store: ArtifactFolder, files: dict[str, bytes]) -> None:
    with store.writing_dir(*PARTS) as tmp:
        for rel, data in files.items():
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp / rel).write_bytes(data)


def read_tree(directory: Path) -> dict[str, bytes] | None:
    if not directory.exists():
        return None
    return {p.relative_to(directory).as_posix(): p.read_bytes() for p in directory.rglob("*") if p.is_file()}


def hidden_entries(directory: Path) -> list[str]:
    """Hidden entries under `directory` but the versions a directory artifact's symlink names."""
    live = {p.parent / os.readlink(p) for p in directory.rglob("*") if p.is_symlink()}
    return sorted(str(p.relative_to(directory)) for p in directory.rglob(".*") if p not in live)


def remote_keys(url: str) -> list[str]:
    fs, root = remote_filesystem(url)
    fs.invalidate_cache()
    return sorted(path[len(root) + 1:] for path in fs.find(root))


def remote_holds_only(url: str, files: dict[str, bytes]) -> bool:
    """The remote holds `PARTS` as its pointer and the one version it names, with `files`: no
    temporary key, no other version, no old-layout copy."""
    fs, root = remote_filesystem(url)
    version = json.loads(fs.cat_file(f"{root}/{'/'.join(PARTS)}{POINTER}"))["version"]
    parent = "/".join(PARTS[:-1])
    return remote_keys(url) == sorted([f"{parent}/{PARTS[-1]}{POINTER}", *(f"{parent}/{version}/{rel}" for rel in files)])


def write_old_layout_remote(url: str, files: dict[str, bytes]) -> None:
    """`PARTS` on the remote as uploads wrote it before pointers: its files, then the marker."""
    fs, root = remote_filesystem(url)
    for rel, data in files.items():
        fs.pipe_file(f"{root}/{'/'.join(PARTS)}/{rel}", data)
    fs.pipe_file(f"{root}/{'/'.join(PARTS)}/{MARKER}", json.dumps({"files": {r: len(d) for r, d in files.items()}}).encode())


def stores(folder: Path, with_remote: bool) -> tuple[ArtifactFolder, str | None]:
    remote = (folder / "remote").as_uri() if with_remote else None
    return ArtifactFolder(str(folder / "local"), remote), remote


# --------------------------------------------------------------------------------------------------
# ArtifactFolder.writing_dir / writing_file


@pytest.mark.parametrize(("before", "with_remote"), [
    ("nothing", False), ("old", False), ("nothing", True), ("old", True), ("old layout", True),
], ids=["first-local", "rewrite-local", "first-remote", "rewrite-remote", "rewrite-old-layout-remote"])
def test_a_dir_write_killed_at_any_step_leaves_the_old_or_the_new_artifact(tmp_path, with_remote, before):
    """Here and on another machine (a fresh local root pulling from the same remote): the old artifact
    or the new one at every kill point of the local commit and of the upload."""

    def setup(folder: Path) -> None:
        if before == "old":
            write_tree(stores(folder, with_remote)[0], OLD)
        elif before == "old layout":  # a remote written before pointers, and its local copy
            write_tree(stores(folder, False)[0], OLD)
            write_old_layout_remote(stores(folder, True)[1], OLD)

    def check(folder: Path, killed: bool) -> None:
        store, remote = stores(folder, with_remote)
        expected = [NEW] if not killed else [OLD if before != "nothing" else None, NEW]
        assert read_tree(store.path(*PARTS)) in expected
        if remote:
            laptop = ArtifactFolder(str(folder / "laptop"), remote)
            assert read_tree(laptop.path(*PARTS)) in expected
            assert hidden_entries(folder / "laptop") == []
        write_tree(store, THIRD)  # the next write: commits, and leaves no orphan
        assert read_tree(store.path(*PARTS)) == THIRD
        assert hidden_entries(folder / "local") == []
        assert len(list((folder / "local" / "checkpoints").iterdir())) == 2  # the symlink and its version
        if remote:
            assert remote_holds_only(remote, THIRD)
            assert read_tree(ArtifactFolder(str(folder / "laptop2"), remote).path(*PARTS)) == THIRD

    points = every_kill_point(tmp_path, setup, lambda folder: write_tree(stores(folder, with_remote)[0], NEW), check)
    assert points >= (25 if with_remote else 10)


def test_a_pull_killed_at_any_step_leaves_nothing_or_the_whole_copy(tmp_path):
    """Another machine killed while it pulls a directory: its name holds nothing or the whole copy,
    and the next call pulls it."""

    def setup(folder: Path) -> None:
        write_tree(stores(folder, True)[0], NEW)

    def check(folder: Path, killed: bool) -> None:
        laptop = folder / "laptop"
        assert read_tree(laptop / Path(*PARTS)) in ([None, NEW] if killed else [NEW])
        assert read_tree(ArtifactFolder(str(laptop), stores(folder, True)[1]).path(*PARTS)) == NEW

    pull = lambda folder: ArtifactFolder(str(folder / "laptop"), stores(folder, True)[1]).path(*PARTS)  # noqa: E731
    assert every_kill_point(tmp_path, setup, pull, check) >= 5


@pytest.mark.parametrize("with_remote", [False, True], ids=["local", "remote"])
def test_a_file_write_killed_at_any_step_leaves_the_old_or_the_new_file(tmp_path, with_remote):
    def write(folder: Path, data: bytes) -> None:
        with stores(folder, with_remote)[0].writing_file(*FILE_PARTS) as tmp:
            tmp.write_bytes(data)

    def check(folder: Path, killed: bool) -> None:
        store, remote = stores(folder, with_remote)
        assert store.path(*FILE_PARTS).read_bytes() in ([b"old", b"new"] if killed else [b"new"])
        if remote:
            laptop = ArtifactFolder(str(folder / "laptop"), remote).path(*FILE_PARTS)
            assert laptop.read_bytes() in [b"old", b"new"]
        write(folder, b"third")
        assert store.path(*FILE_PARTS).read_bytes() == b"third"
        assert hidden_entries(folder / "local") == []
        if remote:
            assert remote_keys(remote) == ["/".join(FILE_PARTS)]

    points = every_kill_point(tmp_path, lambda folder: write(folder, b"old"), lambda folder: write(folder, b"new"), check)
    assert points >= (5 if with_remote else 3)


def test_a_spec_write_killed_at_any_step_leaves_the_old_or_the_new_spec(tmp_path):
    old, new, third = (TokenizeSpec(artifacts_root=f"/artifacts/{n}", vocab_size=400, sample_alpha=0.3, sample_sentences=1000) for n in (1, 2, 3))

    def check(folder: Path, killed: bool) -> None:
        assert TokenizeSpec.read(folder / "spec.json") in ([old, new] if killed else [new])
        third.write(folder / "spec.json")
        assert hidden_entries(folder) == []

    points = every_kill_point(tmp_path, lambda folder: old.write(folder / "spec.json"),
                              lambda folder: new.write(folder / "spec.json"), check)
    assert points >= 3


def test_a_feature_cache_write_killed_at_any_step_leaves_a_whole_entry_or_a_miss(tmp_path):
    """Killed while it stores an entry (here over a damaged one, so there is an old file to replace):
    a later read finds the whole entry or refuses the file as a miss, never other vectors."""
    data, features = made_up_features("POS")

    def setup(folder: Path) -> None:
        save_task_features(features, folder / "entry.pt")
        (folder / "entry.pt").write_bytes((folder / "entry.pt").read_bytes()[:-100])

    def check(folder: Path, killed: bool) -> None:
        try:
            found = load_task_features(data, folder / "entry.pt")
        except FeatureCacheError:
            assert killed
        else:
            assert torch.equal(found.test["fr"].vectors, features.test["fr"].vectors)
        save_task_features(features, folder / "entry.pt")
        assert hidden_entries(folder) == []

    points = every_kill_point(tmp_path, setup, lambda folder: save_task_features(features, folder / "entry.pt"), check)
    assert points >= 3


def test_a_dir_written_before_versions_becomes_one_and_stays_readable(tmp_path):
    """A real directory under the name (the old scheme) is turned into a version on its next rewrite;
    a kill in the one instant between its two renames is repaired by the next write."""

    def setup(folder: Path) -> None:
        legacy = folder / "local" / Path(*PARTS)
        for rel, data in OLD.items():
            (legacy / rel).parent.mkdir(parents=True, exist_ok=True)
            (legacy / rel).write_bytes(data)
        (legacy.parent / f".{legacy.name}.{'0' * 32}.old").mkdir()  # the old scheme's orphan

    def check(folder: Path, killed: bool) -> None:
        store, _ = stores(folder, False)
        found = read_tree(store.path(*PARTS))
        if found is None:  # the migration's instant: the old copy is whole as a version
            assert read_tree(folder / "local" / "checkpoints" / ".mlm.v1") == OLD
        else:
            assert found in ([OLD, NEW] if killed else [NEW])
        write_tree(store, THIRD)
        assert read_tree(store.path(*PARTS)) == THIRD
        assert hidden_entries(folder / "local") == []

    every_kill_point(tmp_path, setup, lambda folder: write_tree(stores(folder, False)[0], NEW), check)


def test_an_asset_hands_its_worker_an_empty_folder_that_one_rename_fills(tmp_path):
    from xrep_assets.artifacts import committing_dir

    store = ArtifactFolder(str(tmp_path))
    with store.writing_dir(*PARTS) as asset_tmp:
        with committing_dir(asset_tmp) as worker_tmp:  # what the worker does with its out_dir
            (worker_tmp / "config.json").write_bytes(b"{}")
        assert not asset_tmp.is_symlink() and (asset_tmp / "config.json").read_bytes() == b"{}"
    assert read_tree(store.path(*PARTS)) == {"config.json": b"{}"}
    assert hidden_entries(tmp_path) == []


# --------------------------------------------------------------------------------------------------
# Training states and the worker's final save


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return write_study_corpus(tmp_path_factory.mktemp("corpus"), rows=200)


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory, corpus) -> Path:
    return corpus_tokenizer(corpus, tmp_path_factory.mktemp("tokenizer"))


@pytest.fixture(scope="module")
def trained(tmp_path_factory, corpus, tokenizer_dir):
    """A finished run (steps 6, states at 3 and 6) and its checkpoint."""
    spec = make_spec(tmp_path_factory.mktemp("trained"), corpus, tokenizer_dir, "mlm", steps=6, save_every=3)
    train(spec, log=lambda _: None)
    return spec


def training_of(step: int) -> dict:
    return {"step": step, "weights": torch.arange(2000, dtype=torch.float32) * step}


def test_a_state_save_killed_at_any_step_resumes_from_the_newest_intact_state(tmp_path):
    def setup(folder: Path) -> None:
        save_state(folder, 3, training_of(3), Distributed(), keep=2)

    def check(folder: Path, killed: bool) -> None:
        skipped: list[str] = []
        state, training, _ = load_latest_state(folder, 0, torch.device("cpu"), skipped.append)
        assert training["step"] == int(state.name.split("-")[1]) in ([3, 6] if killed else [6])
        assert torch.equal(training["weights"], training_of(training["step"])["weights"])
        assert latest_state(folder) == state
        save_state(folder, 9, training_of(9), Distributed(), keep=2)  # the next save removes the orphans
        assert sorted(p.name for p in folder.iterdir()) == [n for n in ("step-00000003", "step-00000006", "step-00000009") if (folder / n).exists()][-2:]

    points = every_kill_point(tmp_path, setup, lambda folder: save_state(folder, 6, training_of(6), Distributed(), keep=2), check)
    assert points >= 7


def test_the_workers_final_save_killed_at_any_step_leaves_no_partial_checkpoint(tmp_path, trained):
    """Killed during the final save (the run resumes at its last state, so it only saves), the out
    folder is absent or the complete checkpoint: never config.json beside part of the weights. (A
    rewrite of an existing out folder is the same commit as `writing_dir`'s, tested above.)"""
    reference = read_tree(Path(trained.out_dir))

    def spec_in(folder: Path):
        return replace(trained, out_dir=str(folder / "out"), work_dir=str(folder / "work"))

    def setup(folder: Path) -> None:
        work = folder / "work"
        work.mkdir(parents=True)
        for state in state_dirs(Path(trained.work_dir)):
            os.symlink(state, work / state.name)  # the finished run's states, read only

    def check(folder: Path, killed: bool) -> None:
        found = read_tree(folder / "out")
        if found is None:
            assert killed
        else:
            assert found.keys() == reference.keys()
            assert found["model.safetensors"] == reference["model.safetensors"]
            assert found["config.json"] == reference["config.json"]
            assert json.loads(found["training_log.json"])["steps"] == 6
        train(spec_in(folder), log=lambda _: None)  # the next run commits and leaves no orphan
        assert weights(folder / "out").keys() == weights(Path(trained.out_dir)).keys()
        assert hidden_entries(folder) == []

    points = every_kill_point(tmp_path, setup, lambda folder: train(spec_in(folder), log=lambda _: None), check)
    assert points >= 10


def test_a_corrupt_latest_state_is_skipped_and_the_run_ends_with_the_same_weights(trained, tmp_path):
    for damage in ("truncate", "missing rng"):
        spec = replace(trained, out_dir=str(tmp_path / damage / "out"), work_dir=str(tmp_path / damage / "work"))
        work = Path(spec.work_dir)
        work.mkdir(parents=True)
        for state in state_dirs(Path(trained.work_dir)):
            (work / state.name).mkdir()
            for f in state.iterdir():
                (work / state.name / f.name).write_bytes(f.read_bytes())
        latest = work / "step-00000006"
        if damage == "truncate":
            data = (latest / "training.pt").read_bytes()
            (latest / "training.pt").write_bytes(data[: len(data) // 2])
        else:
            (latest / "rng-rank0.pt").unlink()
        lines: list[str] = []
        summary = train(spec, log=lines.append)
        problem = "training.pt has" if damage == "truncate" else "rng-rank0.pt is missing"
        assert any(line.startswith("skipping training state step-00000006: ") and problem in line for line in lines), lines
        assert "resuming from step-00000003 (step 3 of 6)" in lines
        assert summary.resumed_from == 3
        expected, got = weights(Path(trained.out_dir)), weights(Path(spec.out_dir))
        assert all(torch.equal(expected[k], got[k]) for k in expected)  # bit-identical to the unbroken run
        assert state_dirs(work)[-1].name == "step-00000006" and latest_state(work) == state_dirs(work)[-1]


def test_no_intact_state_is_an_error_that_names_each(tmp_path):
    save_state(tmp_path, 3, training_of(3), Distributed(), keep=2)
    (tmp_path / "step-00000003" / "state.json").unlink()
    with pytest.raises(TrainingStateError, match=r"step-00000003: no state.json .*remove it to train from step 0"):
        load_latest_state(tmp_path, 0, torch.device("cpu"), lambda _: None)
    assert load_latest_state(tmp_path / "absent", 0, torch.device("cpu"), lambda _: None) is None


@pytest.mark.parametrize(("damage", "problem"), [
    ("truncate", "training.pt has 10 bytes, state.json says"),
    ("flip a byte", "training.pt does not match its sha256"),
    ("remove rng", "rng-rank0.pt is missing"),
    ("garble manifest", "state.json is not a manifest"),
    ("remove manifest", "no state.json"),
])
def test_each_damage_to_the_newest_state_falls_back_to_the_one_before(tmp_path, damage, problem):
    save_state(tmp_path, 3, training_of(3), Distributed(), keep=2)
    newest = save_state(tmp_path, 6, training_of(6), Distributed(), keep=2)
    training_pt = newest / "training.pt"
    if damage == "truncate":
        training_pt.write_bytes(training_pt.read_bytes()[:10])
    elif damage == "flip a byte":
        data = bytearray(training_pt.read_bytes())
        data[len(data) // 2] ^= 0xFF
        training_pt.write_bytes(bytes(data))
    elif damage == "remove rng":
        (newest / "rng-rank0.pt").unlink()
    elif damage == "garble manifest":
        (newest / "state.json").write_text('{"files": [1, 2]}')
    else:
        (newest / "state.json").unlink()
    lines: list[str] = []
    state, training, _ = load_latest_state(tmp_path, 0, torch.device("cpu"), lines.append)
    assert state.name == "step-00000003" and training["step"] == 3
    assert len(lines) == 1 and lines[0].startswith("skipping training state step-00000006: ") and problem in lines[0]
