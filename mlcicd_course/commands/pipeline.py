"""`mlcicd pipeline run`: the whole pipeline, locally, in one command."""

from __future__ import annotations

import argparse
import sys

EXIT_DEPLOYED, EXIT_STOPPED = 0, 1


def register(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser(
        "pipeline", help="the end-to-end pipeline: train, gate, canary, release, watch",
        description="Commands of the end-to-end pipeline.")
    commands = group.add_subparsers(dest="pipeline_command", metavar="SUBCOMMAND",
                                    parser_class=type(group), required=True)
    run = commands.add_parser(
        "run", help="run the pipeline: exit 0 deployed, 1 stopped or rolled back",
        description="Run data -> validate -> train -> evaluate -> gate against the model "
                    "in production -> register -> shadow (optional) -> canary in staging "
                    "-> smoke tests -> production (blue-green or canary) -> watch, with "
                    "model servers and routers on 127.0.0.1 (no cloud, no network). "
                    "Stops at the first stage that fails; a failed release is rolled "
                    "back. Writes pipeline.md and pipeline.json into --report-dir. Exit 0 "
                    "deployed (or nothing new to deploy), 1 stopped or rolled back (the "
                    "last line names the stage and why), 2 bad config or input.")
    run.add_argument("--config", default="config/pipeline.yaml", metavar="pipeline.yaml",
                     help="the pipeline file (default: %(default)s)")
    run.add_argument("--workdir", default="build/pipeline", metavar="DIR",
                     help="scratch folder for models and logs (default: %(default)s)")
    run.add_argument("--report-dir", default=None, metavar="DIR",
                     help="where pipeline.md and pipeline.json go (default: the workdir)")
    run.add_argument("--registry", default=None, metavar="LOCATION",
                     help="a folder or s3://bucket/prefix (default: WORKDIR/registry)")
    run.add_argument("--part", default="all", choices=("all", "staging", "production"),
                     help="all stages, or those of one environment (a workflow job; "
                          "production needs the candidate in staging)")
    run.add_argument("--summary", metavar="PATH",
                     help="also append the markdown report here (e.g. $GITHUB_STEP_SUMMARY)")
    run.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from mlcicd_course.commands.registry import open_location
    from mlcicd_course.errors import UserInputError
    from mlcicd_course.fileio import check_output_folder
    from mlcicd_course.pipeline.config import load_pipeline
    from mlcicd_course.pipeline.report import pipeline_markdown, write_report
    from mlcicd_course.pipeline.run import run_pipeline
    from mlcicd_course.serving.lifecycle import ServerError

    config = load_pipeline(args.config)
    workdir = Path(args.workdir)
    if workdir.exists() and not workdir.is_dir():
        raise UserInputError(f"--workdir {workdir} exists and is not a folder")
    report_dir = Path(args.report_dir) if args.report_dir else workdir
    check_output_folder("--report-dir", report_dir)
    registry = open_location(args.registry or str(workdir / "registry"), must_exist=False)
    try:
        run = run_pipeline(config, workdir=workdir, registry=registry, part=args.part)
    except ServerError as err:
        raise UserInputError(f"a server did not start: {err}") from None
    write_report(run, report_dir)
    if args.summary:
        try:
            with open(args.summary, "a", encoding="utf-8") as handle:
                handle.write(pipeline_markdown(run) + "\n")
        except OSError as err:
            raise UserInputError(f"--summary {args.summary}: {err.strerror or err}") from None
    for result in run.results:
        print(f"{result.name:<10} {result.decision:<8} {result.seconds:6.2f} s  {result.reason}")
    print(f"report: {report_dir / 'pipeline.md'}, {report_dir / 'pipeline.json'}")
    print(run.summary(), file=sys.stderr if run.exit_code else sys.stdout)
    return EXIT_DEPLOYED if run.exit_code == 0 else EXIT_STOPPED
