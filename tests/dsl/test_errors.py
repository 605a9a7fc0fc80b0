"""Sources and located errors: one line numbering for the lexer, the messages and the excerpts."""

from __future__ import annotations

from pathlib import Path

import pytest

import dsl
from dsl.errors import Source, Span, SpecError

LF_SPEC = ("model m\ndiscount 0.9\nvar x : bool\naction a: x' = true\ncost c = 1\n# the safety check\n"
           "check never_x : never x\n")


@pytest.mark.parametrize("line_break", ["\r\n", "\r", "\x85", "\u2028", "\u2029"])
def test_every_line_break_ends_a_comment(line_break: str) -> None:
    spec = dsl.load(LF_SPEC.replace("\n", line_break))
    assert [(c.name, c.span.line if c.span else None) for c in spec.checks] == [("never_x", 7)]
    assert spec.source.text == LF_SPEC


def test_line_breaks_inside_one_line_are_normalised_once() -> None:
    assert Source("s", "a\r\nb\rc\x85d\u2028e\u2029f").text == "a\nb\nc\nd\ne\nf"


def test_lines_are_split_as_the_lexer_counts_them() -> None:
    source = Source("s", "var x : bool\f var y : boo\vz\x1c\x1d\x1e\naction a: skip\n")
    assert source.lines == ("var x : bool\f var y : boo\vz\x1c\x1d\x1e", "action a: skip", "")
    assert [source.line(n) for n in (1, 2, 3)] == ["var x : bool\f var y : boo\vz\x1c\x1d\x1e",
                                                    "action a: skip", ""]
    assert source.line(0) == source.line(4) == ""


def test_an_error_after_cr_line_breaks_shows_its_own_line() -> None:
    with pytest.raises(SpecError) as caught:
        dsl.load("model m\rdiscount 0.9\rvar x : bool\raction a: y' = true\r")
    assert caught.value.render() == (
        "<string>:4:11: error: unknown variable 'y'\n"
        "   |\n"
        " 4 | action a: y' = true\n"
        "   |           ^")


def test_text_at_joins_the_lines_of_a_span() -> None:
    source = Source("s", "check k : never\n   x &&\n   y\n")
    assert source.text_at(Span("s", 1, 11, 3, 5)) == "never x && y"
    assert source.text_at(Span("s", 2, 4, 2, 5)) == "x"


def test_text_at_drops_comments_and_collapses_blanks() -> None:
    source = Source("s", "check k : never # `</testcase>` <img src=x> \x1b[31mRED\n   x  &&\t\f(y # and y\n) # done\n")
    assert source.text_at(Span("s", 1, 11, 3, 2)) == "never x && (y )"


def test_a_check_keeps_the_text_of_its_tokens_only() -> None:
    spec = dsl.load("model m\ndiscount 0.9\nvar x : bool\naction a: skip\ncheck k : never # ![t](https://e.invalid)\n"
                    "   x   # `code`\n\n")
    assert [check.text for check in spec.checks] == ["never x"]


def test_a_file_is_read_as_utf8_without_its_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "bom.corrigo"
    path.write_bytes(b"\xef\xbb\xbf" + LF_SPEC.encode())
    assert dsl.load(path).source.text == LF_SPEC


def test_a_bad_utf8_byte_is_located_on_the_lexer_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.corrigo"
    path.write_bytes(b"model m\rdiscount 0.9\r# caf\xe9\r")
    with pytest.raises(SpecError) as caught:
        dsl.load(path)
    assert caught.value.diagnostics[0].span == Span(str(path), 3, 6, 3, 7)


@pytest.mark.parametrize("text", ["model m " + "x" * 5000, "model m\x00 discount 1"])
def test_spec_text_that_cannot_name_a_file_is_read_as_text(text: str) -> None:
    with pytest.raises(SpecError) as caught:
        dsl.load(text)
    assert caught.value.diagnostics[0].span is not None
    assert caught.value.diagnostics[0].span.path == "<string>"


def test_a_file_name_with_a_nul_is_an_error() -> None:
    with pytest.raises(SpecError, match="a file name cannot contain a NUL character"):
        dsl.load("x\x00.corrigo")


def test_control_characters_in_an_excerpt_are_drawn_as_pictures() -> None:
    with pytest.raises(SpecError) as caught:
        dsl.load("model m\ndiscount 0.9 x # \x1b[31m red \x00 \x7f \x9b\naction a: skip\n")
    assert caught.value.render().splitlines()[2] == " 2 | discount 0.9 x # \u241b[31m red \u2400 \u2421 \ufffd"
