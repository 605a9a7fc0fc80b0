"""Unusual spec text through the whole pipeline (`corrigo verify`): nothing dropped, nothing crashes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from corrigo_cli import run

from dsl.limits import MAX_NESTING

LF_SPEC = ("model m\ndiscount 0.9\nvar x : bool\naction a: x' = true\ncost c = 1\n# the safety check\n"
           "check never_x : never x\n")


def verdicts(path: Path) -> tuple[int, list[tuple[str, str, int]]]:
    code, out, err = run("verify", "--format", "json", str(path))
    assert err == ""
    return code, [(c["name"], c["verdict"], c["location"]["line"]) for c in json.loads(out)["checks"]]


@pytest.mark.parametrize("line_break", ["\n", "\r\n", "\r", "\x85", "\u2028", "\u2029"],
                         ids=["LF", "CRLF", "CR", "NEL", "LS", "PS"])
def test_a_check_after_a_comment_is_verified_whatever_the_line_breaks(line_break: str, tmp_path: Path) -> None:
    path = tmp_path / "spec.corrigo"
    path.write_bytes(LF_SPEC.replace("\n", line_break).encode())
    assert verdicts(path) == (1, [("never_x", "fails", 7)])


def test_a_comment_inside_a_check_does_not_reach_the_report(tmp_path: Path) -> None:
    path = tmp_path / "spec.corrigo"
    path.write_text("model inj\ndiscount 0.9\nvar x : bool\naction a: x' = true\ncost c = 1\n"
                    "check k : never # `</testcase>` <img src=x onerror=alert(1)> \x1b[31mRED\x1b[0m\n   x\n")
    code, out, err = run("verify", "--format", "json", str(path))
    assert (code, err) == (1, "")
    assert [(c["name"], c["property"]) for c in json.loads(out)["checks"]] == [("k", "never x")]


def at_the_nesting_limit(extra: int = 0) -> str:
    """A spec whose guard, update, terms, label and checks nest exactly ``MAX_NESTING`` deep (``+ extra``)."""
    n = MAX_NESTING + extra
    return "\n".join([
        "model deep", "discount 0.9", "var x : 0..3", "var b : bool",
        "formula part = " + " + ".join(["x"] * (n - 50)),
        "action step when " + "!" * (n - 2) + "(x > 3): x' = min(x + 1, " + "max(" * (n - 2) + "3" + ", 0)" * (n - 2)
        + "), b' = !b",
        "action stay: skip",
        "cost effort = " + " + ".join(["x"] * n),
        "cost through_formula = 1.0 * (part" + " + 1" * 49 + ")",
        "label busy = " + "x > 0 ? " * (n - 2) + "b" + " : false" * (n - 2),
        "check k : never " + " || ".join(["x == 9"] * (n - 1)),
        "check p : P >= 0 [ F " + "!" * (n - 2) + "(x > 3) ]",
        "",
    ])


def test_a_spec_at_the_nesting_limit_goes_through_every_stage(tmp_path: Path) -> None:
    path = tmp_path / "deep.corrigo"
    path.write_text(at_the_nesting_limit())
    assert verdicts(path) == (0, [("k", "holds", 11), ("p", "holds", 12)])
    for to in ("prism", "json", "dot"):
        code, _, err = run("export", str(path), "--to", to, "-o", str(tmp_path / f"deep.{to}"))
        assert (code, err) == (0, ""), to
        assert (tmp_path / f"deep.{to}").stat().st_size > 0


def test_one_level_past_the_limit_is_a_located_error(tmp_path: Path) -> None:
    path = tmp_path / "deeper.corrigo"
    path.write_text(at_the_nesting_limit(extra=1))
    code, _, err = run("verify", str(path))
    assert code == 2
    assert [line for line in err.splitlines() if ": error: " in line] == [
        f"{path}:{line}:{column}: error: expression nested too deeply: more than {MAX_NESTING} levels"
        for line, column in ((6, 18), (6, 231), (8, 15), (10, 14), (11, 17), (12, 22))]


@pytest.mark.parametrize(("define", "message"), [
    ("N=1e99999999", "-D N=1e99999999: the value is too large for corrigo's 64-bit arithmetic"),
    ("w=1e-99999999", "-D w=1e-99999999: the value is not 0 but rounds to 0 in corrigo's 64-bit arithmetic"),
    ("w=true", "-D w=true: param 'w' is a number"),
])
def test_a_bad_override_is_an_instant_error_naming_it(define: str, message: str, tmp_path: Path) -> None:
    path = tmp_path / "ov.corrigo"
    path.write_text("model ov\ndiscount 0.9\nconst N = 3\nparam w = 1 in [0, 5]\nvar x : 0..N\n"
                    "action step: x' = min(x + 1, N)\ncost c = w * (x == N)\n")
    code, _, err = run("lint", "-D", define, str(path))
    line = 3 if define.startswith("N") else 4
    assert (code, err.splitlines()[0]) == (2, f"{path}:{line}:7: error: {message}")
