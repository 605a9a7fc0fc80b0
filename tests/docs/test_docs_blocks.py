"""Every code block of README.md and docs/**/*.md runs (or is tagged as not meant to run).

The convention (also in docs/contributing.md):

- Each page runs as one test, its blocks in order, in a fresh temporary working directory holding a
  copy of ``examples/``; Python blocks of a page share one namespace.
- ```python: executed. ```pycon: run as a doctest (``...`` elides, spacing is loose).
- ```corrigo: loaded with ``dsl.load``, it must check without error (```corrigo invalid: it must have
  an error, for a spec shown for its errors). ```corrigo file=NAME also writes it to NAME in the working
  directory, for the blocks below it.
- ```sh / ```bash / ```console / ```shell: if some lines start with ``$ ``, those are the commands
  and the lines below each are its output; otherwise every line is a command (``\\`` continues a line,
  ``#`` starts a comment). Commands are split at ``&&``; each part that starts with ``corrigo`` (or
  ``python -m verifier``) runs in-process with click's CliRunner; every other part (``pip install``,
  ``pytest``, ``git``, ``cd``, ...) is skipped. A command must exit 0, unless its line ends with
  ``# exit N``. Shown output must match what it printed, line by line, ignoring blank lines and
  spacing; a line ``...`` skips any number of lines and ``...`` inside a line skips part of it.
  ``corrigo ... > FILE`` writes stdout to FILE; pipes and other shell syntax are an error.
- ```text, ```yaml, ```json, ```toml, ```xml, ```dot, ```diff, ...: not run (see ``NOT_RUN``). A block
  without a language, or with one the runner does not know, fails: tag it.

A failure names the page and line of the block (or the command) that failed.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from docs_blocks import NOT_RUN, RUN, DocsError, Page, blocks, output_matches

ROOT = Path(__file__).resolve().parent.parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def run_page(page: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run every block of ``page`` in order, from ``workdir`` with a copy of the examples."""
    shutil.copytree(ROOT / "examples", workdir / "examples")
    monkeypatch.chdir(workdir)
    runner = Page()
    for block in blocks(page):
        runner.run(block)


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_every_block_of_the_page_runs(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    failure = None
    try:
        run_page(page, tmp_path, monkeypatch)
    except DocsError as error:
        failure = str(error).replace(str(ROOT) + "/", "")
    if failure is not None:
        pytest.fail(failure, pytrace=False)


def test_the_docs_have_blocks_of_every_kind_that_runs() -> None:
    languages = {block.language for page in PAGES for block in blocks(page)}
    assert {"python", "corrigo", "console", "sh"} <= languages
    assert ROOT / "docs" / "getting-started.md" in PAGES


# --- the runner itself -----------------------------------------------------------------------------------


def page_of(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "page.md"
    path.write_text(text)
    return path


def run_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    work = tmp_path / "work"
    work.mkdir(parents=True)
    run_page(page_of(tmp_path, text), work, monkeypatch)


SPEC = """\
model tiny
discount 0.5
var done : bool
action finish: done' = true
terminal done
cost step = 1
check finishes : always [finish]
"""


def test_blocks_know_their_line_language_and_attributes(tmp_path: Path) -> None:
    page = page_of(tmp_path, f"# t\n\n```corrigo file=a.corrigo\n{SPEC}```\n\n  ```text\n  a\n  ```\n```\nx\n")
    found = blocks(page)
    assert [(b.line, b.language, b.attributes) for b in found] == [
        (3, "corrigo", ("file=a.corrigo",)), (13, "text", ()), (16, "", ())]
    assert found[0].text == SPEC
    assert found[1].text == "a\n"
    assert found[2].text == "x\n"


def test_python_blocks_share_a_namespace_and_a_failure_names_its_line(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    run_text(tmp_path, monkeypatch, "```python\nx = 2\n```\n\n```python\nassert x == 2\n```\n")
    with pytest.raises(DocsError, match=r"page.md:6: python block \(line 5\) raised AssertionError"):
        run_text(tmp_path / "b", monkeypatch, "```python\nx = 2\n```\n\n```python\nassert x == 3\n```\n")


def test_pycon_blocks_are_doctests(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run_text(tmp_path, monkeypatch, "```pycon\n>>> 1 + 1\n2\n```\n")
    with pytest.raises(DocsError, match=r"page.md:1: pycon block failed"):
        run_text(tmp_path / "b", monkeypatch, "```pycon\n>>> 1 + 1\n3\n```\n")


def test_corrigo_blocks_must_check_and_can_be_written_to_a_file(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    run_text(tmp_path, monkeypatch, f"```corrigo file=tiny.corrigo\n{SPEC}```\n")
    assert (tmp_path / "work" / "tiny.corrigo").read_text() == SPEC
    with pytest.raises(DocsError, match=r"page.md:2: corrigo block does not check:\n.*page.md:6:16: error: unknown variable 'dne'"):
        run_text(tmp_path / "b", monkeypatch, "\n```corrigo\n" + SPEC.replace("done' = true", "dne' = true")
                 + "```\n")
    broken = SPEC.replace("done' = true", "dne' = true")  # shown for its errors: written, and must not check
    run_text(tmp_path / "c", monkeypatch, f"```corrigo file=broken.corrigo invalid\n{broken}```\n")
    assert (tmp_path / "c" / "work" / "broken.corrigo").read_text() == broken
    with pytest.raises(DocsError, match=r"page.md:1: corrigo block is marked invalid but checks without error"):
        run_text(tmp_path / "d", monkeypatch, f"```corrigo invalid\n{SPEC}```\n")


def test_shell_commands_run_with_their_exit_code_and_output(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    run_text(tmp_path, monkeypatch, f"```corrigo file=tiny.corrigo\n{SPEC}```\n\n```console\n"
             "$ pip install corrigo && corrigo lint tiny.corrigo\n1 spec(s) checked, no errors\n"
             "$ corrigo verify tiny.corrigo --format json > report.json\n"
             "$ corrigo lint missing.corrigo   # exit 2\n...\n"
             "$ corrigo verify \\\n    tiny.corrigo\ntiny.corrigo: model 'tiny'\n...\n"
             "1 check(s): 1 hold, 0 fail, 0 inconclusive; decided by float certificate\n```\n\n```sh\npytest\ncorrigo lint tiny.corrigo\n```\n")
    assert '"verdict": "holds"' in (tmp_path / "work" / "report.json").read_text()


@pytest.mark.parametrize("command, message", [
    ("$ corrigo lint missing.corrigo", r"page.md:3: `corrigo lint missing.corrigo` exited with 2, the page says 0"),
    ("$ corrigo lint tiny.corrigo   # exit 1", r"page.md:3: .* exited with 0, the page says 1"),
    ("$ corrigo lint tiny.corrigo\n2 spec(s) checked", r"page.md:3: .* printed something else than the page"),
    ("$ corrigo lint tiny.corrigo | grep no", r"page.md:3: shell syntax '\|' cannot be run"),
    ("$ corrigo lint tiny.corrigo > a > b", r"page.md:3: only '> FILE' at the end"),
])
def test_a_failing_command_names_its_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str,
                                          message: str) -> None:
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "tiny.corrigo").write_text(SPEC)
    with pytest.raises(DocsError, match=message):
        run_page(page_of(tmp_path, f"text\n```console\n{command}\n```\n"), tmp_path / "work", monkeypatch)


@pytest.mark.parametrize("fence", ["```", "```pyhton"])
def test_an_untagged_or_unknown_block_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fence: str) -> None:
    with pytest.raises(DocsError, match=r"page.md:1: .* is neither run nor known not to run; tag it"):
        run_text(tmp_path, monkeypatch, f"{fence}\nprint(1)\n```\n")


def test_blocks_not_meant_to_run_are_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run_text(tmp_path, monkeypatch, "```text\n$ corrigo lint missing.corrigo\n```\n```yaml\nx: [\n```\n")
    assert not NOT_RUN & RUN


@pytest.mark.parametrize("shown, printed, expected", [
    (["a b"], "a   b\n", True),
    (["a", "...", "d"], "a\nb\nc\n\nd\n", True),
    (["a", "...", "d"], "a\nd\n", True),
    (["a", "d"], "a\nb\nd\n", False),
    (["...", "c"], "a\nb\nc\n", True),
    (["a"], "a\nb\n", False),
    (["cost -10 (bound ...), discount 0.9"], "cost -10 (bound 1.6e-13), discount 0.9\n", True),
    (["cost -10 (bound ...), discount 0.9"], "cost -9 (bound 1.6e-13), discount 0.9\n", False),
])
def test_shown_output_matches_with_ellipses(shown: list[str], printed: str, expected: bool) -> None:
    assert output_matches(shown, printed) is expected

