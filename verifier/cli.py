"""The ``corrigo`` command: parse options, call the API, render, pick the exit code.

Exit codes: 0 success (every check holds), 1 a check fails or is inconclusive, 2 a spec error,
3 a resource limit or an internal error. No :class:`~dsl.errors.CorrigoError` ever prints a traceback.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

import dsl
from dsl.errors import CorrigoError, Diagnostic, SpecError

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_SPEC_ERROR, EXIT_INTERNAL = 0, 1, 2, 3
F = TypeVar("F", bound=Callable[..., Any])


def _parse_defines(defines: tuple[str, ...]) -> dict[str, str]:
    overrides = {}
    for define in defines:
        name, sep, value = define.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise click.BadParameter(f"'{define}' is not NAME=VALUE (e.g. -D FULL=6)", param_hint="-D")
        overrides[name.strip()] = value.strip()
    return overrides


define_option = click.option("-D", "--define", "defines", multiple=True, metavar="NAME=VALUE",
                             help="Override a const or param of the spec (repeatable).")


def _reports_errors(command: F) -> F:
    """Turn corrigo's errors into messages and exit codes; anything else is an internal error (exit 3)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except SpecError as error:
            click.echo(error.render(), err=True)
            sys.exit(EXIT_SPEC_ERROR)
        except CorrigoError as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(EXIT_INTERNAL)
        except MemoryError:
            click.echo("error: out of memory; try a smaller model (-D, --max-states)", err=True)
            sys.exit(EXIT_INTERNAL)
        except (click.ClickException, click.exceptions.Exit, SystemExit, KeyboardInterrupt):
            raise
        except Exception as error:  # noqa: BLE001 - the last line of defence: no traceback for users
            click.echo(f"internal error: {type(error).__name__}: {error}\n"
                       "this is a bug in corrigo; please report it with the spec that caused it", err=True)
            sys.exit(EXIT_INTERNAL)

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="corrigo")
def main() -> None:
    """Check what agents that minimise an intrinsic cost do: accept shutdown, seek power, game proxies."""


@main.command()
@click.argument("specs", nargs=-1, required=True, type=click.Path())
@define_option
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Errors as text (on stderr) or as JSON objects (on stdout).")
@_reports_errors
def lint(specs: tuple[str, ...], defines: tuple[str, ...], output_format: str) -> None:
    """Parse and check SPECS without building the model; exit 2 if any has errors."""
    overrides = _parse_defines(defines)
    results: list[tuple[str, tuple[Diagnostic, ...], SpecError | None]] = []
    for path in specs:
        try:
            dsl.load(Path(path), dict(overrides))  # an argument always names a file
            results.append((path, (), None))
        except SpecError as error:
            results.append((path, error.diagnostics, error))
    failed = [r for r in results if r[2] is not None]
    if output_format == "json":
        click.echo(json.dumps({
            "schema_version": 1,
            "files": [{"file": path, "ok": error is None} for path, _, error in results],
            "errors": [_diagnostic_json(path, d) for path, diagnostics, _ in results for d in diagnostics],
        }, indent=2, sort_keys=True))
    else:
        for _, _, error in failed:
            click.echo(error.render() + "\n", err=True)  # type: ignore[union-attr]
        n_errors = sum(len(d) for _, d, _ in failed)
        summary = (f"{len(results)} spec(s) checked, no errors" if not failed else
                   f"{len(results)} spec(s) checked, {n_errors} error(s) in {len(failed)}")
        click.echo(summary, err=bool(failed))
    sys.exit(EXIT_SPEC_ERROR if failed else EXIT_OK)


def _diagnostic_json(path: str, diagnostic: Diagnostic) -> dict[str, Any]:
    span = diagnostic.span
    return {
        "file": span.path if span else path,
        "line": span.line if span else None,
        "col": span.column if span else None,
        "end_line": span.end_line if span else None,
        "end_col": span.end_column if span else None,
        "severity": "error",
        "message": diagnostic.message,
        "hint": diagnostic.hint,
        "notes": list(diagnostic.notes),
    }


if __name__ == "__main__":  # pragma: no cover
    main()
