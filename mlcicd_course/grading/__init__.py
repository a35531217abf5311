"""Graded exercises: single-source authoring, learner self-check, instructor grading.

Learners, in an exercise notebook::

    from mlcicd_course.grading import check, check_all
    check("q1")      # the checks of q1 on the saved notebook: pass/fail, hints, points
    check_all()      # every question
    check("q1", details=True)   # tracebacks and printed output too
    check("q1", reveal=True)    # show the model answer before the checks pass

check() runs every check when the exercise's solutions are at hand (a `solutions/`
folder beside the notebook's folder, `source=`, or $MLCICD_EXERCISES_SOURCE), and the
package's public checks otherwise (hidden ones are counted, not run).

Authors and instructors, on the command line::

    mlcicd exercises build                 # solutions/ -> exercises/ + the package's checks
    mlcicd exercises build --check         # exit 1 when exercises/ or the checks are stale
    mlcicd exercises verify                # solutions score full marks, exercises score 0
    mlcicd exercises export-learner DIR    # a learner repository: no solutions, no key
    mlcicd grade PATH... --source solutions/ --out grades.csv [--feedback DIR] [--resume]

How grading works
-----------------
Each question of each notebook is graded in its own fresh process (forked from a clean
"zygote" that has imported numpy/pandas/scikit-learn once; a new interpreter on
Windows): that process runs the notebook's shared code cells above the question and
the question's own code cells, under a wall-clock time limit, a memory limit and a
file-size limit (POSIX `setrlimit`), in a private working folder, with an audit hook
that refuses writes outside it, reading notebooks outside it or other processes'
/proc files, starting any process, network connections and signals.
The checks run in the grader's process, never from the submission: the public ones
from the package's copy of the exercise (`mlcicd_course/data/exercises/<exercise>.json`,
written by `mlcicd exercises build`), all of them from the solution notebooks given as
`--source`; they receive the learner's variables as plain data (or proxies for
functions), never as pickles. A question that raises, hangs, exits, dies or sends junk
scores 0 with a reason; the other questions and notebooks are graded.

The answer key: every learner has the package, so it holds only public checks, which
test properties and well-formedness, never compare with a stored answer. Hidden
checks, the hidden check setup (expected answers) and model answers stay in the
solution notebooks, which only the grader reads.

No learner process outlives its question. Linux: the zygote and every question's
process are child subreapers (`reaper`), so whatever a question starts, even through
ctypes in a new session, stays in a tree that is stopped and killed when the question
ends, and an orphan of a question is killed within a quarter of a second. macOS: the
question's process group is killed; a process that leaves it through ctypes can
survive. Windows: the question's process is killed; what it started through ctypes can
survive. The audit hook is not a sandbox (ctypes goes around it): this guards against
accidents and casual tampering, not a determined attacker; grade untrusted work in a
throw-away container or CI runner.

The marker format
-----------------
A notebook in `solutions/` is the single source of an exercise. Markers are whole
lines of plain text inside cells: a Python comment (`# BEGIN QUESTION q1 points=3`)
in code and raw cells, or an HTML comment (`<!-- BEGIN QUESTION q1 points=3 -->`) in
markdown cells, where it does not render. Keywords are upper case. Nothing depends on
cell ids, metadata or outputs, so cells may be split, merged, copied or edited in any
editor as long as the marker lines survive.

`# EXERCISE <id>`
    Once, in the first code cell (the setup cell); <id> equals the file name without
    `.ipynb`. It tells `check()` and `mlcicd grade` which exercise a notebook is, even
    after the learner renames the file. It stays in the learner's copy.

`BEGIN QUESTION <id> points=<n> [needs=<id>,...] [files=<name>:<path>,...]` ... `END QUESTION`
    A question: every cell from the one holding BEGIN to the one holding END. Put
    BEGIN at the top of the question's markdown cell and END in the next question's
    first markdown cell (or the closing cell), so that any cell a learner adds between
    belongs to the question. Ids are unique in the notebook; points are positive.
    Grading runs, for a question, the code cells outside every question that come
    before it (imports, data: keep them fast), then the question's own code cells;
    `needs=` adds the code cells of earlier questions it builds on. `files=` names files
    the question grades beside the notebook (`pr_workflow:03_workflows/pr.yml`): the
    grader reads each one from the learner's notebook folder (not through a symbolic
    link), gives its text to the checks as the parameter <name>, and copies it into the
    question's working folder; the build writes the learner's copy from the same path
    in `solutions/`, where SOLUTION and PROMPT markers are `#` comment lines (see
    `grading.files`; `grading.workflow_runs` runs a workflow file safely). Both markers
    stay in the learner's copy.

`# BEGIN SOLUTION` ... `# END SOLUTION` (code cells, inside a question)
    The answer. The learner's copy gets `...  # your code here` at the same
    indentation, or the lines of a PROMPT block that directly follows END SOLUTION.

`# BEGIN PROMPT` ... `# END PROMPT` (right after END SOLUTION, same cell)
    What the learner gets instead of the solution. Each line is a comment in the
    solution (so the solution still runs); the learner's copy has the comment sign
    removed, e.g. `# answers = {"A": ...}` becomes `answers = {"A": ...}`.

`... # SOLUTION` (end of a code line)
    A one-line answer: `threshold = 0.1  # SOLUTION` becomes `threshold = ...  # your
    answer`; `"A": "ml",  # SOLUTION` becomes `"A": ...,  # your answer`.

`# BEGIN CHECKS` ... `# END CHECKS` (code cells, inside a question)
    The question's checks; removed from the learner's copy; the public ones are stored
    in the package.
    Every top-level `def check_<name>(<names>):` is a check. Its parameters are the
    names of the learner's variables it needs; functions and other objects the
    learner defines arrive as proxies that run in the learner's process. A check
    passes when it returns and fails on `AssertionError`, whose message is the hint
    shown to the learner; its docstring's first line describes it. A line
    `# CHECK points=2 hidden` directly above a def sets its points (default 1) and
    makes it hidden: its code is not in the package, so it runs only where the
    solutions are (`mlcicd grade --source DIR`, check() beside `solutions/`). The
    checks' points must add up to the question's points. A check that compares with
    the answer itself must be hidden: a public one would hand the key to every learner.
    This course's `solutions/` are public; keep secret checks in a private solutions
    folder. Checks of many notebooks run at the same time, in
    threads of one process: keep them free of process-wide changes (sys.stdout,
    os.environ, the working folder; `contextlib.redirect_stdout` is not thread-safe),
    and build expensive data once with `grading.helpers.fixture`.

`# BEGIN CHECK SETUP` ... `# END CHECK SETUP` (code cells, outside questions)
    Imports and helpers shared by all checks of the notebook (e.g. a `@fixture` that
    trains a reference model once per grading run; see `grading.helpers`). Removed
    from the learner's copy. `# BEGIN CHECK SETUP hidden` marks setup that only hidden
    checks use, such as the expected answers: it stays out of the package too.

`<!-- BEGIN MODEL ANSWER -->` ... `<!-- END MODEL ANSWER -->` (markdown, in a question)
    Removed from the learner's copy and from the package; `check()` prints it, where
    the solutions are at hand, once the question's checks pass (or with `reveal=True`).

BEGIN and END of SOLUTION, PROMPT, CHECKS, CHECK SETUP and MODEL ANSWER must be in the
same cell. `mlcicd exercises build` rejects malformed markers with the notebook and
cell; in a learner's notebook a missing END QUESTION is tolerated (the question ends
before the next one), while a BEGIN QUESTION that is missing, duplicated or out of
order makes that question `missing` or `malformed`.

A minimal question::

    [markdown] <!-- BEGIN QUESTION q1 points=2 -->
               ## Question 1: the mean
    [code]     def mean(values):
                   # BEGIN SOLUTION
                   return sum(values) / len(values)
                   # END SOLUTION
    [code]     # BEGIN CHECKS
               def check_mean(mean):
                   \"\"\"mean() of a few numbers\"\"\"
                   assert mean([1, 2, 3]) == 2, "mean([1, 2, 3]) should be 2"
               # CHECK hidden
               def check_floats(mean):
                   \"\"\"mean() of floats\"\"\"
                   assert abs(mean([0.1, 0.2]) - 0.15) < 1e-12
               # END CHECKS
    [code]     check("q1")
    [markdown] <!-- END QUESTION q1 -->
               ## What you practised
"""

from mlcicd_course.grading.selfcheck import check, check_all, self_check

__all__ = ["check", "check_all", "self_check"]
