"""The set-up files agree with each other and with the README's promises."""

from __future__ import annotations

import re
import tomllib

import yaml
from packaging.requirements import Requirement

from tests.conftest import ROOT


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def conda_specs() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    specs = {}
    for entry in env["dependencies"]:
        if isinstance(entry, str):
            name, _, spec = re.match(r"([A-Za-z0-9_.\-]+)(\s*)(.*)", entry).groups()
            specs[name.lower().replace("_", "-")] = spec.split("#")[0].strip()
    return specs


def pip_specs() -> dict[str, str]:
    project = pyproject()["project"]
    declared = project["dependencies"] + project["optional-dependencies"]["dev"]
    return {Requirement(r).name.lower(): str(Requirement(r).specifier) for r in declared}


def normalised(spec: str) -> set[str]:
    return {part.strip() for part in spec.split(",") if part.strip()}


def test_environment_yml_lists_the_same_dependencies_as_pyproject():
    conda = conda_specs()
    conda.pop("python"), conda.pop("pip")
    pip = pip_specs()
    assert sorted(conda) == sorted(pip), (
        "environment.yml and pyproject.toml list different packages: "
        f"only in environment.yml {sorted(set(conda) - set(pip))}, "
        f"only in pyproject.toml {sorted(set(pip) - set(conda))}"
    )
    differing = {n: (conda[n], pip[n]) for n in pip if normalised(conda[n]) != normalised(pip[n])}
    assert not differing, f"version ranges differ (environment.yml, pyproject.toml): {differing}"


def test_python_range_is_the_same_in_both_files():
    assert pyproject()["project"]["requires-python"] == ">=3.11"
    assert conda_specs()["python"] == ">=3.11,<3.15"


def test_every_supported_python_is_tested_and_documented():
    """The range in environment.yml, the CI matrices and the README name the same versions."""
    upper = re.fullmatch(r">=3\.11,<3\.(\d+)", conda_specs()["python"])
    supported = [f"3.{minor}" for minor in range(11, int(upper.group(1)))]
    assert "3.14" in supported
    for name, job in (("ml-ci.yml", "test"), ("course-ci.yml", "linux")):
        workflow = yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())
        assert workflow["jobs"][job]["strategy"]["matrix"]["python"] == supported, name
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"Python 3.11-{supported[-1]}" in readme
    assert f"{', '.join(supported[:-1])} and {supported[-1]}" in readme


def test_console_script_points_at_the_cli():
    assert pyproject()["project"]["scripts"] == {"mlcicd": "mlcicd_course.cli:main"}


def test_readme_quickstart_is_exactly_the_two_make_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quickstart = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```(?:sh|bash|shell)?\n(.*?)```", quickstart, flags=re.S)
    lines = [ln.strip() for block in commands for ln in block.splitlines() if ln.strip()]
    assert [ln for ln in lines if ln.startswith("make")] == ["make lab", "make test"]


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"^make test\b", ci, flags=re.M)


def test_makefile_has_the_targets_the_readme_names():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([a-z-]+):", makefile, flags=re.M))
    assert {"lab", "test", "notebooks", "exercises", "lint", "setup", "clean"} <= targets
