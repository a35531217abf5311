"""Numbers stated in a notebook's prose, and whether the notebook's outputs print them.

The rule (the README and chapter 00 state it): a number in a markdown cell is a result the
course claims, so it must appear, as printed, in an output of the same notebook; or its
sentence links its source (an external fact: a release date, a paper); or it is listed in
ALLOWED below with the reason it is not a result. Numbers that only name things are not
checked: chapter numbers (00, 01, ...), section, exercise and question numbers, versions
(`Python 3.12`, `v4`, `scikit-learn 1.9`), heading and list numbering, and anything inside
`code`, code blocks, HTML comments or link targets.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

#: (notebook path relative to the course folder, number as written, reason it is not a
#: printed result). Reviewed by hand: every entry must still be needed (a test checks).
ALLOWED: tuple[tuple[str, str, str], ...] = (
    ("notebooks/01_why_ml_cicd_and_drift.ipynb", "0.670",
     "the source chapter's printed claim (section 5.1), quoted to show that a re-run does not "
     "reproduce it"),
    ("notebooks/01_why_ml_cicd_and_drift.ipynb", "18",
     "a setting: the monitoring loop's stream has 18 months (range(1, 19))"),
    ("notebooks/01_why_ml_cicd_and_drift.ipynb", "20",
     "a setting: covariate=1 adds 20 EUR to every bill (the table prints it as 20.0)"),
    ("notebooks/01_why_ml_cicd_and_drift.ipynb", "5%",
     "the significance level 0.05, a setting, written as a percentage"),
    ("notebooks/01_why_ml_cicd_and_drift.ipynb", "200",
     "a setting: the number of simulated pairs of batches (range(200))"),
    ("notebooks/01_why_ml_cicd_and_drift.ipynb", "500",
     "a setting: the rows per simulated batch"),
    ("notebooks/01_why_ml_cicd_and_drift.ipynb", "15%",
     "a setting: missing_rate=0.15 (the output prints the 15.0% it produces)"),
    ("notebooks/02_testing_ml_systems.ipynb", "0.85",
     "a setting: the minimum-accuracy gate (printed as 0.850)"),
    ("notebooks/02_testing_ml_systems.ipynb", "5%",
     "a setting: the reviewed schema's tolerance for blank usage hours (0.05)"),
    ("notebooks/02_testing_ml_systems.ipynb", "200",
     "an example of a soft expectation, not a result"),
    ("solutions/02_testing_exercises.ipynb", "2.0", "a statement to classify in question 3"),
    ("solutions/02_testing_exercises.ipynb", "10", "a statement to classify in question 3"),
    ("exercises/02_testing_exercises.ipynb", "2.0", "a statement to classify in question 3"),
    ("exercises/02_testing_exercises.ipynb", "10", "a statement to classify in question 3"),
    ("notebooks/06_shadow_deployment.ipynb", "2,000", "the source script's setting: the "
     "rows it generates"),
    ("notebooks/06_shadow_deployment.ipynb", "0.883", "the source chapter's printed claim "
     "(section 5.4), quoted to show that a re-run does not reproduce it"),
    ("notebooks/06_shadow_deployment.ipynb", "0.915", "the source chapter's printed claim "
     "(section 5.4), quoted to show that a re-run does not reproduce it"),
    ("notebooks/06_shadow_deployment.ipynb", "300", "a setting: the slow shadow's added "
     "latency knob (300 ms)"),
    ("notebooks/06_shadow_deployment.ipynb", "100%", "a phrase (\"go to 100%\"), not a "
     "result"),
    ("notebooks/06_shadow_deployment.ipynb", "32", "a setting: the router's shadow queue "
     "size"),
    ("notebooks/06_shadow_deployment.ipynb", "5", "a setting: requests per customer"),
    ("notebooks/06_shadow_deployment.ipynb", "8", "a setting: concurrent clients"),
    *((f"{folder}/06_shadow_exercises.ipynb", number, "a constant of the Wilson interval "
       "the question asks for")
      for folder in ("solutions", "exercises") for number in ("95%", "1.96", "97.5%")),
    ("notebooks/07_ab_testing.ipynb", "1,000", "a setting: the number of user ids hashed"),
    ("notebooks/07_ab_testing.ipynb", "5%", "the significance level 0.05, a setting, written "
     "as a percentage"),
    ("notebooks/07_ab_testing.ipynb", "2,000", "a setting: the number of simulated A/A "
     "experiments"),
    ("notebooks/07_ab_testing.ipynb", "100", "a setting: the live run's customers who send "
     "a second request"),
    ("notebooks/07_ab_testing.ipynb", "8%", "a setting: the share of B's customers the "
     "mismatch example drops (the output prints the resulting counts and p-value)"),
    ("notebooks/05_canary_releases.ipynb", "1%", "an example of a fixed threshold, not a "
     "result"),
    ("notebooks/05_canary_releases.ipynb", "20,000", "a setting: the simulated customers"),
    ("notebooks/05_canary_releases.ipynb", "100%", "a setting: the last step weight of the "
     "spec (printed as 100)"),
    ("notebooks/05_canary_releases.ipynb", "2,000", "a setting: the number of simulated A/A "
     "canaries in bench/canary_bench.py"),
    *((f"{folder}/05_canary_exercises.ipynb", number, reason)
      for folder in ("solutions", "exercises") for number, reason in (
          ("10%", "question 1's rule: the first weight at most 10%"),
          ("50%", "question 1's rule: at least 50% before the promotion"),
          ("0.1", "question 1's premise: a good release may have 0.1 point more errors"),
          ("1.15", "question 1's premise: a good release's p99 may be 1.15 times stable's"),
          ("5,000", "question 1's simulated customers"),
          ("0.5%", "question 1's simulated stable error rate"))),
    *((f"{folder}/07_ab_testing_exercises.ipynb", "0.8", "question 1's setting: power 0.8")
      for folder in ("solutions", "exercises")),
    *((f"{folder}/04_blue_green_exercises.ipynb", number, reason)
      for folder in ("solutions", "exercises") for number, reason in (
          ("70%", "question 1's premise: the share of the GPU quota already in use"),
          ("30", "question 1's premise: 30 million users"),
          ("1%", "question 2's rule to configure: an error rate of at most 1%"),
          ("50", "question 2's simulated load: 50 production requests per second"),
          ("10", "question 2's simulation: the controller ticks every 10 s"))),
)

FENCED = re.compile(r"```.*?```|~~~.*?~~~", re.S)
INLINE_CODE = re.compile(r"`[^`\n]*`")
HTML_COMMENT = re.compile(r"<!--.*?-->", re.S)
LINK_TARGET = re.compile(r"\]\([^)\s]*\)|<?https?://[^\s)>]+>?")
SOURCE_LINK = re.compile(r"\]\(https?://|<https?://|(?<![(<])https?://")
HEADING_NUMBER = re.compile(r"^(\s*#+\s*)[\d.]+", re.M)
LIST_NUMBER = re.compile(r"^(\s*)\d+[.)](?=\s)", re.M)
#: The course numbers its chapters 00, 01, ...: a zero-padded number is a chapter's name.
CHAPTER_NUMBER = re.compile(r"(?<![\w.\-])0\d(?![\w.\-])")
#: A word that makes the numbers after it a name, not a result ("chapters 04 and 05").
REFERENCE = re.compile(
    r"\b(?:chapters?|sections?|exercises?|questions?|Q|steps?|parts?|"
    r"Python|Node(?:\.js)?|YAML|HTTP|IPv|version|v|scikit-learn|pandas|numpy|scipy|pytest)"
    r"\s*\d+(?:\.\d+)*(?:\s*(?:,|and|or|to|-|–)\s*\d+(?:\.\d+)*)*",
    re.I)
NUMBER = re.compile(
    r"(?<![\w.\-/+−#])([-+−]?)"
    r"(\d{4}-\d{2}(?:-\d{2})?(?!\d)|\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?(?:e[-+]?\d+)?)(%?)"
    r"(?![\w/]|\.\d)")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z*(\[_])|\n\s*\n|\n(?=\s*(?:[-*|]|\d+\.)\s)")


@dataclass(frozen=True)
class Finding:
    """A number in the prose that no output prints and nothing explains."""

    notebook: str
    cell: int
    cell_id: str
    number: str
    context: str

    def message(self) -> str:
        return (f"{self.notebook} cell {self.cell} (id {self.cell_id}): the prose says "
                f"{self.number!r} (\"...{self.context}...\") but no output of the notebook "
                "prints it. Print it in a cell, correct the prose, link its source in the same "
                "sentence, or add it to ALLOWED in tests/prose_numbers.py with a reason")


def _text(value: str | list[str]) -> str:
    return value if isinstance(value, str) else "".join(value)


def read_cells(path: Path) -> list[dict]:
    """The cells of a stored notebook, as plain JSON (faster than a validated read)."""
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def output_text(cells: list[dict]) -> str:
    """Everything the notebook's code cells printed or displayed as text."""
    parts = []
    for cell in cells:
        for output in cell.get("outputs", []):
            parts.append(_text(output.get("text", "")))
            for kind, value in output.get("data", {}).items():
                if kind.startswith("text/"):
                    parts.append(_text(value))
    return "\n".join(parts)


def checkable(markdown: str) -> str:
    """The prose with code, link targets, references and numbering blanked out."""
    text = HTML_COMMENT.sub(" ", markdown)
    text = FENCED.sub(" ", text)
    text = INLINE_CODE.sub(" ", text)
    text = LINK_TARGET.sub(" ", text)
    text = REFERENCE.sub(" ", text)
    text = CHAPTER_NUMBER.sub(" ", text)
    text = HEADING_NUMBER.sub(r"\1", text)
    return LIST_NUMBER.sub(r"\1", text)


def sentences(markdown: str) -> Iterator[tuple[str, bool]]:
    """Each sentence (or list item, or table row) of a markdown cell, and whether it links
    to an external source."""
    for sentence in SENTENCE_END.split(HTML_COMMENT.sub(" ", markdown)):
        yield sentence, bool(SOURCE_LINK.search(sentence))


def numbers(markdown: str) -> Iterator[tuple[str, str]]:
    """(number as written, context) for every number the prose states without a source."""
    for sentence, sourced in sentences(markdown):
        if sourced:
            continue
        text = checkable(sentence)
        for match in NUMBER.finditer(text):
            context = " ".join(text[max(0, match.start() - 40):match.end() + 30].split())
            yield match.group(2) + match.group(3), context


def printed(number: str, outputs: str) -> bool:
    """Whether `number` appears in the outputs as a whole number (0.86 is not in 0.861)."""
    digits, percent = number.rstrip("%"), number.endswith("%")
    forms = {digits, digits.replace(",", "")}
    for form in forms:
        tail = "%" if percent else r"(?![\d])(?!\.\d)"
        if re.search(r"(?<![\d.])" + re.escape(form) + tail, outputs):
            return True
    return False


def findings(notebook_path: Path, root: Path, outputs_from: Path | None = None,
             allowed: Iterable[tuple[str, str, str]] = ALLOWED) -> list[Finding]:
    """The unexplained numbers of one notebook; `outputs_from` reads the outputs of another
    notebook (a generated exercise has none: its solution's count)."""
    name = notebook_path.relative_to(root).as_posix()
    exempt = {number for path, number, _ in allowed if path == name}
    cells = read_cells(notebook_path)
    outputs = output_text(cells if outputs_from is None else read_cells(outputs_from))
    found = []
    for index, cell in enumerate(cells):
        if cell["cell_type"] != "markdown":
            continue
        for number, context in numbers(_text(cell["source"])):
            if number not in exempt and not printed(number, outputs):
                found.append(Finding(name, index, cell.get("id", "?"), number, context))
    return found
