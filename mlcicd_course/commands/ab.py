"""`mlcicd ab size` (units an A/B test needs) and `mlcicd ab analyze` (its result from a CSV)."""

from __future__ import annotations

import argparse

from mlcicd_course.commands import comma_separated
from mlcicd_course.errors import UserInputError
from mlcicd_course.fileio import check_outputs, json_text, read_csv, write_outputs

EXIT_VALID, EXIT_INVALID = 0, 1


def register(subparsers: argparse._SubParsersAction) -> None:
    ab = subparsers.add_parser("ab", help="A/B tests: plan the sample size, analyse results",
                               description="Plan an A/B test's size and duration, or analyse "
                                           "its results per user.")
    commands = ab.add_subparsers(dest="ab_command", metavar="SUBCOMMAND",
                                 parser_class=type(ab), required=True)
    size = commands.add_parser(
        "size", help="units per arm to detect a change of a proportion",
        description="Units per arm that a two-sided two-proportion z-test needs to detect "
                    "BASELINE -> TARGET (e.g. 0.90 -> 0.92) with the given alpha and power; "
                    "with --per-day, the days it takes. Exit 0, or 2 on bad input.")
    size.add_argument("--baseline", type=float, required=True, metavar="P1",
                      help="the control's proportion, e.g. 0.90")
    size.add_argument("--target", type=float, required=True, metavar="P2",
                      help="the smallest treatment proportion worth detecting, e.g. 0.92")
    size.add_argument("--alpha", type=float, default=0.05, help="significance level "
                      "(%(default)s)")
    size.add_argument("--power", type=float, default=0.8, help="power (%(default)s)")
    size.add_argument("--per-day", type=float, default=None, metavar="UNITS",
                      help="new eligible units (users) per day, for the duration")
    size.add_argument("--share", type=float, default=1.0,
                      help="share of the eligible units in the experiment (%(default)s)")
    size.set_defaults(handler=_size)

    analyze = commands.add_parser(
        "analyze", help="analyse an A/B test from a CSV of events or users",
        description="Analyse RESULTS.csv (one row per event or per user): outcomes are "
                    "aggregated per unit, the sample-ratio check comes first, then the "
                    "two-proportion z-test, absolute and relative lift with intervals, "
                    "Cohen's h and the guardrails. Exit 0: the analysis is valid (the "
                    "decision is in the report), 1: sample-ratio mismatch or too few "
                    "units, 2: bad input.")
    analyze.add_argument("results", metavar="RESULTS.csv", help="the experiment's records")
    analyze.add_argument("--unit", required=True, metavar="COL", help="unit (user) id column")
    analyze.add_argument("--variant", required=True, metavar="COL",
                         help="column naming the variant each row had (exactly two)")
    analyze.add_argument("--outcome", required=True, metavar="COL", help="0/1 outcome column")
    analyze.add_argument("--control", default=None, metavar="NAME",
                         help="the control variant (default: first in sorted order)")
    analyze.add_argument("--guardrails", default="", metavar="A,B",
                         help="comma-separated 0/1 columns the treatment must not raise")
    analyze.add_argument("--alpha", type=float, default=0.05, help="significance level "
                         "(%(default)s)")
    analyze.add_argument("--min-units", type=int, default=100, metavar="N",
                         help="fewest units per arm for a conclusion (%(default)s)")
    analyze.add_argument("--json", metavar="PATH", help="write the full analysis as JSON")
    analyze.set_defaults(handler=_analyze)


def _size(args: argparse.Namespace) -> int:
    from mlcicd_course.experiments.power import duration_days, required_sample_size

    plan = required_sample_size(args.baseline, args.target, alpha=args.alpha,
                                power=args.power)
    days = (duration_days(plan.n_total, args.per_day, share=args.share)
            if args.per_day is not None else None)
    print(f"{plan.p1:g} -> {plan.p2:g} (alpha {plan.alpha:g}, power {plan.power:g}, "
          f"two-sided): {plan.n_per_arm:,} units per arm, {plan.n_total:,} in all")
    if days is not None:
        print(f"at {args.per_day:g} units per day ({args.share:.0%} in the experiment): "
              f"{days} days")
    return EXIT_VALID


def _analyze(args: argparse.Namespace) -> int:
    from mlcicd_course.experiments.analysis import analyze

    check_outputs(("--json", args.json), inputs=[("RESULTS.csv", args.results)])
    if args.min_units < 1:
        raise UserInputError(f"--min-units must be at least 1, got {args.min_units}")
    frame = read_csv(args.results, what="results")
    try:
        result = analyze(frame, unit=args.unit, variant=args.variant, outcome=args.outcome,
                         control=args.control, guardrails=comma_separated(args.guardrails),
                         alpha=args.alpha, min_units=args.min_units)
    except UserInputError as err:
        raise UserInputError(f"{args.results}: {err}") from None
    if args.json:
        write_outputs({args.json: json_text(result.to_dict())})
    print("\n".join(result.lines()))
    return EXIT_VALID if result.valid else EXIT_INVALID
