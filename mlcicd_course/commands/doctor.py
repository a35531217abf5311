"""`mlcicd doctor`: check that this machine can run the course."""

from __future__ import annotations

import argparse

from mlcicd_course import KERNEL_NAME, doctor


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "doctor", help="check that this machine can run the course",
        description="Check Python, every required package, the Jupyter kernel, matplotlib, "
                    "a local port and write access. One line per check; exit 0 only when "
                    "all pass.")
    parser.add_argument("--require", action="append", default=[], metavar="SPEC",
                        help='also check this package, e.g. "evidently>=0.7" (repeatable)')
    parser.add_argument("--kernel", default=KERNEL_NAME, help="kernel name (%(default)s)")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    checks = doctor.run_checks(args.require, kernel=args.kernel)
    for check in checks:
        print(check.line())
    failed = sum(not c.ok for c in checks)
    print(f"{len(checks) - failed} of {len(checks)} checks passed"
          + ("" if not failed else f"; fix the {failed} FAIL line(s) above and run again"))
    return 0 if not failed else 1
