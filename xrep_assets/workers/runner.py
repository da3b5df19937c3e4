"""What every worker does around its work: read the spec named on its command line, run the work, and
report the work's metadata, through dagster-pipes when Dagster launched the process, printed when it
was started by hand.

A worker module is its work function, `(spec, log) -> metadata`, and a `main` that calls `run_worker`.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from dagster_pipes import DAGSTER_PIPES_CONTEXT_ENV_VAR, DagsterPipesError, open_dagster_pipes

from xrep_assets.execution.specfiles import SpecFile

S = TypeVar("S", bound=SpecFile)
Log = Callable[[str], None]
Metadata = Mapping[str, object]


@dataclass(frozen=True)
class AssetReports:
    """A worker's metadata per asset key: the assets of one multi-asset, computed in one process."""

    by_asset: Mapping[str, Metadata]


def plain(metadata: Metadata | AssetReports) -> Mapping[str, object]:
    return metadata.by_asset if isinstance(metadata, AssetReports) else metadata


def as_json(metadata: Metadata | AssetReports) -> str:
    return json.dumps(plain(metadata), indent=2, default=str)


def run_worker(
    prog: str,
    description: str | None,
    spec_class: type[S],
    work: Callable[[S, Log], Metadata | AssetReports],
    argv: list[str] | None = None,
    final_line: Callable[[Metadata | AssetReports], str] = as_json,
) -> int:
    """`work` on the spec file named by the one argument; the process's exit code.

    Under dagster-pipes the log lines and the metadata go to the Dagster run; by hand the log lines
    are printed, then `final_line(metadata)`. Of a torchrun job only rank 0 talks to Dagster; the
    other ranks print as if started by hand.
    """
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("spec", type=Path, help=f"the {spec_class.what} (JSON) the asset wrote")
    spec = spec_class.read(parser.parse_args(argv).spec)
    if DAGSTER_PIPES_CONTEXT_ENV_VAR in os.environ and is_rank_zero():
        with open_dagster_pipes() as pipes:
            metadata = work(spec, pipes.log.info)
            try:
                if isinstance(metadata, AssetReports):
                    for asset_key, asset_metadata in metadata.by_asset.items():
                        pipes.report_asset_materialization(metadata=dict(asset_metadata), asset_key=asset_key)
                else:
                    pipes.report_asset_materialization(metadata=dict(metadata))
            except DagsterPipesError:  # launched for an op, not an asset: the log lines are the report
                pipes.log.info(json.dumps(plain(metadata), default=str))
        return 0
    metadata = work(spec, lambda line: print(line, flush=True))
    print(final_line(metadata), flush=True)
    return 0


def is_rank_zero() -> bool:
    """Whether this process is rank 0 of its torchrun job (`RANK`, torchrun's), or runs alone."""
    return int(os.environ.get("RANK", "0")) == 0
