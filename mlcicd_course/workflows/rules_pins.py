"""Rules about what `uses:` points at: full SHAs, version comments, majors, images."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence

from mlcicd_course.workflows.findings import Finding, finding, is_remote, rule, uses_sites
from mlcicd_course.workflows.reader import Job, Workflow
from mlcicd_course.workflows.versions import (
    KNOWN_TAGS,
    MINIMUM_MAJORS,
    REFUSED_BELOW,
    SHA_RE,
    VERSION_COMMENT_RE,
    recorded_tag,
)


@rule("unpinned-uses", "every action is pinned to a full 40-character commit SHA")
def _check_pinned(workflow: Workflow) -> Iterator[Finding]:
    for uses, keys, job in uses_sites(workflow):
        if uses.startswith("docker://"):
            if "@sha256:" not in uses:
                yield finding(workflow, "unpinned-uses", f"{uses} is not pinned to an image "
                              "digest (docker://image@sha256:...)", keys, job)
        elif is_remote(uses) and not SHA_RE.match(uses.rpartition("@")[2]):
            yield finding(workflow, "unpinned-uses", f"{uses} is not pinned to a full commit "
                          "SHA; a tag can be moved to other code", keys, job)


@rule("version-comment", "a pinned SHA carries its version in a comment (# vX.Y.Z)")
def _check_version_comment(workflow: Workflow) -> Iterator[Finding]:
    for uses, keys, job in uses_sites(workflow):
        if is_remote(uses) and SHA_RE.match(uses.rpartition("@")[2]):
            if not VERSION_COMMENT_RE.search(workflow.source_line(workflow.line(*keys))):
                yield finding(workflow, "version-comment", f"{uses.partition('@')[0]} is "
                              "pinned without a version comment (add `# vX.Y.Z` after the SHA)",
                              keys, job)


@rule("minimum-major", "known actions are at least the first major written for the runners' "
      "current Node (artifact actions below v4 are refused)")
def _check_minimum_major(workflow: Workflow) -> Iterator[Finding]:
    for uses, keys, job in uses_sites(workflow):
        action, _, ref = uses.partition("@")
        minimum = MINIMUM_MAJORS.get(action.lower())
        if minimum is None:
            continue
        comment = VERSION_COMMENT_RE.search(workflow.source_line(workflow.line(*keys)))
        tag = re.match(r"v(\d+)", ref)
        major = int(comment.group(2)) if comment else int(tag.group(1)) if tag else None
        if major is None or major >= minimum:
            continue
        if action.lower() in REFUSED_BELOW and major < REFUSED_BELOW[action.lower()]:
            why = "GitHub refuses it: every run that uses it fails"
        else:
            why = ("it was written for a Node version the runners no longer have; GitHub runs "
                   "it on a newer one, with a warning")
        yield finding(workflow, "minimum-major", f"{action} v{major} is too old: use "
                      f"v{minimum} or newer ({why})", keys, job)


@rule("known-sha", "a version comment names the tag recorded for its SHA (and a recorded "
      "tag its SHA)")
def _check_known_sha(workflow: Workflow) -> Iterator[Finding]:
    for uses, keys, job in uses_sites(workflow):
        action, _, ref = uses.partition("@")
        comment = VERSION_COMMENT_RE.search(workflow.source_line(workflow.line(*keys)))
        if not comment or not SHA_RE.match(ref):
            continue
        said = comment.group(1)
        tag = recorded_tag(action, ref)
        if tag is not None and tag != said:
            yield finding(workflow, "known-sha", f"{action}@{ref[:12]}... is {tag}, but its "
                          f"comment says {said}", keys, job)
        recorded = {name: sha for sha, name in KNOWN_TAGS.get(action.lower(), {}).items()}
        if tag is None and said in recorded:
            yield finding(workflow, "known-sha", f"{action} says {said} but is pinned to "
                          f"{ref[:12]}..., not {recorded[said]}", keys, job)


def _images(job: Job) -> Iterator[tuple[str, tuple]]:
    """(image, key path) of a job's `container:` and `services:`."""
    container = job.container
    if isinstance(container, str):
        yield container, ("jobs", job.id, "container")
    elif isinstance(container, Mapping) and isinstance(container.get("image"), str):
        yield container["image"], ("jobs", job.id, "container", "image")
    for name, service in job.services.items():
        if isinstance(service, Mapping) and isinstance(service.get("image"), str):
            yield service["image"], ("jobs", job.id, "services", name, "image")


@rule("unpinned-images", "container and service images are pinned to a digest (@sha256:...)")
def _check_images(workflow: Workflow) -> Iterator[Finding]:
    for job in workflow.jobs.values():
        for image, keys in _images(job):
            if "${{" not in image and not re.search(r"@sha256:[0-9a-f]{64}$", image):
                yield finding(workflow, "unpinned-images", f"job {job.id}: image {image} is "
                              "not pinned to a digest (image@sha256:...); a tag can be moved",
                              keys, job.id)


def pins(workflows: Sequence[Workflow]) -> Iterator[tuple[str, str, str, Workflow, tuple, str]]:
    """(action in lower case, SHA, version comment, workflow, key path, job) of every pin."""
    for workflow in workflows:
        for uses, keys, job in uses_sites(workflow):
            action, _, ref = uses.partition("@")
            if is_remote(uses) and SHA_RE.match(ref):
                comment = VERSION_COMMENT_RE.search(workflow.source_line(workflow.line(*keys)))
                yield action.lower(), ref, comment.group(1) if comment else "", workflow, keys, job


@rule("consistent-pins", "an action is pinned to the same SHA and version everywhere (in "
      "every file checked together)", across_files=True)
def _check_consistent_pins(workflows: Sequence[Workflow]) -> Iterator[Finding]:
    first: dict[str, tuple[str, str, str]] = {}
    for action, sha, version, workflow, keys, job in pins(workflows):
        where = f"{workflow.display_path()}:{workflow.line(*keys)}"
        seen = first.setdefault(action, (sha, version, where))
        if (sha, version) != seen[:2]:
            yield finding(workflow, "consistent-pins", f"{action} is pinned to {sha[:12]}... "
                          f"# {version or '(no version)'} here but to {seen[0][:12]}... "
                          f"# {seen[1] or '(no version)'} at {seen[2]}; use one pin everywhere",
                          keys, job)
