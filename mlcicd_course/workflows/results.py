"""What a local run did: step, job and run results, and a readable report."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class StepResult:
    """What one step did: kind is "run", "stand-in" or "skipped"."""

    index: int
    name: str
    kind: str
    outcome: str
    conclusion: str
    exit_code: int | None = None
    id: str | None = None
    outputs: dict[str, str] = field(default_factory=dict)
    output: str = ""
    note: str = ""
    command: str = ""
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


@dataclass
class JobResult:
    """What one job (one matrix entry) did; `workspace` is its copy of the repository."""

    job_id: str
    name: str
    result: str
    matrix: dict[str, Any] = field(default_factory=dict)
    steps: list[StepResult] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    summary: str = ""
    note: str = ""
    workspace: Path | None = None

    def step(self, name_or_id: str) -> StepResult:
        """The step with this name (or the `id` given in the workflow)."""
        for step in self.steps:
            if name_or_id in (step.name, step.id):
                return step
        raise KeyError(f"job {self.job_id} has no step {name_or_id!r}")

    def to_dict(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "name": self.name, "result": self.result,
                "matrix": self.matrix, "outputs": self.outputs, "summary": self.summary,
                "note": self.note, "steps": [step.to_dict() for step in self.steps]}


@dataclass
class RunResult:
    """A local run of a workflow for one event."""

    workflow: str
    event: str
    jobs: list[JobResult]
    workdir: Path
    artifacts: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no job failed."""
        return all(job.result in ("success", "skipped") for job in self.jobs)

    def job(self, job_id: str, **matrix: Any) -> JobResult:
        """The result of job `job_id` (the first matrix entry matching `matrix`)."""
        for job in self.jobs:
            if job.job_id == job_id and all(str(job.matrix.get(k)) == str(v)
                                            for k, v in matrix.items()):
                return job
        raise KeyError(f"no result for job {job_id!r} {matrix or ''}".strip())

    def to_dict(self) -> dict[str, Any]:
        return {"workflow": self.workflow, "event": self.event, "ok": self.ok,
                "artifacts": self.artifacts, "notes": self.notes,
                "jobs": [job.to_dict() for job in self.jobs]}


def format_run(result: RunResult, *, show_output: bool = False, tail: int = 15) -> str:
    """A readable report of a local run: every job and step, outputs and exit codes.

    Step output is shown for failed steps (the last `tail` lines), or for every step with
    `show_output`. The outputs of stand-ins (paths, versions of this machine) are left
    out; they are in `RunResult.to_dict()`.
    """
    lines = [f"workflow {result.workflow!r} on {result.event}"]
    for job in result.jobs:
        matrix = f" [{', '.join(f'{k}={v}' for k, v in job.matrix.items())}]" if job.matrix else ""
        lines.append(f"job {job.job_id}{matrix}: {job.result}" +
                     (f" ({job.note})" if job.note else ""))
        for step in job.steps:
            code = "" if step.exit_code is None else f" exit {step.exit_code}"
            detail = f" - {step.note}" if step.note else ""
            if step.kind == "run" and step.command:
                detail = f" $ {step.command}" + (f" ({step.note})" if step.note else "")
            lines.append(f"  {step.index + 1:>2}. {step.outcome:<7} {step.kind:<8}{code:<7} "
                         f"{step.name}{detail}")
            if step.outputs and step.kind == "run":
                for key, value in sorted(step.outputs.items()):
                    lines.append(f"        output {key} = {_short(value)}")
            if step.output.strip() and (show_output or step.outcome == "failure"):
                text = step.output.rstrip("\n").splitlines()
                shown = text if show_output else text[-tail:]
                lines.extend(f"        | {line}" for line in shown)
        for key, value in sorted(job.outputs.items()):
            lines.append(f"  job output {key} = {_short(value)}")
    if result.artifacts:
        lines.append("artifacts: " + ", ".join(f"{name} ({len(files)} file"
                                                f"{'s' if len(files) != 1 else ''})"
                                                for name, files in result.artifacts.items()))
    lines.extend(f"note: {note}" for note in result.notes)
    failed = [job.job_id for job in result.jobs if job.result == "failure"]
    ran = [job for job in result.jobs if job.result != "skipped"]
    lines.append(f"result: {'success' if result.ok else 'failure'} ({len(ran)} job runs, "
                 f"{len(failed)} failed{': ' + ', '.join(failed) if failed else ''})")
    return "\n".join(lines)


def _short(value: str, width: int = 70) -> str:
    flat = " ".join(str(value).split())
    return flat if len(flat) <= width else flat[: width - 3] + "..."
