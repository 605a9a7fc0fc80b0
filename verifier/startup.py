"""The ``corrigo`` command's entry point: make sure ``dsl``, ``mdp`` and ``verifier`` are corrigo's, then run it.

corrigo's packages have short top-level names that other projects use too. Python imports the first
package of a name on its module search path, so another ``mdp`` ahead of corrigo's (a directory in
``PYTHONPATH``, the current directory, another distribution) would be imported in its place and fail deep
inside with a traceback; and corrigo's ``mdp`` can hide another distribution's just as silently, or share
its directory in ``site-packages`` (pip lets the second install overwrite the first one's files).

:func:`package_conflicts` finds both before ``dsl`` or ``mdp`` is imported. It needs only the standard
library, the import system's own look-ups and the directory listing of the places where it finds a package
of one of those names (``importlib.metadata`` alone would take a tenth of a second), so every start can
afford it. ``verifier`` itself is found by Python before any of this runs: a foreign ``verifier`` ahead of
corrigo's is beyond its reach (the ``corrigo`` command then fails to import ``verifier.startup``).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
from dataclasses import dataclass
from importlib.machinery import ModuleSpec
from pathlib import Path

__all__ = ["EXIT_CONFLICT", "PACKAGES", "PackageConflict", "main", "package_conflicts"]

PACKAGES = ("dsl", "mdp", "verifier")
EXIT_CONFLICT = 3  # as an internal error or a resource limit: the environment, not the spec, is at fault
_HOME = Path(__file__).resolve().parent.parent  # the directory holding corrigo's three packages
_DISTRIBUTION = "corrigo"
_OWN_VENV = "install corrigo in a virtual environment of its own (python -m venv)"


@dataclass(frozen=True, slots=True)
class PackageConflict:
    """Two packages of one name: the one Python imports or hides, and what to change."""

    name: str  # 'dsl', 'mdp' or 'verifier'
    message: str
    hint: str

    def render(self) -> str:
        """``corrigo: error: message`` and the hint below it, as the other errors without a source line."""
        return f"corrigo: error: {self.message}\n    = hint: {self.hint}"


def package_conflicts(home: Path = _HOME) -> tuple[PackageConflict, ...]:
    """Every way in which the packages named :data:`PACKAGES` are not exactly corrigo's ones in ``home``.

    For each name: the package Python imports (or has imported) must be ``home/NAME``; no other
    distribution installed in ``home`` may provide the name (it would share, and overwrite, the files);
    and no other package of the name may sit further along ``sys.path`` (corrigo's would hide it), unless
    it is another copy of corrigo (a checkout run beside an installed corrigo).
    """
    conflicts = []
    for name in PACKAGES:
        ours = (home / name).resolve()
        imported = _location(_imported_spec(name))
        if imported is None:
            conflicts.append(PackageConflict(
                name, f"corrigo's package '{name}' is missing: Python finds no module '{name}' "
                      f"(corrigo's other packages are in {home})",
                f"reinstall corrigo (pip install --force-reinstall /path/to/corrigo), or {_OWN_VENV}"))
            continue
        if imported != ours:
            conflicts.append(PackageConflict(
                name, f"Python imports '{name}' from {imported}, not corrigo's {ours}",
                _shadow_hint(name, imported.parent)))
        others = [d for d in _providers(home, name) if d != _DISTRIBUTION]
        if others:
            conflicts.append(PackageConflict(
                name, f"corrigo and {_quoted(others)} both install a package '{name}' into {home}: "
                      "the last one installed overwrote the other's files",
                f"{_OWN_VENV}, or pip uninstall {' '.join(others)} and then reinstall corrigo"))
        for hidden in _hidden(name, {ours, imported}):
            providers = _providers(hidden.parent, name)
            if providers == [_DISTRIBUTION]:
                continue  # another copy of corrigo itself
            owner = f" (installed by {_quoted(providers)})" if providers else ""
            conflicts.append(PackageConflict(
                name, f"corrigo's package '{name}' ({ours}) hides another package '{name}' at {hidden}{owner}",
                f"{_OWN_VENV}: programs that import that '{name}' get corrigo's instead"))
    return tuple(conflicts)


def main() -> None:
    """``corrigo``: stop with exit code 3 and a message on a package conflict, else run the command line."""
    conflicts = package_conflicts()
    if conflicts:
        print("\n".join(conflict.render() for conflict in conflicts), file=sys.stderr)
        sys.exit(EXIT_CONFLICT)
    from .cli import main as command_line

    command_line(prog_name="corrigo")


def _imported_spec(name: str) -> ModuleSpec | None:
    """The spec of the module ``import name`` gives (the one already imported, if any)."""
    module = sys.modules.get(name)
    if module is not None:
        return module.__spec__
    try:
        return importlib.util.find_spec(name)
    except (ImportError, ValueError):  # pragma: no cover - a finder that refuses the name
        return None


def _location(spec: ModuleSpec | None) -> Path | None:
    """The directory of a package (the file of a module); None for none, a namespace package or a built-in."""
    if spec is None or not spec.has_location or spec.origin is None:
        return None
    origin = Path(spec.origin).resolve()
    return origin.parent if spec.submodule_search_locations is not None else origin


def _hidden(name: str, known: set[Path]) -> list[Path]:
    """The other packages (or modules) ``name`` on ``sys.path``, which ``import name`` never reaches."""
    found: list[Path] = []
    for entry in dict.fromkeys(sys.path):
        try:
            spec = importlib.machinery.PathFinder.find_spec(name, [entry or os.curdir])
        except (ImportError, ValueError, OSError):  # pragma: no cover - an unreadable entry
            continue
        location = _location(spec)
        if location is not None and location not in known and location not in found:
            found.append(location)
    return found


def _providers(directory: Path, name: str) -> list[str]:
    """The distributions installed in ``directory`` that provide the top-level package or module ``name``.

    Read from each ``*.dist-info`` (``*.egg-info``) directory's ``top_level.txt``, or, where a build
    backend wrote none, from its ``RECORD``; the distribution's name is the directory's up to its version.
    """
    providers: list[str] = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return providers
    for entry in sorted(entries, key=lambda entry: entry.name):
        stem, dot, kind = entry.name.rpartition(".")
        if not dot or kind not in ("dist-info", "egg-info") or not entry.is_dir():
            continue
        try:
            with open(os.path.join(entry.path, "top_level.txt"), encoding="utf-8") as file:
                provides = name in file.read().split()
        except OSError:
            try:
                with open(os.path.join(entry.path, "RECORD"), encoding="utf-8") as file:
                    record = "\n" + file.read()
            except OSError:
                continue
            provides = f"\n{name}/" in record or f"\n{name}." in record  # a package, or a module mdp.py
        if provides:
            providers.append(stem.split("-")[0])
    return providers


def _shadow_hint(name: str, directory: Path) -> str:
    """What to change so that ``import name`` no longer finds the package in ``directory`` first."""
    here: Path | None
    try:
        here = Path.cwd().resolve()
    except OSError:  # the current directory was removed (a relative entry then means nothing)
        here = None
    entries = [entry for entry in os.environ.get("PYTHONPATH", "").split(os.pathsep) if entry]
    if directory in [Path(entry).resolve() for entry in entries if here is not None or os.path.isabs(entry)]:
        return f"{directory} is in PYTHONPATH: take it out, or {_OWN_VENV}"
    if directory == here:
        return f"the current directory has a package '{name}': run corrigo from another directory"
    providers = [d for d in _providers(directory, name) if d != _DISTRIBUTION]
    if providers:
        return f"it is installed by {_quoted(providers)}: pip uninstall {' '.join(providers)}, or {_OWN_VENV}"
    return f"take {directory} off the module search path (sys.path), or {_OWN_VENV}"


def _quoted(names: list[str]) -> str:
    return ", ".join(f"'{name}'" for name in names)
