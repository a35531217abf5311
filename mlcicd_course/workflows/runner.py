"""Run a workflow's jobs on this machine, as a GitHub-hosted runner would.

`run_workflow` executes the `run:` steps of a workflow's jobs in `needs` order, each job
in a fresh copy of the repository under a temporary folder: bash with `-eo pipefail`,
the `GITHUB_OUTPUT` / `GITHUB_ENV` / `GITHUB_PATH` / `GITHUB_STEP_SUMMARY` files and the
runner's variables (`runner_env`), `if:` conditions, step outputs, `working-directory`,
`continue-on-error`, timeouts. Actions are replaced by local stand-ins (`standins`);
`pip install` steps download nothing (`offline_pip`). Every matrix entry runs on this
one interpreter, and the job's line says so.

In step output, the job's folders read `$GITHUB_WORKSPACE` and `$RUNNER_TEMP`, so that
reports do not depend on where the run happened. Expressions are filled from an explicit
context (`contexts.default_context` plus any overrides), and a name that the context
lacks is an error. `${{ }}` inside `run:` is pasted into the script before bash reads
it, exactly as on GitHub, so the runner also demonstrates script injection.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlcicd_course.errors import UserInputError
from mlcicd_course.workflows.contexts import default_context, evaluate_env, set_dotted
from mlcicd_course.workflows.expressions import (
    ExpressionError,
    UnsetReadsEmpty,
    condition_holds,
    interpolate,
    to_string,
    truthy,
)
from mlcicd_course.workflows.graph import (
    event_triggers,
    expand_matrix,
    needs_status,
    topological_order,
)
from mlcicd_course.workflows.offline_pip import plan_pip
from mlcicd_course.workflows.permissions import token_scopes
from mlcicd_course.workflows.reader import Job, Step, Workflow, load_workflow
from mlcicd_course.workflows.repository import git
from mlcicd_course.workflows.results import JobResult, RunResult, StepResult
from mlcicd_course.workflows.runner_env import file_command_files, runner_variables
from mlcicd_course.workflows.shell import (
    MINUTE,
    execute,
    hash_files_in,
    parse_file_command,
    shell_command,
)
from mlcicd_course.workflows.standins import STAND_INS, StandIns, StepFailure, StepNotRun

#: Environment variables passed from this machine to every step (the rest are dropped).
PASSED_ENV = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR",
              "TEMP", "TMP", "SYSTEMROOT", "COMSPEC", "PATHEXT", "PYTHONHASHSEED", "MPLBACKEND")


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


def run_workflow(workflow: Workflow | str | Path, options: RunOptions | None = None) -> RunResult:
    """Run the selected jobs of `workflow` locally; see the module docstring."""
    options = options or RunOptions()
    if not isinstance(workflow, Workflow):
        workflow = load_workflow(workflow)
    repo = Path(options.repo) if options.repo else guess_repository(workflow.path)
    if not repo.is_dir():
        raise UserInputError(f"repository folder not found: {repo}")
    head = git(repo, "rev-parse", "HEAD") or "0" * 40
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
                           session.stand_ins.artifact_listing(), notes)
    return result


def guess_repository(workflow_path: Path) -> Path:
    """The repository a workflow belongs to: the folder holding `.github/`, else the cwd."""
    resolved = workflow_path.resolve()
    for parent in resolved.parents:
        if parent.name == ".github":
            return parent.parent
    top = git(Path.cwd(), "rev-parse", "--show-toplevel")
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


@dataclass
class _JobState:
    job_env: dict[str, str]
    path_prefix: list[str]
    extra_env: dict[str, str]
    pythonpath: list[str] = field(default_factory=list)


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
        artifacts = workdir / "artifacts"
        for folder in (artifacts, workdir / "jobs"):  # a kept folder starts afresh
            shutil.rmtree(folder, ignore_errors=True)
        artifacts.mkdir(parents=True)
        api_state = (Path(options.github_api) if options.github_api
                     else workdir / "github-api.json")
        api_state.parent.mkdir(parents=True, exist_ok=True)
        self.stand_ins = StandIns(repo, options.trees, artifacts, api_state)

    # -- jobs ------------------------------------------------------------------------

    def run_job(self, job: Job) -> None:
        needs = {need: self.job_results.get(need, "skipped") for need in job.needs}
        base = self._job_context(job, needs)
        try:
            runs = condition_holds(job.if_, base, status=needs_status(needs))
        except ExpressionError as err:
            raise UserInputError(f"job {job.id}: if: {err}") from None
        if not runs:
            failed = [name for name, result in needs.items() if result != "success"]
            blocked_by_needs = failed and (
                job.if_ is None or condition_holds(job.if_, base, status="success"))
            why = (f"needs {', '.join(failed)} did not succeed" if blocked_by_needs
                   else f"if: {str(job.if_).strip()} is false")
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
        context["vars"] = UnsetReadsEmpty(context["vars"])
        context["github"]["job"] = job.id
        context["needs"] = {need: {"result": result, "outputs": {
            name: self.job_outputs.get(need, {}).get(name)
            for name in self.workflow.jobs[need].outputs}} for need, result in needs.items()}
        context["env"] = evaluate_env(self.workflow.env, context)
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
        github = context["github"]
        head = ((github["event"].get("pull_request") or {}).get("head") or {}).get("repo") or {}
        self.stand_ins.token = token_scopes(
            self.workflow.permissions, job.permissions,
            from_fork=github["event_name"] == "pull_request"
            and head.get("full_name") != github["repository"])
        context["matrix"] = combo
        context["strategy"].update({"job-index": number, "job-total": total})
        context["github"]["workspace"] = str(workspace)
        context["runner"]["temp"] = str(temp)
        hash_files = hash_files_in(workspace)
        try:
            name = to_string(interpolate(job.name, context))
            job_env = {**context["env"], **evaluate_env(job.env, context)}
        except ExpressionError as err:
            raise UserInputError(f"job {job.id}: {err}") from None
        result = JobResult(job.id, name, "success", matrix=combo, workspace=workspace)
        if combo:
            result.note = (f"ran on this machine's Python {platform.python_version()}, the one "
                           "interpreter every matrix entry uses locally")
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
            step_env = evaluate_env(step.env, context, hash_files=hash_files)
            context = {**context, "env": {**context["env"], **step_env}}
        except ExpressionError as err:
            raise UserInputError(f"{where}: {err}") from None
        files = file_command_files(temp, f"_{step.index}")
        env = self._step_env(job, context, state, step_env, workspace, temp, files)
        continue_on_error = truthy_setting(step.continue_on_error, context)
        started = time.monotonic()
        try:
            if step.uses is not None:
                record = self._stand_in(step, context, env, workspace, hash_files)
            else:
                record = self._run_script(job, step, context, env, workspace, state, deadline,
                                          hash_files)
        except StepFailure as failure:
            record = StepResult(step.index, name, "stand-in", "failure", "failure", 1,
                                output=str(failure), note=str(failure).splitlines()[0])
        except StepNotRun as why:
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
        env = {key: os.environ[key] for key in PASSED_ENV if key in os.environ}
        env.update(self.options.env)
        env.update(runner_variables(context["github"], job.id, workspace, temp))
        env.update({key: str(path) for key, path in files.items()})
        env.update(state.job_env)
        env.update(state.extra_env)
        env.update(step_env)
        python_bin = str(Path(sys.executable).parent)
        env["PATH"] = os.pathsep.join([*state.path_prefix, python_bin, env.get("PATH", "")])
        if state.pythonpath:
            env["PYTHONPATH"] = os.pathsep.join(state.pythonpath)
        return env

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
        plan = plan_pip(script, cwd)
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
        argv, suffix = shell_command(shell, self.bash)
        script_file = Path(env["RUNNER_TEMP"]) / f"step_{step.index}{suffix}"
        script_file.write_text(plan.script, encoding="utf-8")
        argv = [part.replace("{0}", str(script_file)) for part in argv]
        if not any(str(script_file) in part for part in argv):
            argv.append(str(script_file))
        limit = min(_minutes(step.timeout_minutes, 360) * MINUTE, deadline - time.monotonic())
        code, output, timed_out = execute(argv, cwd, env, max(limit, 1.0))
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
            raise StepFailure(f"no local stand-in for {step.uses}: the runner cannot run "
                              "this action offline")
        outputs, note, output = handler(self.stand_ins, inputs, context, env, workspace)
        return StepResult(step.index, step.name, "stand-in", "success", "success", 0,
                          outputs=outputs, output=output, note=note,
                          command=f"uses {action}@{version[:12]}")


def truthy_setting(value: Any, context: Mapping[str, Any]) -> bool:
    """A boolean setting that may be an expression (continue-on-error)."""
    return truthy(interpolate(value, context))


def _minutes(value: Any, default: float) -> float:
    try:
        return float(value) if value is not None else default
    except (TypeError, ValueError):
        return default

