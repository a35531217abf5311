"""fileio: one-line errors for every unreadable input and unwritable output; outputs are
written all or nothing, with the permissions a plain write would give."""

from __future__ import annotations

import os
import re
import stat
import threading

import pytest

from mlcicd_course.errors import UserInputError
from mlcicd_course.fileio import (
    check_outputs,
    read_bytes,
    read_csv,
    read_json,
    read_text,
    read_yaml,
    write_json,
    write_outputs,
    write_text_atomic,
)

SENTINEL = "previous content\n"


def test_atomic_write_replaces_the_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "out" / "report.md"
    write_text_atomic(target, "first\n")
    write_text_atomic(target, "second\n")
    assert target.read_text() == "second\n"
    assert [p.name for p in target.parent.iterdir()] == ["report.md"]


def test_json_is_key_sorted_so_the_same_data_gives_the_same_bytes(tmp_path):
    write_json(tmp_path / "a.json", {"b": 1, "a": [1, 2]})
    write_json(tmp_path / "b.json", {"a": [1, 2], "b": 1})
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()


def test_a_write_that_fails_at_the_rename_is_one_line_and_leaves_nothing_behind(tmp_path):
    folder = tmp_path / "report.json"
    (folder / "inside").mkdir(parents=True)
    with pytest.raises(UserInputError, match=r"^cannot write .*report\.json: "):
        write_text_atomic(folder, "{}\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]
    assert [p.name for p in folder.iterdir()] == ["inside"]


def test_folder_outputs_are_refused_by_option_name(tmp_path):
    check_outputs(("--out", tmp_path / "new.csv"), ("--json", None))
    with pytest.raises(UserInputError, match="^--json is a folder, give a file path: "):
        check_outputs(("--out", tmp_path / "new.csv"), ("--json", tmp_path))


# ------------------------------------------------------------------------------ inputs


def test_unreadable_inputs_are_one_line_errors_naming_what_and_where(tmp_path,
                                                                      make_unreadable):
    for name, reader in (("a.json", read_json), ("a.yaml", read_yaml), ("a.txt", read_text),
                         ("a.csv", read_csv), ("a.bin", read_bytes)):
        path = tmp_path / name
        path.write_text("a: 1\n")
        make_unreadable(path)
        with pytest.raises(UserInputError,
                           match=rf"^cannot read thing file .*{name}: Permission denied$"):
            reader(path, what="thing")


def test_missing_folder_and_undecodable_inputs(tmp_path):
    with pytest.raises(UserInputError, match="^schema file not found: "):
        read_yaml(tmp_path / "nope.yaml", what="schema")
    with pytest.raises(UserInputError, match="^config path is a folder, expected a file: "):
        read_yaml(tmp_path, what="config")
    latin1 = tmp_path / "latin1.json"
    latin1.write_bytes(b'{"a": "caf\xe9"}')
    with pytest.raises(UserInputError, match="^metrics file is not UTF-8 text: .*at byte 10$"):
        read_json(latin1, what="metrics")


# ----------------------------------------------------------------------------- outputs


def test_outputs_are_checked_before_any_work(tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("a\n1\n")
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    inputs = [("DATA.csv", data)]
    check_outputs(("--out", tmp_path / "new" / "deeper" / "out.json"), ("--md", None),
                  inputs=inputs)
    cases = {
        "Not a directory": ("--out", a_file / "out.json"),
        "Not a directory (": ("--out", a_file / "x" / "y" / "out.json"),
        "is the same file as the input DATA.csv": ("--out", data),
        "is a folder": ("--out", tmp_path),
    }
    for message, output in cases.items():
        with pytest.raises(UserInputError, match=re.escape(message)):
            check_outputs(output, inputs=inputs)
    with pytest.raises(UserInputError, match="^--md and --out are the same file: "):
        check_outputs(("--out", tmp_path / "r.md"), ("--md", tmp_path / "r.md"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file", "data.csv"]


def test_an_output_is_the_input_however_it_is_spelled(tmp_path, monkeypatch):
    data = tmp_path / "data.csv"
    data.write_text("a\n1\n")
    monkeypatch.chdir(tmp_path)
    spellings = ["data.csv", "./data.csv", f"../{tmp_path.name}/data.csv"]
    link = tmp_path / "link.csv"
    try:
        link.symlink_to(data)
        spellings.append("link.csv")
    except OSError:  # Windows without the symlink privilege
        pass
    for spelling in spellings:
        with pytest.raises(UserInputError, match="same file as the input"):
            check_outputs(("--out", spelling), inputs=[("DATA.csv", data)])


def test_a_folder_without_write_access_is_refused(unwritable_folder):
    with pytest.raises(UserInputError, match=r"^cannot write --out .*: Permission denied$"):
        check_outputs(("--out", unwritable_folder / "sub" / "out.json"))


def test_outputs_are_written_all_or_nothing(tmp_path):
    old = tmp_path / "report.json"
    old.write_text(SENTINEL)
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    with pytest.raises(UserInputError,
                       match=r"^cannot write .*out\.md: Not a directory \(.*a_file is a file\)$"):
        write_outputs({old: "new\n", tmp_path / "new.md": "new\n", a_file / "out.md": "x"})
    assert old.read_text() == SENTINEL
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file", "report.json"]
    written = write_outputs({old: "new\n", tmp_path / "model.bin": b"\x00\x01"})
    assert written == [old, tmp_path / "model.bin"]
    assert old.read_text() == "new\n" and (tmp_path / "model.bin").read_bytes() == b"\x00\x01"


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_new_files_get_the_mode_a_plain_write_would_give(tmp_path, umask, mode):
    old_umask = os.umask(umask)
    try:
        write_outputs({tmp_path / "a.csv": "a\n", tmp_path / "m.bin": b"\x00"})
        with open(tmp_path / "plain.csv", "w") as handle:
            handle.write("a\n")
    finally:
        os.umask(old_umask)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
    assert modes == {"a.csv": mode, "m.bin": mode, "plain.csv": mode}


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_rewriting_a_file_keeps_its_mode(tmp_path):
    path = tmp_path / "grades.csv"
    path.write_text("old\n")
    path.chmod(0o640)
    write_text_atomic(path, "new\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o640 and path.read_text() == "new\n"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX named pipes")
def test_a_pipe_or_device_is_written_in_place_not_replaced(tmp_path):
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(pipe.read_bytes()), daemon=True)
    reader.start()
    check_outputs(("--markdown", pipe))
    write_outputs({tmp_path / "a.json": "{}\n", pipe: "# report\n"})
    reader.join(timeout=10)
    assert received == [b"# report\n"]
    assert stat.S_ISFIFO(pipe.stat().st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "pipe"]
