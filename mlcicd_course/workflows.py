"""Reading GitHub Actions workflows, evaluating their `${{ }}` expressions, checking policy.

Three parts, used by `mlcicd workflow check|graph|run` and by the course's tests:

- `load_workflow` parses a workflow file into plain dataclasses. YAML 1.1 (PyYAML) reads
  the key `on` as the boolean True; it is read back as "on". Every node keeps its line
  number so that findings point at the line to fix.
- `evaluate` / `interpolate` implement the GitHub expression language (literals, property
  access, `!`, comparisons, `&&`, `||`, and the built-in functions) against an explicit
  context. Looking up a name that the context does not have is an `ExpressionError`, not
  an empty string as on GitHub, so a typo fails loudly on a laptop.
- `check_workflow` applies the course's policy: what neither zizmor nor the workflow JSON
  schema checks (see `POLICY_RULES`). Each rule has a deliberately bad fixture in
  tests/fixtures/workflows/ that it must reject.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mlcicd_course.errors import UserInputError

# --------------------------------------------------------------------------------------
# Versions: the pins the course uses, and the oldest major of each action that still runs
# --------------------------------------------------------------------------------------

#: Action -> (version, full commit SHA) that the course's workflows pin (late 2026).
ACTION_PINS: dict[str, tuple[str, str]] = {
    "actions/checkout": ("v7.0.1", "3d3c42e5aac5ba805825da76410c181273ba90b1"),
    "actions/setup-python": ("v7.0.0", "5fda3b95a4ea91299a34e894583c3862153e4b97"),
    "actions/cache": ("v5.0.5", "27d5ce7f107fe9357f9df03efb73ab90386fccae"),
    "actions/upload-artifact": ("v7.0.1", "043fb46d1a93c77aae656e7c1c64a875d1fc6a0a"),
    "actions/download-artifact": ("v8.0.1", "3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c"),
    "actions/github-script": ("v8.0.0", "ed597411d8f924073f98dfc5c65a23a2325f34cd"),
    "aws-actions/configure-aws-credentials": ("v6.2.3", "e6de054238d6b7531b4efff3b6587d9aade6a06c"),
}

#: Oldest major that still runs on GitHub-hosted runners: the first one on node24 (node20
#: was removed on 2026-09-16; artifact actions below v4 are refused since 2025-01-30).
MINIMUM_MAJORS: dict[str, int] = {
    "actions/checkout": 5,
    "actions/setup-python": 6,
    "actions/cache": 5,
    "actions/upload-artifact": 6,
    "actions/download-artifact": 7,
    "actions/github-script": 8,
    "codecov/codecov-action": 6,
    "aws-actions/configure-aws-credentials": 5,
}

#: Oldest Python a workflow may ask for (3.9 ended 2025-10-31, 3.10 in October 2026).
MINIMUM_PYTHON = (3, 11)

SHA_RE = re.compile(r"^[0-9a-f]{40}$")
VERSION_COMMENT_RE = re.compile(r"#\s*(v(\d+)(?:\.\d+){0,2})\b")
EXPRESSION_RE = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
AWS_KEY_RE = re.compile(r"AWS_SECRET_ACCESS_KEY|AWS_ACCESS_KEY_ID|aws-secret-access-key|"
                        r"aws-access-key-id", re.IGNORECASE)


# --------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------

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
    try:
        raw = yaml.safe_load(text)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise UserInputError(f"workflow {path}{where} is not valid YAML: {problem}") from None
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
        lines=dict(_node_lines(node)) if node is not None else {},
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
        steps=tuple(steps),
    )


def _node_lines(node: yaml.Node, keys: tuple = ()) -> Iterator[tuple[tuple, int]]:
    """(key path, line) for every node of a composed YAML document."""
    yield keys, node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = getattr(key_node, "value", None)
            yield from _node_lines(value_node, (*keys, key))
            yield (*keys, key, "<key>"), key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _node_lines(item, (*keys, index))


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


# --------------------------------------------------------------------------------------
# Expressions
# --------------------------------------------------------------------------------------

class ExpressionError(UserInputError):
    """An expression that cannot be parsed, or that names something the context lacks."""


_TOKEN_RE = re.compile(r"""
    (?P<space>\s+)
  | (?P<number>0x[0-9a-fA-F]+|-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<string>'(?:[^']|'')*')
  | (?P<op>==|!=|<=|>=|&&|\|\||[!<>()\[\].,*])
  | (?P<ident>[A-Za-z_][A-Za-z0-9_-]*)
""", re.VERBOSE)

STATUS_FUNCTIONS = ("success", "failure", "always", "cancelled")


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    while position < len(text):
        match = _TOKEN_RE.match(text, position)
        if not match:
            raise ExpressionError(f"cannot read expression {text.strip()!r} at {text[position:]!r}")
        position = match.end()
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append((kind, match.group(kind)))
    return tokens


class _Parser:
    """Recursive-descent parser producing a small tuple AST."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.pos = 0

    def peek(self, value: str | None = None) -> tuple[str, str] | None:
        token = self.tokens[self.pos] if self.pos < len(self.tokens) else None
        if value is not None and (token is None or token[1] != value or token[0] == "string"):
            return None
        return token

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek(value)
        if token is None:
            want = f"{value!r}" if value else "more"
            raise ExpressionError(f"expression {self.text.strip()!r}: expected {want}")
        self.pos += 1
        return token

    def parse(self) -> tuple:
        tree = self.or_()
        if self.pos != len(self.tokens):
            raise ExpressionError(
                f"expression {self.text.strip()!r}: unexpected {self.tokens[self.pos][1]!r}")
        return tree

    def or_(self) -> tuple:
        left = self.and_()
        while self.peek("||"):
            self.take()
            left = ("or", left, self.and_())
        return left

    def and_(self) -> tuple:
        left = self.compare()
        while self.peek("&&"):
            self.take()
            left = ("and", left, self.compare())
        return left

    def compare(self) -> tuple:
        left = self.unary()
        while (token := self.peek()) and token[0] == "op" and token[1] in (
                "==", "!=", "<", ">", "<=", ">="):
            self.take()
            left = ("cmp", token[1], left, self.unary())
        return left

    def unary(self) -> tuple:
        if self.peek("!"):
            self.take()
            return ("not", self.unary())
        return self.postfix()

    def postfix(self) -> tuple:
        node = self.primary()
        while True:
            if self.peek("."):
                self.take()
                token = self.take()
                if token[1] == "*":
                    raise ExpressionError(f"expression {self.text.strip()!r}: object filters "
                                          "(.*) are not supported by the local runner")
                if token[0] not in ("ident", "number"):
                    raise ExpressionError(f"expression {self.text.strip()!r}: bad property "
                                          f"{token[1]!r}")
                node = ("get", node, ("lit", token[1]))
            elif self.peek("["):
                self.take()
                node = ("get", node, self.or_())
                self.take("]")
            else:
                return node

    def primary(self) -> tuple:
        kind, value = self.take()
        if kind == "number":
            number = int(value, 16) if value.lower().startswith("0x") else float(value)
            return ("lit", number)
        if kind == "string":
            return ("lit", value[1:-1].replace("''", "'"))
        if kind == "op" and value == "(":
            node = self.or_()
            self.take(")")
            return node
        if kind == "ident":
            if value in ("true", "false"):
                return ("lit", value == "true")
            if value == "null":
                return ("lit", None)
            if self.peek("("):
                self.take()
                args = []
                if not self.peek(")"):
                    args.append(self.or_())
                    while self.peek(","):
                        self.take()
                        args.append(self.or_())
                self.take(")")
                return ("call", value, tuple(args))
            return ("name", value)
        raise ExpressionError(f"expression {self.text.strip()!r}: unexpected {value!r}")


def _lookup(container: Any, key: Any, where: str) -> Any:
    if container is None:
        return None
    if isinstance(container, Mapping):
        if key in container:
            return container[key]
        lowered = {str(k).lower(): k for k in container}
        if str(key).lower() in lowered:
            return container[lowered[str(key).lower()]]
        known = ", ".join(sorted(map(str, container))) or "none"
        name = f"{where}.{key}" if where else str(key)
        raise ExpressionError(f"unknown expression {name}: the context has no "
                              f"{key!r} here (known: {known})")
    if isinstance(container, list | tuple):
        try:
            index = int(float(key))
        except (TypeError, ValueError):
            return None
        return container[index] if 0 <= index < len(container) else None
    return None


def _to_number(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return 0.0
        try:
            return float(int(text, 16)) if text.lower().startswith("0x") else float(text)
        except ValueError:
            return math.nan
    return math.nan


def truthy(value: Any) -> bool:
    """GitHub's truthiness: false, 0, NaN, "" and null are false; the rest is true."""
    if value is None or value is False or value == "":
        return False
    if isinstance(value, int | float) and not isinstance(value, bool):
        return not (value == 0 or math.isnan(value))
    return True


def _compare(op: str, left: Any, right: Any) -> bool:
    if isinstance(left, str) and isinstance(right, str):
        a, b = left.lower(), right.lower()
    elif type(left) is type(right) and isinstance(left, Mapping | list):
        a, b = id(left), id(right)
        if op in ("==", "!="):
            return (a == b) == (op == "==")
        return False
    else:
        a, b = _to_number(left), _to_number(right)
        if math.isnan(a) or math.isnan(b):
            return op == "!="
    return {"==": a == b, "!=": a != b, "<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]


def to_string(value: Any) -> str:
    """How a value reads when it is interpolated into text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, indent=2)
    return str(value)


@dataclass
class _Evaluator:
    context: Mapping[str, Any]
    status: Mapping[str, bool]
    hash_files: Callable[[Sequence[str]], str] | None

    def run(self, node: tuple) -> Any:
        kind = node[0]
        if kind == "lit":
            return node[1]
        if kind == "name":
            return _lookup(self.context, node[1], "")
        if kind == "get":
            base = self.run(node[1])
            return _lookup(base, to_string(self.run(node[2])), _describe(node[1]))
        if kind == "not":
            return not truthy(self.run(node[1]))
        if kind == "and":
            left = self.run(node[1])
            return self.run(node[2]) if truthy(left) else left
        if kind == "or":
            left = self.run(node[1])
            return left if truthy(left) else self.run(node[2])
        if kind == "cmp":
            return _compare(node[1], self.run(node[2]), self.run(node[3]))
        if kind == "call":
            return self.call(node[1], node[2])
        raise AssertionError(kind)

    def call(self, name: str, arg_nodes: tuple) -> Any:
        lname = name.lower()
        if lname in STATUS_FUNCTIONS:
            if arg_nodes:
                raise ExpressionError(f"{name}() takes no arguments")
            return self.status[lname]
        args = [self.run(arg) for arg in arg_nodes]

        def need(count: int, at_most: int | None = None) -> None:
            if len(args) < count or (at_most is not None and len(args) > at_most):
                raise ExpressionError(f"{name}() got {len(args)} arguments")

        if lname == "contains":
            need(2, 2)
            haystack, needle = args
            if isinstance(haystack, list | tuple):
                return any(_compare("==", item, needle) for item in haystack)
            return to_string(needle).lower() in to_string(haystack).lower()
        if lname in ("startswith", "endswith"):
            need(2, 2)
            text, part = to_string(args[0]).lower(), to_string(args[1]).lower()
            return text.startswith(part) if lname == "startswith" else text.endswith(part)
        if lname == "format":
            need(1)
            template = to_string(args[0]).replace("{{", "\0").replace("}}", "\1")
            out = re.sub(r"\{(\d+)\}", lambda m: to_string(args[int(m.group(1)) + 1])
                         if int(m.group(1)) + 1 < len(args) else m.group(0), template)
            return out.replace("\0", "{").replace("\1", "}")
        if lname == "join":
            need(1, 2)
            separator = to_string(args[1]) if len(args) == 2 else ","
            items = args[0] if isinstance(args[0], list | tuple) else [args[0]]
            return separator.join(to_string(item) for item in items)
        if lname == "tojson":
            need(1, 1)
            return json.dumps(args[0], indent=2)
        if lname == "fromjson":
            need(1, 1)
            try:
                return json.loads(to_string(args[0]))
            except json.JSONDecodeError as err:
                raise ExpressionError(f"fromJSON(): not JSON: {err}") from None
        if lname == "hashfiles":
            need(1)
            if self.hash_files is None:
                raise ExpressionError("hashFiles() needs a workspace (only available in steps)")
            return self.hash_files([to_string(arg) for arg in args])
        raise ExpressionError(f"unknown function {name}()")


def _describe(node: tuple) -> str:
    if node[0] == "name":
        return node[1]
    if node[0] == "get":
        return f"{_describe(node[1])}.{to_string(node[2][1]) if node[2][0] == 'lit' else '[...]'}"
    return "(value)"


def status_flags(status: str = "success") -> dict[str, bool]:
    """The values of success(), failure(), always() and cancelled() for a job status.

    "skipped" is the status of a job whose needs were skipped: neither success nor failure.
    """
    if status not in ("success", "failure", "cancelled", "skipped"):
        raise ValueError(f"status must be success, failure, cancelled or skipped, got {status!r}")
    return {"success": status == "success", "failure": status == "failure",
            "always": True, "cancelled": status == "cancelled"}


def evaluate(expression: str, context: Mapping[str, Any], *, status: str = "success",
             hash_files: Callable[[Sequence[str]], str] | None = None) -> Any:
    """Value of one expression (with or without its `${{ }}`) in `context`."""
    text = expression.strip()
    match = re.fullmatch(r"\$\{\{(.*)\}\}", text, re.DOTALL)
    if match:
        text = match.group(1)
    tree = _Parser(text).parse()
    return _Evaluator(context, status_flags(status), hash_files).run(tree)


def interpolate(value: Any, context: Mapping[str, Any], *, status: str = "success",
                hash_files: Callable[[Sequence[str]], str] | None = None) -> Any:
    """Replace every `${{ }}` in a string (or in the strings of a list or mapping).

    A string that is exactly one expression keeps the expression's type (as GitHub does
    for `with:` values); otherwise values are turned into text.
    """
    if isinstance(value, Mapping):
        return {key: interpolate(item, context, status=status, hash_files=hash_files)
                for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, context, status=status, hash_files=hash_files)
                for item in value]
    if not isinstance(value, str) or "${{" not in value:
        return value
    whole = re.fullmatch(r"\s*\$\{\{(.*?)\}\}\s*", value, re.DOTALL)
    if whole and "${{" not in whole.group(1):
        return evaluate(whole.group(1), context, status=status, hash_files=hash_files)
    return EXPRESSION_RE.sub(lambda m: to_string(evaluate(m.group(1), context, status=status,
                                                          hash_files=hash_files)), value)


def condition_holds(condition: Any, context: Mapping[str, Any], *, status: str = "success",
                    hash_files: Callable[[Sequence[str]], str] | None = None) -> bool:
    """Whether an `if:` lets a job or step run.

    No `if:` means `success()`. A condition that does not call a status function is
    combined with `success()`, as on GitHub.
    """
    if condition is None or (isinstance(condition, str) and not condition.strip()):
        return status_flags(status)["success"]
    if isinstance(condition, bool | int | float):
        return truthy(condition) and status_flags(status)["success"]
    text = str(condition)
    match = re.fullmatch(r"\s*\$\{\{(.*)\}\}\s*", text, re.DOTALL)
    if match and "${{" not in match.group(1):
        text = match.group(1)
    value = truthy(evaluate(text, context, status=status, hash_files=hash_files))
    calls_status = re.search(r"\b(" + "|".join(STATUS_FUNCTIONS) + r")\s*\(", text, re.IGNORECASE)
    return value if calls_status else value and status_flags(status)["success"]


def find_expressions(text: str) -> list[str]:
    """The inner text of every `${{ }}` in `text`."""
    return [match.group(1).strip() for match in EXPRESSION_RE.finditer(text)]


# --------------------------------------------------------------------------------------
# Contexts: what `github.*`, `inputs.*`, ... hold for a local run of an event
# --------------------------------------------------------------------------------------

EVENTS = ("push", "pull_request", "schedule", "workflow_dispatch")


def default_context(workflow: Workflow, event: str, *, repository: str = "example-org/churn-model",
                    sha: str = "0" * 40, base_sha: str | None = None,
                    inputs: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """An explicit, complete context for a local run of `workflow` on `event`.

    Values that a real event would not have are present and null (so `a.b || c` works
    as on GitHub), while names that no event has stay unknown and are errors.
    """
    if event not in EVENTS:
        raise UserInputError(f"event must be one of {', '.join(EVENTS)}, got {event!r}")
    owner = repository.split("/", 1)[0]
    base_sha = base_sha or sha
    pull_request = None
    ref, ref_name, head_ref, base_ref = "refs/heads/main", "main", "", ""
    payload: dict[str, Any] = {"repository": {"full_name": repository, "name":
                               repository.split("/")[-1], "owner": {"login": owner},
                               "default_branch": "main"},
                               "sender": {"login": "octocat"}}
    if event == "pull_request":
        pull_request = {
            "number": 7, "title": "Tune the churn model", "body": "", "draft": False,
            "user": {"login": "octocat"},
            "head": {"ref": "tune-model", "sha": sha, "repo": {"full_name": repository,
                                                              "fork": False}},
            "base": {"ref": "main", "sha": base_sha, "repo": {"full_name": repository}},
            "labels": [],
        }
        ref, ref_name, head_ref, base_ref = "refs/pull/7/merge", "7/merge", "tune-model", "main"
        payload.update({"action": "synchronize", "number": 7})
    payload["pull_request"] = pull_request
    payload["schedule"] = None
    if event == "schedule":
        crons = workflow.on.get("schedule", {}).get("entries") or [{}]
        payload["schedule"] = crons[0].get("cron") if isinstance(crons[0], Mapping) else None
    declared = workflow.on.get("workflow_dispatch", {}).get("inputs") or {}
    values = _dispatch_inputs(workflow, declared, inputs or {}, event)
    payload["inputs"] = values if event == "workflow_dispatch" else None
    github = {
        "event_name": event, "event": payload, "ref": ref, "ref_name": ref_name,
        "ref_type": "branch", "head_ref": head_ref, "base_ref": base_ref, "sha": sha,
        "repository": repository, "repository_owner": owner, "actor": "octocat",
        "triggering_actor": "octocat", "workflow": workflow.name,
        "run_id": "1001", "run_number": "1", "run_attempt": "1", "job": "",
        "server_url": "https://github.com", "api_url": "https://api.github.com",
        "graphql_url": "https://api.github.com/graphql", "token": "***", "workspace": "",
        "action": "", "retention_days": "90",
    }
    return {"github": github, "inputs": values, "vars": {}, "secrets": {"GITHUB_TOKEN": "***"},
            "env": {}, "runner": {"os": "Linux", "arch": "X64", "name": "local", "temp": "",
                                  "tool_cache": "", "environment": "local"}}


def _dispatch_inputs(workflow: Workflow, declared: Mapping[str, Any], given: Mapping[str, Any],
                     event: str) -> dict[str, Any]:
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise UserInputError(f"workflow {workflow.path.name} has no input {unknown[0]!r} "
                             f"(inputs: {', '.join(sorted(declared)) or 'none'})")
    values: dict[str, Any] = {}
    for name, spec in declared.items():
        spec = spec if isinstance(spec, Mapping) else {}
        if event != "workflow_dispatch":
            values[name] = None
            continue
        value = given.get(name, spec.get("default"))
        kind = spec.get("type", "string")
        if value is None and spec.get("required"):
            raise UserInputError(f"input {name!r} is required")
        if kind == "boolean" and isinstance(value, str):
            if value.lower() not in ("true", "false"):
                raise UserInputError(f"input {name!r} must be true or false, got {value!r}")
            value = value.lower() == "true"
        if kind == "number" and isinstance(value, str):
            number = _to_number(value)
            if math.isnan(number):
                raise UserInputError(f"input {name!r} must be a number, got {value!r}")
            value = number
        if kind == "choice" and value is not None and value not in (spec.get("options") or []):
            raise UserInputError(f"input {name!r} must be one of "
                                 f"{', '.join(map(str, spec.get('options') or []))}, got {value!r}")
        values[name] = value
    return values


def set_dotted(context: dict[str, Any], dotted: str, value: Any) -> None:
    """Set `context[a][b][c] = value` for "a.b.c", creating mappings on the way."""
    parts = dotted.split(".")
    if not all(parts):
        raise UserInputError(f"bad context path {dotted!r} (expected e.g. "
                             "github.event.pull_request.title)")
    node = context
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


# --------------------------------------------------------------------------------------
# Policy
# --------------------------------------------------------------------------------------

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


Check = Callable[[Workflow], Iterator[Finding]]
POLICY_RULES: dict[str, tuple[str, Check]] = {}


def _rule(rule_id: str, description: str) -> Callable[[Check], Check]:
    def register(func: Check) -> Check:
        POLICY_RULES[rule_id] = (description, func)
        return func
    return register


def _finding(workflow: Workflow, rule: str, message: str, keys: tuple,
             job: str | None = None) -> Finding:
    return Finding(rule, message, workflow.display_path(), workflow.line(*keys), job)


def _uses_sites(workflow: Workflow) -> Iterator[tuple[str, tuple, str | None]]:
    """(uses value, key path, job id) for every step and reusable-workflow `uses:`."""
    for job in workflow.jobs.values():
        if job.uses:
            yield job.uses, ("jobs", job.id, "uses"), job.id
        for step in job.steps:
            if step.uses:
                yield step.uses, ("jobs", job.id, "steps", step.index, "uses"), job.id


def _remote(uses: str) -> bool:
    return not uses.startswith("./") and not uses.startswith("docker://")


@_rule("unpinned-uses", "every action is pinned to a full 40-character commit SHA")
def _check_pinned(workflow: Workflow) -> Iterator[Finding]:
    for uses, keys, job in _uses_sites(workflow):
        if uses.startswith("docker://"):
            if "@sha256:" not in uses:
                yield _finding(workflow, "unpinned-uses", f"{uses} is not pinned to an image "
                               "digest (docker://image@sha256:...)", keys, job)
        elif _remote(uses) and not SHA_RE.match(uses.rpartition("@")[2]):
            yield _finding(workflow, "unpinned-uses", f"{uses} is not pinned to a full commit "
                           "SHA; a tag can be moved to other code", keys, job)


@_rule("version-comment", "a pinned SHA carries its version in a comment (# vX.Y.Z)")
def _check_version_comment(workflow: Workflow) -> Iterator[Finding]:
    for uses, keys, job in _uses_sites(workflow):
        if _remote(uses) and SHA_RE.match(uses.rpartition("@")[2]):
            if not VERSION_COMMENT_RE.search(workflow.source_line(workflow.line(*keys))):
                yield _finding(workflow, "version-comment", f"{uses.partition('@')[0]} is "
                               "pinned without a version comment (add `# vX.Y.Z` after the SHA)",
                               keys, job)


@_rule("minimum-major", "known actions are at least the oldest major that still runs")
def _check_minimum_major(workflow: Workflow) -> Iterator[Finding]:
    for uses, keys, job in _uses_sites(workflow):
        action, _, ref = uses.partition("@")
        minimum = MINIMUM_MAJORS.get(action.lower())
        if minimum is None:
            continue
        comment = VERSION_COMMENT_RE.search(workflow.source_line(workflow.line(*keys)))
        tag = re.match(r"v(\d+)", ref)
        major = int(comment.group(2)) if comment else int(tag.group(1)) if tag else None
        if major is not None and major < minimum:
            yield _finding(workflow, "minimum-major", f"{action} v{major} is too old: use "
                           f"v{minimum} or newer (current: {ACTION_PINS.get(action, ('?',))[0]})",
                           keys, job)


@_rule("known-sha", "a version the course records is pinned to the SHA recorded for it")
def _check_known_sha(workflow: Workflow) -> Iterator[Finding]:
    for uses, keys, job in _uses_sites(workflow):
        action, _, ref = uses.partition("@")
        comment = VERSION_COMMENT_RE.search(workflow.source_line(workflow.line(*keys)))
        known = ACTION_PINS.get(action)
        if known and comment and comment.group(1) == known[0] and ref != known[1]:
            yield _finding(workflow, "known-sha", f"{action} says {known[0]} but is pinned to "
                           f"{ref[:12]}..., not {known[1]}", keys, job)


def _permission_values(permissions: Any) -> tuple[str | None, dict[str, str]]:
    if isinstance(permissions, str):
        return permissions, {}
    if isinstance(permissions, Mapping):
        return None, {str(k): str(v) for k, v in permissions.items()}
    return None, {}


@_rule("top-level-permissions", "the workflow's permissions are set and read-only")
def _check_top_permissions(workflow: Workflow) -> Iterator[Finding]:
    keys = ("permissions",)
    if workflow.permissions is None:
        yield _finding(workflow, "top-level-permissions", "no top-level `permissions:`; the "
                       "token then gets the repository default (add `permissions: contents: "
                       "read`)", ("<top>",))
        return
    whole, scopes = _permission_values(workflow.permissions)
    if whole is not None:
        yield _finding(workflow, "top-level-permissions", f"`permissions: {whole}`: list the "
                       "scopes instead (contents: read)", keys)
    for scope, level in scopes.items():
        if level not in ("read", "none"):
            yield _finding(workflow, "top-level-permissions", f"top-level `{scope}: {level}` "
                           "is not read-only; grant write access only to the job that needs it",
                           keys)


@_rule("job-permissions", "a job lists the scopes it needs instead of read-all or write-all")
def _check_job_permissions(workflow: Workflow) -> Iterator[Finding]:
    for job in workflow.jobs.values():
        whole, _ = _permission_values(job.permissions)
        if whole is not None:
            yield _finding(workflow, "job-permissions", f"job {job.id}: `permissions: {whole}`; "
                           "list the scopes the job needs", ("jobs", job.id, "permissions"), job.id)


@_rule("oidc-environment", "a job that can request cloud credentials (id-token: write) "
       "runs in an `environment:`")
def _check_oidc_environment(workflow: Workflow) -> Iterator[Finding]:
    for job in workflow.jobs.values():
        _, scopes = _permission_values(job.permissions)
        if scopes.get("id-token") == "write" and not job.environment:
            yield _finding(workflow, "oidc-environment", f"job {job.id} has `id-token: write` "
                           "but no `environment:` (reviewers and a narrow OIDC subject need one)",
                           ("jobs", job.id, "permissions"), job.id)


@_rule("pull-request-target", "no `pull_request_target` trigger (it runs with a write token "
       "and secrets on code from forks)")
def _check_prt(workflow: Workflow) -> Iterator[Finding]:
    if "pull_request_target" in workflow.on:
        yield _finding(workflow, "pull-request-target", "`pull_request_target` gives fork code "
                       "a write token and secrets; use `pull_request`",
                       ("on", "pull_request_target", "<key>"))


@_rule("expression-in-run", "no `${{ }}` inside `run:` or a github-script `script:` "
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


@_rule("job-timeout", "every job has `timeout-minutes`")
def _check_timeout(workflow: Workflow) -> Iterator[Finding]:
    for job in workflow.jobs.values():
        if job.uses:  # a reusable workflow sets its own timeouts
            continue
        value = job.timeout_minutes
        if value is None:
            yield _finding(workflow, "job-timeout", f"job {job.id} has no `timeout-minutes` "
                           "(the default is 360 minutes)", ("jobs", job.id, "<key>"), job.id)
        elif isinstance(value, int | float) and not isinstance(value, bool) and value <= 0:
            yield _finding(workflow, "job-timeout", f"job {job.id}: timeout-minutes must be "
                           "positive", ("jobs", job.id, "timeout-minutes"), job.id)


def _python_versions(workflow: Workflow) -> Iterator[tuple[Any, tuple, str | None]]:
    """(value, key path, job) for every Python version the workflow asks for."""
    for key, value in workflow.env.items():
        if "python" in str(key).lower():
            yield value, ("env", key), None
    for job in workflow.jobs.values():
        for key, value in job.env.items():
            if "python" in str(key).lower():
                yield value, ("jobs", job.id, "env", key), job.id
        for key, values in job.matrix.items():
            if "python" in str(key).lower() and isinstance(values, list):
                for index, value in enumerate(values):
                    yield value, ("jobs", job.id, "strategy", "matrix", key, index), job.id
        for entry_index, entry in enumerate(job.matrix.get("include") or []):
            if isinstance(entry, Mapping):
                for key, value in entry.items():
                    if "python" in str(key).lower():
                        yield value, ("jobs", job.id, "strategy", "matrix", "include",
                                      entry_index, key), job.id
        for step in job.steps:
            if step.is_action("actions/setup-python") and "python-version" in step.with_:
                yield (step.with_["python-version"],
                       ("jobs", job.id, "steps", step.index, "with", "python-version"), job.id)


@_rule("quoted-python-version", "Python versions are quoted strings (YAML reads 3.10 as 3.1)")
def _check_quoted_python(workflow: Workflow) -> Iterator[Finding]:
    for value, keys, job in _python_versions(workflow):
        if isinstance(value, int | float) and not isinstance(value, bool):
            line = workflow.source_line(workflow.line(*keys)).strip()
            written = re.fullmatch(r"-?\s*[\w-]*:?\s*([0-9][0-9.]*)\s*(#.*)?", line)
            text = written.group(1) if written else repr(value)
            yield _finding(workflow, "quoted-python-version", f"Python version {text} is read "
                           f"as the number {value!r} (`{line}`); quote it: \"{text}\"",
                           keys, job)


@_rule("supported-python", f"no Python older than {MINIMUM_PYTHON[0]}.{MINIMUM_PYTHON[1]} "
       "(3.9 and 3.10 are past end of life)")
def _check_supported_python(workflow: Workflow) -> Iterator[Finding]:
    for value, keys, job in _python_versions(workflow):
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            continue
        text = str(value)
        if isinstance(value, float) and not isinstance(value, bool):
            line = workflow.source_line(workflow.line(*keys))
            match = re.search(r":\s*['\"]?(\d+\.\d+)", line) or re.search(r"(\d+\.\d+)", line)
            text = match.group(1) if match else text
        match = re.fullmatch(r"\s*(\d+)\.(\d+)(?:\.\d+)?\s*", text)
        if match and (int(match.group(1)), int(match.group(2))) < MINIMUM_PYTHON:
            yield _finding(workflow, "supported-python", f"Python {text} is past end of life; "
                           f"use {MINIMUM_PYTHON[0]}.{MINIMUM_PYTHON[1]} or newer", keys, job)


@_rule("unique-artifact-names", "artifact names are unique in a run (v4+ artifacts are "
       "immutable) and include the matrix values in a matrix job")
def _check_artifact_names(workflow: Workflow) -> Iterator[Finding]:
    seen: dict[str, str] = {}
    for job, step in iter_steps(workflow):
        if not step.is_action("actions/upload-artifact"):
            continue
        name = str(step.with_.get("name", "artifact"))
        keys = ("jobs", job.id, "steps", step.index, "with", "name")
        if step.with_.get("overwrite") is True:
            continue
        if job.matrix and not re.search(r"\bmatrix\.", name):
            yield _finding(workflow, "unique-artifact-names", f"job {job.id} runs a matrix but "
                           f"uploads {name!r} from every entry; put ${{{{ matrix.* }}}} in the "
                           "name", keys, job.id)
        if name in seen:
            yield _finding(workflow, "unique-artifact-names", f"artifact {name!r} is uploaded "
                           f"twice (also in job {seen[name]}); the second upload fails", keys,
                           job.id)
        seen.setdefault(name, job.id)


@_rule("no-aws-keys", "no long-lived AWS access keys (use OIDC: role-to-assume)")
def _check_aws_keys(workflow: Workflow) -> Iterator[Finding]:
    for number, line in enumerate(workflow.text.splitlines(), start=1):
        code = line.split("#", 1)[0] if not line.lstrip().startswith("#") else ""
        match = AWS_KEY_RE.search(code)
        if match:
            yield Finding("no-aws-keys", f"{match.group(0)}: long-lived AWS keys; use OIDC "
                          "(aws-actions/configure-aws-credentials with role-to-assume and "
                          "id-token: write)", workflow.display_path(), number)


def _concurrency_settings(workflow: Workflow) -> list[tuple[Any, tuple]]:
    """(concurrency value, key path) of the workflow, or of every job when set per job."""
    if workflow.concurrency is not None:
        return [(workflow.concurrency, ("concurrency",))]
    return [(job.concurrency, ("jobs", job.id, "concurrency")) for job in workflow.jobs.values()]


def _evaluate_setting(workflow: Workflow, value: Any, context: Mapping[str, Any],
                      keys: tuple) -> Any:
    try:
        return interpolate(value, context)
    except ExpressionError as err:
        raise UserInputError(f"{workflow.display_path()}:{workflow.line(*keys)}: {err}") from None


@_rule("pr-concurrency", "a workflow run by pull requests has a concurrency group, so a new "
       "push cancels the superseded run")
def _check_pr_concurrency(workflow: Workflow) -> Iterator[Finding]:
    if "pull_request" not in workflow.on:
        return
    settings = _concurrency_settings(workflow)
    if any(value is None for value, _ in settings):
        yield _finding(workflow, "pr-concurrency", "runs on pull_request without `concurrency:`;"
                       " add a group per PR with cancel-in-progress for pull requests",
                       ("on", "<key>"))
        return
    context = default_context(workflow, "pull_request")
    for value, keys in settings:
        cancel = value.get("cancel-in-progress") if isinstance(value, Mapping) else None
        if not truthy(_evaluate_setting(workflow, cancel, context, keys)):
            yield _finding(workflow, "pr-concurrency", "pull-request runs are not cancelled "
                           "by a newer push (cancel-in-progress is false for pull_request)", keys)


@_rule("cancel-training", "runs other than pull requests (schedule, push, manual) are never "
       "cancelled halfway (training, model uploads)")
def _check_cancel_training(workflow: Workflow) -> Iterator[Finding]:
    for event in workflow.on:
        if event not in EVENTS or event == "pull_request":
            continue
        context = default_context(workflow, event)
        for value, keys in _concurrency_settings(workflow):
            cancel = value.get("cancel-in-progress") if isinstance(value, Mapping) else None
            if truthy(_evaluate_setting(workflow, cancel, context, keys)):
                yield _finding(workflow, "cancel-training", f"cancel-in-progress is true for "
                               f"{event} runs: a newer run would kill training halfway; use "
                               "${{ github.event_name == 'pull_request' }} or false",
                               (*keys, "cancel-in-progress"))


def check_workflow(workflow: Workflow, rules: Sequence[str] | None = None) -> list[Finding]:
    """Every policy finding for `workflow` (all rules, or only `rules`), in line order."""
    unknown = sorted(set(rules or ()) - set(POLICY_RULES))
    if unknown:
        raise UserInputError(f"unknown rule {unknown[0]!r}; rules: {', '.join(POLICY_RULES)}")
    findings: list[Finding] = []
    for rule_id, (_, func) in POLICY_RULES.items():
        if rules is None or rule_id in rules:
            findings.extend(func(workflow))
    return sorted(findings, key=lambda f: (f.line, f.rule))


@dataclass(frozen=True)
class CheckReport:
    """Findings for a set of workflow files."""

    files: tuple[str, ...]
    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        return not self.findings

    def to_dict(self) -> dict[str, Any]:
        return {"files": list(self.files), "ok": self.ok,
                "findings": [finding.to_dict() for finding in self.findings]}


def check_paths(paths: Sequence[str | Path], rules: Sequence[str] | None = None) -> CheckReport:
    """Check every workflow file named by `paths` (files or folders)."""
    files = workflow_files(paths)
    findings: list[Finding] = []
    names = []
    for path in files:
        workflow = load_workflow(path)
        names.append(workflow.display_path())
        findings.extend(check_workflow(workflow, rules))
    return CheckReport(tuple(names), tuple(findings))


def matches_filters(patterns: Sequence[str], value: str) -> bool:
    """Whether `value` matches GitHub branch/tag filter globs (`*`, `**`, `!` negation)."""
    matched = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        body = pattern[1:] if negate else pattern
        regex = "".join(".*" if part == "**" else "[^/]*" if part == "*" else re.escape(part)
                        for part in re.split(r"(\*\*|\*)", body))
        if re.fullmatch(regex, value):
            matched = not negate
    return matched
