"""Run a workflow's jobs on this machine, and draw which jobs run for an event.

`run_workflow` executes the `run:` steps of a workflow's jobs in `needs` order, each job
in a fresh copy of the repository under a temporary folder, as a GitHub-hosted runner
would (bash with `-eo pipefail`, `GITHUB_OUTPUT` / `GITHUB_ENV` / `GITHUB_PATH` /
`GITHUB_STEP_SUMMARY` files, `if:` conditions, step outputs, `working-directory`,
`continue-on-error`, timeouts). Actions are replaced by local stand-ins:

- actions/checkout copies the repository (the files git would check out; a `ref:` comes
  from `git archive` or from `RunOptions.trees`),
- actions/setup-python uses the current interpreter (the requested version is noted),
- actions/upload-artifact and download-artifact copy to and from the run's artifact
  folder, and refuse a second upload of the same name as v4+ does,
- actions/cache never hits,
- actions/github-script runs under Node.js against a small fake of the GitHub REST API
  (issue comments) kept in a JSON file, so a PR comment can be created and updated
  locally; without Node.js the step is reported as not run,
- `pip install` steps do not download anything: the current environment provides the
  packages, a local editable install puts the folder on PYTHONPATH, and a missing
  requirements file or a package that is not installed fails the step.

In step output, the job's folders read `$GITHUB_WORKSPACE` and `$RUNNER_TEMP`, so that
reports do not depend on where the run happened.

Expressions are filled from an explicit context (`workflows.default_context` plus any
overrides), and a name that the context lacks is an error. `${{ }}` inside `run:` is
pasted into the script before bash reads it, exactly as on GitHub, so the runner also
demonstrates script injection.

`job_graph` works out, without running anything, which jobs an event starts and in
what order.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import itertools
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from mlcicd_course.errors import UserInputError
from mlcicd_course.fileio import write_text_atomic
from mlcicd_course.workflows import (
    ExpressionError,
    Job,
    Step,
    Workflow,
    condition_holds,
    default_context,
    interpolate,
    load_workflow,
    matches_filters,
    set_dotted,
    to_string,
    truthy,
)

#: Environment variables passed from this machine to every step (the rest are dropped).
PASSED_ENV = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR",
              "TEMP", "TMP", "SYSTEMROOT", "COMSPEC", "PATHEXT", "PYTHONHASHSEED", "MPLBACKEND")
#: Folders never copied into a job's workspace when the repository is not a git checkout.
SKIP_DIRS = {".git", ".venv", "venv", "__pycache__", ".pytest_cache", ".ruff_cache", "build",
             ".ipynb_checkpoints", "node_modules", ".mypy_cache"}
MINUTE = 60.0


# --------------------------------------------------------------------------------------
# Options and results
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RunOptions:
    """What to run and with which context.

    `jobs` selects jobs (their `needs` run first); empty means every job. `context` maps
    dotted paths to values that override the default context, e.g.
    {"github.event.pull_request.title": "..."}; `env` adds variables to every step;
    `matrix` keeps only the matrix entries with these values; `trees` maps a git ref to a
    folder that actions/checkout uses for it; `workdir` keeps every workspace and
    artifact there (its jobs/ and artifacts/ are emptied first; default: a temporary
    folder, removed afterwards); `github_api` is the JSON file of the fake GitHub API
    (default: in the work folder; give the same file to two runs to see a comment
    updated).
    """

    event: str = "push"
    jobs: tuple[str, ...] = ()
    inputs: Mapping[str, Any] = field(default_factory=dict)
    context: Mapping[str, Any] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    secrets: Mapping[str, str] = field(default_factory=dict)
    matrix: Mapping[str, str] = field(default_factory=dict)
    repo: Path | None = None
    trees: Mapping[str, Path] = field(default_factory=dict)
    workdir: Path | None = None
    github_api: Path | None = None


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


# --------------------------------------------------------------------------------------
# Job graph
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class GraphNode:
    """One job in the graph: whether it runs for the event, and why not."""

    id: str
    name: str
    needs: tuple[str, ...]
    level: int
    runs: bool
    reason: str = ""
    matrix_size: int = 1

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "needs": list(self.needs), "level": self.level,
                "runs": self.runs, "reason": self.reason, "matrix_size": self.matrix_size}


@dataclass(frozen=True)
class JobGraph:
    """Which jobs a workflow runs for one event, in `needs` order."""

    workflow: str
    event: str
    nodes: tuple[GraphNode, ...]

    @property
    def order(self) -> list[str]:
        """Ids of the jobs that run, in an order that respects `needs`."""
        return [node.id for node in self.nodes if node.runs]

    def node(self, job_id: str) -> GraphNode:
        return next(node for node in self.nodes if node.id == job_id)

    def to_dict(self) -> dict[str, Any]:
        return {"workflow": self.workflow, "event": self.event, "order": self.order,
                "jobs": [node.to_dict() for node in self.nodes]}

    def to_text(self) -> str:
        """One line per job: level, id, needs, and whether it runs."""
        lines = [f"{self.workflow} on {self.event}: "
                 f"{len(self.order)} of {len(self.nodes)} jobs run"]
        for node in self.nodes:
            needs = f" (needs {', '.join(node.needs)})" if node.needs else ""
            matrix = f" x{node.matrix_size}" if node.matrix_size > 1 else ""
            state = "runs" if node.runs else f"skipped: {node.reason}"
            lines.append(f"  {node.level + 1}. {node.id}{matrix}{needs}: {state}")
        return "\n".join(lines)

    def to_mermaid(self) -> str:
        """A Mermaid flowchart (GitHub renders it in markdown)."""
        lines = ["flowchart LR"]
        for node in self.nodes:
            label = node.id + (f" x{node.matrix_size}" if node.matrix_size > 1 else "")
            lines.append(f'  {_mermaid_id(node.id)}["{label}"]')
        for node in self.nodes:
            for need in node.needs:
                lines.append(f"  {_mermaid_id(need)} --> {_mermaid_id(node.id)}")
        skipped = [_mermaid_id(node.id) for node in self.nodes if not node.runs]
        if skipped:
            lines.append("  classDef skipped stroke-dasharray: 4 4,opacity:0.5")
            lines.append(f"  class {','.join(skipped)} skipped")
        return "\n".join(lines)

    def plot(self, ax: Any = None) -> Any:
        """Draw the graph with matplotlib (jobs as boxes by level); return the axes."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(7, 2.2), dpi=80)
        levels: dict[int, list[GraphNode]] = {}
        for node in self.nodes:
            levels.setdefault(node.level, []).append(node)
        position = {}
        for level, nodes in levels.items():
            for row, node in enumerate(nodes):
                position[node.id] = (level, -(row - (len(nodes) - 1) / 2))
        boxes = {}
        for node in self.nodes:
            x, y = position[node.id]
            label = node.id + (f"\nx{node.matrix_size}" if node.matrix_size > 1 else "")
            style = ({"facecolor": "#cfe8cf", "edgecolor": "#2e7d32"} if node.runs else
                     {"facecolor": "#eeeeee", "edgecolor": "0.6", "linestyle": "--"})
            boxes[node.id] = ax.text(x, y, label, ha="center", va="center", fontsize=9,
                                     color="black" if node.runs else "0.45", zorder=2,
                                     bbox={"boxstyle": "round,pad=0.4", **style})
        for node in self.nodes:
            for need in node.needs:
                ax.annotate("", xy=position[node.id], xytext=position[need], zorder=3,
                            arrowprops={"arrowstyle": "->", "color": "0.4", "shrinkA": 3,
                                        "shrinkB": 3,
                                        "patchA": boxes[need].get_bbox_patch(),
                                        "patchB": boxes[node.id].get_bbox_patch()})
        width = max(levels) + 1 if levels else 1
        height = max(len(nodes) for nodes in levels.values()) if levels else 1
        ax.set_xlim(-0.6, width - 0.4)
        ax.set_ylim(-height / 2 - 0.1, height / 2 + 0.1)
        ax.set_xticks(range(width), [f"stage {i + 1}" for i in range(width)])
        ax.set_yticks([])
        ax.set_xlabel("stage: a job starts when the jobs it needs are done")
        for side in ("top", "right", "left"):
            ax.spines[side].set_visible(False)
        ax.set_title(f"{self.workflow} on {self.event} (grey: skipped)", fontsize=10)
        return ax


def _mermaid_id(job_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", job_id)


def topological_order(workflow: Workflow) -> list[str]:
    """Job ids so that every job comes after the jobs it needs (file order otherwise)."""
    order: list[str] = []
    remaining = list(workflow.jobs)
    while remaining:
        ready = [job_id for job_id in remaining
                 if all(need in order for need in workflow.jobs[job_id].needs)]
        if not ready:
            raise UserInputError(f"workflow {workflow.path.name}: the `needs` of jobs "
                                 f"{', '.join(remaining)} form a cycle")
        order.append(ready[0])
        remaining.remove(ready[0])
    return order


def _levels(workflow: Workflow, order: Sequence[str]) -> dict[str, int]:
    levels: dict[str, int] = {}
    for job_id in order:
        needs = workflow.jobs[job_id].needs
        levels[job_id] = 1 + max((levels[n] for n in needs), default=-1)
    return levels


def _needs_status(results: Mapping[str, str]) -> str:
    """The status the status functions see in a job-level `if:`, from its needs' results."""
    values = list(results.values())
    if any(value == "cancelled" for value in values):
        return "cancelled"
    if any(value == "failure" for value in values):
        return "failure"
    if any(value == "skipped" for value in values):
        return "skipped"
    return "success"


def event_triggers(workflow: Workflow, event: str, context: Mapping[str, Any]) -> str:
    """Why `workflow` does not run for `event` with this context ("" when it does)."""
    if event not in workflow.on:
        return (f"{workflow.path.name} does not run on {event} "
                f"(its triggers: {', '.join(workflow.on)})")
    spec = workflow.on[event]
    github = context["github"]
    if event in ("push", "pull_request"):
        branch = github["base_ref"] if event == "pull_request" else github["ref_name"]
        if "branches" in spec and not matches_filters(spec["branches"], branch):
            return f"{event} to branch {branch!r} is filtered out by branches: {spec['branches']}"
        if "branches-ignore" in spec and matches_filters(spec["branches-ignore"], branch):
            return f"{event} to branch {branch!r} is in branches-ignore"
    return ""


def job_graph(workflow: Workflow | str | Path, event: str, *,
              context: Mapping[str, Any] | None = None,
              inputs: Mapping[str, Any] | None = None) -> JobGraph:
    """Which jobs run for `event`, assuming every job that runs succeeds."""
    if not isinstance(workflow, Workflow):
        workflow = load_workflow(workflow)
    ctx = default_context(workflow, event, inputs=inputs)
    for dotted, value in (context or {}).items():
        set_dotted(ctx, dotted, value)
    reason = event_triggers(workflow, event, ctx)
    if reason:
        raise UserInputError(reason)
    ctx["env"] = _evaluate_env(workflow.env, ctx)
    order = topological_order(workflow)
    levels = _levels(workflow, order)
    results: dict[str, str] = {}
    nodes = []
    for job_id in order:
        job = workflow.jobs[job_id]
        needs = {need: results[need] for need in job.needs}
        job_ctx = {**ctx, "needs": {need: {"result": result, "outputs": {
            name: None for name in workflow.jobs[need].outputs}} for need, result in needs.items()}}
        runs = condition_holds(job.if_, job_ctx, status=_needs_status(needs))
        why = ""
        if not runs:
            skipped = [need for need, result in needs.items() if result != "success"]
            why = (f"needs {', '.join(skipped)}, which did not run" if skipped and job.if_ is None
                   else f"if: {str(job.if_).strip()}")
        results[job_id] = "success" if runs else "skipped"
        size = len(expand_matrix(job, job_ctx)) if job.matrix else 1
        nodes.append(GraphNode(job_id, job.name, job.needs, levels[job_id], runs, why, size))
    return JobGraph(workflow.name, event, tuple(nodes))


# --------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------

def run_workflow(workflow: Workflow | str | Path, options: RunOptions | None = None) -> RunResult:
    """Run the selected jobs of `workflow` locally; see the module docstring."""
    options = options or RunOptions()
    if not isinstance(workflow, Workflow):
        workflow = load_workflow(workflow)
    repo = Path(options.repo) if options.repo else guess_repository(workflow.path)
    if not repo.is_dir():
        raise UserInputError(f"repository folder not found: {repo}")
    head = _git(repo, "rev-parse", "HEAD") or "0" * 40
    context = default_context(workflow, options.event, sha=head, base_sha=head,
                              inputs=options.inputs)
    for dotted, value in options.context.items():
        set_dotted(context, dotted, value)
    context["secrets"] = {**context["secrets"], **options.secrets}
    reason = event_triggers(workflow, options.event, context)
    if reason:
        raise UserInputError(reason)
    order = topological_order(workflow)
    selected = _with_needs(workflow, options.jobs) if options.jobs else set(order)
    bash = shutil.which("bash")
    if bash is None:
        raise UserInputError("bash not found: the local runner runs `run:` steps with bash "
                             "(on Windows, use Git Bash or WSL)")
    if options.workdir:
        Path(options.workdir).mkdir(parents=True, exist_ok=True)
        workdir_context: Any = contextlib.nullcontext(str(options.workdir))
    else:
        workdir_context = tempfile.TemporaryDirectory(prefix="mlcicd-run-")
    spec = workflow.on[options.event]
    notes = (["paths filters are not evaluated locally"]
             if {"paths", "paths-ignore"} & set(spec) else [])
    with workdir_context as folder:
        workdir = Path(folder)
        session = _Session(workflow, options, repo, workdir, bash, context)
        for job_id in order:
            if job_id in selected:
                session.run_job(workflow.jobs[job_id])
        result = RunResult(workflow.name, options.event, session.results, workdir,
                           session.artifact_listing(), notes)
    return result


def guess_repository(workflow_path: Path) -> Path:
    """The repository a workflow belongs to: the folder holding `.github/`, else the cwd."""
    resolved = workflow_path.resolve()
    for parent in resolved.parents:
        if parent.name == ".github":
            return parent.parent
    top = _git(Path.cwd(), "rev-parse", "--show-toplevel")
    return Path(top) if top else Path.cwd()


def _with_needs(workflow: Workflow, jobs: Sequence[str]) -> set[str]:
    wanted: set[str] = set()
    stack = list(jobs)
    while stack:
        job_id = stack.pop()
        if job_id not in workflow.jobs:
            raise UserInputError(f"workflow {workflow.path.name} has no job {job_id!r} "
                                 f"(jobs: {', '.join(workflow.jobs)})")
        if job_id not in wanted:
            wanted.add(job_id)
            stack.extend(workflow.jobs[job_id].needs)
    return wanted


def _git(repo: Path, *args: str) -> str:
    try:
        done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                              timeout=60)
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def repository_files(repo: Path) -> list[str]:
    """Relative paths that a checkout of `repo` holds (git's view, else a folder walk)."""
    listing = None
    if (repo / ".git").exists():
        try:
            done = subprocess.run(["git", "-C", str(repo), "ls-files", "-z", "--cached",
                                   "--others", "--exclude-standard"], capture_output=True,
                                  timeout=120)
            if done.returncode == 0:
                listing = [p for p in done.stdout.decode("utf-8", "replace").split("\0") if p]
        except (OSError, subprocess.SubprocessError):
            listing = None
    if listing is None:
        listing = []
        for root, dirs, files in os.walk(repo):
            dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.endswith(".egg-info"))
            for name in sorted(files):
                listing.append(str((Path(root) / name).relative_to(repo)))
    return sorted({p for p in listing if (repo / p).is_file()})


def _copy_files(source: Path, files: Sequence[str], target: Path) -> None:
    for relative in files:
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copy2(source / relative, destination)
        except FileNotFoundError:  # deleted since it was listed (someone is editing)
            continue


def _evaluate_env(env: Mapping[str, Any], context: Mapping[str, Any], **kwargs: Any
                  ) -> dict[str, str]:
    values: dict[str, str] = {}
    for key, value in env.items():
        scope = {**context, "env": {**context.get("env", {}), **values}}
        values[str(key)] = to_string(interpolate(value, scope, **kwargs))
    return values


def expand_matrix(job: Job, context: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The matrix entries of a job (GitHub's include/exclude rules)."""
    matrix = interpolate(dict(job.matrix), context)
    if isinstance(matrix, str):
        raise UserInputError(f"job {job.id}: the matrix is not a mapping")
    keys = [k for k in matrix if k not in ("include", "exclude")]
    for key in keys:
        if not isinstance(matrix[key], list):
            raise UserInputError(f"job {job.id}: matrix {key!r} must be a list")
    combos = ([dict(zip(keys, values, strict=True))
               for values in itertools.product(*(matrix[k] for k in keys))] if keys else [])
    for rule in matrix.get("exclude") or []:
        combos = [c for c in combos if not all(c.get(k) == v for k, v in rule.items())]
    for extra in matrix.get("include") or []:
        matched = False
        for combo in combos:
            original = {k: combo[k] for k in keys}
            if all(original.get(k, v) == v for k, v in extra.items() if k in keys):
                combo.update({k: v for k, v in extra.items() if k not in keys or k not in original})
                matched = True
        if not matched:
            combos.append(dict(extra))
    return combos or [{}]


def _hash_files(workspace: Path) -> Callable[[Sequence[str]], str]:
    def hash_files(patterns: Sequence[str]) -> str:
        files: set[Path] = set()
        for pattern in patterns:
            files.update(p for p in workspace.glob(pattern) if p.is_file())
        if not files:
            return ""
        digest = hashlib.sha256()
        for path in sorted(files):
            digest.update(hashlib.sha256(path.read_bytes()).digest())
        return digest.hexdigest()
    return hash_files


def parse_file_command(text: str, what: str) -> dict[str, str]:
    """Parse a GITHUB_OUTPUT / GITHUB_ENV file (`name=value` and `name<<DELIM` blocks)."""
    values: dict[str, str] = {}
    lines = text.split("\n")
    index = 0
    while index < len(lines):
        line = lines[index].rstrip("\r")
        index += 1
        if not line.strip():
            continue
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            body = []
            while index < len(lines) and lines[index].rstrip("\r") != delimiter:
                body.append(lines[index].rstrip("\r"))
                index += 1
            if index >= len(lines):
                raise ValueError(f"{what}: matching delimiter not found {delimiter!r}")
            index += 1
            values[name] = "\n".join(body)
        elif "=" in line:
            name, value = line.split("=", 1)
            values[name] = value
        else:
            raise ValueError(f"{what}: invalid line {line!r} (expected name=value or "
                             "name<<DELIMITER)")
    return values


_PIP_RE = re.compile(r"^\s*(?:python[0-9.]*\s+-m\s+)?pip3?\s+install\b")
_PIP_VALUE_OPTIONS = {"-r", "--requirement", "-c", "--constraint", "-e", "--editable", "-i",
                      "--index-url", "--extra-index-url", "-f", "--find-links", "--target",
                      "-t", "--prefix", "--root", "--platform", "--python-version"}


def _logical_lines(script: str) -> list[tuple[list[int], str]]:
    """(physical line numbers, joined text) for each shell line, joining `\\` continuations."""
    result: list[tuple[list[int], str]] = []
    numbers: list[int] = []
    parts: list[str] = []
    for number, line in enumerate(script.split("\n")):
        numbers.append(number)
        if line.rstrip().endswith("\\"):
            parts.append(line.rstrip()[:-1])
            continue
        parts.append(line)
        result.append((numbers, " ".join(parts)))
        numbers, parts = [], []
    if parts:
        result.append((numbers, " ".join(parts)))
    return result


@dataclass
class _PipPlan:
    script: str
    only_pip: bool
    problems: list[str]
    editable: list[Path]
    notes: list[str]


def _plan_pip(script: str, cwd: Path) -> _PipPlan:
    """Neutralise `pip install` lines of a script; report what cannot work offline."""
    lines = script.split("\n")
    problems: list[str] = []
    editable: list[Path] = []
    notes: list[str] = []
    only_pip = True
    for numbers, text in _logical_lines(script):
        code = text.split(" #", 1)[0].strip()
        if not code or code.startswith("#"):
            continue
        if not _PIP_RE.match(code):
            only_pip = False
            continue
        for number in numbers:
            lines[number] = ":  # pip install: offline stand-in" if number == numbers[0] else ""
        try:
            words = shlex.split(code)
        except ValueError:
            problems.append(f"cannot read {code!r}")
            continue
        words = words[words.index("install") + 1:]
        index = 0
        while index < len(words):
            word = words[index]
            index += 1
            if word in _PIP_VALUE_OPTIONS and index < len(words):
                value = words[index]
                index += 1
                if word in ("-r", "--requirement") and not (cwd / value).is_file():
                    problems.append(f"Could not open requirements file: No such file or "
                                    f"directory: {value!r}")
                if word in ("-e", "--editable"):
                    _local_project(value, cwd, problems, editable)
                continue
            if word.startswith("-"):
                continue
            if word.startswith((".", "/")) or "/" in word:
                _local_project(word, cwd, problems, editable)
                continue
            name = re.match(r"[A-Za-z0-9_.\-]+", word)
            if name:
                try:
                    metadata.version(name.group(0))
                except metadata.PackageNotFoundError:
                    problems.append(f"{name.group(0)} is not installed in this environment "
                                    "and the local runner does not download packages")
                else:
                    notes.append(name.group(0))
    return _PipPlan("\n".join(lines), only_pip, problems, editable, notes)


def _local_project(spec: str, cwd: Path, problems: list[str], editable: list[Path]) -> None:
    folder = (cwd / re.sub(r"\[.*\]$", "", spec)).resolve()
    if not ((folder / "pyproject.toml").is_file() or (folder / "setup.py").is_file()):
        problems.append(f"{spec} does not appear to be a Python project: neither "
                        "'setup.py' nor 'pyproject.toml' found")
    else:
        editable.append(folder)


class _StepFailure(Exception):
    """A stand-in failed; the message is the step's output."""


class _StepNotRun(Exception):
    """A stand-in could not run on this machine (not a failure); the message says why."""


class _Session:
    """State of one local run: job results, artifacts, the fake GitHub API."""

    def __init__(self, workflow: Workflow, options: RunOptions, repo: Path, workdir: Path,
                 bash: str, context: dict[str, Any]) -> None:
        self.workflow = workflow
        self.options = options
        self.repo = repo
        self.workdir = workdir
        self.bash = bash
        self.context = context
        self.results: list[JobResult] = []
        self.job_results: dict[str, str] = {}
        self.job_outputs: dict[str, dict[str, str]] = {}
        self.artifacts = workdir / "artifacts"
        for folder in (self.artifacts, workdir / "jobs"):  # a kept folder starts afresh
            shutil.rmtree(folder, ignore_errors=True)
        self.artifacts.mkdir(parents=True)
        self.api_state = (Path(options.github_api) if options.github_api
                          else workdir / "github-api.json")
        self.api_state.parent.mkdir(parents=True, exist_ok=True)
        self._files_cache: dict[Path, list[str]] = {}
        self._artifact_ids = itertools.count(1)

    # -- jobs ------------------------------------------------------------------------

    def run_job(self, job: Job) -> None:
        needs = {need: self.job_results.get(need, "skipped") for need in job.needs}
        base = self._job_context(job, needs)
        try:
            runs = condition_holds(job.if_, base, status=_needs_status(needs))
        except ExpressionError as err:
            raise UserInputError(f"job {job.id}: if: {err}") from None
        if not runs:
            why = (f"needs {', '.join(n for n, r in needs.items() if r != 'success')} did not "
                   "succeed" if job.if_ is None else f"if: {str(job.if_).strip()} is false")
            self.results.append(JobResult(job.id, job.name, "skipped", note=why))
            self.job_results[job.id] = "skipped"
            self.job_outputs[job.id] = {}
            return
        if job.uses:
            self.results.append(JobResult(job.id, job.name, "failure", note=(
                f"calls the reusable workflow {job.uses}, which the local runner does not run")))
            self.job_results[job.id] = "failure"
            self.job_outputs[job.id] = {}
            return
        combos = expand_matrix(job, base) if job.matrix else [{}]
        unknown = sorted(set(self.options.matrix) - set().union(*combos)) if job.matrix else []
        if unknown:
            raise UserInputError(f"job {job.id} has no matrix key {unknown[0]!r}")
        if job.matrix and self.options.matrix:
            combos = [c for c in combos if all(str(c.get(k)) == str(v)
                                               for k, v in self.options.matrix.items())]
            if not combos:
                raise UserInputError(f"job {job.id}: no matrix entry matches "
                                     f"{dict(self.options.matrix)}")
        results = []
        for number, combo in enumerate(combos):
            results.append(self._run_job_entry(job, needs, combo, number, len(combos)))
        self.results.extend(results)
        self.job_results[job.id] = ("failure" if any(r.result == "failure" for r in results)
                                    else "success")
        merged: dict[str, str] = {}
        for result in results:
            merged.update({k: v for k, v in result.outputs.items() if v != ""})
        self.job_outputs[job.id] = merged

    def _job_context(self, job: Job, needs: Mapping[str, str]) -> dict[str, Any]:
        context = json.loads(json.dumps(self.context))
        context["github"]["job"] = job.id
        context["needs"] = {need: {"result": result, "outputs": {
            name: self.job_outputs.get(need, {}).get(name)
            for name in self.workflow.jobs[need].outputs}} for need, result in needs.items()}
        context["env"] = _evaluate_env(self.workflow.env, context)
        context["strategy"] = {"fail-fast": True, "job-index": 0, "job-total": 1,
                               "max-parallel": 1}
        context["job"] = {"status": "success"}
        return context

    def _run_job_entry(self, job: Job, needs: Mapping[str, str], combo: dict[str, Any],
                       number: int, total: int) -> JobResult:
        suffix = "" if total == 1 else f"-{number + 1}"
        folder = self.workdir / "jobs" / f"{job.id}{suffix}"
        if folder.exists():
            shutil.rmtree(folder)
        workspace, temp = folder / "workspace", folder / "temp"
        workspace.mkdir(parents=True)
        temp.mkdir()
        context = self._job_context(job, needs)
        context["matrix"] = combo
        context["strategy"].update({"job-index": number, "job-total": total})
        context["github"]["workspace"] = str(workspace)
        context["runner"]["temp"] = str(temp)
        hash_files = _hash_files(workspace)
        try:
            name = to_string(interpolate(job.name, context))
            job_env = {**context["env"], **_evaluate_env(job.env, context)}
        except ExpressionError as err:
            raise UserInputError(f"job {job.id}: {err}") from None
        result = JobResult(job.id, name, "success", matrix=combo, workspace=workspace)
        state = _JobState(job_env=job_env, path_prefix=[], extra_env={})
        deadline = time.monotonic() + _minutes(job.timeout_minutes, 360) * MINUTE
        status = "success"
        summaries: list[str] = []
        step_contexts: dict[str, dict[str, Any]] = {
            step.id: {"outputs": {}, "outcome": None, "conclusion": None}
            for step in job.steps if step.id}
        for step in job.steps:
            context["steps"] = step_contexts
            context["job"] = {"status": status}
            context["env"] = {**job_env, **state.extra_env}
            record = self._run_step(job, step, context, state, workspace, temp, status,
                                    deadline, hash_files, summaries)
            result.steps.append(record)
            if step.id:
                step_contexts[step.id] = {"outputs": record.outputs, "outcome": record.outcome,
                                          "conclusion": record.conclusion}
            if record.conclusion == "failure":
                status = "failure"
        result.result = status
        result.summary = "".join(summaries)
        context["steps"] = step_contexts
        try:
            result.outputs = {key: to_string(interpolate(value, context))
                              for key, value in job.outputs.items()}
        except ExpressionError as err:
            raise UserInputError(f"job {job.id} outputs: {err}") from None
        return result

    # -- steps -----------------------------------------------------------------------

    def _run_step(self, job: Job, step: Step, context: dict[str, Any], state: _JobState,
                  workspace: Path, temp: Path, status: str, deadline: float,
                  hash_files: Callable[[Sequence[str]], str], summaries: list[str]
                  ) -> StepResult:
        where = f"job {job.id}, step {step.index + 1} ({step.name})"
        try:
            runs = condition_holds(step.if_, context, status=status, hash_files=hash_files)
            name = to_string(interpolate(step.name, context, hash_files=hash_files))
            if not runs:
                note = ("if: " + str(step.if_).strip() if step.if_ is not None
                        else "an earlier step failed")
                return StepResult(step.index, name, "skipped", "skipped", "skipped", note=note,
                                  id=step.id)
            step_env = _evaluate_env(step.env, context, hash_files=hash_files)
            context = {**context, "env": {**context["env"], **step_env}}
        except ExpressionError as err:
            raise UserInputError(f"{where}: {err}") from None
        files = {key: temp / f"{key.lower()}_{step.index}" for key in
                 ("GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_PATH", "GITHUB_STEP_SUMMARY")}
        for path in files.values():
            path.write_text("", encoding="utf-8")
        env = self._step_env(job, context, state, step_env, workspace, temp, files)
        continue_on_error = truthy_setting(step.continue_on_error, context)
        started = time.monotonic()
        try:
            if step.uses is not None:
                record = self._stand_in(step, context, env, workspace, hash_files)
            else:
                record = self._run_script(job, step, context, env, workspace, state, deadline,
                                          hash_files)
        except _StepFailure as failure:
            record = StepResult(step.index, name, "stand-in", "failure", "failure", 1,
                                output=str(failure), note=str(failure).splitlines()[0])
        except _StepNotRun as why:
            record = StepResult(step.index, name, "stand-in", "skipped", "skipped",
                                note=str(why))
        except ExpressionError as err:
            raise UserInputError(f"{where}: {err}") from None
        record.name, record.id = name, step.id
        record.seconds = round(time.monotonic() - started, 3)
        record.output = (record.output.replace(str(temp), "$RUNNER_TEMP")
                         .replace(str(workspace), "$GITHUB_WORKSPACE"))
        try:
            record.outputs.update(parse_file_command(files["GITHUB_OUTPUT"].read_text("utf-8"),
                                                     "GITHUB_OUTPUT"))
            state.extra_env.update(parse_file_command(files["GITHUB_ENV"].read_text("utf-8"),
                                                      "GITHUB_ENV"))
        except ValueError as err:
            record.outcome = record.conclusion = "failure"
            record.output += f"\nError: Unable to process file command: {err}\n"
            record.note = record.note or str(err)
        state.path_prefix[:0] = [line.strip() for line in
                                 files["GITHUB_PATH"].read_text("utf-8").splitlines()
                                 if line.strip()][::-1]
        summaries.append(files["GITHUB_STEP_SUMMARY"].read_text("utf-8"))
        if record.outcome == "failure" and continue_on_error:
            record.conclusion = "success"
            record.note = (record.note + "; " if record.note else "") + "continue-on-error"
        return record

    def _step_env(self, job: Job, context: Mapping[str, Any], state: _JobState,
                  step_env: Mapping[str, str], workspace: Path, temp: Path,
                  files: Mapping[str, Path]) -> dict[str, str]:
        github = context["github"]
        env = {key: os.environ[key] for key in PASSED_ENV if key in os.environ}
        env.update(self.options.env)
        env.update({
            "CI": "true", "GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": str(workspace),
            "GITHUB_EVENT_NAME": github["event_name"], "GITHUB_REF": github["ref"],
            "GITHUB_REF_NAME": github["ref_name"], "GITHUB_SHA": github["sha"],
            "GITHUB_REPOSITORY": github["repository"],
            "GITHUB_REPOSITORY_OWNER": github["repository_owner"],
            "GITHUB_HEAD_REF": github["head_ref"], "GITHUB_BASE_REF": github["base_ref"],
            "GITHUB_RUN_ID": github["run_id"], "GITHUB_RUN_NUMBER": github["run_number"],
            "GITHUB_RUN_ATTEMPT": github["run_attempt"], "GITHUB_JOB": job.id,
            "GITHUB_WORKFLOW": github["workflow"], "GITHUB_ACTOR": github["actor"],
            "GITHUB_SERVER_URL": github["server_url"], "GITHUB_API_URL": github["api_url"],
            "GITHUB_EVENT_PATH": str(self._event_file(temp)), "RUNNER_OS": "Linux",
            "RUNNER_TEMP": str(temp), "RUNNER_ARCH": "X64",
        })
        env.update({key: str(path) for key, path in files.items()})
        env.update(state.job_env)
        env.update(state.extra_env)
        env.update(step_env)
        python_bin = str(Path(sys.executable).parent)
        env["PATH"] = os.pathsep.join([*state.path_prefix, python_bin, env.get("PATH", "")])
        if state.pythonpath:
            env["PYTHONPATH"] = os.pathsep.join(state.pythonpath)
        return env

    def _event_file(self, temp: Path) -> Path:
        path = temp / "event.json"
        if not path.exists():
            path.write_text(json.dumps(self.context["github"]["event"], indent=2), "utf-8")
        return path

    def _run_script(self, job: Job, step: Step, context: Mapping[str, Any], env: dict[str, str],
                    workspace: Path, state: _JobState, deadline: float,
                    hash_files: Callable[[Sequence[str]], str]) -> StepResult:
        # Expressions are pasted into the script before the shell sees it, as on GitHub.
        script = to_string(interpolate(step.run or "", context, hash_files=hash_files))
        defaults = {**self.workflow.defaults.get("run", {}), **job.defaults.get("run", {})}
        folder = step.working_directory or defaults.get("working-directory")
        cwd = workspace / to_string(interpolate(folder, context)) if folder else workspace
        command = " ".join(line.strip() for line in script.strip().splitlines()[:1])
        if not cwd.is_dir():
            return StepResult(step.index, step.name, "run", "failure", "failure", 1,
                              note=f"working-directory {folder} does not exist",
                              command=command)
        plan = _plan_pip(script, cwd)
        if plan.problems:
            return StepResult(step.index, step.name, "stand-in", "failure", "failure", 1,
                              output="ERROR: " + "\nERROR: ".join(plan.problems) + "\n",
                              note=plan.problems[0], command=command)
        for folder_path in plan.editable:
            if str(folder_path) not in state.pythonpath:
                state.pythonpath.insert(0, str(folder_path))
                env["PYTHONPATH"] = os.pathsep.join(state.pythonpath)
        if plan.only_pip:
            where = ", ".join(sorted({str(p.relative_to(workspace)) if p.is_relative_to(workspace)
                                      else str(p) for p in plan.editable}))
            note = "pip install: offline, the current environment provides the packages"
            if where:
                note += f"; {where} goes on PYTHONPATH"
            return StepResult(step.index, step.name, "stand-in", "success", "success", 0,
                              note=note, command=command)
        shell = step.shell or defaults.get("shell")
        argv, suffix = _shell_command(shell, self.bash)
        script_file = Path(env["RUNNER_TEMP"]) / f"step_{step.index}{suffix}"
        script_file.write_text(plan.script, encoding="utf-8")
        argv = [part.replace("{0}", str(script_file)) for part in argv]
        if not any(str(script_file) in part for part in argv):
            argv.append(str(script_file))
        limit = min(_minutes(step.timeout_minutes, 360) * MINUTE, deadline - time.monotonic())
        code, output, timed_out = _execute(argv, cwd, env, max(limit, 1.0))
        outcome = "success" if code == 0 and not timed_out else "failure"
        note = f"timed out after {limit / MINUTE:.1f} minutes" if timed_out else ""
        return StepResult(step.index, step.name, "run", outcome, outcome, code, output=output,
                          note=note, command=command)

    # -- stand-ins for actions ---------------------------------------------------------

    def _stand_in(self, step: Step, context: Mapping[str, Any], env: dict[str, str],
                  workspace: Path, hash_files: Callable[[Sequence[str]], str]) -> StepResult:
        inputs = {key: to_string(value) for key, value in
                  interpolate(dict(step.with_), context, hash_files=hash_files).items()}
        action = (step.action or "").lower()
        handler = STAND_INS.get(action)
        version = step.ref or ""
        if handler is None:
            raise _StepFailure(f"no local stand-in for {step.uses}: the runner cannot run "
                               "this action offline")
        outputs, note, output = handler(self, inputs, context, env, workspace)
        return StepResult(step.index, step.name, "stand-in", "success", "success", 0,
                          outputs=outputs, output=output, note=note,
                          command=f"uses {action}@{version[:12]}")

    def checkout(self, inputs: Mapping[str, str], context: Mapping[str, Any],
                 env: Mapping[str, str], workspace: Path) -> tuple[dict, str, str]:
        """Copy the repository (git's files; a `ref:` via git archive) into the workspace."""
        repository = inputs.get("repository") or context["github"]["repository"]
        if repository.lower() != context["github"]["repository"].lower():
            raise _StepFailure(f"checkout of another repository ({repository}) needs the "
                               "network; not available locally")
        target = (workspace / inputs.get("path", "")).resolve()
        if not target.is_relative_to(workspace.resolve()):
            raise _StepFailure(f"checkout path {inputs.get('path')!r} is outside the workspace")
        target.mkdir(parents=True, exist_ok=True)
        ref = inputs.get("ref", "")
        if not ref:
            files = self._files(self.repo)
            _copy_files(self.repo, files, target)
            return {"ref": context["github"]["ref"], "commit": context["github"]["sha"]}, (
                "copied the working tree"), ""
        if ref in self.options.trees:
            source = Path(self.options.trees[ref])
            files = self._files(source)
            _copy_files(source, files, target)
            where = inputs.get("path") or "."
            return {"ref": ref, "commit": ref}, f"{where}: the folder given for this ref", ""
        commit = _git(self.repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
        if commit:
            done = subprocess.run(["git", "-C", str(self.repo), "archive", "--format=tar", commit],
                                  capture_output=True, timeout=300)
            if done.returncode == 0:
                with tarfile.open(fileobj=io.BytesIO(done.stdout)) as archive:
                    archive.extractall(target, filter="data")
                return {"ref": ref, "commit": commit}, (
                    f"{inputs.get('path') or '.'}: git archive of the ref"), ""
        raise _StepFailure(f"ref {ref!r} is not in the local repository (pass a folder for it "
                           "with RunOptions.trees or --tree REF=DIR)")

    def setup_python(self, inputs: Mapping[str, str], context: Mapping[str, Any],
                     env: Mapping[str, str], workspace: Path) -> tuple[dict, str, str]:
        """Use this interpreter, whatever version is asked for (the request is noted)."""
        current = ".".join(map(str, sys.version_info[:3]))
        wanted = inputs.get("python-version", "")
        note = f"requested {wanted or 'the default'}, using this interpreter"
        return {"python-version": current, "python-path": sys.executable,
                "cache-hit": "false"}, note, ""

    def cache(self, inputs: Mapping[str, str], context: Mapping[str, Any],
              env: Mapping[str, str], workspace: Path) -> tuple[dict, str, str]:
        """Never hit: every run starts without a cache."""
        return {"cache-hit": "false"}, f"cache {inputs.get('key', '')!r}: always a miss locally", ""

    def upload_artifact(self, inputs: Mapping[str, str], context: Mapping[str, Any],
                        env: Mapping[str, str], workspace: Path) -> tuple[dict, str, str]:
        """Copy files into the run's artifact folder; refuse a name twice (v4+ rules)."""
        name = inputs.get("name") or "artifact"
        if re.search(r'[":<>|*?\\/\r\n]', name):
            raise _StepFailure(f"artifact name {name!r} contains a character that is not allowed")
        target = self.artifacts / name
        if target.exists() and inputs.get("overwrite", "false").lower() != "true":
            raise _StepFailure(f"an artifact named {name!r} already exists in this run; "
                               "artifacts are immutable since v4 (use a unique name or "
                               "overwrite: true)")
        files, root = _artifact_files(inputs.get("path", ""), workspace,
                                      inputs.get("include-hidden-files", "false") == "true")
        if not files:
            policy = inputs.get("if-no-files-found", "warn")
            message = f"no files found at {inputs.get('path', '')!r}; no artifact uploaded"
            if policy == "error":
                raise _StepFailure(message)
            return {}, message if policy == "warn" else "", ""
        if target.exists():
            shutil.rmtree(target)
        for path in files:
            destination = target / path.relative_to(root)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)
        artifact_id = str(next(self._artifact_ids))
        retention = inputs.get("retention-days", "")
        note = f"artifact {name!r}: {len(files)} file(s)" + (
            f", kept {retention} days" if retention else "")
        return {"artifact-id": artifact_id, "artifact-url": f"artifacts/{name}"}, note, ""

    def download_artifact(self, inputs: Mapping[str, str], context: Mapping[str, Any],
                          env: Mapping[str, str], workspace: Path) -> tuple[dict, str, str]:
        """Copy an artifact of this run (by name or pattern) into the workspace."""
        if inputs.get("run-id"):
            raise _StepFailure("artifacts of other runs (run-id) need the GitHub API; not "
                               "available locally")
        target = workspace / inputs.get("path", "")
        name = inputs.get("name", "")
        if name:
            source = self.artifacts / name
            if not source.is_dir():
                raise _StepFailure(f"Unable to download artifact(s): Artifact not found for "
                                   f"name: {name}")
            shutil.copytree(source, target, dirs_exist_ok=True)
            where = inputs.get("path", ".")
            return {"download-path": str(target)}, f"artifact {name!r} -> {where}", ""
        pattern = inputs.get("pattern", "*")
        names = sorted(p.name for p in self.artifacts.iterdir()
                       if p.is_dir() and re.fullmatch(_glob_regex(pattern), p.name))
        merge = inputs.get("merge-multiple", "false").lower() == "true"
        for item in names:
            shutil.copytree(self.artifacts / item, target if merge else target / item,
                            dirs_exist_ok=True)
        where = inputs.get("path", ".")
        return {"download-path": str(target)}, f"{len(names)} artifact(s) -> {where}", ""

    def github_script(self, inputs: Mapping[str, str], context: Mapping[str, Any],
                      env: Mapping[str, str], workspace: Path) -> tuple[dict, str, str]:
        """Run the script under Node.js with a fake GitHub API (issue comments only)."""
        node = shutil.which("node")
        if node is None:
            raise _StepNotRun("not run: actions/github-script needs Node.js, which is not "
                              "installed here")
        temp = Path(env["RUNNER_TEMP"])
        harness = temp / "github_script_harness.js"
        harness.write_text(_GITHUB_SCRIPT_HARNESS, encoding="utf-8")
        script = temp / "github_script_body.js"
        script.write_text(inputs.get("script", ""), encoding="utf-8")
        github = context["github"]
        owner, _, repo = github["repository"].partition("/")
        pull_request = github["event"].get("pull_request") or {}
        ctx = {"repo": {"owner": owner, "repo": repo},
               "issue": {"owner": owner, "repo": repo, "number": pull_request.get("number")},
               "payload": github["event"], "eventName": github["event_name"],
               "sha": github["sha"], "ref": github["ref"], "workflow": github["workflow"],
               "job": github["job"], "actor": github["actor"], "runId": int(github["run_id"]),
               "runNumber": int(github["run_number"]), "apiUrl": github["api_url"],
               "serverUrl": github["server_url"]}
        context_file = temp / "github_script_context.json"
        context_file.write_text(json.dumps(ctx), encoding="utf-8")
        code, output, timed_out = _execute(
            [node, str(harness), str(self.api_state), str(script), str(context_file)],
            workspace, dict(env), 5 * MINUTE)
        if code != 0 or timed_out:
            raise _StepFailure(output or f"github-script exited with {code}")
        calls = [line.split("::api::", 1)[1] for line in output.splitlines() if "::api::" in line]
        note = "github-script under node with the fake GitHub API" + (
            f": {', '.join(calls)}" if calls else "")
        return {}, note, output

    def configure_aws_credentials(self, inputs: Mapping[str, str], context: Mapping[str, Any],
                                  env: Mapping[str, str], workspace: Path
                                  ) -> tuple[dict, str, str]:
        """Fail: OIDC credentials need GitHub and AWS."""
        raise _StepFailure("aws-actions/configure-aws-credentials needs GitHub's OIDC token "
                           "and AWS; not available locally")

    # -- helpers -----------------------------------------------------------------------

    def _files(self, source: Path) -> list[str]:
        source = source.resolve()
        if source not in self._files_cache:
            self._files_cache[source] = repository_files(source)
        return self._files_cache[source]

    def artifact_listing(self) -> dict[str, list[str]]:
        return {folder.name: sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                                    if p.is_file())
                for folder in sorted(self.artifacts.iterdir()) if folder.is_dir()}


@dataclass
class _JobState:
    job_env: dict[str, str]
    path_prefix: list[str]
    extra_env: dict[str, str]
    pythonpath: list[str] = field(default_factory=list)


STAND_INS: dict[str, Callable[..., tuple[dict, str, str]]] = {
    "actions/checkout": _Session.checkout,
    "actions/setup-python": _Session.setup_python,
    "actions/cache": _Session.cache,
    "actions/upload-artifact": _Session.upload_artifact,
    "actions/download-artifact": _Session.download_artifact,
    "actions/github-script": _Session.github_script,
    "aws-actions/configure-aws-credentials": _Session.configure_aws_credentials,
}


def truthy_setting(value: Any, context: Mapping[str, Any]) -> bool:
    """A boolean setting that may be an expression (continue-on-error)."""
    return truthy(interpolate(value, context))


def _minutes(value: Any, default: float) -> float:
    try:
        return float(value) if value is not None else default
    except (TypeError, ValueError):
        return default


def _shell_command(shell: str | None, bash: str) -> tuple[list[str], str]:
    if shell is None:
        return [bash, "-e", "{0}"], ".sh"
    if shell == "bash":
        return [bash, "--noprofile", "--norc", "-eo", "pipefail", "{0}"], ".sh"
    if shell == "sh":
        return ["sh", "-e", "{0}"], ".sh"
    if shell == "python":
        return [sys.executable, "{0}"], ".py"
    parts = shlex.split(shell)
    if parts and parts[0] == "bash":
        parts[0] = bash
    return parts, ".sh"


def _execute(argv: Sequence[str], cwd: Path, env: Mapping[str, str], timeout: float
             ) -> tuple[int, str, bool]:
    """Run a command; return (exit code, stdout+stderr, timed out)."""
    try:
        process = subprocess.Popen(list(argv), cwd=cwd, env=dict(env), stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, start_new_session=os.name == "posix")
    except OSError as err:
        return 127, f"cannot start {argv[0]}: {err.strerror}\n", False
    try:
        out, _ = process.communicate(timeout=timeout)
        return process.returncode, out.decode("utf-8", "replace"), False
    except subprocess.TimeoutExpired:
        if os.name == "posix":
            try:
                os.killpg(process.pid, 9)
            except ProcessLookupError:
                pass
        else:
            process.kill()
        out, _ = process.communicate()
        return -9, out.decode("utf-8", "replace"), True


def _glob_regex(pattern: str) -> str:
    return "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)


def _artifact_files(spec: str, workspace: Path, hidden: bool) -> tuple[list[Path], Path]:
    """Files named by an upload-artifact `path:` (lines, globs, `!` exclusions) and their root."""
    included: list[Path] = []
    excluded: set[Path] = set()
    roots: list[Path] = []
    for line in (part.strip() for part in spec.splitlines()):
        if not line:
            continue
        negate = line.startswith("!")
        pattern = line[1:] if negate else line
        has_glob = any(ch in pattern for ch in "*?[")
        base = workspace / pattern
        if has_glob:
            prefix = re.split(r"[*?\[]", pattern, maxsplit=1)[0]
            root = (workspace / prefix) if prefix.endswith("/") else (workspace / prefix).parent
            matches = [p for p in workspace.glob(pattern)]
            found = [f for m in matches for f in ([m] if m.is_file() else m.rglob("*"))
                     if f.is_file()]
        elif base.is_dir():
            root, found = base, [f for f in base.rglob("*") if f.is_file()]
        elif base.is_file():
            root, found = base.parent, [base]
        else:
            root, found = base.parent, []
        if negate:
            excluded.update(found)
            continue
        roots.append(root)
        included.extend(found)
    files = sorted({f for f in included if f not in excluded and (hidden or not any(
        part.startswith(".") for part in f.relative_to(workspace).parts))})
    common = Path(os.path.commonpath([str(r) for r in roots])) if roots else workspace
    return files, common


def write_step_summary(markdown_files: Sequence[str | Path] = (), *, title: str | None = None,
                       note: str | None = None, env: Mapping[str, str] | None = None) -> Path:
    """Append a title, markdown files and a note to the job summary ($GITHUB_STEP_SUMMARY)."""
    env = os.environ if env is None else env
    target = env.get("GITHUB_STEP_SUMMARY")
    if not target:
        raise UserInputError("GITHUB_STEP_SUMMARY is not set: this command writes the job "
                             "summary of a GitHub Actions step")
    parts = []
    if title:
        parts.append(f"## {' '.join(title.split())}\n\n")
    for item in markdown_files:
        path = Path(item)
        if not path.is_file():
            raise UserInputError(f"markdown file not found: {path}")
        parts.append(path.read_text(encoding="utf-8").rstrip("\n") + "\n\n")
    if note:
        parts.append(f"> {' '.join(note.split())}\n\n")
    if not parts:
        raise UserInputError("nothing to write: give markdown files, --title or --note")
    path = Path(target)
    existing = path.read_text(encoding="utf-8") if path.is_file() else ""
    write_text_atomic(path, existing + "".join(parts))
    return path


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


_GITHUB_SCRIPT_HARNESS = r"""
// Local stand-in for actions/github-script: runs the script with a fake `github` client
// whose issue comments live in a JSON file. Only the calls below exist; others throw.
const fs = require('fs');
const [statePath, scriptPath, contextPath] = process.argv.slice(2);
const state = fs.existsSync(statePath)
  ? JSON.parse(fs.readFileSync(statePath, 'utf8')) : { comments: [], next_id: 1 };
const save = () => fs.writeFileSync(statePath, JSON.stringify(state, null, 2) + '\n');
const ctx = JSON.parse(fs.readFileSync(contextPath, 'utf8'));
const log = (call) => console.log(`::api::${call}`);
const strict = (obj, prefix) => new Proxy(obj, { get(target, key) {
  if (key in target || typeof key === 'symbol') return target[key];
  throw new Error(`${prefix}.${String(key)} is not available in the local stand-in`);
} });
const issues = strict({
  async listComments({ issue_number, per_page = 30, page = 1 }) {
    const all = state.comments.filter((c) => c.issue_number === issue_number);
    return { data: all.slice((page - 1) * per_page, page * per_page) };
  },
  async createComment({ issue_number, body }) {
    const comment = { id: state.next_id++, issue_number, body,
                      user: { login: 'github-actions[bot]', type: 'Bot' } };
    state.comments.push(comment); save(); log(`createComment #${comment.id}`);
    return { data: comment };
  },
  async updateComment({ comment_id, body }) {
    const comment = state.comments.find((c) => c.id === comment_id);
    if (!comment) { const err = new Error('Not Found'); err.status = 404; throw err; }
    comment.body = body; save(); log(`updateComment #${comment.id}`);
    return { data: comment };
  },
}, 'github.rest.issues');
const github = strict({
  rest: strict({ issues }, 'github.rest'),
  async paginate(method, params) {
    const per_page = params.per_page || 30; const out = [];
    for (let page = 1; ; page++) {
      const { data } = await method({ ...params, per_page, page });
      out.push(...data);
      if (data.length < per_page) return out;
    }
  },
}, 'github');
const setOutput = (name, value) => fs.appendFileSync(process.env.GITHUB_OUTPUT,
  `${name}<<__mlcicd_eof__\n${value}\n__mlcicd_eof__\n`);
const core = {
  setFailed(message) { console.log(`::error::${message}`); process.exitCode = 1; },
  info: (m) => console.log(m), debug: () => {}, setOutput,
  warning: (m) => console.log(`::warning::${m}`), notice: (m) => console.log(`::notice::${m}`),
  error: (m) => console.log(`::error::${m}`),
};
const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor;
const body = fs.readFileSync(scriptPath, 'utf8');
new AsyncFunction('require', 'github', 'context', 'core', body)(require, github, ctx, core)
  .then((result) => { if (result !== undefined) setOutput('result', JSON.stringify(result)); })
  .catch((err) => {
    console.log(`::error::Unhandled error: ${err.message}`); process.exitCode = 1;
  });
"""
