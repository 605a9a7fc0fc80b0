"""Errors found while building or solving a model, located in the spec and rendered exactly.

tests/golden/model_errors/NAME.corrigo -> NAME.err, through ``verify`` (compile, solve, checks) and
through ``corrigo verify`` and ``corrigo solve`` (exit 2, the same text on stderr, no traceback).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from dsl.errors import SpecError
from verifier import verify
from verifier.cli import main

ERRORS = Path(__file__).resolve().parent.parent / "golden" / "model_errors"
CASES = sorted(ERRORS.glob("*.corrigo"))


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_model_error_message(path: Path, golden, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ERRORS)  # messages carry the path as given: keep it relative
    with pytest.raises(SpecError) as caught:
        verify(Path(path.name))
    assert all(d.span is not None for d in caught.value.diagnostics), "every model error is located"
    golden(path.with_suffix(".err"), caught.value.render() + "\n")


@pytest.mark.parametrize("command", ["verify", "solve"])
@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_cli_prints_the_located_error_without_a_traceback(path: Path, command: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ERRORS)
    result = CliRunner().invoke(main, [command, path.name])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == path.with_suffix(".err").read_text(encoding="utf-8")
    assert "Traceback" not in result.output


def test_every_model_error_case_has_its_golden_file() -> None:
    assert {p.stem for p in CASES} == {p.stem for p in ERRORS.glob("*.err")}
