"""Grading a workflow file that a learner wrote: run it against a fake pull request.

The local runner (`mlcicd_course.workflows.run_workflow`) runs a workflow's `run:` steps
as shell commands, so a learner's workflow is untrusted code. `graded_pull_request(text)`
therefore never runs it in the grader's process or in the learner's folders:

1. `find_escapes` reads the workflow first; a step that names a path outside its
   workspace (an absolute path, `..` above the checkout, `~`) makes the whole question
   score 0 with that reason (`SubmissionRefused`), before anything runs.
2. The run happens in a fresh process of the grader's launcher (forked from the clean
   zygote, its own session, resource limits, the question's time limit, a private working
   folder that is deleted afterwards, every process it started killed at the end). That
   process (its time limit is `RUN_TIME_FACTOR` times the question's) writes a small fake
   repository into its working folder and, on Linux, confines itself and every command
   it starts with Landlock (`landlock.confine`): reading only the interpreter, the
   package and system folders, writing only its working folder, no network, no signals
   to processes outside. A run that passes its time limit makes the question score 0
   (timeout). Without Landlock (macOS, Windows) the time limit and the process kill
   still apply, and the result says the run was not confined.
3. The pushes (`PR_PUSHES` by default) run at the same time, each with its own fake
   GitHub API (`fake_github`, which enforces the job token's permissions): `first`: the
   candidate is as good as the base branch, and the pull request has no comment yet;
   `regression`: the candidate's config trains a model that predicts the majority class,
   and the pull request already has a human's comment and the bot's comment of an
   earlier push (with the marker), which the run must update rather than add a second.
The result is plain data; it is cached per workflow text and pushes, so every check of a
question reads the same runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from mlcicd_course.errors import UserInputError
from mlcicd_course.grading.checking import SubmissionRefused, grading_context
from mlcicd_course.grading.runner import LearnerError, LearnerGone, LearnerProcess, Limits

MARKER = "<!-- mlcicd-model-comparison -->"
BASE_SHA = "b" * 40
PR_NUMBER = 7
WORKFLOW_PATH = ".github/workflows/pr-model-comparison.yml"
HUMAN_COMMENT = {"id": 1, "issue_number": PR_NUMBER, "body": "Looks good, but is it better?",
                 "user": {"login": "a-reviewer", "type": "User"}}
EARLIER_COMMENT = {"id": 2, "issue_number": PR_NUMBER,
                   "body": f"{MARKER}\n## Model comparison: ✅ PASS\n\n(the earlier push)\n",
                   "user": {"login": "github-actions[bot]", "type": "Bot"}}
OUTPUT_TAIL = 1500
#: A graded run may take this many times a question's time limit: two pushes of a dozen
#: commands each, most of which import scikit-learn.
RUN_TIME_FACTOR = 3
_CACHE: dict[str, dict[str, Any]] = {}
_LOCKS: dict[str, threading.Lock] = {}
_LOCK = threading.Lock()


# --------------------------------------------------------------------------- reading


_ABSOLUTE = re.compile(r"""(?:^|[\s'"=(<>|;&,`])(?:/(?!dev/null\b)|~)""")
_HOME = re.compile(r"\$\{?HOME\b")


def _depth(folder: str | None) -> int:
    parts = [p for p in PurePosixPath(folder or ".").parts if p not in (".", "")]
    return len(parts)


def _climbs(text: str) -> int:
    """The largest number of `..` in a row that one word of `text` climbs."""
    deepest = 0
    for word in re.split(r"[\s'\"=,;|&<>()]+", text):
        run = 0
        for part in word.split("/"):
            run = run + 1 if part == ".." else 0
            deepest = max(deepest, run)
    return deepest


def find_escapes(text: str) -> list[str]:
    """Why the workflow in `text` reaches outside its workspace (empty when it does not).

    Looks at what the steps run and are given: `run:` scripts, `with:` and `env:`
    values and `working-directory`. `/dev/null` is allowed, and `..` only as far up as
    a step's working-directory went down.
    """
    from mlcicd_course import workflows

    try:
        workflow = workflows.parse_workflow(text, "workflow.yml")
    except UserInputError:
        return []  # not a workflow: the checks say so, nothing runs
    found = []
    for job_id, job in workflow.jobs.items():
        values: list[tuple[str, str, str | None]] = [
            (f"job {job_id} env {k}", str(v), None) for k, v in job.env.items()]
        for step in job.steps:
            where = f"job {job_id}, step {step.index + 1} ({step.name})"
            folder = step.working_directory
            if folder is not None:
                values.append((f"{where} working-directory", str(folder), None))
            if step.run is not None:
                values.append((f"{where} run:", step.run, folder))
            values += [(f"{where} with: {k}", str(v), None) for k, v in step.with_.items()]
            values += [(f"{where} env: {k}", str(v), None) for k, v in step.env.items()]
        for where, value, folder in values:
            if _ABSOLUTE.search(value) or _HOME.search(value):
                found.append(f"{where} names a path outside the workspace")
            elif _climbs(value) > _depth(folder):
                found.append(f"{where} climbs out of the workspace with ..")
    return found


# --------------------------------------------------------------------------- the fake PR


@dataclass(frozen=True)
class Push:
    """One push to the fake pull request: the candidate's model (None: an empty
    repository), the comments the pull request has before the run, context overrides."""

    name: str
    model: dict[str, Any] | None = None
    comments: tuple[dict[str, Any], ...] = ()
    context: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "model": self.model, "comments": list(self.comments),
                "context": dict(self.context)}


GOOD_MODEL = {"type": "logistic_regression", "params": {"C": 1.0, "max_iter": 1000}}
MAJORITY_MODEL = {"type": "dummy", "params": {"strategy": "most_frequent"}}
#: The two pushes of `graded_pull_request`.
PR_PUSHES = (Push("first", GOOD_MODEL),
             Push("regression", MAJORITY_MODEL, (HUMAN_COMMENT, EARLIER_COMMENT)))


@dataclass(frozen=True)
class PushRun:
    """One push of the fake pull request: the run's jobs and the comments after it."""

    name: str
    ok: bool
    jobs: tuple[dict[str, Any], ...]
    comments_before: tuple[dict[str, Any], ...]
    comments: tuple[dict[str, Any], ...]
    error: str = ""
    artifacts: tuple[str, ...] = ()
    stray_files: tuple[str, ...] = ()  # files named `pwned` anywhere in the run's folders

    def job(self, job_id: str) -> dict[str, Any] | None:
        return next((j for j in self.jobs if j["id"] == job_id), None)

    def failed_steps(self) -> list[dict[str, Any]]:
        return [s for j in self.jobs for s in j["steps"] if s["outcome"] == "failure"]

    def marked(self) -> list[dict[str, Any]]:
        """The comments that carry the comparison's marker."""
        return [c for c in self.comments if MARKER in str(c.get("body", ""))]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "jobs": list(self.jobs),
                "comments_before": list(self.comments_before),
                "comments": list(self.comments), "error": self.error,
                "artifacts": list(self.artifacts), "stray_files": list(self.stray_files)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PushRun:
        return cls(data["name"], bool(data["ok"]), tuple(data["jobs"]),
                   tuple(data["comments_before"]), tuple(data["comments"]), data["error"],
                   tuple(data["artifacts"]), tuple(data["stray_files"]))


@dataclass(frozen=True)
class GradedRuns:
    """Every push's run, and whether the commands ran confined (Landlock)."""

    runs: tuple[PushRun, ...]
    confined: bool
    notes: tuple[str, ...] = ()

    def __getitem__(self, name: str) -> PushRun:
        return next(r for r in self.runs if r.name == name)

    def to_dict(self) -> dict[str, Any]:
        return {"runs": [r.to_dict() for r in self.runs], "confined": self.confined,
                "notes": list(self.notes)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GradedRuns:
        return cls(tuple(PushRun.from_dict(r) for r in data["runs"]), bool(data["confined"]),
                   tuple(data["notes"]))


def _config(model: dict[str, Any]) -> str:
    from mlcicd_course import training

    config = training.default_config().to_dict()
    config["model"] = model
    return yaml.safe_dump(config, sort_keys=False)


def _write_tree(folder: Path, model: dict[str, Any] | None, workflow_text: str) -> None:
    files = {WORKFLOW_PATH: workflow_text}
    if model is not None:
        files.update({
            "pyproject.toml": '[project]\nname = "churn-model"\nversion = "0.1.0"\n',
            "requirements/ci.txt": "# the course's package is installed already\n",
            "config/model.yaml": _config(model)})
    for relative, text in files.items():
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


def _step_dict(step: Any) -> dict[str, Any]:
    output = step.output or ""
    return {"name": step.name, "id": step.id, "outcome": step.outcome,
            "exit_code": step.exit_code, "note": step.note, "output": output[-OUTPUT_TAIL:],
            "outputs": dict(step.outputs)}


def _push(push: Push, root: Path, workflow_text: str) -> PushRun:
    from mlcicd_course.workflows import RunOptions, run_workflow

    folder = root / push.name
    comments = [dict(c) for c in push.comments]
    _write_tree(folder / "repo", push.model, workflow_text)
    _write_tree(folder / "base", GOOD_MODEL if push.model is not None else None, workflow_text)
    api = folder / "github-api.json"
    state = {"comments": comments, "next_id": 1 + max((c["id"] for c in comments), default=0)}
    api.write_text(json.dumps(state), encoding="utf-8")
    options = RunOptions(event="pull_request", repo=folder / "repo",
                         trees={BASE_SHA: folder / "base"}, workdir=folder / "run",
                         github_api=api,
                         context={"github.event.pull_request.base.sha": BASE_SHA,
                                  **push.context})
    try:
        result = run_workflow(folder / "repo" / WORKFLOW_PATH, options)
    except UserInputError as err:
        return PushRun(push.name, False, (), tuple(comments), tuple(comments), str(err))
    after = json.loads(api.read_text(encoding="utf-8"))["comments"]
    jobs = tuple({"id": j.job_id, "result": j.result, "note": j.note,
                  "steps": [_step_dict(s) for s in j.steps]} for j in result.jobs)
    strays = sorted(str(p.relative_to(folder)) for p in folder.rglob("pwned"))
    return PushRun(push.name, result.ok, jobs, tuple(comments), tuple(after),
                   artifacts=tuple(sorted(result.artifacts)), stray_files=tuple(strays))


def _readable() -> list[str]:
    """What the confined run may read: system folders, Python, the package, Node.js."""
    import mlcicd_course

    places = ["/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/etc", "/dev", "/sys",
              sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
              str(Path(mlcicd_course.__file__).resolve().parent)]
    places += [p for p in sys.path if p and Path(p).is_dir() and "site-packages" in p]
    for program in ("node", "git", "bash"):
        found = shutil.which(program)
        if found:
            places.append(str(Path(found).resolve().parent.parent))
    return sorted(set(places))


def run_pushes_here(workflow_text: str, pushes: list[dict[str, Any]]) -> dict[str, Any]:
    """Inside the isolated process: confine it, run the pushes at once, return plain data."""
    from mlcicd_course.grading.landlock import confine

    root = Path.cwd()
    confined = confine(_readable(), [str(root), os.devnull])
    specs = [Push(p["name"], p["model"], tuple(p["comments"]), p["context"]) for p in pushes]
    with ThreadPoolExecutor(max_workers=len(specs)) as pool:
        runs = list(pool.map(lambda push: _push(push, root, workflow_text), specs))
    notes = () if confined else ("the workflow's commands ran without Landlock (not Linux, or "
                                 "a kernel without it): only the time limit and the process "
                                 "kill applied",)
    return GradedRuns(tuple(runs), confined, notes).to_dict()


# --------------------------------------------------------------------------- grader side


def _isolated_run(workflow_text: str, pushes: tuple[Push, ...]) -> dict[str, Any]:
    from mlcicd_course.grading.runner import LearnerTimeout, default_launcher

    context = grading_context()
    owned = context is None
    launcher = default_launcher() if owned else context.launcher
    limits = Limits() if owned else context.limits
    limits = replace(limits, timeout=limits.timeout * RUN_TIME_FACTOR)
    code = ("from mlcicd_course.grading.workflow_runs import run_pushes_here\n"
            f"result = run_pushes_here({workflow_text!r}, "
            f"{[p.to_dict() for p in pushes]!r})\n")
    try:
        process = LearnerProcess(launcher, limits)
        try:
            report = process.start([("the graded workflow run", code)], programs=True)
            if report["event"] != "ready":
                raise SubmissionRefused(f"the graded run of your workflow stopped: "
                                        f"{report.get('type')}: {report.get('message')}")
            return process.get("result")
        except LearnerTimeout:
            raise LearnerTimeout(f"your workflow ran longer than the {limits.timeout:g} s "
                                 "time limit; its processes were stopped") from None
        except (LearnerGone, LearnerError, KeyError) as err:
            raise SubmissionRefused(f"the graded run of your workflow stopped: {err}") from None
        finally:
            process.close()
    finally:
        if owned:
            launcher.close()


def graded_pull_request(workflow_text: str, pushes: tuple[Push, ...] = PR_PUSHES
                        ) -> GradedRuns:
    """The runs of `workflow_text` for each push (see the module docstring).

    Raises `SubmissionRefused` when the workflow reaches outside its workspace.
    """
    escapes = find_escapes(workflow_text)
    if escapes:
        raise SubmissionRefused("your workflow reaches outside its workspace, so it was not "
                                f"run: {escapes[0]}")
    plan = json.dumps([p.to_dict() for p in pushes], sort_keys=True)
    key = hashlib.sha256(f"{plan}\n{workflow_text}".encode()).hexdigest()
    with _LOCK:
        lock = _LOCKS.setdefault(key, threading.Lock())
    with lock:
        if key not in _CACHE:
            _CACHE[key] = _isolated_run(workflow_text, pushes)
    return GradedRuns.from_dict(_CACHE[key])


def step_lines(run: PushRun, limit: int = 3) -> str:
    """The failed steps of a push, with the last lines of their output, and the steps
    that could not run on this machine (github-script without Node.js), for a hint."""
    lines = []
    for step in run.failed_steps()[:limit]:
        tail = " | ".join(str(step["output"]).strip().splitlines()[-3:])
        why = step["note"] or f"exit {step['exit_code']}"
        lines.append(f"step {step['name']!r} failed ({why})" + (f": {tail}" if tail else ""))
    not_run = [f"step {s['name']!r}: {s['note']}" for j in run.jobs for s in j["steps"]
               if s["outcome"] == "skipped" and str(s["note"]).startswith("not run")]
    return "\n".join(lines + not_run) or run.error or "no step failed"
