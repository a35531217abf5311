"""fileio: writes never clobber an old file, and a failed write is one line, not a traceback."""

from __future__ import annotations

import pytest

from mlcicd_course.errors import UserInputError
from mlcicd_course.fileio import refuse_folder_outputs, write_json, write_text_atomic


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
    refuse_folder_outputs(("--out", tmp_path / "new.csv"), ("--json", None))
    with pytest.raises(UserInputError, match="^--json is a folder, give a file path: "):
        refuse_folder_outputs(("--out", tmp_path / "new.csv"), ("--json", tmp_path))
