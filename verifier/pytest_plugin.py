"""A pytest plugin: every ``check`` of the opted-in ``.corrigo`` files is a test item (``spec.corrigo::check``).

Installed with corrigo (entry point ``pytest11``) but inert until the project's pytest configuration
names its specs, so it never surprises a project that merely depends on corrigo::

    [tool.pytest.ini_options]
    corrigo_files = ["examples/*.corrigo"]   # globs relative to the rootdir
    corrigo_xfail = ["examples/household_robot.corrigo::corrigible"]   # failures by design

A failed check fails its item with ``corrigo explain``'s text (counterexample and attribution); an
inconclusive check fails too, as nobody proved it. A listed expected failure is a strict ``xfail``: it
passes while the check fails and fails once the check holds. A spec with errors is a collection error
showing the located message, without a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .results import CheckResult, Report

# corrigo itself (lark, numpy, scipy, ...) is imported only once a spec is collected: pytest imports this
# module at every start wherever corrigo is installed, and most of those runs have no spec to collect.

__all__ = ["CheckFailed", "CorrigoFile", "CorrigoItem"]

_FILES = pytest.StashKey[frozenset[Path]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("corrigo_files", type="linelist", default=[],
                  help="corrigo: globs (relative to the rootdir) of the .corrigo specs whose checks are tests")
    parser.addini("corrigo_xfail", type="linelist", default=[],
                  help="corrigo: test ids 'path/spec.corrigo::check' of checks that fail by design (strict xfail)")


def pytest_configure(config: pytest.Config) -> None:
    """Resolve the ``corrigo_files`` globs once, before collection (a bad glob is a usage error)."""
    files: set[Path] = set()
    for pattern in config.getini("corrigo_files"):
        try:
            files.update(path.resolve() for path in config.rootpath.glob(pattern))
        except (ValueError, NotImplementedError):  # empty or absolute: pathlib refuses it
            raise pytest.UsageError(f"corrigo_files: '{pattern}' is not a glob relative to the rootdir "
                                    f"({config.rootpath}), e.g. 'specs/*.corrigo'") from None
    config.stash[_FILES] = frozenset(files)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> CorrigoFile | None:
    if file_path.suffix == ".corrigo" and file_path.resolve() in parent.config.stash[_FILES]:
        return CorrigoFile.from_parent(parent, path=file_path)
    return None


class CheckFailed(Exception):
    """A check did not hold: its item fails with the check's explanation."""

    def __init__(self, result: CheckResult) -> None:
        super().__init__(f"check '{result.name}' {result.verdict.value}")
        self.result = result


class CorrigoFile(pytest.File):
    """A spec: loaded at collection, verified once when its first check runs."""

    def collect(self) -> list[CorrigoItem]:
        import dsl

        self.shown = _shown(self.path, self.config.rootpath)
        source = dsl.read_source(self.path)
        text = dsl.Source(self.shown, source.text)
        self.spec = dsl.check_source(text)
        self.report: Report | dsl.CorrigoError | None = None
        expected = set(self.config.getini("corrigo_xfail"))
        items = []
        for check in self.spec.checks:
            item = CorrigoItem.from_parent(self, name=check.name, line=check.span.line if check.span else 1)
            if f"{self.shown}::{check.name}" in expected:
                item.add_marker(pytest.mark.xfail(reason="fails by design (corrigo_xfail)", raises=CheckFailed,
                                                  strict=True))
            items.append(item)
        return items

    def verified(self) -> Report:
        """The report of every check, verified on the first call (one model, one solve per spec)."""
        from dsl.errors import CorrigoError

        from .verification import verify

        if self.report is None:
            try:
                self.report = verify(self.spec)
            except CorrigoError as error:  # a model error or a resource limit fails every check of the spec
                self.report = error
        if isinstance(self.report, CorrigoError):
            raise self.report
        return self.report

    # the signature of pytest's own Collector.repr_failure, which drops Node's `style` the same way
    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException]) -> Any:  # type: ignore[override]
        from dsl.errors import SpecError

        if isinstance(excinfo.value, SpecError):
            return excinfo.value.render()
        return super().repr_failure(excinfo)


class CorrigoItem(pytest.Item):
    """One check of a spec."""

    def __init__(self, *, line: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.line = line

    def runtest(self) -> None:
        from .results import Verdict

        assert isinstance(self.parent, CorrigoFile)
        result = self.parent.verified().check(self.name)
        if result.verdict is not Verdict.HOLDS:
            raise CheckFailed(result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str | Any:  # noqa: ANN401 - pytest's own signature
        from dsl.errors import CorrigoError, SpecError

        from .reports.text import render_explanation

        if isinstance(excinfo.value, CheckFailed):
            return render_explanation(excinfo.value.result)
        if isinstance(excinfo.value, SpecError):
            return excinfo.value.render()
        if isinstance(excinfo.value, CorrigoError):
            return f"error: {excinfo.value}"
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.line - 1, f"check {self.name}"


def _shown(path: Path, root: Path) -> str:
    """``path`` as pytest names it: relative to the rootdir (forward slashes) when inside it."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)
