"""`xrep`: run the whole study through Dagster, print the comparison, query the warehouse."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import NoReturn

from xrep_assets.environment import PROFILE_ENV_VAR
from xrep_assets.paths import default_warehouse_path, ensure_dagster_home
from xrep_assets.profiles import PROFILES

DEFAULT_URL = "http://127.0.0.1:3000"  # `make dev`


def cmd_study(args: argparse.Namespace) -> int:
    if args.submit:
        return cmd_submit(args)
    ensure_dagster_home()  # `var/dagster_home` by default, so `dagster dev` shows the runs afterwards
    from xrep_assets.orchestration import run_study  # imports Dagster and the definitions
    from xrep_assets.resources import default_study_settings

    start = time.perf_counter()
    # The sources (XREP_OPUS_MIRROR, XREP_XGLUE_DIR, XREP_XGLUE_DATASET) come from the environment;
    # --profile replaces only the profile. Every run gets these settings in its config, and the
    # worker pods are sized by them.
    run_study(default_study_settings(args.profile), log=lambda msg: print(msg, flush=True),
              checkpoints=args.checkpoint or (), tasks=args.task or (), rescore=args.rescore)
    print(f"\nstudy finished in {time.perf_counter() - start:.0f} s\n", flush=True)
    return cmd_report(args)


def cmd_submit(args: argparse.Namespace) -> int:
    """The study as a backfill on the instance at --url, followed to its end; then the comparison as
    the instance recorded it (the submitting machine may not see the instance's warehouse)."""
    from xrep_assets.errors import SettingError
    from xrep_assets.orchestration import study_run_config, study_slice
    from xrep_assets.resources import default_study_settings
    from xrep_assets.submission import DagsterWebserver, submit_study

    if args.format != "markdown":
        raise SettingError("--submit prints the comparison the instance recorded, as markdown; use `xrep report --format csv` where the warehouse is")
    settings = default_study_settings(args.profile)
    chosen = study_slice(settings.resolved(), args.checkpoint or (), args.task or (), args.rescore)
    server = DagsterWebserver(args.url)
    start = time.perf_counter()
    submit_study(server, chosen, study_run_config(settings), f"xrep study ({settings.profile})",
                 log=lambda msg: print(msg, flush=True))
    print(f"\nstudy finished in {time.perf_counter() - start:.0f} s\n", flush=True)
    print(server.latest_markdown("cross_lingual_comparison", "comparison") or "(the comparison recorded no table)")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from xrep_assets.markdown import markdown_table
    from xrep_assets.warehouse.report import report
    from xrep_assets.warehouse.resources import DuckDBWarehouse

    warehouse = DuckDBWarehouse(path=str(default_warehouse_path()))
    per_language = getattr(args, "per_language", False)
    if getattr(args, "format", "markdown") == "csv":
        sys.stdout.write(report(warehouse, per_language=per_language).write_csv())
    else:
        print(markdown_table(report(warehouse, per_language=per_language, spread=True)))
    return 0


def cmd_sql(args: argparse.Namespace) -> int:
    from xrep_assets.markdown import markdown_table
    from xrep_assets.warehouse.resources import DuckDBWarehouse

    print(markdown_table(DuckDBWarehouse(path=str(default_warehouse_path())).query(args.query), float_precision=4))
    return 0


def cmd_evaluate_predictions(args: argparse.Namespace) -> int:
    """Scores a predictions file against an official gold file, as XGLUE's evaluator does."""
    import json
    from pathlib import Path

    from xrep_assets.evaluation.predictions import evaluate_predictions

    print(json.dumps(evaluate_predictions(args.task, Path(args.gold), Path(args.predictions), args.lang, args.split)))
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    """Prints what the study would run and cost under a profile; runs nothing."""
    from xrep_assets.plan import format_plan, plan_json, study_plan
    from xrep_assets.resources import default_study_settings

    plan = study_plan(default_study_settings(args.profile).resolved())
    print(plan_json(plan) if args.format == "json" else format_plan(plan))
    return 0


def cmd_dagster_home(args: argparse.Namespace) -> int:
    print(ensure_dagster_home())
    return 0


class OneLineParser(argparse.ArgumentParser):
    """A usage error on one line, exit code 2, like every other expected failure of `xrep`."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="xrep", description=__doc__)  # its subcommands' parsers are OneLineParsers too
    commands = parser.add_subparsers(dest="command", required=True)

    study = commands.add_parser("study", help="materialize the whole study, then print the comparison")
    study.add_argument("--profile", choices=sorted(PROFILES), help=f"default: ${PROFILE_ENV_VAR} or tiny")
    study.add_argument("--format", choices=("markdown", "csv"), default="markdown")
    study.add_argument("--checkpoint", action="append", metavar="KEY", help="only this checkpoint of the profile's (repeatable)")
    study.add_argument("--task", action="append", metavar="TASK", help="only this XGLUE task (repeatable)")
    study.add_argument("--rescore", action="store_true",
                       help="only the scores and the comparison, with the corpora, tokenizer and checkpoints already materialized")
    study.add_argument("--submit", action="store_true",
                       help="run it as a backfill on the Dagster instance at --url (its run queue, its UI) instead of in this process")
    study.add_argument("--url", default=DEFAULT_URL, help=f"the Dagster webserver for --submit (default {DEFAULT_URL}: `make dev`)")
    study.set_defaults(func=cmd_study)

    plan = commands.add_parser("plan", help="print the partitions, recipes, model sizes, pods and GPU-hours of a study; runs nothing")
    plan.add_argument("--profile", choices=sorted(PROFILES), help=f"default: ${PROFILE_ENV_VAR} or tiny")
    plan.add_argument("--format", choices=("markdown", "json"), default="markdown")
    plan.set_defaults(func=cmd_plan)

    report = commands.add_parser("report", help="print the cross-lingual comparison from DuckDB")
    report.add_argument("--format", choices=("markdown", "csv"), default="markdown")
    report.add_argument("--per-language", action="store_true", help="rows = checkpoint x task, columns = languages")
    report.set_defaults(func=cmd_report)

    sql = commands.add_parser("sql", help="run a SQL query against the warehouse")
    sql.add_argument("query")
    sql.set_defaults(func=cmd_sql)

    evaluate = commands.add_parser(
        "evaluate-predictions", help="score one predictions file against an official XGLUE gold file (JSON)"
    )
    evaluate.add_argument("task", help="NC, XNLI, PAWS-X, QAM, QADSM, WPR, NER or POS")
    evaluate.add_argument("gold", help="the gold file in the official format, or the xglue_full_dataset folder")
    evaluate.add_argument("predictions", help="one prediction per gold line, or a folder of <TASK>/<lang>.prediction")
    evaluate.add_argument("--lang", help="the language; required when GOLD or PREDICTIONS is a folder")
    evaluate.add_argument("--split", choices=("dev", "test"), default="test", help="the gold file a folder gives")
    evaluate.set_defaults(func=cmd_evaluate_predictions)

    home = commands.add_parser("dagster-home", help="create $DAGSTER_HOME (default var/dagster_home) and print it")
    home.set_defaults(func=cmd_dagster_home)
    return parser


def one_line(error: BaseException) -> str:
    return " ".join(line.strip() for line in str(error).splitlines() if line.strip())


def main(argv: Sequence[str] | None = None) -> int:
    """Runs one command. What a user can get wrong (a project error: bad SQL, a missing or damaged
    warehouse, a bad file, a setting; or the file system refusing a path) is one line on stderr and
    exit code 2; anything else is a bug and keeps its traceback."""
    from xrep_assets.errors import XrepError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (XrepError, OSError) as error:
        print(f"xrep {args.command}: {one_line(error)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
