"""io.py: atomic files and folders keep the usual permissions, and a folder of the user's own files is
never replaced by an output."""
import os
import stat

import pytest

from bertkit.errors import OptionError
from bertkit.io import atomic_dir, atomic_write_text


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_written_files_and_folders_get_the_usual_permissions(tmp_path, umask_022):
    atomic_write_text(tmp_path / "a.txt", "x")
    assert _mode(tmp_path / "a.txt") == 0o644  # as open() would make it, not mkstemp's 0600
    with atomic_dir(tmp_path / "out") as tmp:
        atomic_write_text(tmp / "config.json", "{}")
    assert _mode(tmp_path / "out") == 0o755  # not mkdtemp's 0700
    assert _mode(tmp_path / "out" / "config.json") == 0o644


def test_an_old_output_is_replaced_but_a_users_folder_is_refused(tmp_path, monkeypatch):
    out = tmp_path / "out"
    for round_ in range(2):  # writing the same output twice replaces it
        with atomic_dir(out) as tmp:
            atomic_write_text(tmp / "config.json", str(round_))
            atomic_write_text(tmp / "metrics.jsonl", "{}")
    assert (out / "config.json").read_text() == "1"
    (out / "notes.md").write_text("precious")
    with pytest.raises(OptionError, match=r"out: the folder exists and holds files that are not bertkit output "
                                          r"\(notes\.md\)"):
        with atomic_dir(out) as tmp:
            atomic_write_text(tmp / "config.json", "2")
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "metrics.jsonl", "notes.md"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temporary folder left beside it
    monkeypatch.chdir(out)  # "." is the folder itself, refused before anything is made
    with pytest.raises(OptionError, match="not bertkit output"):
        with atomic_dir("."):
            pass
