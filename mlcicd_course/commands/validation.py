"""`mlcicd schema infer` and `mlcicd validate`: data schemas and data validation.

Exit codes: 0 ok; 1 the data is invalid (validate); 2 bad input (missing or unreadable
file, malformed CSV or YAML). Kept apart from the model commands so that validating data
does not import scikit-learn and scipy: it is the most frequent step of a data pipeline.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mlcicd_course import reporting, validation
from mlcicd_course.errors import UserInputError
from mlcicd_course.fileio import check_outputs, json_text, read_csv, read_header, write_outputs


def register(subparsers: argparse._SubParsersAction) -> None:
    schema = subparsers.add_parser("schema", help="data schemas for validation",
                                   description="Data schemas for `mlcicd validate`.")
    schema_commands = schema.add_subparsers(dest="schema_command", metavar="SUBCOMMAND",
                                            parser_class=type(schema), required=True)
    infer = schema_commands.add_parser(
        "infer", help="draft a YAML schema from reference data",
        description="Draft a YAML schema from reference data: dtypes, missing rates, observed "
                    "ranges, allowed categories, unique keys, row counts. Review it before "
                    "use: observed ranges are narrower than what is valid.")
    infer.add_argument("data", metavar="DATA.csv", help="reference data")
    infer.add_argument("--out", required=True, metavar="SCHEMA.yaml", help="file to write")
    infer.add_argument("--max-categories", type=int, default=20,
                       help="text columns with at most this many values get an allowed set "
                            "(%(default)s)")
    infer.set_defaults(handler=_schema_infer)

    validate = subparsers.add_parser(
        "validate", help="check a CSV against a schema (exit 1 = invalid data)",
        description="Check a CSV file against a YAML schema and list every failure. "
                    "Exit 0 valid, 1 invalid, 2 unreadable input.")
    validate.add_argument("data", metavar="DATA.csv")
    validate.add_argument("--schema", required=True, metavar="SCHEMA.yaml")
    validate.add_argument("--json", metavar="PATH", help="also write the report as JSON")
    validate.add_argument("--markdown", metavar="PATH",
                          help="also write the report as markdown (e.g. $GITHUB_STEP_SUMMARY)")
    validate.set_defaults(handler=_validate)


def _schema_infer(args: argparse.Namespace) -> int:
    check_outputs(("--out", args.out), inputs=[("DATA.csv", args.data)])
    if args.max_categories < 1:
        raise UserInputError(f"--max-categories must be at least 1, got {args.max_categories}")
    frame = read_csv(args.data, what="reference data")
    schema = validation.infer_schema(frame, max_categories=args.max_categories)
    header = (f"Draft schema inferred by `mlcicd schema infer` from {Path(args.data).name} "
              f"({len(frame)} rows).\nReview it: observed ranges and category sets are "
              "narrower than what is valid.")
    validation.save_schema(schema, args.out, header=header)
    for warning in validation.inference_warnings(frame, read_header(args.data)):
        print(f"warning: {warning}")
    print(f"wrote a draft schema for {len(schema.columns)} columns to {args.out}; "
          "review it before use")
    return 0


def _validate(args: argparse.Namespace) -> int:
    check_outputs(("--json", args.json), ("--markdown", args.markdown),
                  inputs=[("DATA.csv", args.data), ("--schema", args.schema)])
    schema = validation.load_schema(args.schema)
    report = validation.validate_file(args.data, schema)
    files = {}
    if args.json:
        files[args.json] = json_text(report.to_dict())
    if args.markdown:
        files[args.markdown] = reporting.validation_markdown(report.to_dict())
    write_outputs(files)
    print(f"{args.data}: {report.summary()}")
    for failure in report.failures:
        print(f"  {failure.line()}")
    return 0 if report.valid else 1
