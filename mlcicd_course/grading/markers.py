"""The marker format: parsing solution notebooks strictly and submissions tolerantly.

The format itself is documented in the `mlcicd_course.grading` package docstring.
`parse_solution` reads a notebook in `solutions/` and either returns a `Blueprint`
(the questions, their checks, model answers, and the cells of the learner's version)
or raises `MarkerError` naming the notebook, the cell and what is wrong.
`locate_question` and `question_code` find a question's code in a learner's notebook,
whatever state it is in, and say why when they cannot.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from dataclasses import dataclass, field

from mlcicd_course.errors import UserInputError
from mlcicd_course.grading.files import SubmittedFile, parse_files_option
from mlcicd_course.grading.notebooks import Cell

REGIONS = ("QUESTION", "SOLUTION", "PROMPT", "CHECKS", "CHECK SETUP", "MODEL ANSWER")
_ID = r"[A-Za-z][A-Za-z0-9_.-]*"
_MARKER_LINE = re.compile(r"^\s*(?:#|<!--)\s*(?P<body>.*?)\s*(?:-->)?\s*$")
_LOOKS_LIKE_MARKER = re.compile(r"^(?:BEGIN|END|EXERCISE|CHECKS?)\b")
_BEGIN_END = re.compile(
    r"^(?P<edge>BEGIN|END)\s+(?P<region>QUESTION|SOLUTION|PROMPT|CHECKS|CHECK SETUP|"
    r"MODEL ANSWER)(?:\s+(?P<args>.*))?$")
_EXERCISE = re.compile(r"^EXERCISE\s+(?P<id>[A-Za-z0-9][A-Za-z0-9_.-]*)(?:\s+.*)?$")
_CHECK = re.compile(r"^CHECK(?:\s+(?P<args>.*))?$")
_SOLUTION_SUFFIX = re.compile(r"^(?P<code>.*\S)\s*#\s*SOLUTION\s*$")
STRIPPED_REGIONS = ("CHECKS", "CHECK SETUP", "MODEL ANSWER")
DEFAULT_PROMPT = "...  # your code here"
ANSWER_PLACEHOLDER = "...  # your answer"


class MarkerError(UserInputError):
    """A solution notebook's markers are malformed (the message names notebook and cell)."""


@dataclass(frozen=True)
class Marker:
    """One marker line: where it is and what it says."""

    cell: int
    line: int
    edge: str  # "BEGIN", "END", "EXERCISE" or "CHECK"
    region: str  # one of REGIONS, or "" for EXERCISE and CHECK
    args: str


def _marker_body(line: str) -> str | None:
    match = _MARKER_LINE.match(line)
    if not match or not line.lstrip().startswith(("#", "<!--")):
        return None
    body = match.group("body")
    if line.lstrip().startswith("#"):
        body = body.lstrip("#").strip()
    return body if _LOOKS_LIKE_MARKER.match(body) else None


def parse_marker(line: str, cell: int = 0, number: int = 0) -> Marker | None | str:
    """The marker on `line`, None when the line is not marker-like, or an error message."""
    body = _marker_body(line)
    if body is None:
        return None
    if match := _BEGIN_END.match(body):
        return Marker(cell, number, match["edge"], match["region"], (match["args"] or "").strip())
    if match := _EXERCISE.match(body):
        return Marker(cell, number, "EXERCISE", "", match["id"])
    if match := _CHECK.match(body):
        return Marker(cell, number, "CHECK", "", (match["args"] or "").strip())
    return f"unknown marker {body!r} (see the mlcicd_course.grading docstring for the format)"


def scan(cells: list[Cell]) -> tuple[list[Marker], list[tuple[int, str]]]:
    """Every marker in the notebook, in order, and (cell, message) for malformed ones."""
    markers, problems = [], []
    for cell in cells:
        for number, line in enumerate(cell.source.splitlines()):
            found = parse_marker(line, cell.index, number)
            if isinstance(found, Marker):
                markers.append(found)
            elif isinstance(found, str):
                problems.append((cell.index, found))
    return markers, problems


def question_args(args: str) -> tuple[str, dict[str, str]]:
    """Split `q1 points=3 needs=q0` into the id and the key=value options."""
    parts = args.split()
    if not parts:
        return "", {}
    options = {}
    for part in parts[1:]:
        key, sep, value = part.partition("=")
        options[key] = value if sep else ""
    return parts[0], options


# --------------------------------------------------------------------------- solutions


@dataclass(frozen=True)
class CheckInfo:
    """One check function of a question."""

    name: str
    points: float
    hidden: bool
    description: str
    parameters: tuple[str, ...]

    def to_dict(self) -> dict:
        return {"name": self.name, "points": self.points, "hidden": self.hidden,
                "description": self.description, "parameters": list(self.parameters)}


@dataclass(frozen=True)
class QuestionInfo:
    """A question as authored: id, points, where it is, its checks and model answer."""

    id: str
    title: str
    points: float
    needs: tuple[str, ...]
    start_cell: int
    end_cell: int
    checks_code: str
    checks: tuple[CheckInfo, ...]
    model_answer: str
    hidden_code: str = ""
    files: tuple[tuple[str, str], ...] = ()  # (check parameter, path beside the notebook)

    def to_dict(self) -> dict:
        data = {"id": self.id, "title": self.title, "points": self.points,
                "needs": list(self.needs), "checks_code": self.checks_code,
                "hidden_code": self.hidden_code,
                "checks": [c.to_dict() for c in self.checks], "model_answer": self.model_answer}
        if self.files:
            data["files"] = [list(pair) for pair in self.files]
        return data


@dataclass(frozen=True)
class Blueprint:
    """Everything `mlcicd exercises build` learns from one solution notebook."""

    name: str
    exercise: str
    title: str
    setup_code: str
    questions: tuple[QuestionInfo, ...]
    exercise_cells: tuple[tuple[str, str], ...] = field(repr=False)
    hidden_setup_code: str = ""


def _fail(name: str, cell: int | None, message: str) -> MarkerError:
    where = f"{name} cell {cell + 1}" if cell is not None else name
    return MarkerError(f"{where}: {message}")


def _number(text: str, what: str, name: str, cell: int) -> float:
    try:
        value = float(text)
    except ValueError:
        raise _fail(name, cell, f"{what} must be a number, got {text!r}") from None
    if not value > 0 or value != value or value == float("inf"):
        raise _fail(name, cell, f"{what} must be a positive number, got {text!r}")
    return int(value) if value == int(value) else value


def _strip_comment(line: str) -> str:
    stripped = line.lstrip()
    indent = line[: len(line) - len(stripped)]
    if stripped.startswith("# "):
        return indent + stripped[2:]
    if stripped.startswith("#"):
        return indent + stripped[1:]
    return line


def solution_suffix(line: str) -> str | None:
    """`x = 0.05  # SOLUTION` -> `x = ...  # your answer` (None if the line has no suffix).

    Keeps everything up to the first `=` or `:` outside brackets (an assignment or a
    dict entry) and a trailing comma.
    """
    match = _SOLUTION_SUFFIX.match(line)
    if not match:
        return None
    code = match["code"].rstrip()
    trailing = "," if code.endswith(",") else ""
    body = code[:-1] if trailing else code
    depth, split_at = 0, None
    try:
        for token in tokenize.generate_tokens(io.StringIO(body.strip() + "\n").readline):
            if token.type == tokenize.OP:
                if token.string in "([{":
                    depth += 1
                elif token.string in ")]}":
                    depth -= 1
                elif token.string in ("=", ":") and depth == 0:
                    split_at = token.end[1]
                    break
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return None
    if split_at is None:
        return None
    indent = body[: len(body) - len(body.lstrip())]
    head = body.strip()[:split_at]
    return f"{indent}{head} ...{trailing}  # your answer"


def parse_solution(cells: list[Cell], name: str, expected_id: str | None = None) -> Blueprint:
    """Check the markers of a solution notebook and return its `Blueprint`.

    `name` is how errors name the notebook; `expected_id` (the file stem) must equal the
    EXERCISE marker's id when given.
    """
    markers, problems = scan(cells)
    if problems:
        raise _fail(name, problems[0][0], problems[0][1])
    exercises = [m for m in markers if m.edge == "EXERCISE"]
    if len(exercises) != 1:
        where = exercises[1].cell if len(exercises) > 1 else None
        raise _fail(name, where, f"needs exactly one `# EXERCISE <id>` line, found "
                                 f"{len(exercises)}")
    exercise = exercises[0].args
    if expected_id is not None and exercise != expected_id:
        raise _fail(name, exercises[0].cell, f"EXERCISE id {exercise!r} must equal the file "
                                             f"name {expected_id!r}")
    if cells[exercises[0].cell].cell_type != "code":
        raise _fail(name, exercises[0].cell, "the EXERCISE line belongs in a code cell (the "
                                             "setup cell), so that check() can see it")

    stack: list[Marker] = []
    questions: list[dict] = []
    setup_parts: list[str] = []
    hidden_setup_parts: list[str] = []
    for marker in markers:
        cell = cells[marker.cell]
        if marker.edge == "EXERCISE":
            continue
        top = stack[-1] if stack else None
        if marker.edge == "CHECK":
            if not top or top.region != "CHECKS":
                raise _fail(name, marker.cell, "a CHECK line must be inside BEGIN/END CHECKS")
            continue
        if marker.edge == "BEGIN":
            _begin(marker, cell, top, stack, questions, name)
            continue
        # END
        if top is None or top.region != marker.region:
            open_region = f"BEGIN {top.region}" if top else "nothing"
            raise _fail(name, marker.cell, f"END {marker.region} does not close "
                                           f"{open_region}")
        if marker.region == "QUESTION":
            qid, _ = question_args(marker.args)
            if qid != questions[-1]["id"]:
                raise _fail(name, marker.cell, f"END QUESTION {qid or '(no id)'} closes "
                                               f"question {questions[-1]['id']}")
            questions[-1]["end"] = marker.cell
        elif marker.cell != top.cell:
            raise _fail(name, marker.cell, f"BEGIN and END {marker.region} must be in the "
                                           f"same cell (BEGIN is in cell {top.cell + 1})")
        elif marker.region == "PROMPT":
            lines = cell.source.splitlines()[top.line + 1: marker.line]
            bad = [ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
            if bad:
                raise _fail(name, marker.cell, f"PROMPT lines must be comments, got {bad[0]!r}")
        elif marker.region in ("CHECKS", "CHECK SETUP", "MODEL ANSWER"):
            text = "\n".join(cell.source.splitlines()[top.line + 1: marker.line])
            if marker.region == "CHECK SETUP":
                (hidden_setup_parts if top.args == "hidden" else setup_parts).append(text)
            else:
                key = "checks" if marker.region == "CHECKS" else "model"
                questions[-1][key].append((marker.cell, top.line + 1, text))
        stack.pop()
    if stack:
        raise _fail(name, stack[-1].cell, f"BEGIN {stack[-1].region} is never closed")
    if not questions:
        raise _fail(name, None, "has no `BEGIN QUESTION` marker")

    setup_code = "\n\n".join(setup_parts)
    _compile(setup_code, name, None, "CHECK SETUP")
    hidden_setup_code = "\n\n".join(hidden_setup_parts)
    _compile(hidden_setup_code, name, None, "CHECK SETUP hidden")
    infos = tuple(_question_info(q, cells, name) for q in questions)
    known: list[str] = []
    for info in infos:
        for need in info.needs:
            if need not in known:
                raise _fail(name, info.start_cell, f"question {info.id} needs {need}, which is "
                                                   "not a question above it")
        known.append(info.id)
    exercise_cells = tuple(_exercise_cells(cells, name))
    title = _first_heading([c for c in cells if c.cell_type == "markdown"], level=1) or exercise
    return Blueprint(name, exercise, title, setup_code, infos, exercise_cells,
                     hidden_setup_code)


def _begin(marker: Marker, cell: Cell, top: Marker | None, stack: list[Marker],
           questions: list[dict], name: str) -> None:
    region = marker.region
    if region == "QUESTION":
        if top is not None:
            raise _fail(name, marker.cell, f"BEGIN QUESTION inside BEGIN {top.region} "
                                           f"(cell {top.cell + 1})")
        qid, options = question_args(marker.args)
        if not re.fullmatch(_ID, qid or ""):
            raise _fail(name, marker.cell, f"BEGIN QUESTION needs an id like q1, got "
                                           f"{marker.args!r}")
        if any(q["id"] == qid for q in questions):
            raise _fail(name, marker.cell, f"question id {qid} is used twice")
        unknown = sorted(set(options) - {"points", "needs", "files"})
        if unknown:
            raise _fail(name, marker.cell, f"unknown option {unknown[0]!r} on BEGIN QUESTION "
                                           "(use points=N, needs=q1,q2 and files=NAME:PATH)")
        if "points" not in options:
            raise _fail(name, marker.cell, f"BEGIN QUESTION {qid} needs points=N")
        points = _number(options["points"], "points", name, marker.cell)
        needs = tuple(n for n in options.get("needs", "").split(",") if n)
        try:
            files = parse_files_option(options["files"]) if "files" in options else ()
        except ValueError as err:
            raise _fail(name, marker.cell, str(err)) from None
        questions.append({"id": qid, "points": points, "needs": needs, "start": marker.cell,
                          "end": None, "checks": [], "model": [], "files": files})
    elif region == "CHECK SETUP":
        if top is not None:
            raise _fail(name, marker.cell, "BEGIN CHECK SETUP belongs outside questions")
        if cell.cell_type != "code":
            raise _fail(name, marker.cell, "BEGIN CHECK SETUP belongs in a code cell")
        if marker.args not in ("", "hidden"):
            raise _fail(name, marker.cell, f"unknown option {marker.args!r} on BEGIN CHECK "
                                           "SETUP (only `hidden`)")
    else:
        if top is None or top.region != "QUESTION":
            where = f"inside BEGIN {top.region}" if top else "outside a question"
            raise _fail(name, marker.cell, f"BEGIN {region} {where}")
        wanted = "markdown" if region == "MODEL ANSWER" else "code"
        if cell.cell_type != wanted:
            raise _fail(name, marker.cell, f"BEGIN {region} belongs in a {wanted} cell")
        if region == "PROMPT":
            before = [ln for ln in cell.source.splitlines()[: marker.line] if ln.strip()]
            if not before or (_marker_body(before[-1]) or "") != "END SOLUTION":
                raise _fail(name, marker.cell, "BEGIN PROMPT must follow an END SOLUTION line")
    stack.append(marker)


def _compile(code: str, name: str, cell: int | None, what: str) -> ast.Module:
    try:
        return ast.parse(code)
    except SyntaxError as err:
        raise _fail(name, cell, f"{what} code is not valid Python (line {err.lineno}: "
                                f"{err.msg})") from None


def _question_info(question: dict, cells: list[Cell], name: str) -> QuestionInfo:
    qid = question["id"]
    if question["end"] is None:
        raise _fail(name, question["start"], f"BEGIN QUESTION {qid} has no END QUESTION {qid}")
    if not question["checks"]:
        raise _fail(name, question["start"], f"question {qid} has no BEGIN/END CHECKS region")
    checks: list[CheckInfo] = []
    code_parts, hidden_parts = [], []
    for cell_index, _first_line, text in question["checks"]:
        tree = _compile(text, name, cell_index, f"the CHECKS of {qid}")
        lines = text.splitlines()
        markers = {}
        for number, line in enumerate(lines):
            found = parse_marker(line)
            if isinstance(found, Marker) and found.edge == "CHECK":
                after = next((k for k in range(number + 1, len(lines)) if lines[k].strip()),
                             None)
                if after is None or not lines[after].startswith("def check_"):
                    raise _fail(name, cell_index, "a CHECK line must be followed by "
                                                  "`def check_<name>(...)`")
                markers[after + 1] = found.args
        secret: list[tuple[int, int]] = []  # line ranges of hidden checks (0-based, end excl.)
        for node in tree.body:
            if not (isinstance(node, ast.FunctionDef) and node.name.startswith("check_")):
                continue
            checks.append(_check_info(node, lines, markers, name, cell_index))
            if checks[-1].hidden:
                start = node.lineno - 1
                while start and (not lines[start - 1].strip()
                                 or isinstance(parse_marker(lines[start - 1]), Marker)):
                    start -= 1
                secret.append((start, node.end_lineno or node.lineno))
        hidden = {n for start, end in secret for n in range(start, end)}
        code_parts.append("\n".join(ln for n, ln in enumerate(lines) if n not in hidden).strip())
        hidden_parts.extend("\n".join(lines[start:end]).strip() for start, end in secret)
    names = [c.name for c in checks]
    if len(set(names)) != len(names):
        raise _fail(name, question["start"], f"question {qid} defines a check twice")
    if not checks:
        raise _fail(name, question["checks"][0][0], f"question {qid} has no `def check_...`")
    total = sum(c.points for c in checks)
    if abs(total - question["points"]) > 1e-9:
        raise _fail(name, question["start"], f"question {qid} has points={question['points']} "
                                             f"but its checks add up to {total:g}")
    region = [c for c in cells if question["start"] <= c.index <= question["end"]]
    title = short_title(_first_heading([c for c in region if c.cell_type == "markdown"])) or qid
    model = "\n\n".join(text.strip() for _, _, text in question["model"])
    return QuestionInfo(qid, title, question["points"], question["needs"], question["start"],
                        question["end"], "\n\n\n".join(p for p in code_parts if p),
                        tuple(checks), model, "\n\n\n".join(hidden_parts), question["files"])


def _check_info(node: ast.FunctionDef, lines: list[str], markers: dict[int, str], name: str,
                cell: int) -> CheckInfo:
    where = f"check {node.name}"
    if node.decorator_list:
        raise _fail(name, cell, f"{where}: use a `# CHECK points=N hidden` line, not a "
                                "decorator")
    args = node.args
    if args.vararg or args.kwarg or args.kwonlyargs or args.posonlyargs or args.defaults:
        raise _fail(name, cell, f"{where}: parameters must be plain names of the learner's "
                                "variables (no defaults, * or **)")
    doc = ast.get_docstring(node)
    if not doc:
        raise _fail(name, cell, f"{where} needs a docstring: its first line is what learners "
                                "see")
    points, hidden = 1, False
    spec = markers.get(node.lineno)
    if spec is not None:
        for part in spec.split():
            key, sep, value = part.partition("=")
            if key == "hidden" and not sep:
                hidden = True
            elif key == "points" and sep:
                points = _number(value, f"{where} points", name, cell)
            else:
                raise _fail(name, cell, f"{where}: unknown CHECK option {part!r} (use "
                                        "points=N and hidden)")
    return CheckInfo(node.name, points, hidden, doc.strip().splitlines()[0],
                     tuple(a.arg for a in args.args))


def short_title(heading: str) -> str:
    """A question's heading without "Question 3" and "(4 points)": "a drift check"."""
    text = re.sub(r"\s*\(\s*\d+(?:\.\d+)?\s+points?\s*\)", "", heading)
    text = re.sub(r"^(?:question|exercise)\s+\S+?\s*[:.\-–]\s*", "", text, flags=re.I)
    return text.strip()


def _first_heading(cells: list[Cell], level: int | None = None) -> str:
    for cell in cells:
        for line in cell.source.splitlines():
            match = re.match(r"^(#+)\s+(.*\S)", line)
            if match and (level is None or len(match.group(1)) == level):
                return match.group(2).strip()
    return ""


def _as_marker(line: str) -> Marker | None:
    found = parse_marker(line)
    return found if isinstance(found, Marker) else None


def _closing(lines: list[str], start: int, region: str) -> int:
    """Index of the END `region` line after `start` (the structure was checked before)."""
    for index in range(start + 1, len(lines)):
        marker = _as_marker(lines[index])
        if marker and marker.edge == "END" and marker.region == region:
            return index
    return len(lines) - 1


def exercise_source(cell: Cell, name: str) -> str:
    """The learner's version of a cell's source (solutions replaced, checks removed)."""
    lines = cell.source.splitlines()
    out: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        marker = _as_marker(line)
        if marker and marker.edge == "BEGIN" and marker.region in STRIPPED_REGIONS:
            index = _closing(lines, index, marker.region) + 1
            continue
        if marker and marker.edge == "BEGIN" and marker.region == "SOLUTION":
            end = _closing(lines, index, "SOLUTION")
            after = next((k for k in range(end + 1, len(lines)) if lines[k].strip()), None)
            follow = _as_marker(lines[after]) if after is not None else None
            if follow and follow.edge == "BEGIN" and follow.region == "PROMPT":
                close = _closing(lines, after, "PROMPT")
                out.extend(_strip_comment(ln) for ln in lines[after + 1: close])
                index = close + 1
            else:
                out.append(line[: len(line) - len(line.lstrip())] + DEFAULT_PROMPT)
                index = end + 1
            continue
        if cell.cell_type == "code" and _SOLUTION_SUFFIX.match(line):
            replaced = solution_suffix(line)
            if replaced is None:
                raise _fail(name, cell.index, f"cannot replace the answer on {line.strip()!r}: "
                                              "`# SOLUTION` works on `name = value` and "
                                              "`key: value,` lines")
            line = replaced
        out.append(line)
        index += 1
    return "\n".join(out).strip("\n")


def _exercise_cells(cells: list[Cell], name: str) -> list[tuple[str, str]]:
    """The learner's version of each cell (cells that end up empty are left out)."""
    out = []
    for cell in cells:
        source = exercise_source(cell, name)
        if cell.source.strip() and not source.strip():
            continue
        out.append((cell.cell_type, source))
    return out


# --------------------------------------------------------------------------- submissions


@dataclass(frozen=True)
class Located:
    """Where a question is in a learner's notebook, or why it cannot be found."""

    status: str  # "ok", "missing" or "malformed"
    start: int = -1
    end: int = -1
    reason: str = ""


def exercise_id(cells: list[Cell]) -> str | None:
    """The id on the notebook's `# EXERCISE <id>` line (the first one), if any."""
    markers, _ = scan(cells)
    found = [m.args for m in markers if m.edge == "EXERCISE"]
    return found[0] if found else None


def locate_question(cells: list[Cell], qid: str, markers: list[Marker] | None = None) -> Located:
    """Find question `qid` in a learner's notebook, tolerating split and edited cells.

    A missing END marker is tolerated (the question then ends before the next BEGIN
    QUESTION); a BEGIN or END that appears twice, or in the wrong order, is not.
    """
    if markers is None:
        markers, _ = scan(cells)
    mine = [m for m in markers if m.region == "QUESTION" and question_args(m.args)[0] == qid]
    begins = [m for m in mine if m.edge == "BEGIN"]
    ends = [m for m in mine if m.edge == "END"]
    if not begins:
        left = f"; its END line is still in cell {ends[0].cell + 1}" if ends else ""
        return Located("missing", reason=f"question {qid} is not in the notebook (its "
                                         f"`BEGIN QUESTION {qid}` line was deleted{left})")
    if len(begins) != 1:
        where = ", ".join(f"cell {m.cell + 1}" for m in begins)
        return Located("malformed", reason=f"`BEGIN QUESTION {qid}` appears {len(begins)} "
                                           f"times ({where}); restore the original cells")
    if len(ends) > 1:
        where = ", ".join(f"cell {m.cell + 1}" for m in ends)
        return Located("malformed", reason=f"`END QUESTION {qid}` appears {len(ends)} times "
                                           f"({where}); restore the original cells")
    begin = begins[0]
    if ends:
        end = ends[0]
        if (end.cell, end.line) < (begin.cell, begin.line):
            return Located("malformed", reason=f"`END QUESTION {qid}` (cell {end.cell + 1}) "
                                               f"comes before its BEGIN (cell {begin.cell + 1})")
        inner = [m for m in markers if m.region == "QUESTION" and m.edge == "BEGIN"
                 and (begin.cell, begin.line) < (m.cell, m.line) < (end.cell, end.line)]
        if inner:
            other = question_args(inner[0].args)[0]
            return Located("malformed", reason=f"question {other} starts inside question {qid} "
                                               f"(cell {inner[0].cell + 1})")
        return Located("ok", begin.cell, end.cell)
    later = [m.cell for m in markers if m.region == "QUESTION" and m.edge == "BEGIN"
             and (m.cell, m.line) > (begin.cell, begin.line)]
    end_cell = (min(later) - 1) if later else len(cells) - 1
    return Located("ok", begin.cell, max(end_cell, begin.cell),
                   reason=f"`END QUESTION {qid}` is missing; the question was taken to end at "
                          f"cell {max(end_cell, begin.cell) + 1}")


def strip_regions(source: str) -> str:
    """A code cell without its CHECKS, CHECK SETUP and MODEL ANSWER regions."""
    lines = source.splitlines()
    out, skipping = [], None
    for line in lines:
        found = parse_marker(line)
        marker = found if isinstance(found, Marker) else None
        if skipping:
            if marker and marker.edge == "END" and marker.region == skipping:
                skipping = None
            continue
        if marker and marker.edge == "BEGIN" and marker.region in STRIPPED_REGIONS:
            closes = any(isinstance(f := parse_marker(rest), Marker) and f.edge == "END"
                         and f.region == marker.region for rest in lines)
            if closes:
                skipping = marker.region
                continue
        out.append(line)
    return "\n".join(out)


@dataclass(frozen=True)
class QuestionSource:
    """The learner's code that grading runs for one question, or why there is none."""

    status: str  # "ok", "missing" or "malformed"
    cells: tuple[tuple[str, str], ...] = ()  # (label, code) in notebook order
    reason: str = ""
    note: str = ""
    files: tuple[SubmittedFile, ...] = ()  # the question's files, read beside the notebook


def question_code(cells: list[Cell], qid: str, all_ids: list[str],
                  needs: tuple[str, ...] = ()) -> QuestionSource:
    """The code to run for `qid`: shared code cells above it, then its own code cells.

    Shared cells are code cells outside every question. Cells of the questions in
    `needs` are included too, in notebook order. CHECKS, CHECK SETUP and MODEL ANSWER
    regions are removed (a solution notebook grades like a filled-in exercise).
    """
    markers, _ = scan(cells)
    where = {q: locate_question(cells, q, markers) for q in dict.fromkeys([*all_ids, qid])}
    own = where[qid]
    if own.status != "ok":
        return QuestionSource(own.status, reason=own.reason)
    for need in needs:
        if where.get(need, Located("missing")).status != "ok":
            return QuestionSource("missing", reason=f"question {qid} builds on question {need}, "
                                                    "which cannot be found in the notebook")
    spans = {}
    for other, located in where.items():
        if located.status == "ok":
            spans[other] = (located.start, located.end)
        else:  # exclude whatever a damaged question's markers still cover
            theirs = [m.cell for m in markers if m.region == "QUESTION"
                      and question_args(m.args)[0] == other]
            if theirs:
                spans[other] = (min(theirs), max(theirs))
    for m in markers:  # questions that the exercise does not know about
        other = question_args(m.args)[0]
        if m.region == "QUESTION" and other not in spans:
            located = locate_question(cells, other, markers)
            if located.status == "ok":
                spans[other] = (located.start, located.end)
    wanted = {qid, *needs}
    chosen = []
    for cell in cells:
        if cell.cell_type != "code" or cell.index > own.end:
            continue
        owners = [q for q, (a, b) in spans.items() if a <= cell.index <= b]
        if (not owners and cell.index < own.start) or (owners and set(owners) <= wanted
                                                       and set(owners) & wanted):
            code = strip_regions(cell.source)
            if code.strip():
                chosen.append((cell.label, code))
    return QuestionSource("ok", tuple(chosen), note=own.reason)
