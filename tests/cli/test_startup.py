"""verifier/startup.py: the ``corrigo`` command stops, with a message and exit 3, when ``dsl``, ``mdp`` or
``verifier`` is not corrigo's own, or hides another package of its name.

Each case runs ``python -m verifier`` in a fresh process with this checkout on ``PYTHONPATH`` (as the
console script would run ``verifier.startup:main``): the packages it finds depend on the process's path.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from verifier.startup import PackageConflict, package_conflicts

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "examples" / "household_robot_repaired.corrigo"
VENV = "install corrigo in a virtual environment of its own (python -m venv)"


def corrigo(*args: str, cwd: Path, python_path: list[Path | str] | None = None, flags: tuple[str, ...] = (),
            before: str | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m verifier ARGS``; with ``before``, that Python code runs first, then the console script's
    ``verifier.startup.main``."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    if python_path is not None:
        env["PYTHONPATH"] = os.pathsep.join(map(str, python_path))
    command = ["-m", "verifier"] if before is None else \
        ["-c", f"import os, sys; {before}; from verifier.startup import main; main()"]
    return subprocess.run([sys.executable, *flags, *command, *args], cwd=cwd, env=env,
                          capture_output=True, text=True, check=False, timeout=120)


def package(directory: Path, name: str) -> Path:
    """A regular package ``directory/name`` that is not corrigo's."""
    (directory / name).mkdir(parents=True)
    (directory / name / "__init__.py").write_text("ANSWER = 42\n")
    return (directory / name).resolve()


def distribution(directory: Path, name: str, top_level: str | None = None, record: str | None = None) -> None:
    """The metadata directory pip leaves for an installed distribution ``name``."""
    info = directory / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    if top_level is not None:
        (info / "top_level.txt").write_text(top_level)
    if record is not None:
        (info / "RECORD").write_text(record)


def test_a_clean_start_runs_the_command(tmp_path: Path) -> None:
    done = corrigo("lint", str(SPEC), cwd=tmp_path, python_path=[ROOT])
    assert (done.returncode, done.stdout, done.stderr) == (0, "1 spec(s) checked, no errors\n", "")


def test_a_package_in_the_current_directory_that_shadows_mdp(tmp_path: Path) -> None:
    fake = package(tmp_path, "mdp")
    done = corrigo("lint", str(SPEC), cwd=tmp_path, python_path=[ROOT])
    assert (done.returncode, done.stdout) == (3, "")
    assert done.stderr == (f"corrigo: error: Python imports 'mdp' from {fake}, not corrigo's {ROOT / 'mdp'}\n"
                           "    = hint: the current directory has a package 'mdp': run corrigo from another "
                           "directory\n")


def test_a_directory_in_pythonpath_that_shadows_dsl_and_mdp(tmp_path: Path) -> None:
    shadows = tmp_path / "shadows"
    fakes = [package(shadows, "dsl"), package(shadows, "mdp")]
    (tmp_path / "work").mkdir()
    done = corrigo("verify", str(SPEC), cwd=tmp_path / "work", python_path=[shadows, ROOT])
    assert (done.returncode, done.stdout) == (3, "")
    hint = f"    = hint: {shadows.resolve()} is in PYTHONPATH: take it out, or {VENV}\n"
    assert done.stderr == "".join(f"corrigo: error: Python imports '{name}' from {fake}, not corrigo's {ROOT / name}\n"
                                  + hint for name, fake in zip(("dsl", "mdp"), fakes))


def test_a_removed_current_directory_still_gets_its_message(tmp_path: Path) -> None:
    shadows = tmp_path / "shadows"
    fake = package(shadows, "mdp")
    gone = tmp_path / "gone"
    gone.mkdir()
    done = corrigo("--version", cwd=tmp_path, python_path=[shadows, "relative/entry", ROOT],
                   before=f"os.chdir({str(gone)!r}); os.rmdir({str(gone)!r})")
    assert (done.returncode, done.stdout) == (3, "")
    assert done.stderr == (f"corrigo: error: Python imports 'mdp' from {fake}, not corrigo's {ROOT / 'mdp'}\n"
                           f"    = hint: {shadows.resolve()} is in PYTHONPATH: take it out, or {VENV}\n")


def test_a_distribution_ahead_of_corrigo_is_named_with_the_command_to_remove_it(tmp_path: Path) -> None:
    site = tmp_path / "site"
    fake = package(site, "mdp")
    distribution(site, "mdp_toolkit", top_level="mdp\n")
    # as a site directory (a .pth file, the system's dist-packages) puts it on sys.path, ahead of corrigo's
    done = corrigo("--version", cwd=tmp_path, python_path=[ROOT], before=f"sys.path.insert(0, {str(site)!r})")
    assert (done.returncode, done.stdout) == (3, "")
    assert done.stderr == (f"corrigo: error: Python imports 'mdp' from {fake}, not corrigo's {ROOT / 'mdp'}\n"
                           f"    = hint: it is installed by 'mdp_toolkit': pip uninstall mdp_toolkit, or {VENV}\n")


def test_corrigo_hiding_another_distributions_module_is_an_error_too(tmp_path: Path) -> None:
    # a module mdp.py, from a distribution whose build backend wrote a RECORD but no top_level.txt
    site = tmp_path / "site"
    site.mkdir()
    (site / "mdp.py").write_text("ANSWER = 42\n")
    distribution(site, "flat_mdp", record="flat_mdp-1.0.dist-info/METADATA,,\nmdp.py,sha256=abc,12\n")
    (tmp_path / "work").mkdir()
    done = corrigo("--version", cwd=tmp_path / "work", python_path=[ROOT, site])
    assert (done.returncode, done.stdout) == (3, "")
    assert done.stderr == (f"corrigo: error: corrigo's package 'mdp' ({ROOT / 'mdp'}) hides another package 'mdp' "
                           f"at {(site / 'mdp.py').resolve()} (installed by 'flat_mdp')\n"
                           f"    = hint: {VENV}: programs that import that 'mdp' get corrigo's instead\n")


def test_another_copy_of_corrigo_further_along_the_path_is_no_conflict(tmp_path: Path) -> None:
    # a checkout run beside an installed corrigo: the installed copy is hidden, and that is the point
    site = tmp_path / "site"
    for name in ("dsl", "mdp", "verifier"):
        package(site, name)
    distribution(site, "corrigo", top_level="dsl\nmdp\nverifier\n")
    done = corrigo("--version", cwd=ROOT, python_path=[site])
    assert (done.returncode, done.stdout, done.stderr) == (0, "corrigo, version 0.1.0\n", "")


def test_a_missing_package_is_named(tmp_path: Path) -> None:
    # only verifier/ copied, and no site-packages (-S): neither dsl nor mdp can be found
    shutil.copytree(ROOT / "verifier", tmp_path / "verifier", ignore=shutil.ignore_patterns("__pycache__"))
    done = corrigo("--version", cwd=tmp_path, flags=("-S",))
    assert (done.returncode, done.stdout) == (3, "")
    assert done.stderr == "".join(
        f"corrigo: error: corrigo's package '{name}' is missing: Python finds no module '{name}' (corrigo's other "
        f"packages are in {tmp_path.resolve()})\n"
        f"    = hint: reinstall corrigo (pip install --force-reinstall /path/to/corrigo), or {VENV}\n"
        for name in ("dsl", "mdp"))


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A site-packages directory holding corrigo's three packages, imported from there (in sys.modules)."""
    site = tmp_path / "site-packages"
    for name in ("dsl", "mdp", "verifier"):
        init = package(site, name) / "__init__.py"
        spec = importlib.util.spec_from_file_location(name, init, submodule_search_locations=[str(init.parent)])
        assert spec is not None
        monkeypatch.setitem(sys.modules, name, importlib.util.module_from_spec(spec))
    distribution(site, "corrigo", top_level="dsl\nmdp\nverifier\n")
    monkeypatch.setattr(sys, "path", [str(site)])  # nothing else of those names along the path
    return site


def test_corrigo_installed_alone_has_no_conflict(installed: Path) -> None:
    assert package_conflicts(installed) == ()


def test_two_distributions_installing_mdp_into_one_directory(installed: Path) -> None:
    # pip lets the second one overwrite the first one's files: nothing on sys.path tells them apart
    distribution(installed, "MDP", top_level="mdp\n")
    distribution(installed, "mdp_extras", record="mdp/extras.py,sha256=abc,12\n")
    assert package_conflicts(installed) == (PackageConflict(
        "mdp", f"corrigo and 'MDP', 'mdp_extras' both install a package 'mdp' into {installed}: the last one "
               "installed overwrote the other's files",
        f"{VENV}, or pip uninstall MDP mdp_extras and then reinstall corrigo"),)


def test_a_distribution_named_like_a_package_but_providing_another_is_no_conflict(installed: Path) -> None:
    distribution(installed, "mdptoolbox", top_level="mdptoolbox\n")
    distribution(installed, "dsl_tools", record="dsl_tools/__init__.py,sha256=abc,12\n")
    assert package_conflicts(installed) == ()


def test_the_check_imports_nothing_heavy() -> None:
    # it runs before every command: no numpy, lark, click, importlib.metadata, nor corrigo's own packages
    code = ("import sys; from verifier.startup import package_conflicts; assert package_conflicts() == (); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "{'dsl', 'mdp', 'numpy', 'scipy', 'lark', 'click', 'rich'} or m == 'importlib.metadata'))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                          timeout=120)
    assert done.stdout == "[]\n"


def test_the_entry_points_go_through_the_check() -> None:
    assert (ROOT / "verifier" / "__main__.py").read_text().endswith("from .startup import main\n\nmain()\n")
    assert 'corrigo = "verifier.startup:main"' in (ROOT / "pyproject.toml").read_text()
