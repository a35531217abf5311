"""The per-question runner: isolation, limits, the data-only channel, fork vs spawn."""

from __future__ import annotations

import os
import re
import signal
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlcicd_course.grading import codec
from mlcicd_course.grading.bank import load_exercise, spec_from_blueprint
from mlcicd_course.grading.checking import grade_question
from mlcicd_course.grading.markers import parse_solution, question_code
from mlcicd_course.grading.notebooks import Cell, read_cells
from mlcicd_course.grading.runner import (
    ForkLauncher,
    LearnerProcess,
    Limits,
    Remote,
    SpawnLauncher,
    sanitize,
)
from tests.conftest import ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "grading"


POSIX = pytest.mark.skipif(os.name != "posix", reason="fork, process groups and setrlimit "
                                                        "are POSIX features")


@pytest.fixture(scope="module")
def launcher():
    if os.name != "posix":
        yield SpawnLauncher()
        return
    fork = ForkLauncher(preload=("mlcicd_course.grading.child", "numpy", "pandas"))
    yield fork
    fork.close()


def grade_snippet(answer: str, checks: str, launcher, timeout: float = 10):
    """Grade a one-question exercise whose answer cell is `answer`."""
    cells = [Cell(0, "code", "# EXERCISE snippet"),
             Cell(1, "markdown", "<!-- BEGIN QUESTION q1 points=1 -->\n## Snippet"),
             Cell(2, "code", answer),
             Cell(3, "code", f"# BEGIN CHECKS\n{checks}\n# END CHECKS"),
             Cell(4, "markdown", "<!-- END QUESTION q1 -->")]
    spec = spec_from_blueprint(parse_solution(cells, "snippet"), "snippet")
    source = question_code(cells, "q1", ["q1"])
    return grade_question(spec, "q1", source, launcher=launcher, limits=Limits(timeout=timeout))


def test_learner_process_runs_cells_and_answers_requests(launcher):
    process = LearnerProcess(launcher, Limits(timeout=10))
    try:
        report = process.start([("cell 1", "x = [1, 2.5, 'a']\ndef double(v):\n    return 2 * v\n"
                                           "class Box:\n    size = 3\nbox = Box()")])
        assert report["event"] == "ready"
        assert process.get("x") == [1, 2.5, "a"]
        double = process.get("double")
        assert isinstance(double, Remote) and double(21) == 42
        assert double(np.arange(3)).tolist() == [0, 2, 4]
        assert process.get("box").size == 3
        with pytest.raises(KeyError):
            process.get("undefined_name")
    finally:
        process.close()
    assert not os.path.exists(process.job_dir), "the working folder is removed"


def test_values_arrive_as_plain_data_never_unpickled(launcher, tmp_path):
    marker = tmp_path / "pwned"
    answer = ("import os\nclass Evil:\n    def __reduce__(self):\n"
              f"        return (os.system, ('touch {marker}',))\nvalue = Evil()\n"
              "frame = __import__('pandas').DataFrame({'a': [1, 2], 'b': ['x', None]})")
    checks = ('def check_value(value, frame):\n    """opaque object, real frame"""\n'
              "    assert type(value).__name__ == 'Remote', type(value)\n"
              "    assert list(frame.columns) == ['a', 'b'] and frame['a'].sum() == 3")
    result = grade_snippet(answer, checks, launcher)
    assert result.points == 1, result
    assert not marker.exists()


def test_the_environment_is_scrubbed_and_hashing_is_fixed(launcher, monkeypatch):
    monkeypatch.setenv("MLCICD_TEST_SECRET", "s3cret")
    answer = ("import os\nsecret = os.environ.get('MLCICD_TEST_SECRET')\n"
              "seed = os.environ.get('PYTHONHASHSEED')\nh = hash('abc')\ncwd = os.getcwd()")
    checks = ('def check_env(secret, seed, h, cwd):\n    """no secrets, fixed hash seed"""\n'
              "    assert secret is None and seed == '0'\n"
              "    assert cwd.endswith('work')\n"
              "    print(h)")
    forked = grade_snippet(answer, checks, launcher)
    assert forked.points == 1, forked
    spawned = grade_snippet(answer + "\nassert h == " + str(_hash_of_abc(launcher)), checks,
                            SpawnLauncher())
    assert spawned.points == 1, spawned


def _hash_of_abc(launcher) -> int:
    process = LearnerProcess(launcher, Limits(timeout=10))
    try:
        process.start([("cell 1", "h = hash('abc')")])
        return process.get("h")
    finally:
        process.close()


def test_writes_outside_the_working_folder_are_refused(launcher, tmp_path):
    target = tmp_path / "outside.txt"
    answer = ("inside = open('inside.txt', 'w').write('ok')\n"
              f"try:\n    open({str(target)!r}, 'w').write('no')\n    outside = 'written'\n"
              "except PermissionError as err:\n    outside = str(err)")
    checks = ('def check_files(inside, outside):\n    """inside yes, outside no"""\n'
              "    assert inside == 2\n    assert 'does not allow writing' in outside, outside")
    assert grade_snippet(answer, checks, launcher).points == 1
    assert not target.exists()


@POSIX
def test_a_timeout_kills_the_whole_process_group(launcher):
    answer = ("import ctypes\n"
              "libc = ctypes.CDLL(None)\n"
              "pid = libc.fork()\n"
              "if pid == 0:\n    libc.sleep(600)\n    libc._exit(0)\n"
              "print('grandchild', pid, flush=True)\n"
              "while True:\n    pass")
    result = grade_snippet(answer, 'def check_x(x):\n    """x"""', launcher, timeout=3)
    assert result.status == "timeout" and result.points == 0
    pid = int(re.search(r"grandchild (\d+)", result.output).group(1))
    for _ in range(100):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail(f"the learner's background process {pid} survived the timeout")


LINUX = pytest.mark.skipif(not sys.platform.startswith("linux"), reason=(
    "child subreapers and /proc are Linux features (the guarantee per platform is in "
    "mlcicd_course.grading's docstring)"))
# A detached process started through the C library, so that no audit hook sees it: it
# leaves the session, is orphaned, records its pid, waits for the go file (created once
# grading is over) and then forges the grades.
ESCAPE = """
import ctypes, os, time
libc = ctypes.CDLL(None, use_errno=True)

def write(path, text):
    fd = libc.open(path.encode(), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    data = text.encode()
    libc.write(fd, data, len(data))
    libc.close(fd)

if libc.fork() == 0:
    libc.setsid()
    if libc.fork() != 0:
        libc._exit(0)
    write({pid_file!r}, str(libc.getpid()))
    for _ in range(3000):
        if os.path.exists({pid_file!r} + ".go"):
            break
        libc.usleep(10000)
    write({grades!r}, "forged")
    libc._exit(0)
for _ in range(200):
    if os.path.exists({pid_file!r}):
        break
    time.sleep(0.01)
answer = 42
"""
CHECK_ANSWER = 'def check_answer(answer):\n    """the answer"""\n    assert answer == 42'


def _forged_after_grading(pid_file: Path, grades: Path) -> bool:
    """Let a surviving stray go ahead; has it forged the grades?"""
    Path(f"{pid_file}.go").touch()
    time.sleep(0.3)
    return grades.read_text() != "intact\n"


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@LINUX
@pytest.mark.parametrize("question_ends", ["normally", "by killing its own process"])
def test_no_process_a_question_starts_outlives_it(launcher, tmp_path, question_ends):
    pid_file, grades = tmp_path / "stray.pid", tmp_path / "grades.csv"
    grades.write_text("intact\n")
    answer = ESCAPE.format(pid_file=str(pid_file), grades=str(grades))
    if question_ends != "normally":  # the orphan is then re-parented to the zygote
        answer += "libc._exit(0)\n"
    result = grade_snippet(answer, CHECK_ANSWER,
                           launcher)
    assert result.points == (1 if question_ends == "normally" else 0)
    stray = int(pid_file.read_text())
    for _ in range(100):
        if not _alive(stray):
            break
        time.sleep(0.01)
    assert not _alive(stray), f"process {stray} outlived its question"
    assert not _forged_after_grading(pid_file, grades)


@LINUX
def test_spawned_questions_also_take_their_processes_with_them(tmp_path):
    pid_file, grades = tmp_path / "stray.pid", tmp_path / "grades.csv"
    grades.write_text("intact\n")
    answer = ESCAPE.format(pid_file=str(pid_file), grades=str(grades))
    result = grade_snippet(answer, CHECK_ANSWER,
                           SpawnLauncher())
    assert result.points == 1
    stray = int(pid_file.read_text())
    time.sleep(0.2)
    assert not _alive(stray), f"process {stray} outlived its question"
    assert not _forged_after_grading(pid_file, grades)


def test_starting_a_new_python_is_refused(launcher):
    answer = ("import subprocess, sys\n"
              "subprocess.Popen([sys.executable, '-c', 'pass'], start_new_session=True)")
    result = grade_snippet(answer, 'def check_x(x):\n    """x"""', launcher)
    assert result.status == "error" and "starting other programs" in result.reason


def test_a_learner_function_that_raises_fails_the_check_with_its_error(launcher):
    answer = "def f(x):\n    raise ValueError(f'bad {x}')"
    checks = 'def check_f(f):\n    """f(1) is 1"""\n    assert f(1) == 1'
    result = grade_snippet(answer, checks, launcher)
    assert result.status == "ok" and result.points == 0
    assert result.checks[0].message == "your code raised ValueError: bad 1"


def test_a_missing_variable_is_named_in_the_hint(launcher):
    result = grade_snippet("y = 1", 'def check_x(x):\n    """x"""\n    assert x', launcher)
    assert "`x` is not defined" in result.checks[0].message


def test_a_check_that_swallows_everything_cannot_hide_a_timeout(launcher):
    answer = "def f():\n    while True:\n        pass"
    checks = ('def check_f(f):\n    """f returns"""\n    try:\n        f()\n'
              "    except BaseException:\n        pass")
    result = grade_snippet(answer, checks, launcher, timeout=2)
    assert result.status == "timeout" and result.points == 0


@POSIX
def test_fork_and_spawn_grade_the_fixture_identically(launcher):
    spec = load_exercise("fixture_exercise", FIXTURES / "solutions")
    for name in ("good", "monkeypatch"):
        cells = read_cells(FIXTURES / "submissions" / f"{name}.ipynb")
        outcomes = []
        for runner in (launcher, SpawnLauncher()):
            results = []
            for q in spec.questions:
                code = question_code(cells, q.id, spec.question_ids, q.needs)
                result = grade_question(spec, q.id, code, launcher=runner,
                                        limits=Limits(timeout=20))
                results.append(result.to_dict())
            outcomes.append(results)
        assert outcomes[0] == outcomes[1], name


@POSIX
def test_the_zygote_is_restarted_when_it_dies():
    fork = ForkLauncher(preload=())
    try:
        handle = fork.launch()
        handle.kill()
        handle.close()
        os.kill(fork._zygote.pid, signal.SIGKILL)
        fork._zygote.wait()
        again = fork.launch()
        again.kill()
        again.close()
    finally:
        fork.close()


def test_sanitize_removes_temporary_paths_and_addresses():
    text = "failed at /tmp/mlcicd-grade-abc/work/x.txt for <f at 0x7f3a2b1c9d40>"
    assert sanitize(text, "/tmp/mlcicd-grade-abc/work", "/tmp/mlcicd-grade-abc") == (
        "failed at <workdir>/x.txt for <f at 0x…>")


# --------------------------------------------------------------------------- codec


@pytest.mark.parametrize("value", [
    None, True, 3, -2**70, 2.5, float("inf"), "text", b"\x00\xff", [1, [2]], (1, "a"), {3, 1},
    frozenset({"a"}), {"a": 1, 2: (3,)}, ..., np.int64(7), np.arange(6).reshape(2, 3),
    np.array([1.5, np.nan]), np.array(["a", "b"]), np.array([True, False]),
])
def test_codec_round_trips_plain_values(value):
    decoded = codec.decode(codec.loads(codec.encode(value, lambda _: 0)))
    if isinstance(value, np.ndarray):
        np.testing.assert_array_equal(decoded, value)
        assert decoded.dtype.kind == value.dtype.kind
    elif isinstance(value, np.generic):
        assert decoded == value.item()
    else:
        assert decoded == value and type(decoded) is type(value)


def test_codec_round_trips_frames_and_series():
    frame = pd.DataFrame({"n": [1, 2], "f": [0.5, np.nan], "s": ["a", None],
                          "c": pd.Categorical(["x", "y"]), "b": [True, False]},
                         index=["r1", "r2"])
    pd.testing.assert_frame_equal(codec.decode(codec.loads(codec.encode(frame, id))), frame)
    series = pd.Series([1.0, 2.0], name="v")
    pd.testing.assert_series_equal(codec.decode(codec.loads(codec.encode(series, id))), series)


@pytest.mark.parametrize("text", [
    '{"plain": "object"}', '{"$unknown": 1}', '{"$ndarray": {"dtype": "V8", "shape": [1], '
    '"data": [1]}}', '{"$ndarray": {"dtype": "int64", "shape": [3], "data": [1]}}',
    '{"$float": "1e999"}', "NaN", '{"$dict": [[1]]}', "[" * 100 + "]" * 100,
])
def test_codec_rejects_anything_else(text):
    with pytest.raises(codec.DecodeError):
        codec.decode(codec.loads(text))
