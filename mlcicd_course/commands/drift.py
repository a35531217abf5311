"""`mlcicd drift`: compare a current CSV batch with a reference batch, column by column."""

from __future__ import annotations

import argparse

from mlcicd_course import drift
from mlcicd_course.commands import comma_separated
from mlcicd_course.errors import UserInputError
from mlcicd_course.fileio import check_outputs, read_csv, write_outputs

EXIT_NO_DRIFT, EXIT_DRIFT = 0, 1  # 1 also for a schema change


def register(subparsers: argparse._SubParsersAction) -> None:
    defaults = drift.DriftOptions()
    parser = subparsers.add_parser(
        "drift", help="data drift between a reference and a current CSV batch",
        description="Compare CURRENT.csv with REFERENCE.csv column by column: a test "
                    "(KS or chi-square) and an effect size (Wasserstein/std or JS distance) "
                    "per column, missing rates and new categories, and a dataset verdict. "
                    "Exit 0: no dataset drift, 1: drift or a schema change (a column "
                    "missing on one side, or numeric on one side only), 2: bad input or "
                    "nothing testable. "
                    "Leave out ids and timestamps with --ignore or choose with --columns.")
    parser.add_argument("reference", metavar="REFERENCE.csv", help="the reference batch")
    parser.add_argument("current", metavar="CURRENT.csv", help="the batch to check")
    parser.add_argument("--json", metavar="PATH", help="write the full report as JSON")
    parser.add_argument("--markdown", metavar="PATH",
                        help="write the report as markdown (PR comment, job summary)")
    parser.add_argument("--columns", metavar="A,B", default="",
                        help="comma-separated columns to compare (default: all)")
    parser.add_argument("--ignore", metavar="A,B", default="",
                        help="comma-separated columns to leave out, e.g. customer_id,month")
    parser.add_argument("--alpha", type=float, default=defaults.alpha,
                        help="significance level after correction (%(default)s)")
    parser.add_argument("--correction", choices=drift.CORRECTIONS, default=defaults.correction,
                        help="multiple-testing correction (%(default)s)")
    parser.add_argument("--method", choices=drift.METHODS, default=defaults.method,
                        help="what decides a column: p-value at small n and effect size "
                             "at large n (auto), test, effect or both (%(default)s)")
    parser.add_argument("--drift-share", type=float, default=None, metavar="S",
                        help="dataset drift when more than this share of the columns drift "
                             "(default: any column)")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    check_outputs(("--json", args.json), ("--markdown", args.markdown),
                  inputs=[("REFERENCE.csv", args.reference), ("CURRENT.csv", args.current)])
    options = drift.DriftOptions(
        alpha=args.alpha,
        correction=args.correction,
        method=args.method,
        drift_share=args.drift_share,
        columns=comma_separated(args.columns) or None,
        ignore=comma_separated(args.ignore),
    )
    reference = read_csv(args.reference, what="reference")
    current = read_csv(args.current, what="current")
    try:
        report = drift.detect_drift(reference, current, options)
    except UserInputError as err:
        raise UserInputError(f"{args.reference} vs {args.current}: {err}") from None
    if report.verdict == "inconclusive":
        reasons = "; ".join(f"{f.feature}: {f.reason}" for f in report.features[:3])
        more = f" (and {len(report.features) - 3} more)" if len(report.features) > 3 else ""
        raise UserInputError(f"no column could be tested ({reasons}{more})")
    files = {}
    if args.json:
        files[args.json] = report.to_json()
    if args.markdown:
        files[args.markdown] = report.to_markdown()
    write_outputs(files)
    print(report.summary)
    print(drift.drift_table(report).to_string())
    for row in report.features:
        if row.notes:
            print(f"note: {row.feature}: {'; '.join(row.notes)}")
    print(f"rule: {report.rule}")
    return EXIT_DRIFT if report.dataset_drift or report.schema_changes else EXIT_NO_DRIFT
