"""`mlcicd shadow report`: read a shadow log and say whether to proceed to a canary."""

from __future__ import annotations

import argparse

from mlcicd_course.fileio import check_outputs, json_text, read_csv, write_outputs

EXIT_PROCEED, EXIT_HOLD = 0, 1


def register(subparsers: argparse._SubParsersAction) -> None:
    from mlcicd_course.shadow.promotion import PromotionPolicy

    defaults = PromotionPolicy()
    parser = subparsers.add_parser(
        "shadow", help="analyse a shadow test (the router's mirror log)",
        description="Commands for shadow deployments.")
    commands = parser.add_subparsers(dest="shadow_command", metavar="SUBCOMMAND",
                                     parser_class=type(parser), required=True)
    report = commands.add_parser(
        "report", help="compare primary and shadow from a mirror log; decide",
        description="Read LOG.jsonl (one line per mirrored request, written by the router "
                    "in mirror mode with the shadow_log setting) and compare the versions: "
                    "agreement with a Wilson interval, overall and per segment, the shift "
                    "of predicted probabilities, latency and failures, and accuracy once "
                    "labels are joined by request id. Exit 0: proceed to a canary, 1: hold, "
                    "2: bad input (a malformed line is named with its number).")
    report.add_argument("log", metavar="LOG.jsonl", help="the router's shadow log")
    report.add_argument("--labels", metavar="LABELS.csv",
                        help="delayed labels: columns request_id, label and optionally row "
                             "(the row of the request's batch, default 0)")
    report.add_argument("--segment", action="append", metavar="COL",
                        help="input column to split agreement by (repeatable; default: "
                             "contract and region when logged)")
    report.add_argument("--json", metavar="PATH", help="write report and verdict as JSON")
    report.add_argument("--min-rows", type=int, default=defaults.min_rows, metavar="N",
                        help="rows to compare before any verdict but hold (%(default)s)")
    report.add_argument("--min-agreement", type=float, default=defaults.min_agreement,
                        metavar="A", help="lowest allowed lower bound of agreement "
                                          "(%(default)s)")
    report.add_argument("--max-p99-ms", type=float, default=defaults.max_p99_ms, metavar="MS",
                        help="shadow p99 latency budget (%(default)s)")
    report.set_defaults(handler=_report)


def _report(args: argparse.Namespace) -> int:
    from mlcicd_course.errors import UserInputError
    from mlcicd_course.shadow.analysis import analyze
    from mlcicd_course.shadow.log import read_log
    from mlcicd_course.shadow.promotion import PromotionPolicy, decide

    inputs = [("LOG.jsonl", args.log)] + ([("--labels", args.labels)] if args.labels else [])
    check_outputs(("--json", args.json), inputs=inputs)
    if args.min_rows < 1 or not 0 <= args.min_agreement <= 1 or not args.max_p99_ms > 0:
        raise UserInputError("need --min-rows >= 1, --min-agreement in 0..1 and "
                             "--max-p99-ms > 0")
    records = read_log(args.log)
    labels = read_csv(args.labels, what="labels") if args.labels else None
    report = analyze(records, labels, args.segment)
    policy = PromotionPolicy(min_rows=args.min_rows, min_agreement=args.min_agreement,
                             max_p99_ms=args.max_p99_ms)
    verdict = decide(report, policy)
    if args.json:
        write_outputs({args.json: json_text({"report": report.to_dict(),
                                             "policy": policy.to_dict(),
                                             "verdict": verdict.to_dict()})})
    print(report.text())
    print(verdict.text())
    return EXIT_PROCEED if verdict.proceed else EXIT_HOLD
