"""How many CPUs a worker may keep busy: its cgroup's CPU quota where one is set (a Kubernetes pod's
`limits.cpu`), else the CPUs the scheduler lets the process run on.

`os.cpu_count()` would say the node's cores: a 32-CPU pod on a 128-core node would start 128 threads
and be throttled to 32. Only cgroup v2 quotas are read (`cpu.max`, Kubernetes' default since 1.25);
under cgroup v1 the affinity alone counts.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_CGROUP = Path("/proc/self/cgroup")


def cgroup_cpu_limit(root: Path = CGROUP_ROOT, proc_cgroup: Path = PROC_CGROUP) -> float | None:
    """The CPUs the tightest cgroup v2 quota on this process allows (its own cgroup's `cpu.max` or a
    parent's, up to the mount root), or None when no quota is set or there is no cgroup v2."""
    try:
        memberships = proc_cgroup.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    own = next((line[len("0::"):] for line in memberships if line.startswith("0::")), None)
    if own is None:
        return None
    # In a pod the cgroup namespace makes the container's cgroup the mount root (`0::/`); on a host the
    # path leads below it, and a parent's quota binds its children.
    folder = root / own.strip("/")
    limits = []
    while True:
        try:
            quota, period = (folder / "cpu.max").read_text(encoding="utf-8").split()
        except OSError:
            quota = "max"
        if quota != "max":
            limits.append(int(quota) / int(period))
        if folder == root or root not in folder.parents:
            break
        folder = folder.parent
    return min(limits, default=None)


def available_cpus(root: Path = CGROUP_ROOT, proc_cgroup: Path = PROC_CGROUP) -> int:
    """The threads a worker should run: the CPUs it may run on, at most its quota rounded down (a
    1.5-CPU quota runs one thread unthrottled), at least one."""
    allowed = len(os.sched_getaffinity(0))
    limit = cgroup_cpu_limit(root, proc_cgroup)
    return allowed if limit is None else max(1, min(allowed, math.floor(limit)))
