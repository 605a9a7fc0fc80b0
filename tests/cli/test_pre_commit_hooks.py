"""The pre-commit hooks of .pre-commit-hooks.yaml: a valid manifest, and `pre-commit try-repo` runs them.

Both need pre-commit (``pip install pre-commit``) and are skipped without it. The try-repo test installs
corrigo from this checkout into a fresh pre-commit environment, with its dependencies from PyPI (about
4 minutes), so it is marked slow and runs only when asked for:
``CORRIGO_TRY_REPO=1 pytest -m slow tests/cli/test_pre_commit_hooks.py``.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from corrigo_cli import run

from tests.worlds import FINE

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / ".pre-commit-hooks.yaml"


def read_manifest() -> dict[str, dict[str, Any]]:
    """The hooks by id, read without pre-commit: the manifest keeps to ``key: value`` lines, ``args`` a JSON list."""
    hooks: dict[str, dict[str, Any]] = {}
    hook: dict[str, Any] = {}
    for line in MANIFEST.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        key, _, value = line.lstrip("- ").partition(": ")
        if line.startswith("- "):
            hook = hooks.setdefault(value, {})
        hook[key] = json.loads(value) if key == "args" else value
    return hooks


def hook_command(hook: dict[str, Any], files: list[str]) -> list[str]:
    """The command line pre-commit runs: ``entry``, then the hook's ``args``, then the staged files
    (``pre_commit.lang_base.hook_cmd`` and ``run_xargs``)."""
    return [*shlex.split(hook["entry"]), *hook.get("args", ()), *files]


def test_the_manifest_is_valid_and_names_our_commands() -> None:
    clientlib = pytest.importorskip("pre_commit.clientlib")
    hooks = {hook["id"]: hook for hook in clientlib.load_manifest(str(MANIFEST))}
    assert set(hooks) == {"corrigo-verify", "corrigo-lint"}
    for name, hook in hooks.items():
        assert (hook["language"], hook["files"], hook["entry"]) == ("python", r"\.corrigo$", name.replace("-", " "))
        assert {key: hook[key] for key in read_manifest()[name]} == read_manifest()[name]


def test_pre_commit_puts_the_args_between_entry_and_files() -> None:
    lang_base = pytest.importorskip("pre_commit.lang_base")
    hook = read_manifest()["corrigo-verify"]
    assert [*lang_base.hook_cmd(hook["entry"], hook["args"]), "a.corrigo"] == hook_command(hook, ["a.corrigo"])


@pytest.mark.parametrize("hook_id", ["corrigo-verify", "corrigo-lint"])
def test_staged_files_named_like_options_are_read_as_specs(hook_id: str, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    files = ["-o.corrigo", "--format=junit.corrigo"]  # pre-commit passes paths relative to the repository root
    for name in files:
        Path(name).write_text(FINE)
    command = hook_command(read_manifest()[hook_id], files)
    assert command[:4] == ["corrigo", hook_id.split("-")[1], "--quiet", "--"]
    assert run(*command[1:]) == (0, "", "")  # quiet: nothing to say when every check holds
    code, out, err = run(*(word for word in command[1:] if word != "--quiet"))
    assert code == 0, err
    if hook_id == "corrigo-verify":
        assert [line for line in out.splitlines() if line.endswith("model 'fine'")] == [
            "-o.corrigo: model 'fine'", "--format=junit.corrigo: model 'fine'"]
    else:
        assert out == "2 spec(s) checked, no errors\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(files)  # no report written to '.corrigo'
    # without the `--` the first file is the option -o with the value '.corrigo' (the reason for it)
    assert run(hook_id.split("-")[1], *files)[0] == 2


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("CORRIGO_TRY_REPO"),
                    reason="installs corrigo from PyPI into a pre-commit environment (~4 min): set CORRIGO_TRY_REPO=1")
def test_try_repo_passes_a_good_spec_and_fails_a_bad_one(tmp_path: Path) -> None:
    pytest.importorskip("pre_commit")
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    if subprocess.run(["git", "-C", str(ROOT), "ls-files", "--error-unmatch", MANIFEST.name],
                      capture_output=True).returncode != 0:
        pytest.skip("commit .pre-commit-hooks.yaml first: try-repo sees tracked files only")
    user = tmp_path / "user"
    user.mkdir()
    shutil.copy(ROOT / "examples" / "household_robot_repaired.corrigo", user / "good.corrigo")
    shutil.copy(ROOT / "examples" / "household_robot.corrigo", user / "bad.corrigo")
    subprocess.run(["git", "init", "-q"], cwd=user, check=True)
    subprocess.run(["git", "add", "."], cwd=user, check=True)
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "cache")}

    def try_repo(*args: str, cwd: Path = user) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "pre_commit", "try-repo", str(ROOT), "corrigo-verify", *args],
                              cwd=cwd, env=env, capture_output=True, text=True, timeout=900)

    result = try_repo("--files", "good.corrigo", "bad.corrigo")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "corrigo verify" in result.stdout and "Failed" in result.stdout
    assert "good.corrigo: model 'household_robot_repaired'" in result.stdout
    assert "corrigible fails (bad.corrigo:" in result.stdout  # the hook ran on both files in one call

    dashed = tmp_path / "dashed"  # staged files named like options are still specs (the hooks' `--`)
    dashed.mkdir()
    for name in ("-o.corrigo", "--format=junit.corrigo"):
        shutil.copy(ROOT / "examples" / "household_robot_repaired.corrigo", dashed / name)
    subprocess.run(["git", "init", "-q"], cwd=dashed, check=True)
    subprocess.run(["git", "add", "--", "."], cwd=dashed, check=True)
    result = try_repo("--all-files", cwd=dashed)
    assert result.returncode == 0 and "Passed" in result.stdout, result.stdout + result.stderr
    assert sorted(p.name for p in dashed.iterdir()) == ["--format=junit.corrigo", "-o.corrigo", ".git"]
