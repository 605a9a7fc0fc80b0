"""The pre-commit hooks of .pre-commit-hooks.yaml: a valid manifest, and `pre-commit try-repo` runs them.

Both need pre-commit (``pip install pre-commit``) and are skipped without it. The try-repo test installs
corrigo from this checkout into a fresh pre-commit environment, with its dependencies from PyPI (about
4 minutes), so it is marked slow and runs only when asked for:
``CORRIGO_TRY_REPO=1 pytest -m slow tests/cli/test_pre_commit_hooks.py``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / ".pre-commit-hooks.yaml"


def test_the_manifest_is_valid_and_names_our_commands() -> None:
    clientlib = pytest.importorskip("pre_commit.clientlib")
    hooks = {hook["id"]: hook for hook in clientlib.load_manifest(str(MANIFEST))}
    assert set(hooks) == {"corrigo-verify", "corrigo-lint"}
    for name, hook in hooks.items():
        assert (hook["language"], hook["files"], hook["entry"]) == ("python", r"\.corrigo$", name.replace("-", " "))


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

    def try_repo(*files: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "pre_commit", "try-repo", str(ROOT), "corrigo-verify",
                               "--files", *files], cwd=user, env=env, capture_output=True, text=True, timeout=900)

    result = try_repo("good.corrigo", "bad.corrigo")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "corrigo verify" in result.stdout and "Failed" in result.stdout
    assert "good.corrigo: model 'household_robot_repaired'" in result.stdout
    assert "corrigible fails (bad.corrigo:" in result.stdout  # the hook ran on both files in one call
