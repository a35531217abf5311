"""Offline static checks of every workflow with the tools GitHub users rely on.

zizmor (security audits, run with --offline) and check-jsonschema (the GitHub workflow
and Dependabot JSON schemas that ship with it) must accept every file in .github/, and
must reject the deliberately bad fixtures, so the gate itself is shown to work.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

WORKFLOWS = sorted([*(ROOT / ".github" / "workflows").glob("*.yml"),
                    *(ROOT / ".github" / "workflows").glob("*.yaml")])
DEPENDABOT = ROOT / ".github" / "dependabot.yml"
FIXTURES = ROOT / "tests" / "fixtures" / "workflows"


def tool(name: str) -> str:
    """The tool installed beside this interpreter (the course's environment), else on PATH."""
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    assert found, f"{name} is not installed: run `make setup` (it is in the dev extra)"
    return found


def run(*args: object) -> subprocess.CompletedProcess[str]:
    """Run a tool in the repository, with paths relative to it."""
    words = [str(a.relative_to(ROOT)) if isinstance(a, Path) and a.is_relative_to(ROOT)
             else str(a) for a in args]
    return subprocess.run(words, cwd=ROOT, capture_output=True, text=True, timeout=300)


def zizmor(*paths: Path) -> tuple[subprocess.CompletedProcess[str], list[dict]]:
    result = run(tool("zizmor"), "--offline", "--format", "json", *paths)
    return result, json.loads(result.stdout or "[]")


def test_there_are_workflows_to_check():
    assert len(WORKFLOWS) >= 6 and DEPENDABOT.is_file()


def test_zizmor_finds_nothing_in_any_workflow_or_the_dependabot_config():
    result, findings = zizmor(*WORKFLOWS, DEPENDABOT)
    assert findings == [], json.dumps(findings, indent=2)[:3000]
    assert result.returncode == 0, result.stderr
    # zizmor only warns about a file it cannot parse; make sure each one was audited.
    assert "failed to parse" not in result.stderr
    for path in [*WORKFLOWS, DEPENDABOT]:
        assert f"completed {path.relative_to(ROOT).as_posix()}" in result.stderr.replace(
            "\\", "/"), result.stderr


@pytest.mark.parametrize("fixture, audit", [
    ("bad_expression_in_run.yml", "template-injection"),
    ("bad_unpinned_uses.yml", "unpinned-uses"),
    ("bad_pull_request_target.yml", "dangerous-triggers"),
    ("bad_job_permissions.yml", "excessive-permissions"),
])
def test_zizmor_rejects_the_bad_fixtures(fixture, audit):
    result, findings = zizmor(FIXTURES / fixture)
    assert result.returncode != 0
    assert audit in {f["ident"] for f in findings}


@pytest.mark.parametrize("seed", sorted((FIXTURES / "seed").glob("*.yml")),
                         ids=lambda p: p.name)
def test_zizmor_rejects_every_seed_workflow(seed):
    result, findings = zizmor(seed)
    assert result.returncode != 0
    assert {"unpinned-uses", "artipacked", "excessive-permissions"} <= {f["ident"]
                                                                        for f in findings}


@pytest.mark.parametrize("schema", ["vendor.github-workflows",
                                    "custom.github-workflows-require-timeout"])
def test_every_workflow_matches_the_schema(schema):
    result = run(tool("check-jsonschema"), "--builtin-schema", schema, *WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok -- validation done" in result.stdout


def test_the_dependabot_config_matches_its_schema():
    result = run(tool("check-jsonschema"), "--builtin-schema", "vendor.dependabot", DEPENDABOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_rejects_a_broken_workflow_and_a_missing_timeout():
    broken = run(tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows",
                 FIXTURES / "broken_structure.yml")
    assert broken.returncode == 1
    assert "'runs-on' is a required property" in broken.stdout
    assert "'writ' is not one of ['read', 'write', 'none']" in broken.stdout
    timeout = run(tool("check-jsonschema"), "--builtin-schema",
                  "custom.github-workflows-require-timeout", FIXTURES / "bad_job_timeout.yml")
    assert timeout.returncode == 1
