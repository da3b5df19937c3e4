"""The CPUs a worker may use, read from fake cgroup v2 trees and /proc/self/cgroup files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from xrep_assets.execution.cpus import available_cpus, cgroup_cpu_limit


def fake_cgroups(tmp_path: Path, own: str, quotas: dict[str, str]) -> tuple[Path, Path]:
    """A cgroup v2 mount with `cpu.max` written in the given folders, and a /proc/self/cgroup naming `own`."""
    root = tmp_path / "cgroup"
    for folder, quota in quotas.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        (root / folder / "cpu.max").write_text(f"{quota}\n", encoding="utf-8")
    proc = tmp_path / "proc_self_cgroup"
    proc.write_text(f"0::{own}\n", encoding="utf-8")
    return root, proc


def test_a_pods_quota_is_its_cpu_limit(tmp_path):
    # limits.cpu 1500m: 150 ms of CPU time per 100 ms period; in a pod the container is the mount root
    root, proc = fake_cgroups(tmp_path, "/", {"": "150000 100000"})
    assert cgroup_cpu_limit(root, proc) == 1.5


def test_the_tightest_quota_on_the_way_up_binds(tmp_path):
    root, proc = fake_cgroups(tmp_path, "/kubepods/pod1/ctr", {
        "kubepods": "800000 100000", "kubepods/pod1": "400000 100000", "kubepods/pod1/ctr": "max 100000"})
    assert cgroup_cpu_limit(root, proc) == 4.0


def test_no_quota_or_no_cgroup_v2_is_no_limit(tmp_path):
    root, proc = fake_cgroups(tmp_path, "/", {"": "max 100000"})
    assert cgroup_cpu_limit(root, proc) is None
    v1 = tmp_path / "v1"
    v1.write_text("4:memory:/job\n1:cpu:/\n", encoding="utf-8")  # cgroup v1 only: no `0::` line
    assert cgroup_cpu_limit(root, v1) is None
    assert cgroup_cpu_limit(root, tmp_path / "missing") is None


@pytest.mark.parametrize("quota, expected", [("400000 100000", 4), ("150000 100000", 1), ("50000 100000", 1),
                                             ("max 100000", 16), ("3200000 100000", 16)])
def test_threads_are_the_quota_rounded_down_within_the_affinity(tmp_path, monkeypatch, quota, expected):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(16)))
    root, proc = fake_cgroups(tmp_path, "/", {"": quota})
    assert available_cpus(root, proc) == expected
