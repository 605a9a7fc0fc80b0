"""``to_junit``: reports as JUnit XML, the test report format CI servers (GitLab, Jenkins, ...) display.

One ``testsuite`` per spec, one ``testcase`` per check (``classname`` the model's name, ``name`` the
check's). A failed check is a ``failure`` whose text is the check's full explanation; an inconclusive
check is a ``failure`` too (of type ``INCONCLUSIVE``), as it makes ``corrigo verify`` exit 1: CI must
not pass on a property nobody proved. A spec that cannot be verified is one ``error`` testcase named
``spec`` with the located message. A spec without checks is one ``skipped`` testcase named ``checks``:
CI shows that nothing was verified, without failing. The attributes follow pytest's ``xunit2`` output
(no timings).

ElementTree escapes ``<``, ``&`` and quotes but copies control characters, and most of them (ESC, NUL)
are not allowed anywhere in XML 1.0: a spec's comment with one would make the whole file unreadable.
So every text and attribute goes through :func:`~verifier.reports.escaping.printable` last.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from pathlib import Path

from dsl.errors import CorrigoError, SpecError

from ..results import Report, Verdict
from .escaping import printable
from .text import NO_CHECKS, render_explanation

__all__ = ["to_junit"]


def to_junit(reports: Iterable[Report], errors: Sequence[tuple[str, CorrigoError]] = ()) -> str:
    """A ``testsuites`` document over ``reports`` and the ``(path, error)`` pairs of unverifiable specs."""
    root = ET.Element("testsuites", name="corrigo")
    for report in reports:
        suite = _suite(root, report.path)
        for check in report.checks:
            case = ET.SubElement(suite, "testcase", classname=report.spec, name=check.name)
            if check.verdict is not Verdict.HOLDS:
                failure = ET.SubElement(case, "failure", message=check.summary, type=str(check.verdict))
                failure.text = render_explanation(check)
        if not report.checks:
            case = ET.SubElement(suite, "testcase", classname=report.spec, name="checks")
            ET.SubElement(case, "skipped", message=NO_CHECKS)
    for path, error in errors:
        suite = _suite(root, path)
        case = ET.SubElement(suite, "testcase", classname=Path(path).stem, name="spec")
        text = error.render() if isinstance(error, SpecError) else f"{path}: error: {error}"
        element = ET.SubElement(case, "error", message=text.partition("\n")[0], type=type(error).__name__)
        element.text = text + "\n"
    _count(root, root.iter("testsuite"), ("failure", "error"))  # Jenkins' XSD has no 'skipped' here
    for suite in root.iter("testsuite"):
        _count(suite, [suite], ("failure", "error", "skipped"))
    for element in root.iter():  # the one place text enters the file: always well-formed XML 1.0
        element.text = element.text and printable(element.text)
        for name, value in element.attrib.items():
            element.set(name, printable(value))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _suite(root: ET.Element, path: str) -> ET.Element:
    return ET.SubElement(root, "testsuite", name=path)


def _count(element: ET.Element, suites: Iterable[ET.Element], outcomes: tuple[str, ...]) -> None:
    """Set the ``tests`` total and one per outcome (``failures``, ...) over the testcases of ``suites``."""
    cases = [case for suite in suites for case in suite.iter("testcase")]
    element.set("tests", str(len(cases)))
    for outcome in outcomes:
        attribute = {"failure": "failures", "error": "errors"}.get(outcome, outcome)
        element.set(attribute, str(sum(case.find(outcome) is not None for case in cases)))
