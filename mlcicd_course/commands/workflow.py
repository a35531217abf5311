"""`mlcicd workflow check|graph|run|summary`: GitHub Actions workflows, checked and run locally."""

from __future__ import annotations

import argparse
import errno
import json
import os
import sys
from pathlib import Path
from typing import Any

from mlcicd_course.errors import UserInputError
from mlcicd_course.fileio import check_outputs


def register(subparsers: argparse._SubParsersAction) -> None:
    workflow = subparsers.add_parser(
        "workflow", help="check GitHub Actions workflows, show their job graph, run them locally",
        description="Check GitHub Actions workflows against the course's policy, show which "
                    "jobs an event runs, and run a workflow's steps on this machine.")
    commands = workflow.add_subparsers(dest="workflow_command", metavar="SUBCOMMAND",
                                       parser_class=type(workflow), required=True)

    check = commands.add_parser(
        "check", help="policy checks (pinning, permissions, expressions in run:, ...)",
        description="Check workflow files against the policy rules that zizmor and the "
                    "workflow JSON schema do not cover. Exit 1 when a rule is broken.")
    check.add_argument("paths", nargs="*", default=[".github/workflows"], metavar="PATH",
                       help="workflow files or folders (default: .github/workflows)")
    check.add_argument("--rule", action="append", default=None, metavar="RULE",
                       help="check only this rule (repeatable); see --list-rules")
    check.add_argument("--list-rules", action="store_true", help="print the rules and exit")
    check.add_argument("--json", metavar="PATH", help="also write the findings as JSON")
    check.set_defaults(handler=_check)

    graph = commands.add_parser(
        "graph", help="which jobs run for an event, in what order",
        description="Show which jobs of a workflow run for an event and in what order "
                    "(assuming every job succeeds).")
    graph.add_argument("workflow", metavar="WORKFLOW.yml")
    graph.add_argument("--event", default="push", help="push, pull_request, schedule or "
                       "workflow_dispatch (%(default)s)")
    graph.add_argument("--format", choices=("text", "mermaid", "json"), default="text")
    graph.add_argument("--png", metavar="FILE.png", help="also draw the graph into a PNG file")
    graph.add_argument("--set", action="append", default=[], metavar="PATH=VALUE",
                       dest="context", help="override a context value, e.g. "
                       "github.event.pull_request.head.repo.full_name=someone/fork")
    graph.set_defaults(handler=_graph)

    run = commands.add_parser(
        "run", help="run a workflow's steps on this machine",
        description="Run the `run:` steps of a workflow's jobs in a temporary copy of the "
                    "repository, in `needs` order, with local stand-ins for checkout, "
                    "setup-python, cache, the artifact actions and github-script. Exit 1 "
                    "when a job fails.")
    run.add_argument("workflow", metavar="WORKFLOW.yml")
    run.add_argument("--job", action="append", default=[], metavar="ID",
                     help="run only this job and the jobs it needs (repeatable)")
    run.add_argument("--event", default="push", help="push, pull_request, schedule or "
                     "workflow_dispatch (%(default)s)")
    run.add_argument("--input", action="append", default=[], metavar="NAME=VALUE",
                     help="a workflow_dispatch input")
    run.add_argument("--set", action="append", default=[], metavar="PATH=VALUE",
                     dest="context", help="override a context value, e.g. "
                     "github.event.pull_request.title='a title'")
    run.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                     help="an environment variable for every step")
    run.add_argument("--secret", action="append", default=[], metavar="NAME=VALUE",
                     help="a value for secrets.NAME (only GITHUB_TOKEN exists by default)")
    run.add_argument("--matrix", action="append", default=[], metavar="KEY=VALUE",
                     help="run only the matrix entries with this value")
    run.add_argument("--tree", action="append", default=[], metavar="REF=DIR",
                     help="folder that actions/checkout uses for this ref")
    run.add_argument("--repo", metavar="DIR", help="the repository to copy (default: the one "
                     "holding the workflow's .github folder)")
    run.add_argument("--workdir", metavar="DIR", help="keep workspaces and artifacts here "
                     "(default: a temporary folder, removed afterwards)")
    run.add_argument("--show-output", action="store_true", help="print every step's output")
    run.add_argument("--json", metavar="PATH", help="also write the run report as JSON")
    run.set_defaults(handler=_run)

    env = commands.add_parser(
        "env", help="run a command with the variables a GitHub-hosted runner sets",
        description="Run a command (after --) with this environment plus the variables "
                    "a GitHub-hosted runner gives every step: CI, GITHUB_ACTIONS, "
                    "GITHUB_STEP_SUMMARY and the other file commands (empty files in a "
                    "temporary RUNNER_TEMP), RUNNER_OS, ... For example "
                    "`mlcicd workflow env -- make test-fast` runs the tests as GitHub "
                    "would. Exits with the command's exit code.")
    env.add_argument("command", nargs=argparse.REMAINDER, metavar="-- COMMAND ...")
    env.set_defaults(handler=_env)

    summary = commands.add_parser(
        "summary", help="append markdown to the job summary ($GITHUB_STEP_SUMMARY)",
        description="Append a title, markdown files and a note to the job summary of the "
                    "current GitHub Actions step.")
    summary.add_argument("files", nargs="*", metavar="FILE.md")
    summary.add_argument("--title", help="a heading written first")
    summary.add_argument("--note", help="a note written last (also shown as a notice)")
    summary.set_defaults(handler=_summary)


def _pairs(items: list[str], option: str) -> dict[str, str]:
    pairs = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UserInputError(f"{option} expects NAME=VALUE, got {item!r}")
        pairs[key.strip()] = value
    return pairs


def _emit(text: str) -> None:
    """Print `text`; a reader that stopped reading (`| head`) ends the output quietly."""
    try:
        print(text, flush=True)
    except OSError as err:  # BrokenPipeError; Windows says EINVAL for a closed pipe
        if not isinstance(err, BrokenPipeError) and err.errno != errno.EINVAL:
            raise
        # Python would report the broken pipe again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _check(args: argparse.Namespace) -> int:
    from mlcicd_course import workflows

    if args.list_rules:
        _emit("\n".join(f"{rule_id:<24} {description}"
                         for rule_id, (description, _) in workflows.POLICY_RULES.items()))
        return 0
    check_outputs(("--json", args.json))
    report = workflows.check_paths(args.paths, args.rule)
    if args.json:  # written before anything is printed: a failed write is the only output
        from mlcicd_course.fileio import write_json
        write_json(args.json, report.to_dict())
    _emit("\n".join([*map(str, report.findings), f"{len(report.files)} workflow file(s), "
                                                  f"{len(report.findings)} finding(s)"]))
    return 0 if report.ok else 1


def _graph(args: argparse.Namespace) -> int:
    from mlcicd_course.workflows import job_graph

    check_outputs(("--png", args.png))
    if args.png:  # before any work: a folder that cannot exist is the only output
        blocker = next((parent for parent in Path(args.png).parents if parent.exists()), None)
        if blocker is not None and not blocker.is_dir():
            raise UserInputError(f"cannot write --png {args.png}: {blocker} is a file, "
                                 "not a folder")
    graph = job_graph(args.workflow, args.event, context=_pairs(args.context, "--set"))
    if args.png:
        _write_png(graph, Path(args.png))
    if args.format == "json":
        _emit(json.dumps(graph.to_dict(), indent=2))
    elif args.format == "mermaid":
        _emit(graph.to_mermaid())
    else:
        _emit(graph.to_text())
    return 0


def _write_png(graph: Any, png: Path) -> None:
    """Draw `graph` into `png`; an unwritable place is a one-line error."""
    import io

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    axes = graph.plot()
    axes.figure.tight_layout()
    image = io.BytesIO()
    axes.figure.savefig(image, format="png")
    plt.close(axes.figure)
    try:
        png.parent.mkdir(parents=True, exist_ok=True)
        png.write_bytes(image.getvalue())
    except OSError as err:
        raise UserInputError(f"cannot write --png {png}: {err.strerror}") from None


def _run(args: argparse.Namespace) -> int:
    from mlcicd_course.workflows import RunOptions, format_run, run_workflow

    trees = {ref: Path(folder) for ref, folder in _pairs(args.tree, "--tree").items()}
    for ref, folder in trees.items():
        if not folder.is_dir():
            raise UserInputError(f"--tree {ref}: folder not found: {folder}")
    options = RunOptions(
        event=args.event,
        jobs=tuple(args.job),
        inputs=_pairs(args.input, "--input"),
        context=_pairs(args.context, "--set"),
        env=_pairs(args.env, "--env"),
        secrets=_pairs(args.secret, "--secret"),
        matrix=_pairs(args.matrix, "--matrix"),
        repo=Path(args.repo) if args.repo else None,
        trees=trees,
        workdir=Path(args.workdir) if args.workdir else None,
    )
    check_outputs(("--json", args.json))
    result = run_workflow(args.workflow, options)
    if args.json:  # written before the report: a failed write is the only output
        from mlcicd_course.fileio import write_json
        write_json(args.json, result.to_dict())
    _emit(format_run(result, show_output=args.show_output))
    return 0 if result.ok else 1


def _summary(args: argparse.Namespace) -> int:
    from mlcicd_course.workflows import write_step_summary

    path = write_step_summary(args.files, title=args.title, note=args.note)
    if args.note:
        print(f"::notice::{' '.join(args.note.split())}")
    print(f"appended {len(args.files)} file(s) to the job summary ({path.name})")
    return 0


def _env(args: argparse.Namespace) -> int:
    from mlcicd_course.workflows.runner_env import run_as_step

    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    return run_as_step(command)
