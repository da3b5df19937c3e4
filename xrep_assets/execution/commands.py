"""The worker's command line, the same for a local subprocess and a pod (pure; no Dagster)."""

from __future__ import annotations

import sys
from pathlib import Path


# polars' allocator (jemalloc) keeps freed pages for seconds by default, so each copy a step such as the
# allocation makes adds to its peak; returning them at once cut the allocation's peak by ~15% at a few
# percent of its time (benchmarks/scale.py). pyarrow's (mimalloc) likewise keeps what the parquet
# reads freed: ~100 MiB more at 4M rows. Read when the worker process starts, hence its environment.
WORKER_ALLOCATOR_ENV = {"_RJEM_MALLOC_CONF": "dirty_decay_ms:0,muzzy_decay_ms:0", "MIMALLOC_PURGE_DELAY": "0"}


def worker_command(module: str, spec: Path, processes: int = 1, python: str = sys.executable) -> list[str]:
    """The worker's command line; several processes run it under torchrun (DDP, one per device)."""
    if processes <= 1:
        return [python, "-m", module, str(spec)]
    return [python, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}", "-m", module, str(spec)]
