"""CLI conventions shared by every command: --help, one-line usage errors, exit codes."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

import pytest

from mlcicd_course import cli


def all_command_paths() -> list[list[str]]:
    """Every command and subcommand path, e.g. ["data", "generate"]."""
    paths: list[list[str]] = []

    def walk(parser: argparse.ArgumentParser, prefix: list[str]) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    paths.append([*prefix, name])
                    walk(sub, [*prefix, name])

    walk(cli.build_parser(), [])
    return paths


def test_the_foundation_commands_are_registered():
    paths = [" ".join(p) for p in all_command_paths()]
    assert {"data", "data generate", "doctor"} <= set(paths)


@pytest.mark.parametrize("path", all_command_paths(), ids=" ".join)
def test_help_works_on_every_command(path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([*path, "--help"])
    assert exit_info.value.code == 0
    assert "usage: mlcicd" in capsys.readouterr().out


def test_unknown_command_is_a_one_line_usage_error(run_cli):
    result = run_cli("frobnicate")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "invalid choice: 'frobnicate'" in result.stderr


def test_no_command_prints_help_and_exits_2(run_cli):
    result = run_cli()
    assert result.returncode == 2 and "COMMAND" in result.stdout


def test_version(run_cli):
    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout.startswith("mlcicd ")


def test_the_command_map_names_exactly_what_each_module_registers():
    registered = {}
    for module in cli.COMMAND_MODULES:
        for path in all_command_paths_of(cli.build_parser([module])):
            registered.setdefault(path[0], module)
    assert registered == cli.COMMANDS


def all_command_paths_of(parser: argparse.ArgumentParser) -> list[list[str]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return [[name] for name in action.choices]
    return []


@pytest.mark.parametrize("command", ["data", "validate", "schema"])
def test_running_one_command_does_not_import_the_others(command):
    # Data commands run in every pipeline: they must not pay for scikit-learn and scipy.
    probe = (
        "import sys\n"
        "from mlcicd_course import cli\n"
        "try:\n"
        f"    cli.main([{command!r}, '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = ('sklearn', 'scipy', 'mlcicd_course.drift')\n"
        "print(sorted(m for m in sys.modules if m in heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("argv", [["--version"], ["frobnicate"]])
def test_version_and_unknown_commands_import_no_command(argv):
    probe = (
        "import sys\n"
        "from mlcicd_course import cli\n"
        "try:\n"
        f"    code = cli.main({argv!r})\n"
        "except SystemExit as stop:\n"
        "    code = stop.code\n"
        "print(code, sorted(m for m in sys.modules if m.startswith('mlcicd_course.commands.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    code, modules = out.stdout.strip().splitlines()[-1].split(" ", 1)
    assert modules == "[]"
    assert code == ("0" if argv == ["--version"] else "2")


def test_a_reader_that_stops_early_ends_the_command_quietly():
    """`mlcicd registry history | head -1`: no traceback, the shell's code for a closed pipe."""
    long_output = ("import sys; from mlcicd_course import cli; "
                   "cli._run = lambda argv: print('line\\n' * 100_000) or 0; "
                   "sys.exit(cli.main([]))")
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first line is written
    with open(write_end, "wb") as stdout:
        done = subprocess.run([sys.executable, "-c", long_output],
                              stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=60)
    assert done.stderr == ""
    assert done.returncode == cli.EXIT_BROKEN_PIPE
