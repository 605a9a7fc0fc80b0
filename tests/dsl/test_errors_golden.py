"""Every kind of bad spec gets its exact located message: tests/golden/errors/NAME.corrigo -> NAME.err."""

from __future__ import annotations

from pathlib import Path

import pytest

import dsl
from dsl.errors import SpecError

ERRORS = Path(__file__).resolve().parent.parent / "golden" / "errors"
CASES = sorted(ERRORS.glob("*.corrigo"))


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_error_message(path: Path, golden, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ERRORS)  # messages carry the path as given: keep it relative
    with pytest.raises(SpecError) as caught:
        dsl.load(Path(path.name))
    golden(path.with_suffix(".err"), caught.value.render() + "\n")


def test_every_error_case_has_its_golden_file() -> None:
    assert {p.stem for p in CASES} == {p.stem for p in ERRORS.glob("*.err")}
