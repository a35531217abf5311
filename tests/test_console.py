"""The helpers that run `mlcicd` and pytest for the testing chapter, and print their output."""

from __future__ import annotations

from mlcicd_course import console


def test_mask_hashes_hides_full_digests_and_their_prefixes_only():
    digest = "0123456789abcdef" * 4
    text = f"sha256 {digest}, short {digest[:12]}, not a digest: {digest[:11]} deadbeef"
    assert console.mask_hashes(text) == (
        f"sha256 <sha256>, short <sha256>, not a digest: {digest[:11]} deadbeef")


def test_run_cli_runs_in_the_given_folder_and_prints_the_exit_code(tmp_path, capsys):
    console.run_cli("data generate --out data --months 1 --rows 50", cwd=tmp_path)
    printed = capsys.readouterr().out
    assert (tmp_path / "data" / "2026-01.csv").is_file()
    assert printed.rstrip().endswith("exit code 0")
    console.run_cli("data generate --out data --faults gremlins", cwd=tmp_path)
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["mlcicd data generate: error: unknown fault 'gremlins'; choose from "
                     "out_of_range, duplicates, unseen_category, wrong_dtype, missing_burst",
                     "exit code 2"]


def test_pytest_environment_drops_ci_variables_and_fixes_the_width():
    environment = console.pytest_environment({"CI": "true", "BUILD_NUMBER": "7", "HOME": "/h",
                                              "COLUMNS": "80"})
    assert environment == {"HOME": "/h", "COLUMNS": "250",
                           "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}


def test_tidy_report_removes_width_dependent_padding():
    raw = ".F      [100%]\n========== short test summary info ==========\nFAILED t.py::x\n"
    assert console.tidy_report(raw) == (".F  [100%]\n=== short test summary info ===\n"
                                        "FAILED t.py::x")


def test_run_pytest_prints_one_line_per_failure_and_the_exit_code(tmp_path, capsys):
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "test_one.py").write_text(
        "def test_passes():\n    assert True\n\n\n"
        "def test_fails():\n    assert 1 == 2, 'one is not two'\n", encoding="utf-8")
    console.run_pytest("suite", "", cwd=tmp_path)
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == ".F  [100%]"
    assert "FAILED suite/test_one.py::test_fails - AssertionError: one is not two" in printed
    assert printed[-1] == "exit code 1"
