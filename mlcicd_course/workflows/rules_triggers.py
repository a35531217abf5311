"""Rules about triggers and concurrency: untrusted code, cancelled runs."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from mlcicd_course.errors import UserInputError
from mlcicd_course.workflows.contexts import EVENTS, default_context
from mlcicd_course.workflows.expressions import interpolate, truthy
from mlcicd_course.workflows.findings import Finding, finding, rule
from mlcicd_course.workflows.reader import Workflow, iter_steps


@rule("pull-request-target", "no `pull_request_target` trigger (it runs with a write token "
      "and secrets on code from forks)")
def _check_prt(workflow: Workflow) -> Iterator[Finding]:
    if "pull_request_target" in workflow.on:
        yield finding(workflow, "pull-request-target", "`pull_request_target` gives fork code "
                      "a write token and secrets; use `pull_request`",
                      ("on", "pull_request_target", "<key>"))


def _concurrency_settings(workflow: Workflow) -> list[tuple[Any, tuple]]:
    """(concurrency value, key path) of the workflow, or of every job when set per job."""
    if workflow.concurrency is not None:
        return [(workflow.concurrency, ("concurrency",))]
    return [(job.concurrency, ("jobs", job.id, "concurrency")) for job in workflow.jobs.values()]


def _cancel_values(workflow: Workflow, event: str
                   ) -> Iterator[tuple[bool | None, tuple, str]]:
    """(cancel-in-progress for `event` runs, key path, why it cannot be evaluated or "").

    A value that needs what a local context cannot know (`vars.*`, a field of another
    event) is reported, not guessed: the rule then says so instead of stopping the check.
    """
    try:
        context = default_context(workflow, event)
    except UserInputError as err:
        yield None, ("on", event, "<key>"), f"cannot evaluate the {event} context locally: {err}"
        return
    for value, keys in _concurrency_settings(workflow):
        cancel = value.get("cancel-in-progress") if isinstance(value, Mapping) else None
        try:
            yield truthy(interpolate(cancel, context)), keys, ""
        except UserInputError as err:
            yield None, (*keys, "cancel-in-progress"), (
                f"cannot evaluate cancel-in-progress {cancel!r} locally for {event} runs "
                f"({err}); check by hand that it is true only for pull requests")


@rule("pr-concurrency", "a workflow run by pull requests has a concurrency group, so a new "
      "push cancels the superseded run")
def _check_pr_concurrency(workflow: Workflow) -> Iterator[Finding]:
    if "pull_request" not in workflow.on:
        return
    settings = _concurrency_settings(workflow)
    if any(value is None for value, _ in settings):
        yield finding(workflow, "pr-concurrency", "runs on pull_request without `concurrency:`;"
                      " add a group per PR with cancel-in-progress for pull requests",
                      ("on", "<key>"))
        return
    for cancel, keys, problem in _cancel_values(workflow, "pull_request"):
        if problem:
            yield finding(workflow, "pr-concurrency", problem, keys)
        elif not cancel:
            yield finding(workflow, "pr-concurrency", "pull-request runs are not cancelled "
                          "by a newer push (cancel-in-progress is false for pull_request)", keys)


@rule("cancel-training", "runs other than pull requests (schedule, push, manual) are never "
      "cancelled halfway (training, model uploads)")
def _check_cancel_training(workflow: Workflow) -> Iterator[Finding]:
    for event in workflow.on:
        if event not in EVENTS or event == "pull_request":
            continue
        for cancel, keys, problem in _cancel_values(workflow, event):
            if problem:
                yield finding(workflow, "cancel-training", problem, keys)
            elif cancel:
                yield finding(workflow, "cancel-training", f"cancel-in-progress is true for "
                              f"{event} runs: a newer run would kill training halfway; use "
                              "${{ github.event_name == 'pull_request' }} or false",
                              (*keys, "cancel-in-progress"))


#: Triggers that run with the base repository's token and secrets on behalf of someone
#: who may not be trusted: checking out their code there hands it both.
PRIVILEGED_TRIGGERS = ("pull_request_target", "workflow_run", "issue_comment")
UNTRUSTED_REF = re.compile(r"github\.event\.(workflow_run\.head|pull_request\.head|issue\.|"
                           r"comment\.)|github\.head_ref|refs/pull/", re.IGNORECASE)


@rule("untrusted-checkout", "a workflow_run or issue_comment workflow does not check out "
      "the code it was triggered for (it runs with the base repository's token and secrets)")
def _check_untrusted_checkout(workflow: Workflow) -> Iterator[Finding]:
    triggers = [event for event in PRIVILEGED_TRIGGERS[1:] if event in workflow.on]
    if not triggers:
        return
    for job, step in iter_steps(workflow):
        if not step.is_action("actions/checkout"):
            continue
        for key in ("ref", "repository"):
            value = step.with_.get(key)
            if isinstance(value, str) and UNTRUSTED_REF.search(value):
                yield finding(workflow, "untrusted-checkout", f"job {job.id} checks out "
                              f"{' '.join(value.split())} in a {triggers[0]} workflow: that "
                              "code then runs with this repository's token and secrets",
                              ("jobs", job.id, "steps", step.index, "with", key), job.id)
