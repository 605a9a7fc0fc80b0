"""Specs whose comments carry Markdown, HTML and terminal escapes, through `corrigo verify` into report files.

The two specs are the reliability cases report_injection_via_comment.corrigo and
junit_control_char_error.corrigo (plus a NUL). The first keeps its comment inside the check's property
only as long as the parser copies comments into ``check.text``; the reports must be safe either way.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from corrigo_cli import run
from markdown_it import MarkdownIt

INJECTION = ("model inj\ndiscount 0.9\nvar x : bool\naction a: x' = true\ncost c = 1\n"
             "check k : never # `</testcase>` <img src=x onerror=alert(1)> ![t](https://example.invalid/p.png) "
             "\x1b[31mRED\x1b[0m\n   x\n")
CONTROL = "model m\ndiscount 0.9\nvar x : bool\naction a: skip\ncost c = y # \x1b[2J \x00 nul\n"


@pytest.fixture
def injection(tmp_path: Path) -> str:
    path = tmp_path / "inj.corrigo"
    path.write_text(INJECTION, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("output_format", ["text", "json", "markdown", "sarif", "junit"])
def test_no_control_character_reaches_a_report_file(output_format: str, injection: str, tmp_path: Path) -> None:
    target = tmp_path / f"report.{output_format}"
    code, _, _ = run("verify", "--format", output_format, "-o", str(target), injection)
    assert code == 1  # k fails: x becomes true
    text = target.read_text(encoding="utf-8")
    assert all(character.isprintable() or character == "\n" for character in text)


def test_the_markdown_report_has_no_html_image_or_link(injection: str, tmp_path: Path) -> None:
    target = tmp_path / "report.md"
    run("verify", "--format", "markdown", "-o", str(target), injection)
    markdown = MarkdownIt("commonmark").enable("table")
    text = target.read_text(encoding="utf-8")
    tokens = [child for token in markdown.parse(text) if token.type == "inline" for child in token.children or ()]
    assert {token.type for token in tokens} <= {"text", "code_inline", "strong_open", "strong_close"}
    assert "<img" not in markdown.render(text)


def test_the_junit_report_of_the_injection_is_well_formed(injection: str, tmp_path: Path) -> None:
    target = tmp_path / "report.xml"
    run("verify", "--format", "junit", "-o", str(target), injection)
    [case] = ET.parse(target).getroot().iter("testcase")
    assert case.get("name") == "k" and case.find("failure") is not None


def test_a_spec_error_on_a_line_with_control_characters(tmp_path: Path) -> None:
    spec = tmp_path / "control.corrigo"
    spec.write_text(CONTROL, encoding="utf-8")
    target = tmp_path / "out.xml"
    code, out, err = run("verify", "--format", "junit", "-o", str(target), str(spec))
    assert (code, out) == (2, "")
    # excerpts draw control characters as their Unicode pictures, one column each (the caret stays put)
    excerpt = [f"{spec}:5:10: error: unknown name 'y'", "   |", " 5 | cost c = y # \u241b[2J \u2400 nul",
               "   |          ^"]
    assert err.splitlines() == excerpt  # the terminal is not cleared, the CI log shows what is there
    error = ET.parse(target).getroot().find("testsuite/testcase/error")
    assert error is not None and error.text == "\n".join(excerpt) + "\n"
    code, _, err = run("lint", str(spec))
    assert code == 2 and err.splitlines()[:4] == excerpt
