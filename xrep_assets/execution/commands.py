"""The worker's command line, the same for a local subprocess and a pod (pure; no Dagster)."""

from __future__ import annotations

import sys
from pathlib import Path


def worker_command(module: str, spec: Path, processes: int = 1, python: str = sys.executable) -> list[str]:
    """The worker's command line; several processes run it under torchrun (DDP, one per device)."""
    if processes <= 1:
        return [python, "-m", module, str(spec)]
    return [python, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}", "-m", module, str(spec)]
