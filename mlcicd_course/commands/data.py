"""`mlcicd data generate`: write the running example's monthly batches and data card."""

from __future__ import annotations

import argparse

from mlcicd_course import datasets
from mlcicd_course.commands import comma_separated
from mlcicd_course.errors import UserInputError


def register(subparsers: argparse._SubParsersAction) -> None:
    data = subparsers.add_parser("data", help="the course's running-example data set",
                                 description="The course's running-example data set.")
    commands = data.add_subparsers(dest="data_command", metavar="SUBCOMMAND",
                                   parser_class=type(data), required=True)
    gen = commands.add_parser(
        "generate", help="write monthly CSV batches and data_card.json",
        description="Write monthly CSV batches of the running example and a JSON data "
                    "card. The same arguments always give byte-identical files.")
    defaults = datasets.Scenario()
    gen.add_argument("--out", required=True, metavar="DIR", help="folder to write into")
    gen.add_argument("--seed", type=int, default=defaults.seed, help="random seed (%(default)s)")
    gen.add_argument("--months", type=int, default=defaults.months,
                     help="number of monthly batches (%(default)s)")
    gen.add_argument("--rows", type=int, default=defaults.rows_per_month,
                     help="rows per month (%(default)s)")
    gen.add_argument("--start", default=defaults.start, help="first month, YYYY-MM (%(default)s)")
    gen.add_argument("--drift-start", type=int, default=None,
                     help="first month (1-based) with drift (default: after the first half)")
    gen.add_argument("--covariate-drift", type=float, default=0.0,
                     help="final covariate shift: +20 EUR prices and less usage per unit (0)")
    gen.add_argument("--concept-drift", type=float, default=0.0,
                     help="final move of the labelling rule, 0 to 1 (0)")
    gen.add_argument("--churn-rate", type=float, default=None,
                     help="final churn rate after a label-prior shift (default: no shift)")
    gen.add_argument("--missing-rate", type=float, default=0.0,
                     help="share of usage_hours left blank in every month (0)")
    gen.add_argument("--faults", default="",
                     help="comma-separated data-quality faults: " + ", ".join(datasets.FAULTS))
    gen.add_argument("--fault-months", default="",
                     help="comma-separated months (1-based) that get the faults (default: last)")
    gen.set_defaults(handler=_generate)


def _generate(args: argparse.Namespace) -> int:
    scenario = datasets.Scenario(
        seed=args.seed,
        months=args.months,
        rows_per_month=args.rows,
        start=args.start,
        drift_start=args.drift_start,
        covariate_drift=args.covariate_drift,
        concept_drift=args.concept_drift,
        churn_rate=args.churn_rate,
        missing_rate=args.missing_rate,
        faults=comma_separated(args.faults),
        fault_months=tuple(_int(m, "--fault-months") for m in comma_separated(args.fault_months)),
    )
    datasets.sample(0, churn_rate=args.churn_rate, missing_rate=args.missing_rate)  # validates
    paths = datasets.write_dataset(scenario, args.out)
    print(f"wrote {len(paths) - 1} monthly batches and data_card.json to {args.out}")
    return 0


def _int(text: str, option: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise UserInputError(f"{option} expects whole numbers, got {text!r}") from None
