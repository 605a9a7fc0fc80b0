"""Unusual spec text through the whole pipeline (`corrigo verify`): nothing dropped, nothing crashes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from corrigo_cli import run

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
