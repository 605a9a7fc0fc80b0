"""Notebook views: ``_repr_html_`` and ``_repr_markdown_`` of a Report and a Solution, against golden files."""

from __future__ import annotations

from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest

import dsl
import mdp
from verifier import Report, verify, verify_model
from verifier.reports import render_markdown

ROOT = Path(__file__).resolve().parents[2]
SPEC = Path("tests/golden/reports/hungry_robot.corrigo")  # relative: reports name the spec by its path
GOLDEN = ROOT / "tests" / "golden" / "notebook"
VOID = {"br", "hr", "img", "meta", "input", "link", "col", "area", "base", "wbr", "source"}


@pytest.fixture
def loaded(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(ROOT)
    spec = dsl.load(SPEC)
    return spec, mdp.compile(spec, exact=True)


class _Tags(HTMLParser):
    """Collects the text and fails on a closing tag that does not match the open one."""

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag not in VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open[-1] == tag, f"</{tag}> closes {self.open[-1:] or 'nothing'}"
        self.open.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse_html(text: str) -> str:
    """The text content of well-nested HTML (every element closed in order)."""
    parser = _Tags()
    parser.feed(text)
    parser.close()
    assert parser.open == [], f"unclosed: {parser.open}"
    return "".join(parser.text)


def test_report_html_golden(loaded, golden) -> None:
    spec, model = loaded
    report = verify_model(spec, model, mdp.solve(model, exact=True), exact=True)
    golden(GOLDEN / "hungry_robot_report.html", report._repr_html_())


def test_report_html_parses_and_escapes(loaded) -> None:
    spec, model = loaded
    report = verify_model(spec, model, mdp.solve(model, exact=True), exact=True)
    page = report._repr_html_()
    text = parse_html(page)
    # the checks' formulas come back intact from the parsed text, and were escaped in the markup
    for check in report.checks:
        assert check.text in text
    assert "cost <= 0" in text and "cost &lt;= 0" in page and "cost <=" not in page
    assert "accepts_shutdown(request = !off" in text


def test_report_html_collapses_the_evidence_of_each_failure(loaded) -> None:
    spec, model = loaded
    report = verify_model(spec, model, mdp.solve(model, exact=True), exact=True)
    page = report._repr_html_()
    head, *sections = page.split("<details>")
    # the summary shows one table, the checks; each check that does not hold has its own closed section
    assert head.count("<table>") == 1 and "Counterexample" not in head
    assert [s.split("</strong>")[0] for s in sections] == ["\n<summary><strong>corrigible", "\n<summary><strong>shuts_down",
                                                           "\n<summary><strong>faithful", "\n<summary><strong>no_power"]
    assert all(section.rstrip().endswith(("</details>", "</details>\n</div>")) for section in sections)
    corrigible = parse_html("<details>" + sections[0].split("</details>")[0] + "</details>").replace("\n", "")
    # the trace: one step, eat in the initial state; the terms add up to the gap 10/9
    assert "0fed=false, off=false, switch=armedeat" in corrigible
    assert "prefers eat over comply by 1.11111" in corrigible
    assert "hunger+0-0.111111-0.111111joy+0+1.77778+1.77778effort-0.5-0.0555556-0.555556sum+1.11111" in corrigible


def test_check_html_golden(loaded, golden) -> None:
    spec, model = loaded
    report = verify_model(spec, model, mdp.solve(model, exact=True), exact=True)
    golden(GOLDEN / "hungry_robot_check.html", report.check("corrigible")._repr_html_())
    text = parse_html(report.check("bounded")._repr_html_()).replace("\n", "")
    assert text.startswith("bounded: ✅ HOLDS (tests/golden/reports/hungry_robot.corrigo:27:1)")
    assert "Counterexample" not in text and "cost" + "-0.1111111111" + "0" in text  # quantity, value, bound 0


def test_html_escapes_a_script_in_the_spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    script = "<script>alert(1)</script>"
    (tmp_path / "<script>alert(1)<").mkdir()  # a directory and a file name: the path reads as the script
    (tmp_path / "<script>alert(1)<" / "script>.corrigo").write_text("""
model evil
discount 0.5
var off : bool = false
action comply when !off: off' = true
action stay when !off: skip
terminal off
cost pleasure = -1 * [stay]
check stops : never !off &&
  [stay]  # the property's text runs to here
""", encoding="utf-8")
    report = verify(f"{script}.corrigo")
    hostile = Report(**{**{f: getattr(report, f) for f in ("n_states", "n_rows", "n_transitions", "n_optimal_states",
                                                              "discount", "value", "bound", "path")},
                        "spec": script, "checks": tuple(replace(
                            check, name=script, text=f"{check.text} # {script}", summary=script,
                            attribution=replace(check.attribution, chosen=script, alternative=script, terms=tuple(
                                replace(term, term=script) for term in check.attribution.terms)))
                            for check in report.checks)})
    for page in (report._repr_html_(), hostile._repr_html_(), hostile.checks[0]._repr_html_()):
        assert "<script" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert script in parse_html(page)
    assert parse_html(hostile._repr_html_()).count(script) >= 10


def test_report_markdown_is_the_markdown_report(loaded) -> None:
    spec, model = loaded
    report = verify_model(spec, model, mdp.solve(model, exact=True), exact=True)
    assert report._repr_markdown_() == render_markdown(report)


def test_solution_views_golden(loaded, golden) -> None:
    _, model = loaded
    solution = mdp.solve(model, exact=True)  # exact: no float noise in the golden numbers
    golden(GOLDEN / "hungry_robot_solution.md", solution._repr_markdown_())
    golden(GOLDEN / "hungry_robot_solution.html", solution._repr_html_())


def test_solution_html_escapes_and_lists_optimal_actions() -> None:
    # hand-solved: in s=0 'go' costs 1 and ends, 'stay' costs 2 and stays, so V(0) = 1 and A*(0) = {go}
    model = mdp.from_arrays([[[0, 1], [0, 1]], [[1, 0], [0, 1]]], [[1, 0], [2, 0]], discount=0.5,
                            action_names=["go", "stay"], terminal=[False, True])
    solution = mdp.solve(model, exact=True)
    text = parse_html(solution._repr_html_())
    assert "optimal value 1 (exact) from s=0" in text
    assert "s=0go1" in text and "s=1(terminal)0" in text  # cells: state, optimal actions, value
    assert "<terminal>" not in solution._repr_html_()


def test_solution_view_is_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    # a corridor of 60 states, every one reached under optimal play: 50 rows, then a note
    n = 60
    forward = [[1.0 if j == min(i + 1, n - 1) else 0.0 for j in range(n)] for i in range(n)]
    model = mdp.from_arrays([forward], [[1.0] * n], discount=0.9, terminal=[i == n - 1 for i in range(n)])
    solution = mdp.solve(model)
    view = solution._repr_markdown_()
    assert view.count("\n| s=") == 50
    assert "... 10 more states reached under optimal play" in view
