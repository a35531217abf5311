"""GitHub's `${{ }}` expression language, evaluated against an explicit context.

Literals, property access, `!`, comparisons, `&&`, `||` and the built-in functions.
Looking up a name that the context does not have is an `ExpressionError`, not an empty
string as on GitHub, so a typo fails loudly on a laptop (except in an `UnsetReadsEmpty`
context, which the runner uses for repository variables).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mlcicd_course.errors import UserInputError

EXPRESSION_RE = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)


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


class UnsetReadsEmpty(dict):
    """A context whose unset names read as an empty string, as on GitHub.

    The runner uses it for `vars`: a repository variable is optional by design, and a
    fork without it must run. Secrets stay strict, and so do the static checks, which
    must not guess what a repository sets.
    """


def _lookup(container: Any, key: Any, where: str) -> Any:
    if container is None:
        return None
    if isinstance(container, Mapping):
        if key in container:
            return container[key]
        lowered = {str(k).lower(): k for k in container}
        if str(key).lower() in lowered:
            return container[lowered[str(key).lower()]]
        if isinstance(container, UnsetReadsEmpty):
            return ""
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


def to_number(value: Any) -> float:
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
        a, b = to_number(left), to_number(right)
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
