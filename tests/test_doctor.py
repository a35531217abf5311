"""`mlcicd doctor` reports every check and fails when something is missing."""

from __future__ import annotations

from mlcicd_course import doctor


def test_every_declared_requirement_is_checked():
    names = {c.name.split()[1] for c in doctor.run_checks() if c.name.startswith("package ")}
    declared = {r.name for r in doctor.course_requirements()}
    assert {"numpy", "pandas", "scikit-learn", "nbval", "jupyterlab"} <= declared
    assert declared <= names


def test_a_missing_package_fails_with_a_fix():
    check = doctor.check_requirement("surely-not-installed-package>=1.0")
    assert not check.ok
    assert check.detail == "not installed"
    assert 'pip install "surely-not-installed-package>=1.0"' in check.line()
    assert check.line().startswith("FAIL ")


def test_a_package_outside_its_range_fails():
    check = doctor.check_requirement("numpy<1.0")
    assert not check.ok and check.detail.startswith("2.")


def test_old_python_fails_and_current_python_passes():
    assert not doctor.check_python((3, 10, 12)).ok
    assert doctor.check_python((3, 13, 0)).ok


def test_unwritable_folder_fails(tmp_path):
    check = doctor.check_writable(tmp_path / "does-not-exist")
    assert not check.ok and "cannot write" in check.detail
    assert doctor.check_writable(tmp_path).ok


def test_missing_kernel_fails():
    check = doctor.check_kernel("no-such-kernel-xyz")
    assert not check.ok and "ipykernel install" in check.fix


def test_local_port_and_matplotlib_work_here():
    assert doctor.check_free_port().ok
    assert doctor.check_matplotlib().ok


def test_cli_prints_one_line_per_check_and_exits_1_on_a_missing_package(run_cli):
    result = run_cli("doctor", "--require", "surely-not-installed-package>=1")
    lines = result.stdout.strip().splitlines()
    assert result.returncode == 1
    assert any(ln.startswith("FAIL package surely-not-installed-package") for ln in lines)
    assert lines[0].startswith("OK   Python >= 3.11")
    assert "checks passed" in lines[-1]
    assert len(lines) == len(doctor.run_checks(["x>=1"])) + 1
