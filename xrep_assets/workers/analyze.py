"""The analysis worker: `python -m xrep_assets.workers.analyze SPEC.json`.

Runs the layer-wise analyses of one checkpoint (CKA, retrieval, weight spectrum: those the spec
names), writes one file per analysis, and reports each one's metadata to its asset of the
`layer_analyses` multi-asset (printed as JSON when started by hand).
"""

from __future__ import annotations

import sys

from xrep_assets.analysis.spec import AnalyzeSpec
from xrep_assets.analysis.work import analyze_checkpoint
from xrep_assets.workers.runner import AssetReports, Log, run_worker


def analyze(spec: AnalyzeSpec, log: Log) -> AssetReports:
    return AssetReports(analyze_checkpoint(spec, log))


def main(argv: list[str] | None = None) -> int:
    return run_worker("python -m xrep_assets.workers.analyze", __doc__, AnalyzeSpec, analyze, argv)


if __name__ == "__main__":
    sys.exit(main())
