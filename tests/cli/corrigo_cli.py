"""Helpers for CLI tests: run `corrigo` in-process and write a spec to a temporary file."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from verifier.cli import main


def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of ``corrigo ARGS...`` (reading ``stdin``, if given)."""
    result = CliRunner().invoke(main, list(args), input=stdin)
    return result.exit_code, result.stdout, result.stderr


def write(tmp_path: Path, text: str) -> str:
    """Write ``text`` to ``tmp_path/spec.corrigo`` and return its path."""
    path = tmp_path / "spec.corrigo"
    path.write_text(text)
    return str(path)
