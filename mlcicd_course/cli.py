"""The `mlcicd` command line.

Exit codes, the same for every command: 0 ok, 1 the check failed (drift found, data
invalid, a gate failed, ...), 2 bad usage or unreadable input, reported in one line.
Each command group lives in its own module under `mlcicd_course.commands` and adds
itself with `register(subparsers)`; its handler returns the exit code. `COMMANDS` maps
each top-level command to its module, so that running one command imports only the
libraries that command needs (scikit-learn and scipy take a second or more to import).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from mlcicd_course import __version__
from mlcicd_course.errors import UserInputError

COMMANDS = {
    "data": "mlcicd_course.commands.data",
    "doctor": "mlcicd_course.commands.doctor",
    "drift": "mlcicd_course.commands.drift",
    "exercises": "mlcicd_course.commands.grading",
    "grade": "mlcicd_course.commands.grading",
    "schema": "mlcicd_course.commands.validation",
    "validate": "mlcicd_course.commands.validation",
    "train": "mlcicd_course.commands.testing",
    "evaluate": "mlcicd_course.commands.testing",
    "compare": "mlcicd_course.commands.testing",
    "serve": "mlcicd_course.commands.serving",
    "route": "mlcicd_course.commands.serving",
    "shadow": "mlcicd_course.commands.shadow",
    "workflow": "mlcicd_course.commands.workflow",
    "deploy": "mlcicd_course.commands.deploy",
    "ab": "mlcicd_course.commands.ab",
    "registry": "mlcicd_course.commands.registry",
    "pipeline": "mlcicd_course.commands.pipeline",
}
COMMAND_MODULES = tuple(dict.fromkeys(COMMANDS.values()))

EXIT_OK, EXIT_CHECK_FAILED, EXIT_BAD_INPUT = 0, 1, 2
EXIT_BROKEN_PIPE = 141  # what a shell reports for a writer whose reader went away (128 + SIGPIPE)


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line and exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser(modules: Sequence[str] = COMMAND_MODULES, *,
                 names_only: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The parser with the commands of `modules` (default: every command), plus the
    commands in `names_only` by name alone (enough for an "invalid choice" error)."""
    parser = OneLineParser(prog="mlcicd", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"mlcicd {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND",
                                       parser_class=OneLineParser)
    for name in modules:
        importlib.import_module(name).register(subparsers)
    for command in names_only:
        if command not in subparsers.choices:
            subparsers.add_parser(command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return its exit code (never raise for a user's mistake)."""
    try:
        try:
            return _run(list(sys.argv[1:] if argv is None else argv))
        finally:
            sys.stdout.flush()  # a closed pipe fails here, not in Python's exit
    except BrokenPipeError:
        # The reader stopped early (`mlcicd registry history | head`): end quietly, as
        # other command-line tools do, instead of a traceback when Python flushes stdout.
        _discard_stdout()
        return EXIT_BROKEN_PIPE


def _discard_stdout() -> None:
    """Point stdout at the null device, so the final flush at exit has nowhere to fail."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass  # stdout is not a real file (a test's capture): nothing will be flushed


def _run(argv: list[str]) -> int:
    named = COMMANDS.get(argv[0]) if argv else None
    if named:
        parser = build_parser([named])
    elif argv and argv[0] not in ("-h", "--help"):
        # --version or an unknown command: the names do, no command's libraries are needed
        parser = build_parser([], names_only=list(COMMANDS))
    else:
        parser = build_parser()  # the help lists every command with its description
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_BAD_INPUT
    command = " ".join(["mlcicd", *_command_words(argv)])
    try:
        return int(args.handler(args))
    except UserInputError as err:
        print(f"{command}: error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"{command}: interrupted", file=sys.stderr)
        return 130


def _command_words(argv: Sequence[str]) -> list[str]:
    """The command and subcommand names at the start of `argv` (for error messages)."""
    words = []
    for word in argv[:2]:
        if word.startswith("-") or "." in word or "/" in word:
            break
        words.append(word)
    return words


if __name__ == "__main__":
    sys.exit(main())
