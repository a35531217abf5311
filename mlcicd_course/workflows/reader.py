"""Reading workflow files into plain dataclasses, with the line of every node.

YAML 1.1 (PyYAML) reads the key `on` as the boolean True; it is read back as "on".
Every node keeps its line number so that findings point at the line to fix.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mlcicd_course.errors import UserInputError


@dataclass(frozen=True)
class Step:
    """One step of a job: either `uses:` an action or `run:`s a script."""

    index: int
    name: str
    id: str | None = None
    uses: str | None = None
    run: str | None = None
    with_: Mapping[str, Any] = field(default_factory=dict)
    env: Mapping[str, Any] = field(default_factory=dict)
    if_: Any = None
    shell: str | None = None
    working_directory: str | None = None
    continue_on_error: Any = False
    timeout_minutes: Any = None

    @property
    def action(self) -> str | None:
        """The action's `owner/repo[/path]` without the ref, or None for a `run:` step."""
        if self.uses is None:
            return None
        return self.uses.split("@", 1)[0]

    @property
    def ref(self) -> str | None:
        """What follows `@` in `uses:` (a tag, a branch or a commit SHA)."""
        if self.uses is None or "@" not in self.uses:
            return None
        return self.uses.split("@", 1)[1]

    def is_action(self, name: str) -> bool:
        """Whether this step uses the action `name` (e.g. "actions/checkout")."""
        return self.action is not None and self.action.lower() == name.lower()


@dataclass(frozen=True)
class Job:
    """One job: its dependencies, condition, permissions and steps."""

    id: str
    name: str
    needs: tuple[str, ...] = ()
    if_: Any = None
    runs_on: Any = None
    permissions: Any = None
    environment: Any = None
    env: Mapping[str, Any] = field(default_factory=dict)
    outputs: Mapping[str, Any] = field(default_factory=dict)
    strategy: Mapping[str, Any] = field(default_factory=dict)
    timeout_minutes: Any = None
    continue_on_error: Any = False
    concurrency: Any = None
    defaults: Mapping[str, Any] = field(default_factory=dict)
    uses: str | None = None
    secrets: Any = None
    container: Any = None
    services: Mapping[str, Any] = field(default_factory=dict)
    steps: tuple[Step, ...] = ()

    @property
    def matrix(self) -> Mapping[str, Any]:
        """The job's `strategy.matrix` (empty when it has none)."""
        matrix = self.strategy.get("matrix") if isinstance(self.strategy, Mapping) else None
        return matrix if isinstance(matrix, Mapping) else {}


@dataclass(frozen=True)
class Workflow:
    """A parsed workflow file; `lines` maps a key path to its 1-based line number."""

    path: Path
    name: str
    on: Mapping[str, Mapping[str, Any]]
    jobs: Mapping[str, Job]
    permissions: Any = None
    env: Mapping[str, Any] = field(default_factory=dict)
    concurrency: Any = None
    defaults: Mapping[str, Any] = field(default_factory=dict)
    text: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict)
    lines: Mapping[tuple, int] = field(default_factory=dict)
    scalars: Mapping[tuple, tuple[str, str | None]] = field(default_factory=dict)
    duplicates: tuple[tuple[tuple, int, int], ...] = ()  # (keys, first line, repeated line)

    @property
    def events(self) -> tuple[str, ...]:
        """The trigger events, in file order."""
        return tuple(self.on)

    def line(self, *keys: Any) -> int:
        """Line of the node at `keys` (or of its closest parent that has one)."""
        keys = tuple(keys)
        while keys:
            if keys in self.lines:
                return self.lines[keys]
            keys = keys[:-1]
        return 1

    def written(self, *keys: Any) -> str | None:
        """The text of the scalar at `keys` as written in the file (3.10 stays "3.10")."""
        found = self.scalars.get(tuple(keys))
        return found[0] if found else None

    def quoted(self, *keys: Any) -> bool:
        """Whether the scalar at `keys` is written in quotes (or as a block)."""
        found = self.scalars.get(tuple(keys))
        return bool(found and found[1])

    def source_line(self, number: int) -> str:
        """The text of line `number` (1-based), or "" past the end."""
        lines = self.text.splitlines()
        return lines[number - 1] if 0 < number <= len(lines) else ""

    def display_path(self) -> str:
        """The path relative to the current folder when possible (for messages)."""
        try:
            return self.path.resolve().relative_to(Path.cwd().resolve()).as_posix()
        except ValueError:
            return self.path.as_posix()


def load_workflow(path: str | Path) -> Workflow:
    """Read and parse a workflow file; a missing or malformed file is a `UserInputError`."""
    path = Path(path)
    if not path.is_file():
        raise UserInputError(f"workflow file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise UserInputError(f"cannot read workflow file {path}: {err}") from None
    return parse_workflow(text, path)


def parse_workflow(text: str, path: str | Path = "<workflow>") -> Workflow:
    """Parse workflow YAML text (see `load_workflow`)."""
    path = Path(path)
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        raw = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise UserInputError(f"workflow {path}{where} is not valid YAML: {problem}") from None
    finally:
        loader.dispose()
    if not isinstance(raw, dict):
        raise UserInputError(f"workflow {path} is not a YAML mapping")
    if True in raw and "on" not in raw:  # YAML 1.1 reads the key `on` as a boolean
        raw = {("on" if key is True else key): value for key, value in raw.items()}
    if "on" not in raw:
        raise UserInputError(f"workflow {path} has no `on:` triggers")
    jobs_raw = raw.get("jobs")
    if not isinstance(jobs_raw, dict) or not jobs_raw:
        raise UserInputError(f"workflow {path} has no `jobs:`")
    jobs = {str(job_id): _parse_job(str(job_id), spec, path) for job_id, spec in jobs_raw.items()}
    for job in jobs.values():
        unknown = [need for need in job.needs if need not in jobs]
        if unknown:
            raise UserInputError(
                f"workflow {path}: job {job.id!r} needs unknown job {unknown[0]!r}")
    return Workflow(
        path=path,
        name=str(raw.get("name") or path.name),
        on=_parse_on(raw["on"], path),
        jobs=jobs,
        permissions=raw.get("permissions"),
        env=_mapping(raw.get("env")),
        concurrency=raw.get("concurrency"),
        defaults=_mapping(raw.get("defaults")),
        text=text,
        raw=raw,
        **_node_facts(node),
    )


def _mapping(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def _parse_on(value: Any, path: Path) -> dict[str, dict[str, Any]]:
    if isinstance(value, str):
        return {value: {}}
    if isinstance(value, list):
        return {str(event): {} for event in value}
    if isinstance(value, dict):
        return {str(event): (spec if isinstance(spec, dict) else
                             {"entries": spec} if isinstance(spec, list) else {})
                for event, spec in value.items()}
    raise UserInputError(f"workflow {path}: `on:` must be an event, a list or a mapping")


def _parse_job(job_id: str, spec: Any, path: Path) -> Job:
    if not isinstance(spec, dict):
        raise UserInputError(f"workflow {path}: job {job_id!r} is not a mapping")
    needs = spec.get("needs") or ()
    needs = (needs,) if isinstance(needs, str) else tuple(str(n) for n in needs)
    steps = []
    for index, step in enumerate(spec.get("steps") or []):
        if not isinstance(step, dict):
            raise UserInputError(
                f"workflow {path}: job {job_id!r} step {index + 1} is not a mapping")
        run, uses = step.get("run"), step.get("uses")
        default_name = (f"Run {str(run).strip().splitlines()[0]}" if run is not None and
                        str(run).strip() else str(uses) if uses else f"step {index + 1}")
        steps.append(Step(
            index=index,
            name=str(step.get("name") or default_name),
            id=None if step.get("id") is None else str(step["id"]),
            uses=None if uses is None else str(uses),
            run=None if run is None else str(run),
            with_=_mapping(step.get("with")),
            env=_mapping(step.get("env")),
            if_=step.get("if"),
            shell=step.get("shell"),
            working_directory=step.get("working-directory"),
            continue_on_error=step.get("continue-on-error", False),
            timeout_minutes=step.get("timeout-minutes"),
        ))
    return Job(
        id=job_id,
        name=str(spec.get("name") or job_id),
        needs=needs,
        if_=spec.get("if"),
        runs_on=spec.get("runs-on"),
        permissions=spec.get("permissions"),
        environment=spec.get("environment"),
        env=_mapping(spec.get("env")),
        outputs=_mapping(spec.get("outputs")),
        strategy=_mapping(spec.get("strategy")),
        timeout_minutes=spec.get("timeout-minutes"),
        continue_on_error=spec.get("continue-on-error", False),
        concurrency=spec.get("concurrency"),
        defaults=_mapping(spec.get("defaults")),
        uses=None if spec.get("uses") is None else str(spec["uses"]),
        secrets=spec.get("secrets"),
        container=spec.get("container"),
        services=_mapping(spec.get("services")),
        steps=tuple(steps),
    )


def _node_facts(node: yaml.Node | None) -> dict[str, Any]:
    """Line of every node, text and style of every scalar, and keys written twice.

    PyYAML keeps the last of two equal keys without a word (a second job `test:` replaces
    the first), so duplicates are found on the composed nodes.
    """
    lines: dict[tuple, int] = {}
    scalars: dict[tuple, tuple[str, str | None]] = {}
    duplicates: list[tuple[tuple, int, int]] = []

    def walk(node: yaml.Node, keys: tuple) -> None:
        lines[keys] = node.start_mark.line + 1  # the last of two equal keys wins, as in raw
        if isinstance(node, yaml.ScalarNode):
            scalars[keys] = (node.value, node.style or None)
        elif isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, value_node in node.value:
                key = getattr(key_node, "value", None)
                line = key_node.start_mark.line + 1
                if key in seen:
                    duplicates.append(((*keys, key), seen[key], line))
                seen.setdefault(key, line)
                walk(value_node, (*keys, key))
                lines[(*keys, key, "<key>")] = key_node.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                walk(item, (*keys, index))

    if node is not None:
        walk(node, ())
    return {"lines": lines, "scalars": scalars, "duplicates": tuple(duplicates)}


def iter_steps(workflow: Workflow) -> Iterator[tuple[Job, Step]]:
    """Every (job, step) pair of the workflow, in file order."""
    for job in workflow.jobs.values():
        for step in job.steps:
            yield job, step


def workflow_files(paths: Sequence[str | Path]) -> list[Path]:
    """The workflow files named by `paths` (files, or folders searched for *.yml/*.yaml)."""
    found: list[Path] = []
    for item in paths:
        item = Path(item)
        if item.is_dir():
            found.extend(sorted([*item.glob("*.yml"), *item.glob("*.yaml")]))
        elif item.is_file():
            found.append(item)
        else:
            raise UserInputError(f"workflow path not found: {item}")
    if not found:
        raise UserInputError(f"no workflow files (*.yml, *.yaml) in {', '.join(map(str, paths))}")
    return found
