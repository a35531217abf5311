"""`mlcicd exercises build|verify` and `mlcicd grade`: graded exercises on the command line."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from mlcicd_course.errors import UserInputError
from mlcicd_course.fileio import check_output_folder, check_outputs


def register(subparsers: argparse._SubParsersAction) -> None:
    exercises = subparsers.add_parser(
        "exercises", help="build and verify the graded exercises",
        description="Generate exercises/ and the package's checks from solutions/, or verify "
                    "that solutions score full marks and exercises score zero.")
    commands = exercises.add_subparsers(dest="exercises_command", metavar="SUBCOMMAND",
                                        parser_class=type(exercises), required=True)
    build = commands.add_parser(
        "build", help="generate exercises/ and the package's checks from solutions/",
        description="Read every solutions/*.ipynb, check its markers, and write the learner's "
                    "notebook to exercises/ and its checks to the package "
                    "(mlcicd_course/data/exercises/). Same input, same bytes.")
    _folders(build)
    build.add_argument("--bank", default=None, metavar="DIR",
                       help="where the checks go (default: the package's data/exercises)")
    build.add_argument("--check", action="store_true",
                       help="write nothing; exit 1 when a generated file is out of date")
    build.set_defaults(handler=_build)

    verify = commands.add_parser(
        "verify", help="solutions score full marks, untouched exercises score 0",
        description="Grade solutions/ and exercises/ with the solutions' checks; exit 1 unless "
                    "every solution question scores full marks and every untouched exercise "
                    "question scores 0.")
    _folders(verify)
    _limits(verify)
    verify.set_defaults(handler=_verify)

    export = commands.add_parser(
        "export-learner", help="write a learner repository (for GitHub Classroom)",
        description="Write DIR with the exercise notebooks, a README and the autograding "
                    "workflow: no solutions, hidden checks or model answers. DIR must be new "
                    "or empty.")
    export.add_argument("dir", metavar="DIR", help="the folder to create")
    export.add_argument("--solutions", default="solutions", metavar="DIR",
                        help="solution notebooks (%(default)s)")
    export.add_argument("--workflow", default=None, metavar="FILE",
                        help="autograding workflow to include as .github/workflows/"
                             "classroom.yml (default: classroom/autograde.yml if present)")
    export.set_defaults(handler=_export)

    grade = subparsers.add_parser(
        "grade", help="grade submitted exercise notebooks into a CSV",
        description="Grade notebooks (files or folders of them). Each question runs in its own "
                    "fresh process with a time and memory limit; the checks come from the "
                    "package (or --source), never from the submission. Writes one CSV row per "
                    "notebook with a points-possible row; exit 0 when grading finished.")
    grade.add_argument("paths", nargs="+", metavar="PATH", help="notebook or folder")
    grade.add_argument("--out", required=True, metavar="CSV", help="grades file to write")
    grade.add_argument("--feedback", metavar="DIR",
                       help="write per-learner feedback (.md and .json) and summary.md here")
    grade.add_argument("--source", metavar="DIR",
                       help="take the checks from these solution notebooks instead of the "
                            "package (e.g. a private copy with secret hidden checks)")
    grade.add_argument("--exercise", metavar="ID",
                       help="grade every notebook as this exercise (default: each notebook's "
                            "`# EXERCISE` line)")
    _limits(grade)
    grade.add_argument("--github", action="store_true",
                       help="in GitHub Actions: print a `Points X/Y` notice and add the "
                            "results to the job summary")
    grade.add_argument("--fail-under", type=float, default=None, metavar="PERCENT",
                       help="exit 1 when a notebook scores below PERCENT of its points")
    grade.add_argument("--resume", action="store_true",
                       help="after an interrupted run: keep the notebooks its journal "
                            "(CSV.journal.jsonl, next to --out) already holds and grade the "
                            "rest; a notebook whose file or checks changed is graded again")
    grade.set_defaults(handler=_grade)


def _folders(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--solutions", default="solutions", metavar="DIR",
                        help="solution notebooks (%(default)s)")
    parser.add_argument("--exercises", default="exercises", metavar="DIR",
                        help="learner notebooks (%(default)s)")


def _limits(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--jobs", type=int, default=None, metavar="N",
                        help="questions graded at once (default: number of CPUs)")
    parser.add_argument("--timeout", type=float, default=30.0, metavar="S",
                        help="seconds per question (%(default)s)")
    parser.add_argument("--memory", type=int, default=2048, metavar="MB",
                        help="memory limit per question on POSIX (%(default)s)")
    parser.add_argument("--spawn", action="store_true",
                        help="start a new interpreter per question instead of forking a warm "
                             "one (slower; the default on Windows)")


def _make_limits(args: argparse.Namespace):
    from mlcicd_course.grading.runner import Limits, SpawnLauncher

    if args.timeout <= 0:
        raise UserInputError(f"--timeout must be positive, got {args.timeout:g}")
    if args.memory < 256:
        raise UserInputError(f"--memory must be at least 256 MB, got {args.memory}")
    if args.jobs is not None and args.jobs < 1:
        raise UserInputError(f"--jobs must be at least 1, got {args.jobs}")
    launcher = SpawnLauncher() if args.spawn else None
    return Limits(timeout=args.timeout, memory_mb=args.memory), launcher


def _build(args: argparse.Namespace) -> int:
    from mlcicd_course.grading.bank import package_bank_dir
    from mlcicd_course.grading.build import build

    bank = Path(args.bank) if args.bank else package_bank_dir()
    result = build(args.solutions, args.exercises, bank, check=args.check)
    names = ", ".join(result.exercises)
    if args.check:
        if result.stale:
            for path in result.stale:
                print(f"out of date: {path}")
            print("run `mlcicd exercises build` (or `make exercises`) and commit the result")
            return 1
        print(f"up to date: {len(result.exercises)} exercises ({names})")
        return 0
    for path in result.written:
        print(f"wrote {path}")
    for path in result.stale:
        if path not in result.written:
            print(f"warning: {path}")
    print(f"built {len(result.exercises)} exercises ({names}); "
          f"{len(result.written)} files changed")
    return 0


def _export(args: argparse.Namespace) -> int:
    from mlcicd_course.grading.build import export_learner

    workflow = args.workflow
    if workflow is None and Path("classroom/autograde.yml").is_file():
        workflow = "classroom/autograde.yml"
    written = export_learner(args.solutions, args.dir, workflow=workflow)
    for path in written:
        print(f"wrote {path}")
    print(f"exported {len(written)} files to {args.dir}: no solutions, hidden checks or model "
          "answers")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from mlcicd_course.grading.batch import verify

    limits, launcher = _make_limits(args)
    for folder in (args.solutions, args.exercises):
        if not Path(folder).is_dir():
            raise UserInputError(f"folder not found: {folder}")
    problems, graded = verify(args.solutions, args.exercises, jobs=args.jobs, limits=limits,
                              launcher=launcher)
    for result in graded:
        print(f"{result.submission}: {result.total:g}/{result.max_points:g} ({result.status})")
    for problem in problems:
        print(f"FAIL {problem}")
    print("ok: every solution scores full marks and every exercise scores 0" if not problems
          else f"{len(problems)} problem(s)")
    return 0 if not problems else 1


def _progress(done: int, total: int, name: str) -> None:
    if sys.stderr.isatty():
        width = 30
        filled = int(width * done / total)
        sys.stderr.write(f"\rgrading [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        if done == total:
            sys.stderr.write("\n")
    else:
        sys.stderr.write(f"graded {done}/{total}: {name}\n")
    sys.stderr.flush()


def _check_outputs(args: argparse.Namespace) -> None:
    """Every output writable and none of them an input: checked before any grading."""
    from mlcicd_course.grading.batch import find_submissions

    if args.source and not Path(args.source).is_dir():
        raise UserInputError(f"--source folder not found: {args.source}")
    inputs = [("notebook", path) for _, path in find_submissions(args.paths)]
    if args.source:
        inputs += [("source notebook", path) for path in Path(args.source).glob("*.ipynb")]
    summary = os.environ.get("GITHUB_STEP_SUMMARY") if args.github else None
    check_outputs(("--out", args.out), ("$GITHUB_STEP_SUMMARY", summary or None),
                  inputs=inputs)
    if args.feedback:
        check_output_folder("--feedback", args.feedback)


def _grade(args: argparse.Namespace) -> int:
    from mlcicd_course.fileio import write_text_atomic
    from mlcicd_course.grading.batch import grade_batch, grades_csv
    from mlcicd_course.grading.feedback import github_report, write_feedback
    from mlcicd_course.grading.journal import Journal, journal_path, read_journal

    limits, launcher = _make_limits(args)
    out = Path(args.out)
    _check_outputs(args)
    done = read_journal(journal_path(out)) if args.resume else {}
    journal = Journal(journal_path(out), keep=args.resume)
    try:
        results = grade_batch(args.paths, source=args.source, exercise=args.exercise,
                              jobs=args.jobs, limits=limits, launcher=launcher,
                              progress=_progress, done=done, on_result=journal.record)
        write_text_atomic(out, grades_csv(results))
        if args.feedback:
            write_feedback(results, args.feedback)
    except BaseException:
        journal.close()
        raise
    finally:
        if launcher is not None:
            launcher.close()
    journal.close(remove=True)
    counts: dict[str, int] = {}
    for result in results:
        counts[result.status] = counts.get(result.status, 0) + 1
    statuses = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    earlier = {id(result) for result in done.values()}
    reused = sum(id(result) in earlier for result in results)
    print(f"graded {len(results)} notebook(s): {statuses}"
          + (f" ({reused} from the journal of the interrupted run)" if args.resume else ""))
    print(f"wrote {out}" + (f" and feedback in {args.feedback}" if args.feedback else ""))
    if not args.source:
        print("note: graded with the package's public checks; hidden checks need the "
              "solutions (--source DIR)")
    if args.github:
        notice, summary = github_report(results)
        print(notice)
        summary_path = os.environ.get("GITHUB_STEP_SUMMARY")
        if summary_path:
            with open(summary_path, "a", encoding="utf-8") as handle:
                handle.write(summary + "\n")
    if args.fail_under is not None:
        low = [r for r in results
               if not r.max_points or 100 * r.total / r.max_points < args.fail_under]
        if low:
            print(f"{len(low)} notebook(s) below {args.fail_under:g}% of the points")
            return 1
    return 0
