"""`import "world.corrigo"`: a world shared between specs, its declarations as if written in place."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

import dsl
from dsl.errors import SpecError
from verifier import Verdict, verify

WORLD = """model world
"A corridor."
discount 0.9
const LEN = 3
var x : 0..LEN = 0
action right when x < LEN: x' = x + 1
action stay: skip
cost walk = [right]
cost far = LEN - x
check about_world : never x > LEN
"""


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # messages carry paths as given: keep them relative
    Path("world.corrigo").write_text(WORLD)
    return tmp_path


def write(name: str, text: str) -> Path:
    Path(name).parent.mkdir(parents=True, exist_ok=True)
    Path(name).write_text(text)
    return Path(name)


def render(path: Path) -> str:
    with pytest.raises(SpecError) as caught:
        dsl.load(path)
    return caught.value.render()


def test_an_import_brings_the_world_but_not_its_checks_and_own_discount_wins(folder: Path) -> None:
    """With the importer's discount 1/2 (not the world's 0.9), by hand: staying at 0 costs 3 / (1 - 1/2) = 6;
    walking to the end costs (1 + 3) + 1/2 (1 + 2) + 1/4 (1 + 1) = 6, then nothing: V(0) = 6 (at 0.9 it
    would be 4 + 0.9 * 3 + 0.81 * 2 = 8.32)."""
    spec = dsl.load(write("agent.corrigo", 'model deployment\nimport "world.corrigo"\ndiscount 1/2\n'
                                           "check short : cost <= 4\n"))
    assert spec.name == "deployment" and spec.discount == Fraction(1, 2)
    assert [c.name for c in spec.checks] == ["short"]
    assert [a.name for a in spec.actions] == ["right", "stay"] and [t.name for t in spec.costs] == ["walk", "far"]
    result = verify(spec)
    assert result.value == 6
    assert result.check("short").verdict is Verdict.FAILS


def test_a_file_is_read_once_and_paths_are_relative_to_the_importing_file(folder: Path) -> None:
    write("parts/actions.corrigo", 'model parts\nimport "../world.corrigo"\naction jump when x == 0: x\' = 2\n')
    spec = dsl.load(write("agent.corrigo", 'model deployment\nimport "world.corrigo"\nimport "parts/actions.corrigo"\n'))
    assert [a.name for a in spec.actions] == ["right", "stay", "jump"]


def test_errors_point_into_the_file_they_are_in(folder: Path) -> None:
    write("dup.corrigo", 'model dup\nimport "world.corrigo"\nvar x : bool = false\n')
    assert render(Path("dup.corrigo")) == (
        "dup.corrigo:3:5: error: 'x' is already declared at world.corrigo:5:1\n   |\n 3 | var x : bool = false\n"
        "   |     ^\n   = hint: give each declaration its own name")
    write("bad.corrigo", "model bad\ndiscount 0.9\nvar x : 0..3 = 0\naction go: x' = y\n")
    write("uses_bad.corrigo", 'model m\nimport "bad.corrigo"\n')
    assert render(Path("uses_bad.corrigo")) == (
        "bad.corrigo:4:17: error: unknown name 'y'\n   |\n 4 | action go: x' = y\n   |                 ^")


def test_a_missing_file_and_a_cycle_are_errors_at_the_import(folder: Path) -> None:
    write("miss.corrigo", 'model m\nimport "nope.corrigo"\n')
    assert render(Path("miss.corrigo")) == (
        "miss.corrigo:2:8: error: cannot import 'nope.corrigo': no such file 'nope.corrigo'\n   |\n"
        ' 2 | import "nope.corrigo"\n   |        ^^^^^^^^^^^^^^\n'
        "   = hint: the path is relative to the importing file's folder")
    write("a.corrigo", 'model a\nimport "b.corrigo"\n')
    write("b.corrigo", 'model b\nimport "a.corrigo"\naction go: skip\n')
    assert render(Path("a.corrigo")) == (
        "b.corrigo:2:8: error: import cycle: a.corrigo -> b.corrigo -> a.corrigo\n   |\n"
        ' 2 | import "a.corrigo"\n   |        ^^^^^^^^^^^\n'
        "   = hint: move what both files need into a third and import it from both")
