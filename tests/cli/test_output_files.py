"""Files the commands write: checked before any work, written through a fresh temporary file, never via a symlink."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from corrigo_cli import run

import dsl

ROOT = Path(__file__).resolve().parents[2]
TINY = str(ROOT / "tests" / "golden" / "export" / "tiny_robot.corrigo")
SWEEP = str(ROOT / "examples" / "prosocial_proxy.corrigo")

# every option that names a file to write, with the rest of its command line
WRITERS = {
    "export -o": ("export", TINY, "--to", "json", "-o"),
    "render -o": ("render", TINY, "-o"),
    "power --plot": ("power", TINY, "--plot"),
    "sweep --plot": ("sweep", SWEEP, "--plot"),
    "verify -o": ("verify", TINY, "-o"),
}
OPTION = {"export -o": "'-o' / '--output'", "render -o": "'-o' / '--output'", "power --plot": "'--plot'",
          "sweep --plot": "'--plot'", "verify -o": "'-o' / '--output'"}


@pytest.fixture
def no_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading a spec fails the test: the path must be refused before the command reads its spec."""
    def load(*args: object, **kwargs: object) -> None:
        raise AssertionError("the spec was loaded before the output path was checked")

    monkeypatch.setattr(dsl, "load", load)


@pytest.mark.parametrize("writer", WRITERS)
def test_a_missing_directory_is_a_usage_error_before_any_work(writer: str, tmp_path: Path, no_work: None,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run(*WRITERS[writer], "missing_dir/out.png")
    assert (code, out) == (2, "")
    assert err.splitlines()[-1] == (f"Error: Invalid value for {OPTION[writer]}: cannot write 'missing_dir/out.png': "
                                    "there is no directory 'missing_dir'; create it first or choose another path")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("writer", ["export -o", "verify -o"])
def test_a_path_whose_directory_is_a_file_is_a_usage_error(writer: str, tmp_path: Path, no_work: None) -> None:
    (tmp_path / "a_file").write_text("keep")
    code, _, err = run(*WRITERS[writer], str(tmp_path / "a_file" / "out.json"))
    assert code == 2
    assert err.splitlines()[-1].endswith(f"there is no directory '{tmp_path / 'a_file'}'; create it first or choose "
                                         "another path")


@pytest.mark.skipif(os.geteuid() == 0 if hasattr(os, "geteuid") else True,
                    reason="root may write anywhere; needs a POSIX user without that privilege")
def test_a_read_only_directory_is_a_usage_error(tmp_path: Path, no_work: None) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    code, _, err = run(*WRITERS["export -o"], str(locked / "m.json"))
    assert code == 2
    assert err.splitlines()[-1].endswith(f"the directory '{locked}' is not writable; choose another path")


@pytest.mark.parametrize("writer", ["power --plot", "sweep --plot"])
def test_a_plot_suffix_matplotlib_cannot_write_is_a_usage_error(writer: str, tmp_path: Path, no_work: None) -> None:
    target = tmp_path / "plot.xyz"
    code, _, err = run(*WRITERS[writer], str(target))
    assert code == 2
    last = err.splitlines()[-1]
    assert last.startswith(f"Error: Invalid value for '--plot': cannot draw '{target}': matplotlib does not write "
                           "'.xyz' files; use one of ")
    assert ".png" in last and ".svg" in last and ".pdf" in last


def test_the_report_is_not_written_through_a_symlink_at_the_old_temporary_name(tmp_path: Path) -> None:
    """Before, ``-o DIR/report.txt`` wrote to ``DIR/.report.txt.partial`` first, following a symlink planted there."""
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    planted = tmp_path / ".report.txt.partial"
    planted.symlink_to(victim)
    target = tmp_path / "report.txt"
    code, out, _ = run("verify", TINY, "-o", str(target))
    assert (code, out) == (1, "")
    assert victim.read_text() == "precious\n"
    assert planted.is_symlink() and os.readlink(planted) == str(victim)
    assert target.read_text(encoding="utf-8") == run("verify", TINY)[1]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".report.txt.partial", "report.txt", "victim.txt"]


def test_a_written_file_gets_the_mode_of_a_new_file(tmp_path: Path) -> None:
    """mkstemp makes its file private (0600); the report is shared like any file the user creates."""
    previous = os.umask(0o027)
    try:
        run("export", TINY, "--to", "dot", "-o", str(tmp_path / "m.dot"))
    finally:
        os.umask(previous)
    assert (tmp_path / "m.dot").stat().st_mode & 0o777 == 0o640


def test_a_failed_write_is_a_usage_error_and_leaves_no_temporary_file(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    def replace(source: str, target: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", replace)
    target = tmp_path / "m.json"
    code, out, err = run("export", TINY, "--to", "json", "-o", str(target))
    assert (code, out) == (2, "")
    assert err.splitlines()[-1] == f"Error: Invalid value for --output: cannot write '{target}': Permission denied"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("to", ["json", "dot", "prism", "drn", "jani"])
def test_export_replaces_an_existing_file(to: str, tmp_path: Path) -> None:
    target = tmp_path / f"m.{to}"
    target.write_text("old")
    code, out, _ = run("export", TINY, "--to", to, "-o", str(target))
    assert code == 0 and out.startswith(f"wrote {target} (4 states)")
    assert target.read_text(encoding="utf-8") != "old"
    expected = {target.name} | ({"m.props"} if to in ("prism", "drn", "jani") else set())
    assert {p.name for p in tmp_path.iterdir()} == expected
