"""Policy findings and the registry of rules (each rule module adds its rules here)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

from mlcicd_course.workflows.reader import Workflow


@dataclass(frozen=True)
class Finding:
    """One policy violation: which rule, where, and what to do."""

    rule: str
    message: str
    path: str
    line: int
    job: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.rule}: {self.message}"


Check = Callable[..., Iterator[Finding]]
#: Rule id -> (description, check). A check takes one workflow, or, for the rules in
#: `ACROSS_FILES`, every workflow checked together.
POLICY_RULES: dict[str, tuple[str, Check]] = {}
ACROSS_FILES: set[str] = set()


def rule(rule_id: str, description: str, *, across_files: bool = False
         ) -> Callable[[Check], Check]:
    """Register a policy rule under `rule_id`."""
    def register(func: Check) -> Check:
        POLICY_RULES[rule_id] = (description, func)
        if across_files:
            ACROSS_FILES.add(rule_id)
        return func
    return register


def finding(workflow: Workflow, rule: str, message: str, keys: tuple,
            job: str | None = None) -> Finding:
    return Finding(rule, message, workflow.display_path(), workflow.line(*keys), job)


def uses_sites(workflow: Workflow) -> Iterator[tuple[str, tuple, str | None]]:
    """(uses value, key path, job id) for every step and reusable-workflow `uses:`."""
    for job in workflow.jobs.values():
        if job.uses:
            yield job.uses, ("jobs", job.id, "uses"), job.id
        for step in job.steps:
            if step.uses:
                yield step.uses, ("jobs", job.id, "steps", step.index, "uses"), job.id


def is_remote(uses: str) -> bool:
    return not uses.startswith("./") and not uses.startswith("docker://")
