"""Every report format with hostile text in every field a spec's author controls.

The text would close a Markdown code span, inject HTML, an image and a link into a pull request
comment, drive a terminal (ESC), make XML unreadable (NUL, ESC) or hide itself (bidi override, line
separator). Each format must show it as text: Markdown through a CommonMark + GFM-tables parser
(markdown-it, which rich brings along) yields no HTML, image, link or emphasis and the exact text in
its code spans; JUnit parses as XML; SARIF is schema-valid with no embedded link; text and HTML carry
no control character; JSON keeps the text exactly.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import jsonschema
import pytest
from markdown_it import MarkdownIt

from dsl.errors import CorrigoError, Diagnostic, Source, Span, SpecError
from verifier import CheckResult, Location, Report, Verdict
from verifier.reports import render_explanation, render_html, render_markdown, render_text, to_json, to_junit, to_sarif
from verifier.reports.escaping import printable
from verifier.results import Attribution, Quantity, Step, TermContribution, Trace

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "tests" / "data" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))

HOSTILE = ("a`b``c </testcase> <img src=x onerror=alert(1)> ![t](https://e.invalid/p.png) [l](https://e.invalid) "
           "*em* _em_ ~~s~~ $m$ @user | \\ &amp; <!-- ]]> \x1b[31mRED\x1b[0m \x00\x07\x08\x0b\x0c\r\x7f\x85 "
           "\u202eevil\u2028\u2029\ufeff\ufffe\udcff\U000e0041\nsecond line")


def hostile(field: str) -> str:
    return f"{field}:{HOSTILE}"


def hostile_path(field: str) -> str:
    """A file name can hold anything but NUL."""
    return hostile(field).replace("\x00", "")


def shown(field: str) -> str:
    """How a one-line format shows ``hostile(field)``: visible escapes, the newline a space."""
    return printable(hostile(field)).replace("\n", " ")


def hostile_check(verdict: Verdict) -> CheckResult:
    trace = Trace(steps=(Step(hostile("state0"), hostile("action0"), 0.5), Step(hostile("state1"))), probability=0.5)
    attribution = Attribution(state=hostile("decisive"), chosen=hostile("chosen"), alternative=hostile("alternative"),
                              gap=1.0, terms=(TermContribution(hostile("term"), 1.0, 0.0),))
    part = CheckResult(name=hostile("part_name"), kind="accepts_shutdown", text=hostile("part"), location=None,
                       verdict=verdict, summary=hostile("part_summary"), trace=Trace(trace.steps[1:], 1.0))
    return CheckResult(name=hostile("name"), kind="never", text=hostile("text"),
                       location=Location(hostile_path("location"), 3, 1, 3, 9), verdict=verdict,
                       summary=hostile("summary"), quantities=(Quantity(hostile("quantity"), 1.0, 0.0),),
                       parts=(part,), trace=trace, attribution=attribution, settle=hostile("settle"))


def hostile_report() -> Report:
    return Report(spec=hostile("spec"), path=hostile_path("path"), n_states=2, n_rows=2, n_transitions=2,
                  n_optimal_states=2, discount=0.5, value=1.0, bound=0.0,
                  checks=(hostile_check(Verdict.FAILS), hostile_check(Verdict.INCONCLUSIVE)))


def hostile_errors() -> list[tuple[str, CorrigoError]]:
    source = Source(hostile_path("source_path"), f"model m\ncost c = y # {HOSTILE}\n")
    diagnostic = Diagnostic(hostile("message"), Span(hostile_path("span_path"), 2, 10, 2, 11), hint=hostile("hint"),
                            notes=(hostile("note"),))
    return [(hostile_path("error_path"), SpecError(diagnostic, source)),
            (hostile_path("limit_path"), CorrigoError(hostile("limit")))]


def only_printable(text: str) -> bool:
    return all(character.isprintable() or character == "\n" for character in text)


# --- Markdown ------------------------------------------------------------------------------------

MARKDOWN = MarkdownIt("commonmark").enable("table").enable("strikethrough")  # GitHub's tables and ~~


def test_markdown_shows_the_authors_text_only_inside_code_spans() -> None:
    text = render_markdown(hostile_report())
    assert only_printable(text)
    tokens = [child for token in MARKDOWN.parse(text) if token.type == "inline" for child in token.children or ()]
    kinds = {token.type for token in tokens}
    assert kinds <= {"text", "code_inline", "strong_open", "strong_close", "softbreak"}, kinds
    code = {token.content for token in tokens if token.type == "code_inline"}
    paths = {printable(hostile_path("path")).replace("\n", " "),
             printable(hostile_path("location")).replace("\n", " ") + ":3:1"}
    assert code == {shown(f) for f in ("spec", "name", "text", "state0", "action0", "state1", "decisive", "chosen",
                                       "alternative", "term")} | paths
    prose = "".join(token.content for token in tokens if token.type == "text")
    for field in ("summary", "part", "part_summary", "settle"):  # generated sentences: escaped, shown as written
        assert shown(field) in prose


def test_markdown_tables_keep_their_shape() -> None:
    html = MARKDOWN.render(render_markdown(hostile_report()))
    rows = html.split("<tr>")[1:]
    # the checks table: a header, 2 checks with a part each; per check a header and a row per step of its trace,
    # of its attribution's terms and of its part's trace
    assert len(rows) == 1 + 2 * 2 + 2 * (3 + 2 + 2)
    assert all(len(re.findall("<t[dh][ >]", row)) == 4 for row in rows)
    assert "<img" not in html and "<a " not in html and "<em>" not in html and "<del>" not in html


@pytest.mark.parametrize(("text", "span"), [
    ("plain", "`plain`"),
    ("a`b", "``a`b``"),
    ("``x", "``` ``x ```"),  # a fence longer than the longest run, padded where the text starts with one
    ("x`", "`` x` ``"),
    (" lead", "`  lead `"),
    ("new\nline", "`new line`"),
    ("esc\x1b[2J", "`esc\\x1b[2J`"),
    ("", ""),
])
def test_code_spans_show_any_text_literally(text: str, span: str) -> None:
    from verifier.reports.markdown import _code

    assert _code(text) == span
    if text:
        [paragraph] = [t for t in MARKDOWN.parse(span) if t.type == "inline"]
        assert [(c.type, c.content) for c in paragraph.children or ()] == [
            ("code_inline", printable(text).replace("\n", " "))]


def test_prose_escapes_what_markdown_would_read() -> None:
    from verifier.reports.markdown import _code, _prose

    assert _prose("a <b> [c](d) *e* _f_ `g` | ~h~ $i$ & \\ \x1b") == (
        "a \\<b> \\[c\\](d) \\*e\\* \\_f\\_ \\`g\\` \\| \\~h\\~ \\$i\\$ \\& \\\\ \\\\x1b")
    assert _code("a|b", cell=True) == "`a\\|b`"


# --- JUnit XML -----------------------------------------------------------------------------------


def test_junit_is_well_formed_xml_with_the_characters_shown() -> None:
    document = to_junit([hostile_report()], hostile_errors())
    root = ET.fromstring(document)  # ESC, NUL, U+FFFE, a lone surrogate: none may reach the file
    assert only_printable(document)
    suite = root.find("testsuite")
    assert suite is not None and suite.get("name") == printable(hostile_path("path"))
    failure = suite.find("testcase/failure")
    assert failure is not None and failure.get("message") == printable(hostile("summary"))
    assert "\\x1b[31mRED\\x1b[0m \\x00\\x07" in (failure.text or "")  # the property, in the explanation
    error = root.findall("testsuite")[1].find("testcase/error")
    assert error is not None and "| cost c = y # a`b``c </testcase>" in (error.text or "")  # the excerpt
    assert "\\x1b[31mRED" in (error.text or "")
    limit = root.findall("testsuite")[2].find("testcase/error")
    assert limit is not None and limit.get("message") == printable(hostile_path("limit_path")).partition("\n")[0]


# --- SARIF ---------------------------------------------------------------------------------------


def sarif_unescape(text: str) -> str:
    """A SARIF plain text message as a viewer shows it; fails on a bracket that is not escaped (a link)."""
    out, escaped = [], False
    for character in text:
        if escaped:
            assert character in "\\[]", f"unknown escape \\{character}"
            out.append(character)
            escaped = False
        elif character == "\\":
            escaped = True
        else:
            assert character not in "[]", f"an unescaped bracket in {text!r}"
            out.append(character)
    assert not escaped
    return "".join(out)


def test_sarif_messages_are_plain_text_without_links() -> None:
    document = json.loads(json.dumps(to_sarif([hostile_report()], hostile_errors())))
    jsonschema.Draft4Validator(SCHEMA).validate(document)
    run = document["runs"][0]
    messages = [r["message"]["text"] for r in run["results"]]
    messages += [n["message"]["text"] for n in run["invocations"][0]["toolExecutionNotifications"]]
    assert len(messages) == 4  # two checks, one spec error, one resource limit
    shown_messages = [sarif_unescape(message) for message in messages]
    assert all(only_printable(message) for message in shown_messages)
    assert shown_messages[0].startswith(f"check '{printable(hostile('name'))}' fails: {printable(hostile('summary'))}")
    assert shown_messages[2] == "\n".join([printable(hostile("message")), f"note: {printable(hostile('note'))}",
                                           f"hint: {printable(hostile('hint'))}"])
    assert shown_messages[3] == printable(hostile("limit"))


# --- text, HTML, JSON ----------------------------------------------------------------------------


def test_text_reports_carry_no_control_character() -> None:
    report = hostile_report()
    for text in (render_text(report), render_explanation(report.checks[0])):
        assert only_printable(text)
        assert "\\x1b[31mRED\\x1b[0m" in text and "\\u202eevil" in text


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, tuple[tuple[str, str | None], ...]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, tuple(attrs)))


def test_html_has_only_its_own_tags() -> None:
    html = render_html(hostile_report())
    assert only_printable(html)
    parser = _Tags()
    parser.feed(html)
    assert {tag for tag, _ in parser.tags} == {"div", "h3", "details", "summary", "p", "strong", "code", "table",
                                               "thead", "tbody", "tr", "th", "td"}
    assert {attrs for _, attrs in parser.tags} == {(), (("class", "corrigo-report"),),
                                                   (("style", "text-align: right"),)}


def test_check_html_has_only_its_own_tags() -> None:
    html = hostile_report().checks[0]._repr_html_()
    assert only_printable(html)
    parser = _Tags()
    parser.feed(html)
    assert {tag for tag, _ in parser.tags} == {"div", "p", "strong", "code", "table", "thead", "tbody", "tr", "th",
                                               "td"}
    assert {attrs for _, attrs in parser.tags} == {(), (("class", "corrigo-check"),),
                                                   (("style", "text-align: right"),)}


def test_json_keeps_the_text_exactly() -> None:
    document = json.loads(json.dumps(to_json(hostile_report())))
    check = document["checks"][0]
    assert (document["spec"], check["name"], check["property"], check["trace"]["steps"][0]["state"]) == (
        hostile("spec"), hostile("name"), hostile("text"), hostile("state0"))
