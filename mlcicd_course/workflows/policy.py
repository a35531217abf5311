"""Checking workflows against the course's policy: what zizmor and the schema do not check.

The rules live in the `rules_*` modules and register themselves in `POLICY_RULES`; each
has a deliberately bad fixture in tests/fixtures/workflows/ that it must reject. Most
rules read one file; `consistent-pins` reads every file checked together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlcicd_course.errors import UserInputError
from mlcicd_course.workflows import (  # noqa: F401  (importing a rule module registers its rules)
    rules_jobs,
    rules_permissions,
    rules_pins,
    rules_python,
    rules_triggers,
)
from mlcicd_course.workflows.findings import ACROSS_FILES, POLICY_RULES, Finding
from mlcicd_course.workflows.reader import Workflow, load_workflow, workflow_files


def check_workflows(workflows: Sequence[Workflow], rules: Sequence[str] | None = None
                    ) -> list[Finding]:
    """Every policy finding for `workflows` checked together (all rules, or only `rules`).

    A rule that cannot evaluate something locally reports it as a finding about the file
    (never an error that stops the other files).
    """
    unknown = sorted(set(rules or ()) - set(POLICY_RULES))
    if unknown:
        raise UserInputError(f"unknown rule {unknown[0]!r}; rules: {', '.join(POLICY_RULES)}")
    findings: list[Finding] = []
    for rule_id, (_, func) in POLICY_RULES.items():
        if rules is not None and rule_id not in rules:
            continue
        if rule_id in ACROSS_FILES:
            findings.extend(func(workflows))
            continue
        for workflow in workflows:
            try:
                findings.extend(func(workflow))
            except UserInputError as err:
                findings.append(Finding(rule_id, f"cannot evaluate locally: {err}",
                                        workflow.display_path(), 1))
    order = {workflow.display_path(): index for index, workflow in enumerate(workflows)}
    return sorted(findings, key=lambda f: (order.get(f.path, 0), f.line, f.rule))


def check_workflow(workflow: Workflow, rules: Sequence[str] | None = None) -> list[Finding]:
    """Every policy finding for one workflow, in line order."""
    return check_workflows([workflow], rules)


@dataclass(frozen=True)
class CheckReport:
    """Findings for a set of workflow files."""

    files: tuple[str, ...]
    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        return not self.findings

    def to_dict(self) -> dict[str, Any]:
        return {"files": list(self.files), "ok": self.ok,
                "findings": [finding.to_dict() for finding in self.findings]}


def check_paths(paths: Sequence[str | Path], rules: Sequence[str] | None = None) -> CheckReport:
    """Check every workflow file named by `paths` (files or folders)."""
    workflows = [load_workflow(path) for path in workflow_files(paths)]
    return CheckReport(tuple(workflow.display_path() for workflow in workflows),
                       tuple(check_workflows(workflows, rules)))
