"""Rules about jobs and steps: scripts, timeouts, artifacts, secrets, duplicate keys."""

from __future__ import annotations

import re
from collections.abc import Iterator

from mlcicd_course.workflows.expressions import EXPRESSION_RE
from mlcicd_course.workflows.findings import Finding, finding, rule
from mlcicd_course.workflows.reader import Job, Step, Workflow, iter_steps

AWS_KEY_RE = re.compile(r"AWS_SECRET_ACCESS_KEY|AWS_ACCESS_KEY_ID|aws-secret-access-key|"
                        r"aws-access-key-id", re.IGNORECASE)


@rule("expression-in-run", "no `${{ }}` inside `run:` or a github-script `script:` "
      "(pass values through `env:`)")
def _check_expression_in_run(workflow: Workflow) -> Iterator[Finding]:
    for job, step in iter_steps(workflow):
        sites = [("run", step.run)]
        if step.is_action("actions/github-script"):
            sites.append(("with", step.with_.get("script")))
        for key, text in sites:
            if not isinstance(text, str):
                continue
            keys = ("jobs", job.id, "steps", step.index, key)
            if key == "with":
                keys = (*keys, "script")
            for match in EXPRESSION_RE.finditer(text):
                expression = match.group(1).strip()
                yield Finding("expression-in-run", f"step {step.name!r}: "
                              f"`${{{{ {expression} }}}}` is pasted into the script before it "
                              "runs; pass it through `env:` and use \"$VAR\"",
                              workflow.display_path(),
                              _line_of(workflow, workflow.line(*keys), match.group(0)), job.id)


def _line_of(workflow: Workflow, start: int, needle: str) -> int:
    """The first line at or after `start` that contains `needle` (else `start`)."""
    lines = workflow.text.splitlines()
    for number in range(start, min(len(lines), start + 200) + 1):
        if needle in lines[number - 1]:
            return number
    return start


@rule("job-timeout", "every job has `timeout-minutes`")
def _check_timeout(workflow: Workflow) -> Iterator[Finding]:
    for job in workflow.jobs.values():
        if job.uses:  # a reusable workflow sets its own timeouts
            continue
        value = job.timeout_minutes
        if value is None:
            yield finding(workflow, "job-timeout", f"job {job.id} has no `timeout-minutes` "
                          "(the default is 360 minutes)", ("jobs", job.id, "<key>"), job.id)
        elif isinstance(value, int | float) and not isinstance(value, bool) and value <= 0:
            yield finding(workflow, "job-timeout", f"job {job.id}: timeout-minutes must be "
                          "positive", ("jobs", job.id, "timeout-minutes"), job.id)


STATUS_CALL = re.compile(r"\b(always|failure|cancelled)\s*\(", re.IGNORECASE)


def _can_fail_after(job: Job, index: int) -> bool:
    """Whether job `job` can fail after step `index` ran (a later step, or a step that also
    runs after a failure): then "Re-run failed jobs" uploads the same name again."""
    step = job.steps[index]
    return index < len(job.steps) - 1 or bool(STATUS_CALL.search(str(step.if_ or "")))


def _with_env(workflow: Workflow, job: Job, step: Step, text: str) -> str:
    """`text` with each `${{ env.NAME }}` replaced by the value that `env:` gives NAME."""
    env = {**workflow.env, **job.env, **step.env}
    return re.sub(r"\$\{\{\s*env\.([A-Za-z_][\w-]*)\s*\}\}",
                  lambda m: str(env.get(m.group(1), m.group(0))), text)


@rule("unique-artifact-names", "artifact names are unique in a run and its re-runs (v4+ "
      "artifacts are immutable): matrix values in a matrix job, github.run_attempt when a "
      "failed job can be re-run after uploading")
def _check_artifact_names(workflow: Workflow) -> Iterator[Finding]:
    seen: dict[str, str] = {}
    for job, step in iter_steps(workflow):
        if not step.is_action("actions/upload-artifact"):
            continue
        name = _with_env(workflow, job, step, str(step.with_.get("name", "artifact")))
        keys = ("jobs", job.id, "steps", step.index, "with", "name")
        if step.with_.get("overwrite") is True:
            continue
        if job.matrix and not re.search(r"\bmatrix\.", name):
            yield finding(workflow, "unique-artifact-names", f"job {job.id} runs a matrix but "
                          f"uploads {name!r} from every entry; put ${{{{ matrix.* }}}} in the "
                          "name", keys, job.id)
        if "github.run_attempt" not in name and _can_fail_after(job, step.index):
            yield finding(workflow, "unique-artifact-names", f"job {job.id} can fail after "
                          f"uploading {name!r}; re-running it uploads the same name again and "
                          "fails (409): add -attempt${{ github.run_attempt }} to the name",
                          keys, job.id)
        if name in seen:
            yield finding(workflow, "unique-artifact-names", f"artifact {name!r} is uploaded "
                          f"twice (also in job {seen[name]}); the second upload fails", keys,
                          job.id)
        seen.setdefault(name, job.id)


@rule("no-aws-keys", "no long-lived AWS access keys (use OIDC: role-to-assume)")
def _check_aws_keys(workflow: Workflow) -> Iterator[Finding]:
    for number, line in enumerate(workflow.text.splitlines(), start=1):
        code = line.split("#", 1)[0] if not line.lstrip().startswith("#") else ""
        match = AWS_KEY_RE.search(code)
        if match:
            yield Finding("no-aws-keys", f"{match.group(0)}: long-lived AWS keys; use OIDC "
                          "(aws-actions/configure-aws-credentials with role-to-assume and "
                          "id-token: write)", workflow.display_path(), number)


@rule("duplicate-keys", "no key is written twice in one mapping (YAML keeps only the last: "
      "a second job `test:` silently replaces the first)")
def _check_duplicate_keys(workflow: Workflow) -> Iterator[Finding]:
    for keys, first, line in workflow.duplicates:
        where = ".".join(str(key) for key in keys)
        yield Finding("duplicate-keys", f"`{where}` is written again (first at line {first}); "
                      "YAML keeps only the last one and drops the other without a word",
                      workflow.display_path(), line,
                      str(keys[1]) if len(keys) > 1 and keys[0] == "jobs" else None)
