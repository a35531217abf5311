"""Rules about the job token: read-only by default, scopes listed, OIDC in environments."""

from __future__ import annotations

from collections.abc import Iterator

from mlcicd_course.workflows.findings import Finding, finding, rule
from mlcicd_course.workflows.permissions import permission_values
from mlcicd_course.workflows.reader import Workflow


@rule("top-level-permissions", "the workflow's permissions are set and read-only")
def _check_top_permissions(workflow: Workflow) -> Iterator[Finding]:
    keys = ("permissions",)
    if workflow.permissions is None:
        yield finding(workflow, "top-level-permissions", "no top-level `permissions:`; the "
                      "token then gets the repository default (add `permissions: contents: "
                      "read`)", ("<top>",))
        return
    whole, scopes = permission_values(workflow.permissions)
    if whole is not None:
        yield finding(workflow, "top-level-permissions", f"`permissions: {whole}`: list the "
                      "scopes instead (contents: read)", keys)
    for scope, level in scopes.items():
        if level not in ("read", "none"):
            yield finding(workflow, "top-level-permissions", f"top-level `{scope}: {level}` "
                          "is not read-only; grant write access only to the job that needs it",
                          keys)


@rule("job-permissions", "a job lists the scopes it needs instead of read-all or write-all")
def _check_job_permissions(workflow: Workflow) -> Iterator[Finding]:
    for job in workflow.jobs.values():
        whole, _ = permission_values(job.permissions)
        if whole is not None:
            yield finding(workflow, "job-permissions", f"job {job.id}: `permissions: {whole}`; "
                          "list the scopes the job needs", ("jobs", job.id, "permissions"), job.id)


@rule("oidc-environment", "a job that can request cloud credentials (id-token: write) "
      "runs in an `environment:`")
def _check_oidc_environment(workflow: Workflow) -> Iterator[Finding]:
    for job in workflow.jobs.values():
        _, scopes = permission_values(job.permissions)
        if scopes.get("id-token") == "write" and not job.environment:
            yield finding(workflow, "oidc-environment", f"job {job.id} has `id-token: write` "
                          "but no `environment:` (reviewers and a narrow OIDC subject need one)",
                          ("jobs", job.id, "permissions"), job.id)


@rule("secrets-inherit", "a reusable workflow gets the secrets it names, not `secrets: inherit`")
def _check_secrets_inherit(workflow: Workflow) -> Iterator[Finding]:
    for job in workflow.jobs.values():
        if isinstance(job.secrets, str) and job.secrets.strip() == "inherit":
            yield finding(workflow, "secrets-inherit", f"job {job.id} passes every secret of "
                          f"this repository to {job.uses}; pass the ones it needs by name",
                          ("jobs", job.id, "secrets"), job.id)
