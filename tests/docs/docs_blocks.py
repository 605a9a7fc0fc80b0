"""Find the fenced code blocks of a Markdown page and run them; the rules are in test_docs_blocks.py."""

from __future__ import annotations

import doctest
import re
import shlex
import traceback
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from unittest import mock

from click.testing import CliRunner

import dsl
from verifier.cli import main

PYTHON, PYCON, CORRIGO = {"python", "py"}, {"pycon"}, {"corrigo"}
SHELL = {"sh", "bash", "console", "shell"}
NOT_RUN = {"text", "yaml", "yml", "json", "toml", "ini", "xml", "dot", "diff", "html", "svg", "markdown", "md"}
RUN = PYTHON | PYCON | CORRIGO | SHELL
EXIT_COMMENT = re.compile(r"#\s*exit\s+(\d+)\s*$")
FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*(.*)$")


@dataclass(frozen=True, slots=True)
class Block:
    """A fenced block: where it opens (1-based line of the fence), its language and attributes, its text."""

    path: Path
    line: int
    language: str
    attributes: tuple[str, ...]
    text: str

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


def blocks(path: Path) -> list[Block]:
    """Every fenced block of the page, in order (an unclosed fence runs to the end of the page)."""
    found: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        indent, fence, info = opening.groups()
        words = info.split()
        body, j = [], i + 1
        while j < len(lines) and lines[j].strip() != fence:
            body.append(lines[j][len(indent):] if lines[j].startswith(indent) else lines[j].lstrip())
            j += 1
        found.append(Block(path, i + 1, words[0].lower() if words else "", tuple(words[1:]), "\n".join(body) + "\n"))
        i = j + 1
    return found


class DocsError(AssertionError):
    """A block that failed, with the page and line to look at."""


@dataclass
class Page:
    """What the blocks of one page share: the Python namespace (the working directory is the caller's)."""

    namespace: dict[str, Any] = field(default_factory=lambda: {"__name__": "__docs__"})

    def run(self, block: Block) -> None:
        if block.language in PYTHON:
            self._python(block)
        elif block.language in PYCON:
            self._pycon(block)
        elif block.language in CORRIGO:
            self._corrigo(block)
        elif block.language in SHELL:
            self._shell(block)
        elif block.language not in NOT_RUN:
            tag = f"```{block.language}" if block.language else "a block without a language"
            raise DocsError(f"{block.where}: {tag} is neither run nor known not to run; tag it with one of "
                            f"{', '.join(sorted(RUN))} to run it, or ```text (or another of "
                            f"{', '.join(sorted(NOT_RUN - {'text'}))}) if it is not meant to run")

    def _python(self, block: Block) -> None:
        code = compile("\n" * block.line + block.text, str(block.path), "exec")  # tracebacks show page lines
        try:
            exec(code, self.namespace)
        except Exception as error:
            lines = [frame.lineno for frame in traceback.extract_tb(error.__traceback__)
                     if frame.filename == str(block.path)]
            where = f"{block.path}:{lines[-1]}" if lines else block.where
            raise DocsError(f"{where}: python block (line {block.line}) raised {type(error).__name__}: {error}"
                            ) from error

    def _pycon(self, block: Block) -> None:
        test = doctest.DocTestParser().get_doctest(block.text, self.namespace, block.where, str(block.path),
                                                   block.line)
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        report: list[str] = []
        runner.run(test, out=report.append, clear_globs=False)
        if runner.failures:
            raise DocsError(f"{block.where}: pycon block failed\n" + "".join(report))

    def _corrigo(self, block: Block) -> None:
        files = [a.removeprefix("file=") for a in block.attributes if a.startswith("file=")]
        padded = "\n" * block.line + block.text  # so errors point at the page's own lines
        invalid = "invalid" in block.attributes  # a spec shown for its errors: it must have some
        try:
            dsl.typecheck(dsl.parse(padded, str(block.path)), dsl.Source(str(block.path), padded))
        except dsl.SpecError as error:
            if not invalid:
                raise DocsError(f"{block.where}: corrigo block does not check:\n{error.render()}") from None
        else:
            if invalid:
                raise DocsError(f"{block.where}: corrigo block is marked invalid but checks without error")
        for name in files:
            Path(name).write_text(block.text, encoding="utf-8")

    def _shell(self, block: Block) -> None:
        for line, command, shown in commands(block):
            run_command(f"{block.path}:{line}", command, shown)


def commands(block: Block) -> list[tuple[int, str, list[str]]]:
    """``(line, command, shown output)``: ``$ ``-prompted lines with the output below them, else every line."""
    lines = block.text.splitlines()
    prompted = any(line.startswith("$ ") for line in lines)
    found: list[tuple[int, str, list[str]]] = []
    pending = ""
    for offset, line in enumerate(lines):
        number = block.line + 1 + offset
        if prompted and not line.startswith("$ ") and not pending:
            if found:
                found[-1][2].append(line)
            continue
        text = line[2:] if prompted and not pending else line
        if text.rstrip().endswith("\\"):
            pending += text.rstrip()[:-1] + " "
            continue
        text, pending = pending + text, ""
        if text.strip() and not text.lstrip().startswith("#"):
            found.append((number, text.strip(), []))
    return found


def run_command(where: str, command: str, shown: list[str]) -> None:
    """Run the ``corrigo`` parts of ``command`` in-process and compare exit code and output with the page."""
    match = EXIT_COMMENT.search(command)
    expected_exit = int(match.group(1)) if match else 0
    words = shlex.split(command, comments=True)
    parts: list[list[str]] = [[]]
    for word in words:
        if word == "&&":
            parts.append([])
        else:
            parts[-1].append(word)
    runnable = [p for p in parts if p[:1] == ["corrigo"] or p[:3] == ["python", "-m", "verifier"]]
    for n, part in enumerate(runnable):
        last = n == len(runnable) - 1
        _invoke(where, command, part, expected_exit if last else 0, shown if last else [])


def _invoke(where: str, command: str, words: list[str], expected_exit: int, shown: list[str]) -> None:
    args = words[1:] if words[0] == "corrigo" else words[3:]
    redirect = None
    if ">" in args:
        at = args.index(">")
        if at != len(args) - 2:
            raise DocsError(f"{where}: only '> FILE' at the end of a corrigo command can be run: {command}")
        args, redirect = args[:at], args[at + 1]
    unsupported = [a for a in args if a in {"|", "<", ";", "||", "2>", "&"} or a.startswith("$(")]
    if unsupported:
        raise DocsError(f"{where}: shell syntax {unsupported[0]!r} cannot be run in-process: {command}")
    with mock.patch("verifier.cli._terminal", lambda: (False, 100)):  # as a 100-column terminal shows it
        result = CliRunner().invoke(main, args)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise DocsError(f"{where}: `{command}` raised {type(result.exception).__name__}: {result.exception}")
    if result.exit_code != expected_exit:
        raise DocsError(f"{where}: `{command}` exited with {result.exit_code}, the page says {expected_exit} "
                        f"(end the line with '# exit N' when it is not 0); it printed:\n{result.output}")
    if redirect is not None:
        Path(redirect).write_text(result.stdout, encoding="utf-8")
    if shown and not output_matches(shown, result.output):
        raise DocsError(f"{where}: `{command}` printed something else than the page shows ('...' skips lines or "
                        f"part of a line); it printed:\n{result.output}")


def output_matches(shown: list[str], printed: str) -> bool:
    """Shown lines match printed ones in order, up to spacing; a line '...' skips lines, '...' in a line text."""
    patterns = [None if line.strip() == "..." else
                re.compile(".*".join(re.escape(" ".join(part.split())) for part in line.split("...")))
                for line in shown if line.strip()]
    actual = [" ".join(line.split()) for line in printed.splitlines() if line.strip()]

    @cache
    def match(i: int, j: int) -> bool:
        if i == len(patterns):
            return j == len(actual)
        pattern = patterns[i]
        if pattern is None:
            return any(match(i + 1, k) for k in range(j, len(actual) + 1))
        return j < len(actual) and pattern.fullmatch(actual[j]) is not None and match(i + 1, j + 1)

    return match(0, 0)
