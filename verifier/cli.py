"""The ``corrigo`` command: parse options, call the API, render, pick the exit code.

Exit codes: 0 success (every check holds), 1 a check fails or is inconclusive, 2 a spec error,
3 a resource limit or an internal error. No :class:`~dsl.errors.CorrigoError` ever prints a traceback.
The ``corrigo`` command and ``python -m verifier`` enter through :mod:`verifier.startup`, which first
makes sure that ``dsl`` and ``mdp`` are corrigo's own (exit 3 otherwise).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

import dsl
from dsl.errors import CorrigoError, Diagnostic, ResourceLimitError, SpecError
from dsl.numbers import float_text

from .results import SETTLE_LIMIT

if TYPE_CHECKING:  # imported where used: `corrigo lint` never loads numpy
    import numpy.typing as npt

    from dsl.spec import Spec
    from mdp.model import TabularMDP
    from verifier.results import Report

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_SPEC_ERROR, EXIT_INTERNAL = 0, 1, 2, 3
EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE if hasattr(signal, "SIGPIPE") else 1  # what a process killed by SIGPIPE exits with
F = TypeVar("F", bound=Callable[..., Any])


def _load_spec(path: str, overrides: dict[str, str]) -> Spec:
    """The spec of a command-line argument: a file (an argument always names one), or standard input for ``-``."""
    if path == "-":
        return dsl.check_source(_stdin(), dict(overrides))
    return dsl.load(Path(path), dict(overrides))


def _verify_input(path: str, overrides: dict[str, str]) -> tuple[Path | Spec, dict[str, str] | None]:
    """What :func:`verifier.verify` takes for an argument: the path (it loads the spec, under --timeout), or the
    spec read from standard input for ``-``."""
    return (_load_spec(path, overrides), None) if path == "-" else (Path(path), dict(overrides))


def _shown(path: str) -> str:
    return "<stdin>" if path == "-" else path


def _stdin() -> dsl.Source:
    """Standard input as a spec's source, read once per command (``-`` may be named twice)."""
    meta = click.get_current_context().meta
    if "corrigo.stdin" not in meta:
        meta["corrigo.stdin"] = dsl.decode_source(sys.stdin.buffer.read(), "<stdin>")
    return cast(dsl.Source, meta["corrigo.stdin"])


def _parse_defines(defines: tuple[str, ...]) -> dict[str, str]:
    overrides = {}
    for define in defines:
        name, sep, value = define.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise click.BadParameter(f"'{define}' is not NAME=VALUE (e.g. -D FULL=6)", param_hint="-D")
        overrides[name.strip()] = value.strip()
    return overrides


def _output_path(context: click.Context, parameter: click.Parameter, value: str | None) -> str | None:
    """Callback of every option that names a file to write: a usage error before any work if it cannot be written.

    Without it a missing directory would surface as an internal error after all the work was done.
    ``-`` (stdout) and an absent option pass through.
    """
    if value is None or value == "-":
        return value
    target = Path(value)
    directory = target.parent
    if target.is_dir():
        problem = "it is a directory; name a file in it"
    elif not directory.is_dir():
        problem = f"there is no directory '{directory}'; create it first or choose another path"
    elif not os.access(directory, os.W_OK | os.X_OK):
        problem = f"the directory '{directory}' is not writable; choose another path"
    elif target.exists() and not os.access(target, os.W_OK):
        problem = "the file is not writable; choose another path"
    else:
        return value
    raise click.BadParameter(f"cannot write '{value}': {problem}", context, parameter)


def _write_output(output: str, text: str) -> None:
    """``text`` to stdout for ``-``, else to the file ``output``, replaced in one step (no half-written file).

    The text goes to a fresh temporary file next to ``output`` (``mkstemp``: a random name, created
    exclusively, so a symlink planted there is never followed), which then replaces ``output``.
    """
    if output == "-":
        click.echo(text, nl=False)
        return
    target = Path(output)
    partial = None
    try:
        descriptor, partial = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial")
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(text)
        umask = os.umask(0)  # mkstemp makes the file private (0600); give it the mode a new file would get
        os.umask(umask)
        os.chmod(partial, 0o666 & ~umask)
        os.replace(partial, target)
    except OSError as error:
        if partial is not None:
            Path(partial).unlink(missing_ok=True)
        raise click.BadParameter(f"cannot write '{output}': {error.strerror or error}", param_hint="--output") from None


def _plot_path(context: click.Context, parameter: click.Parameter, value: str | None) -> str | None:
    """``--plot``: a writable path (:func:`_output_path`) whose suffix names a format matplotlib can write."""
    value = _output_path(context, parameter, value)
    suffix = Path(value).suffix.lstrip(".").lower() if value is not None else ""
    if suffix:
        from matplotlib.backend_bases import FigureCanvasBase

        formats = FigureCanvasBase.get_supported_filetypes()
        if suffix not in formats:
            raise click.BadParameter(f"cannot draw '{value}': matplotlib does not write '.{suffix}' files; use "
                                     f"one of {', '.join('.' + f for f in sorted(formats))}", context, parameter)
    return value


define_option = click.option("-D", "--define", "defines", multiple=True, metavar="NAME=VALUE",
                             help="Override a const or param of the spec (repeatable).")


class InternalError(CorrigoError):
    """An exception corrigo did not raise on purpose: a bug, reported like any other error (exit 3).

    ``verify`` turns one into an error result for its spec, so the other specs' results are kept.
    """

    def __init__(self, error: Exception) -> None:
        super().__init__(f"internal error: {type(error).__name__}: {error}\n"
                         "this is a bug in corrigo; please report it with the spec that caused it")


class TimeLimitError(ResourceLimitError):
    """``--timeout`` ran out before the work was done."""


def _as_corrigo_error(error: Exception) -> CorrigoError:
    """``error`` as what the user is told: corrigo's own errors as they are, running out of memory as a
    resource limit, anything else as an :class:`InternalError`.

    A :class:`TimeLimitError` may go off inside code that wraps what it raises (lark's ``VisitError``
    wraps its Transformer's exceptions): it is found in the chain of causes and reported as itself.
    """
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, TimeLimitError):
            return cause
        cause = cause.__cause__ or cause.__context__
    if isinstance(error, CorrigoError):
        return error
    if isinstance(error, MemoryError):
        return ResourceLimitError("out of memory; try a smaller model (-D, --max-states)")
    return InternalError(error)


def _error_kind(error: CorrigoError) -> str:
    """``spec`` (exit 2), ``resource`` (a limit or --timeout, exit 3) or ``internal`` (a bug, exit 3)."""
    return "spec" if isinstance(error, SpecError) else "resource" if isinstance(error, ResourceLimitError) else \
        "internal"


def _message(error: CorrigoError, path: str | None = None) -> str:
    """The message of ``error`` on stderr: a spec error located in its source, others after ``path:``."""
    if isinstance(error, SpecError):
        return error.render()
    text = str(error) if isinstance(error, InternalError) else f"error: {error}"
    return f"{path}: {text}" if path is not None else text


def _echo_error(text: str) -> None:
    """``text`` on stderr, with the control characters a spec may hold (an ESC in a comment) made visible."""
    from verifier.reports.escaping import printable

    click.echo(printable(text), err=True)


def _reports_errors(command: F) -> F:
    """Turn corrigo's errors into messages and exit codes; anything else is an internal error (exit 3)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except BrokenPipeError:  # the reader went away (`corrigo power spec | head`): stop quietly, as `cat` would
            with contextlib.suppress(OSError, ValueError):  # (Python flushes stdout at exit: into the void)
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(EXIT_BROKEN_PIPE)
        except Exception as error:  # noqa: BLE001 - the last line of defence: no traceback for users
            failure = _as_corrigo_error(error)
            _echo_error(_message(failure))
            sys.exit(EXIT_SPEC_ERROR if isinstance(failure, SpecError) else EXIT_INTERNAL)

    return cast(F, wrapper)  # functools.wraps keeps command's signature, which the type of wrapper does not say


def _timeout_supported(context: click.Context, parameter: click.Parameter, value: float | None) -> float | None:
    """``--timeout``: without SIGALRM (Windows) or off the main thread, warn and run without a time limit."""
    if value is not None and (not hasattr(signal, "setitimer")
                              or threading.current_thread() is not threading.main_thread()):
        _echo_error("warning: --timeout needs SIGALRM, which this platform lacks; running without a time limit")
        return None
    return value


timeout_option = click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None,
                              metavar="SECONDS", callback=_timeout_supported,
                              help="Stop with exit code 3 when the work takes longer than this.")


@contextlib.contextmanager
def _time_limit(seconds: float | None, what: str) -> Iterator[None]:
    """Raise :class:`TimeLimitError` in the work of the ``with`` block once it has run ``seconds``."""
    def expired(frame: FrameType | None) -> BaseException:
        return TimeLimitError(f"{what} took longer than --timeout {seconds:g} s{_stopped_in(frame)}; raise "
                              "--timeout, or make the model smaller (-D, --max-states)")

    with alarm(seconds, expired):
        yield


@contextlib.contextmanager
def alarm(seconds: float | None, error: Callable[[FrameType | None], BaseException]) -> Iterator[None]:
    """Raise ``error(frame)`` in the work of the ``with`` block once it has run ``seconds`` (``None``: never).

    SIGALRM interrupts the Python code wherever it is, without a thread or any help from the library;
    a single long call into C (one scipy factorisation, one z3 query) ends before the handler runs.
    Main thread only, where the platform has ``setitimer``.
    """
    if seconds is None or not hasattr(signal, "setitimer"):
        yield
        return

    def expire(signum: int, frame: FrameType | None) -> None:
        if _importing(frame):  # a module stopped halfway stays broken for the next spec: let the import finish
            signal.setitimer(signal.ITIMER_REAL, 0.01)
            return
        raise error(frame)

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _importing(frame: FrameType | None) -> bool:
    """Whether ``frame`` runs inside an import (networkx, imported on first use, registers its algorithms once)."""
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


def _stopped_in(frame: FrameType | None) -> str:
    """`` (stopped in mdp.solver.solve)``: the innermost public function of corrigo that was running, if any."""
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module.split(".")[0] in ("dsl", "mdp", "verifier") and module != __name__ and \
                not frame.f_code.co_name.startswith("_"):
            return f" (stopped in {module}.{frame.f_code.co_name})"
        frame = frame.f_back
    return ""


def _timed(what: str) -> Callable[[F], F]:
    """``--timeout`` for a command on one spec: all its work runs under :func:`_time_limit`, as ``what 'SPEC'``."""

    def decorate(command: F) -> F:
        @functools.wraps(command)
        def wrapper(*args: Any, timeout: float | None, **kwargs: Any) -> Any:
            spec = kwargs.get("spec_path", kwargs.get("spec"))
            with _time_limit(timeout, f"{what} '{spec}'"):
                return command(*args, **kwargs)

        return timeout_option(cast(F, wrapper))  # functools.wraps keeps command's signature (less timeout)

    return decorate


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="corrigo")
def main() -> None:
    """Check what agents that minimise an intrinsic cost do: accept shutdown, seek power, game proxies."""


@main.command()
@click.argument("specs", nargs=-1, required=True, type=click.Path())
@define_option
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Errors as text (on stderr) or as JSON objects (on stdout).")
@click.option("-q", "--quiet", is_flag=True, help="Text: the errors only, without the closing count.")
@_reports_errors
def lint(specs: tuple[str, ...], defines: tuple[str, ...], output_format: str, quiet: bool) -> None:
    """Parse and check SPECS without building the model; exit 2 if any has errors."""
    overrides = _parse_defines(defines)
    results: list[tuple[str, tuple[Diagnostic, ...], SpecError | None]] = []
    for path in specs:
        try:
            _load_spec(path, overrides)
            results.append((path, (), None))
        except SpecError as error:
            results.append((path, error.diagnostics, error))
    failed = [(path, diagnostics, error) for path, diagnostics, error in results if error is not None]
    if output_format == "json":
        from verifier.reports.serialize import diagnostic_json

        click.echo(json.dumps({
            "schema_version": 1,
            "files": [{"file": _shown(path), "ok": error is None} for path, _, error in results],
            "errors": [diagnostic_json(_shown(path), d) for path, diagnostics, _ in results for d in diagnostics],
        }, indent=2, sort_keys=True))
    else:
        for _, _, failure in failed:
            _echo_error(failure.render() + "\n")
        n_errors = sum(len(d) for _, d, _ in failed)
        summary = (f"{len(results)} spec(s) checked, no errors" if not failed else
                   f"{len(results)} spec(s) checked, {n_errors} error(s) in {len(failed)}")
        if not quiet:
            click.echo(summary, err=bool(failed))
    sys.exit(EXIT_SPEC_ERROR if failed else EXIT_OK)


class _Progress:
    """A rich progress bar on stderr that appears only after a second of work, and only on a terminal."""

    def __init__(self, description: str) -> None:
        self.description = description
        self.started = time.monotonic()
        self.bar: Any = None
        self.task: Any = None

    def __call__(self, done: int, detail: float | int | None = None) -> None:
        if self.bar is None:
            if time.monotonic() - self.started < 1.0 or not sys.stderr.isatty():
                return
            from rich.console import Console
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self.bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                                console=Console(stderr=True), transient=True)
            self.bar.start()
            self.task = self.bar.add_task(self.description)
        self.bar.update(self.task, description=f"{self.description} {done:,}")

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


def parallel_options(command: F) -> F:
    """``--workers N`` / ``--scheduler ADDRESS``: where the parallel work runs (:mod:`verifier.parallel`)."""
    command = click.option("--scheduler", metavar="ADDRESS", default=None,
                           help="Run that work on a running Dask scheduler instead (e.g. tcp://10.0.0.5:8786; "
                                "its workers need corrigo installed).")(command)
    return click.option("--workers", type=click.IntRange(min=1), default=None, metavar="N",
                        help="Run POWER's reward samples, sweep cells and several specs on a local Dask cluster "
                             "of N processes (pip install 'corrigo[dask]'); the results are the same.")(command)


max_states_option = click.option("--max-states", type=click.IntRange(min=1), default=None, metavar="N",
                                 help="Stop with exit code 3 when the model grows beyond this many states "
                                      "(default: when building it would take more than 4 GiB; N replaces that budget).")


def _compile(spec_path: str, defines: tuple[str, ...], max_states: int | None) -> TabularMDP:
    return _load_and_compile(spec_path, defines, max_states)[1]


def _load_and_compile(spec_path: str, defines: tuple[str, ...], max_states: int | None,
                      exact: bool = False) -> tuple[Spec, TabularMDP]:
    """The spec and its model (with a progress bar while it builds)."""
    import mdp

    spec = _load_spec(spec_path, _parse_defines(defines))
    with _Progress("building the model: states") as progress:
        return spec, mdp.compile(spec, max_states=max_states, progress=progress, exact=exact)


@main.command()
@click.argument("spec_path", metavar="SPEC", type=click.Path())
@define_option
@max_states_option
@click.option("--tol", type=click.FloatRange(min=0, min_open=True), default=1e-9, show_default=True,
              help="Certified error bound the value iteration aims for before policy evaluation.")
@click.option("--exact", is_flag=True, help="Solve in the spec's exact rational numbers: exact values and ties.")
@click.option("--all", "show_all", is_flag=True,
              help="List every state of the model in the policy table, not only the first 50 that optimal play "
                   "reaches.")
@click.option("--at", "at", multiple=True, metavar="STATE",
              help="Also show this state on its own, written as the tables write states (e.g. 'battery=2, "
                   "room=lab'; variables left out may be anything if one state matches). Repeatable.")
@click.option("--q", "show_q", is_flag=True,
              help="With the states of --at (default: the initial state), the value of taking each action first.")
@click.option("--paths", "show_paths", is_flag=True,
              help="List the paths of optimal play (every optimal action, ties included, and every successor) "
                   "from the first state of --at (default: the initial state): the first 20, 50 steps at most.")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@_reports_errors
@_timed("solving")
def solve(spec_path: str, defines: tuple[str, ...], max_states: int | None, tol: float, exact: bool,
          show_all: bool, at: tuple[str, ...], show_q: bool, show_paths: bool, output_format: str) -> None:
    """Solve SPEC: the optimal value, the cost split by term, and every optimal action per state."""
    from .policy_table import render_text, summarise, to_json
    from .verification import solve_spec

    spec = _load_spec(spec_path, _parse_defines(defines))
    if spec.horizon is not None and not (exact or show_all or at or show_q or show_paths or spec.policies
                                         or spec.agents):
        expanded = _solve_by_stages(spec, max_states, output_format)
        if expanded is None:
            return
        model = expanded
    else:
        spec, model = _load_and_compile(spec_path, defines, max_states, exact)
    try:
        states = [model.find(text) for text in at] or ([model.initial] if show_q else [])
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="'--at'") from None
    with _Progress("value iteration: sweep") as progress:
        model, solution = solve_spec(spec, model, tol, exact, progress=progress)
    from .policy import agent_behaviour, declared_policy_rows, evaluate_policy, value_chain

    policies = [(p.name, evaluate_policy(model, solution, declared_policy_rows(spec, model, p)).value)
                for p in spec.policies]
    behaviours = {}
    for agent in spec.agents:  # what the planning agents do, each by one tie-break where they tie
        behaviour, _, ties = agent_behaviour(spec, model, solution, agent)
        behaviours[agent.name] = behaviour
        policies.append((f"{agent.name} (agent, {agent.steps} step{'s' if agent.steps != 1 else ''}"
                         f"{', ties broken by the first action' if ties else ''})", behaviour.value))
    summary = summarise(solution, limit=None if show_all else 50, at=states, q=show_q, all_states=show_all,
                        policies=policies, paths_from=(states[0] if states else model.initial) if show_paths else None,
                        chain=value_chain(spec, model, solution, behaviours))
    if output_format == "json":
        click.echo(json.dumps(to_json(summary), indent=2, sort_keys=True))
    else:
        color, width = _terminal()
        click.echo(render_text(summary, color=color, width=width), nl=False)


def _solve_by_stages(spec: Spec, max_states: int | None, output_format: str) -> TabularMDP | None:
    """``corrigo solve`` of a horizon whose time-expanded model would pass the limits: the world solved step
    by step instead (a note says what needs the expanded model), None; the expanded model when it fits."""
    import mdp
    from mdp.compiler import DEFAULT_MAX_BYTES, time_expanded
    from mdp.stages import solve_stages

    from .policy_table import render_text, summarise_stages, to_json

    with _Progress("building the model: states") as progress:
        world = mdp.compile(spec, max_states=max_states, progress=progress, expand_horizon=False)
    try:
        return time_expanded(spec, world, max_states, DEFAULT_MAX_BYTES if max_states is None else None)
    except mdp.StateLimitError as error:
        _echo_error(f"note: {error.message}; solved step by step instead (--all, --at, --q, --paths, --exact, "
                    "declared policies and agents, and the intent chain need the time-expanded model)")
    summary = summarise_stages(solve_stages(world, spec.horizon or 1, max_bytes=DEFAULT_MAX_BYTES))
    if output_format == "json":
        click.echo(json.dumps(to_json(summary), indent=2, sort_keys=True))
    else:
        color, width = _terminal()
        click.echo(render_text(summary, color=color, width=width), nl=False)
    return None


@main.command()
@click.argument("spec_path", metavar="SPEC", type=click.Path())
@click.option("--to", "target", type=click.Choice(["prism", "drn", "jani", "json", "dot"]), default="prism",
              show_default=True,
              help="The format to write: PRISM (for PRISM and Storm), DRN (Storm's explicit format: fast to read, "
                   "any size), JANI (Storm; keeps the spec's variables), JSON (every state, choice, cost and "
                   "transition; docs/model-schema.md) or DOT (Graphviz).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True, callback=_output_path,
              help="The model file to write ('-': stdout, for --to json and dot; PRISM, DRN and JANI: the "
                   "properties, the spec's checks among them, go next to it, with suffix .props).")
@define_option
@max_states_option
@_reports_errors
@_timed("exporting")
def export(spec_path: str, target: str, output: str, defines: tuple[str, ...], max_states: int | None) -> None:
    """Write the compiled model of SPEC for another tool (prism, drn, jani: with its checks, for Storm)."""
    if output == "-" and target in _WITH_PROPERTIES:
        raise click.BadParameter(f"--to {target} writes two files, the model and its .props; name the model's "
                                 "file, or use --to json or --to dot for stdout", param_hint="-o")
    spec, model = _load_and_compile(spec_path, defines, max_states)
    done = f"wrote {'the model to stdout' if output == '-' else output} ({model.n_states:,} states)"
    if target == "json":
        from mdp.model_json import to_json

        _write_output(output, json.dumps(to_json(model), indent=2, sort_keys=True) + "\n")
        click.echo(done, err=output == "-")
        return
    if target == "dot":
        from mdp.dot import model_graph, to_dot

        title = f"{model.name}: the reachable model, {model.n_states:,} states"
        _write_output(output, to_dot(model_graph(model), model.name, title))
        click.echo(done, err=output == "-")
        return
    out = Path(output)
    model_text, properties = _WITH_PROPERTIES[target](model, spec)
    _write_output(output, model_text)
    props = out.with_suffix(".props")
    _write_output(str(props), properties)
    click.echo(f"wrote {out} ({model.n_states:,} states) and {props}")


def _prism_texts(model: TabularMDP, spec: Spec) -> tuple[str, str]:
    from mdp.prism import to_prism

    return to_prism(model, spec)


def _drn_texts(model: TabularMDP, spec: Spec) -> tuple[str, str]:
    from mdp.drn import to_drn

    return to_drn(model, spec)


def _jani_texts(model: TabularMDP, spec: Spec) -> tuple[str, str]:
    from mdp.jani import jani_text, to_jani

    document, properties = to_jani(model, spec)
    return jani_text(document), properties


_WITH_PROPERTIES: dict[str, Callable[[TabularMDP, Spec], tuple[str, str]]] = {
    "prism": _prism_texts, "drn": _drn_texts, "jani": _jani_texts,
}
"""The export formats of a model file and its .props, and the texts of each."""


@main.command("render")
@click.argument("spec_path", metavar="SPEC", type=click.Path())
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, metavar="OUT.svg|png|dot",
              callback=_output_path,
              help="The picture to write ('-': stdout); its suffix gives the format unless --to does. Without it, "
                   "--to dot writes to stdout.")
@click.option("--to", "target", type=click.Choice(["dot", "svg", "png"]), default=None,
              help="The format (default: from the suffix of -o).")
@click.option("--optimal", is_flag=True,
              help="Show only the states and choices optimal policies reach and take (M*).")
@click.option("--check", "check", default=None, metavar="NAME",
              help="Draw the counterexample path of this check in red (if it fails).")
@click.option("--max-nodes", type=click.IntRange(min=1), default=200, show_default=True, metavar="N",
              help="Show at most N states, the nearest to the initial state (breadth-first).")
@click.option("--engine", type=click.Choice(["auto", "graphviz", "matplotlib"]), default="auto", show_default=True,
              help="How SVG and PNG are drawn: Graphviz's dot program (auto: when it is on PATH) or matplotlib.")
@define_option
@max_states_option
@_reports_errors
@_timed("drawing")
def render_command(spec_path: str, output: str | None, target: str | None, optimal: bool, check: str | None,
                   max_nodes: int, engine: str, defines: tuple[str, ...], max_states: int | None) -> None:
    """Draw the model of SPEC as a graph: optimal choices in bold, a check's counterexample in red."""
    import mdp
    from verifier.render import FORMATS, GraphvizNotFoundError, find_graphviz, picture, write_picture

    to_stdout = output in (None, "-")
    fmt = target or (Path(output).suffix.lstrip(".").lower() if output is not None and not to_stdout else None)
    if fmt is None:
        raise click.UsageError("say where to draw: -o OUT.svg|png|dot, or --to dot (or -o - --to svg|png) for "
                               "stdout")
    if fmt not in FORMATS:
        raise click.BadParameter(f"cannot tell the format from '{output}'; use a suffix .svg, .png or .dot, or "
                                 "--to", param_hint="-o")
    if output is None and fmt != "dot":
        raise click.UsageError(f"--to {fmt} needs a file: -o OUT.{fmt}, or -o - for stdout")
    if engine == "graphviz" and fmt != "dot":  # asked for by name: say so now, not after solving the model
        try:
            find_graphviz()
        except GraphvizNotFoundError as error:
            raise click.BadParameter(str(error), param_hint="--engine") from None
    spec = _load_spec(spec_path, _parse_defines(defines))
    if check is not None:
        _require_check(spec_path, spec, check, "--check")
    model = _compile(spec_path, defines, max_states)
    with _Progress("value iteration: sweep") as progress:
        solution = mdp.solve(model, progress=progress)
    drawing = picture(spec, model, solution, optimal=optimal, check=check, max_nodes=max_nodes)
    if drawing.n_shown < drawing.n_states:
        click.echo(f"note: {drawing.n_states:,} states are more than --max-nodes {max_nodes}: showing the "
                   f"{drawing.n_shown:,} nearest to the initial state; shrink the model with --optimal or -D, or "
                   "raise --max-nodes", err=True)
    if drawing.note:
        click.echo(f"note: {drawing.note}", err=True)
    if not to_stdout:
        written = write_picture(drawing, output, fmt, engine)
        click.echo(f"wrote {output} ({drawing.n_shown:,} states, {written})")
    elif fmt == "dot":
        click.echo(write_picture(drawing, None, fmt, engine), nl=False)
    else:  # drawn into a file of its own (Graphviz and matplotlib write files), then copied to stdout
        with tempfile.TemporaryDirectory() as folder:
            drawn = Path(folder) / f"picture.{fmt}"
            written = write_picture(drawing, drawn, fmt, engine)
            sys.stdout.buffer.write(drawn.read_bytes())
            sys.stdout.buffer.flush()
        click.echo(f"wrote the picture to stdout ({drawing.n_shown:,} states, {written})", err=True)


def _require_check(spec_path: str, spec: Spec, check: str, param_hint: str) -> None:
    """A usage error naming the checks of ``spec`` when it has none called ``check``."""
    names = [c.name for c in spec.checks]
    if check not in names:
        raise click.BadParameter(f"'{_shown(spec_path)}' has no check '{check}'; its checks are: "
                                 f"{', '.join(names) or '(none)'}", param_hint=param_hint)


# --- verify and explain (verifier) ------------------------------------------------------------------


def _terminal() -> tuple[bool, int]:
    """How to print text reports on stdout: colour and tables as wide as the terminal on a terminal; to a pipe or
    a file no colour, and tables ``COLUMNS`` wide (100 if unset). Prose is never wrapped (rich's soft wrap).
    ``NO_COLOR`` (https://no-color.org) turns colour off, ``FORCE_COLOR`` on."""
    tty = bool(getattr(sys.stdout, "isatty", lambda: False)())
    color = tty if not os.environ.get("NO_COLOR") else False
    if os.environ.get("FORCE_COLOR") and not os.environ.get("NO_COLOR"):
        color = True
    if tty:
        return color, shutil.get_terminal_size().columns
    columns = os.environ.get("COLUMNS", "")
    return color, int(columns) if columns.isdigit() and int(columns) > 0 else 100


def _verify_options(command: F) -> F:
    """The options shared by ``verify`` and ``explain``."""
    command = click.option("--max-states", type=click.IntRange(min=1), default=None, metavar="N",
                           help="Stop building the model beyond N states (exit 3; default: when building it "
                                "would take more than 4 GiB; N replaces that budget).")(command)
    command = click.option("--tol", type=click.FloatRange(min=0, min_open=True), default=None,
                           help="Value iteration's target error before policy iteration takes over "
                                "(verdicts rest on the certificate either way).")(command)
    command = click.option("--exact", is_flag=True,
                           help="Decide everything in the spec's exact rational numbers, no rounding at all.")(command)
    command = click.option("--settle-limit", type=click.IntRange(min=0), default=SETTLE_LIMIT, show_default=True,
                           metavar="N", help="Without --exact: on models of at most N states, settle the verdicts "
                                             "floats leave inconclusive in exact arithmetic (0: never).")(command)
    return define_option(_power_samples_options(command))


def _power_samples_options(command: F) -> F:
    """``--samples`` and ``--seed``: the random reward functions of the POWER checks."""
    command = click.option("--samples", type=click.IntRange(min=2), default=1000, show_default=True,
                           help="Reward functions sampled by power_seeking and optimality_probability.")(command)
    return click.option("--seed", type=int, default=0, show_default=True,
                        help="Seed of those reward functions.")(command)


@main.command("verify")
@click.argument("specs", nargs=-1, required=True, type=click.Path())
@_verify_options
@click.option("--format", "output_format", type=click.Choice(["text", "json", "markdown", "sarif", "junit"]),
              default="text", show_default=True,
              help="The report format; sarif and junit also report spec errors, located, for CI.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, allow_dash=True), default="-", show_default=True,
              callback=_output_path,
              help="Write the report to this file instead of stdout ('-'); the exit code is the same.")
@click.option("-q", "--quiet", is_flag=True,
              help="Text: only the checks that fail or are inconclusive, one line each as path:line:col (for "
                   "pre-commit and CI logs); nothing when every check holds.")
@click.option("-v", "--verbose", is_flag=True,
              help="Text: after each report, the full explanation of every check that fails or is inconclusive "
                   "(as corrigo explain prints it).")
@timeout_option
@parallel_options
@_reports_errors
def verify_command(specs: tuple[str, ...], defines: tuple[str, ...], exact: bool, settle_limit: int,
                   tol: float | None, max_states: int | None, output_format: str, output: str, samples: int,
                   seed: int, quiet: bool, verbose: bool, timeout: float | None, workers: int | None,
                   scheduler: str | None) -> None:
    """Check what every optimal policy of each of SPECS does; exit 1 if a check fails or is inconclusive.

    Each spec is verified on its own: a spec error (exit 2), a resource limit, a --timeout (which
    applies to each spec) or an internal error (exit 3) is reported for that spec, in every format,
    and the other specs are still verified and reported.

    A spec that declares no check passes (exit 0: it may be a model only for solve, power or render),
    with a warning on stderr and in every report format (a SARIF warning, a skipped JUnit testcase).

    With --workers or --scheduler, several specs are verified side by side, one per worker; one spec
    spreads its POWER samples and its 'for all params' sweep cells over them instead.
    """
    from verifier.parallel import executor
    from verifier.reports import render_explanation, render_markdown, render_text, to_json, to_junit, to_sarif
    from verifier.reports.serialize import error_json
    from verifier.reports.text import failure_lines
    from verifier.results import Verdict
    from verifier.reports.text import NO_CHECKS
    from verifier.verification import verify

    if quiet and verbose:
        raise click.UsageError("--quiet and --verbose exclude each other; choose one")
    if (quiet or verbose) and output_format != "text":
        raise click.UsageError(f"--{'quiet' if quiet else 'verbose'} shapes the text report; --format "
                               f"{output_format} always holds everything")
    overrides = _parse_defines(defines)
    color, width = _terminal() if output == "-" else (False, 100)
    outcomes: list[Report | tuple[str, CorrigoError]] = []  # per spec, in their order: its Report, or (path, error) if it could not be verified
    code = EXIT_OK
    options: dict[str, Any] = dict(tol=tol, exact=exact, max_states=max_states, samples=samples, seed=seed,
                                   settle_limit=settle_limit)
    with executor(workers, scheduler) as pool:
        per_spec = pool is not None and len(specs) > 1
        pending = [pool.submit(verify, Path(path), dict(overrides), **options) if per_spec and path != "-" else None
                   for path in specs] if pool is not None else [None] * len(specs)
        inside = None if per_spec else pool
        for path, future in zip(specs, pending):
            try:
                with _time_limit(timeout, "the verification"):  # the message starts with the path
                    report = future.result() if future is not None else \
                        verify(*_verify_input(path, overrides), executor=inside, **options)
            except Exception as error:  # noqa: BLE001 - one spec's failure must not lose the other specs' results
                failure = _as_corrigo_error(error)
                _echo_error(_message(failure, _shown(path)))
                outcomes.append((_shown(path), failure))
                code = max(code, EXIT_SPEC_ERROR if isinstance(failure, SpecError) else EXIT_INTERNAL)
                continue
            outcomes.append(report)
            if not report.checks and not quiet:
                _echo_error(f"{_shown(path)}: warning: {NO_CHECKS}; add a check declaration (docs/language.md lists the kinds)")
            if not report.holds:
                code = max(code, EXIT_FAILED)
    reports = [o for o in outcomes if not isinstance(o, tuple)]
    errors = [o for o in outcomes if isinstance(o, tuple)]
    if output_format == "json":  # a spec that could not be verified is an object of the report's shape too
        documents = [error_json(o[0], o[1], _error_kind(o[1])) if isinstance(o, tuple) else to_json(o)
                     for o in outcomes]
        text = json.dumps(documents[0] if len(specs) == 1 else documents, indent=2, sort_keys=True) + "\n"
    elif output_format == "sarif":
        text = json.dumps(to_sarif(reports, errors), indent=2, sort_keys=True) + "\n"
    elif output_format == "junit":
        text = to_junit(reports, errors)
    elif output_format == "markdown":
        text = "\n".join(render_markdown(report) for report in reports)
    elif quiet:
        text = "".join(f"{line}\n" for report in reports for line in failure_lines(report))
    else:
        text = "".join(render_text(report, color=color, width=width) + "".join(
            "\n" + render_explanation(check, color=color, width=width) for check in report.checks
            if verbose and check.verdict is not Verdict.HOLDS) for report in reports)
    _write_output(output, text)
    sys.exit(code)


@main.command("explain")
@click.argument("spec", type=click.Path())
@click.argument("check")
@_verify_options
@_reports_errors
@_timed("explaining")
def explain_command(spec: str, check: str, defines: tuple[str, ...], exact: bool, settle_limit: int,
                    tol: float | None, max_states: int | None, samples: int, seed: int) -> None:
    """Explain the verdict of CHECK in SPEC: the counterexample trace and the cost terms behind it."""
    from verifier.reports import render_explanation
    from verifier.verification import verify

    loaded = _load_spec(spec, _parse_defines(defines))
    _require_check(spec, loaded, check, "CHECK")
    report = verify(loaded, tol=tol, exact=exact, max_states=max_states, checks=(check,), samples=samples, seed=seed,
                    settle_limit=settle_limit)
    result = report.check(check)
    color, width = _terminal()
    click.echo(render_explanation(result, color=color, width=width), nl=False)
    sys.exit(EXIT_OK if result.holds else EXIT_FAILED)


# --- power (Turner et al.'s POWER per state) ---------------------------------------------------------


def _distribution_option(context: click.Context, parameter: click.Parameter, value: str | None) -> Any:
    """``--distribution``: a :class:`~mdp.power.RewardDistribution`, or a usage error saying what is expected."""
    if value is None:
        return None
    from mdp.power import reward_distribution

    try:
        return reward_distribution(value)
    except ValueError as error:
        raise click.BadParameter(str(error), context, parameter) from None


def _load_rewards(path: str, model: TabularMDP) -> npt.NDArray[Any]:
    """``--rewards FILE``: a ``(samples, n_states)`` array from a .npy or .csv file, checked against the model."""
    import numpy as np

    from mdp.power import check_rewards

    suffix = Path(path).suffix.lower()
    try:
        if suffix == ".npy":
            array = np.load(path, allow_pickle=False)
        elif suffix == ".csv":
            array = np.loadtxt(path, delimiter=",", ndmin=2)
        else:
            raise click.BadParameter(f"'{path}' is neither .npy nor .csv", param_hint="--rewards")
        return check_rewards(model, array)
    except (ValueError, OSError) as error:
        raise click.BadParameter(f"'{path}': {error}", param_hint="--rewards") from None


@main.command("sweep")
@click.argument("spec_path", metavar="SPEC", type=click.Path())
@define_option
@max_states_option
@_power_samples_options
@click.option("--params", "params", default=None, metavar="W1,W2",
              help="The params to sweep, comma-separated (default: all); the others keep their values.")
@click.option("--steps", "steps", default=None, metavar="AGENT=LO..HI",
              help="Sweep an agent's planning horizon instead of the weights: its checks for every H in LO..HI.")
@click.option("--max-regions", type=click.IntRange(min=1), default=50, show_default=True,
              help="Stop after this many regions; the answer is then partial and says so.")
@click.option("--format", "output_format", type=click.Choice(["text", "json", "markdown"]), default="text",
              show_default=True)
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None, metavar="OUT.png",
              callback=_plot_path,
              help="Also draw the regions coloured by verdict (one or two swept params).")
@parallel_options
@_reports_errors
@_timed("sweeping")
def sweep_command(spec_path: str, defines: tuple[str, ...], max_states: int | None, samples: int, seed: int,
                  params: str | None, steps: str | None, max_regions: int, output_format: str,
                  plot_path: str | None, workers: int | None, scheduler: str | None) -> None:
    """Partition the params' box into exact regions of constant optimal behaviour, with every check's verdict;
    or, with --steps, run an agent's checks at every planning horizon in a range.

    Exit 0 when every check holds on the whole box (or at every horizon), 1 otherwise (or when the answer is
    partial).
    """
    from verifier.parallel import executor
    from verifier.reports.regions import render_sweep_markdown, render_sweep_text, sweep_to_json
    from verifier.sweep import SweepError, sweep_model

    spec = _load_spec(spec_path, _parse_defines(defines))
    if steps is not None:
        if params is not None or plot_path is not None:
            raise click.UsageError("--steps sweeps an agent's horizon; it excludes --params and --plot")
        _horizon_sweep(spec_path, spec, defines, max_states, steps, output_format, samples, seed)
    names = None if params is None else [name.strip() for name in params.split(",") if name.strip()]
    if names is not None and not names:
        raise click.BadParameter("expected param names separated by commas, e.g. --params w_hunger,w_pain",
                                 param_hint="--params")
    swept = len(names) if names is not None else len(spec.params)
    if plot_path is not None and swept > 2:
        raise click.UsageError(f"--plot draws one or two params, and {swept} would be swept; "
                               "choose them with --params W1,W2")
    model = _compile(spec_path, defines, max_states)
    try:
        with _Progress("sweeping the weights: regions") as progress, executor(workers, scheduler) as pool:
            def report(stage: str, count: int) -> None:
                progress.description = f"sweeping the weights: {stage}"
                progress(count)

            result = sweep_model(spec, model, params=names, max_regions=max_regions, progress=report,
                                 samples=samples, power_seed=seed, executor=pool)
    except SweepError as error:
        raise click.BadParameter(str(error), param_hint="--params" if names else "SPEC") from None
    if output_format == "json":
        click.echo(json.dumps(sweep_to_json(result), indent=2, sort_keys=True))
    elif output_format == "markdown":
        click.echo(render_sweep_markdown(result), nl=False)
    else:
        click.echo(render_sweep_text(result), nl=False)
    if plot_path is not None:
        from verifier.reports.regions_plot import plot_regions

        plot_regions(result, plot_path)
        click.echo(f"wrote {plot_path}", err=True)
    from verifier.results import Verdict

    holds = all(result.verdict(name) is Verdict.HOLDS for name, _ in result.checks)
    sys.exit(EXIT_OK if holds else EXIT_FAILED)


def _horizon_sweep(spec_path: str, spec: Spec, defines: tuple[str, ...], max_states: int | None, steps: str,
                   output_format: str, samples: int, seed: int) -> None:
    """``corrigo sweep --steps AGENT=LO..HI``: the agent's checks at every horizon, a row each; exits."""
    from verifier.policy import horizon_sweep
    from verifier.results import Verdict
    from verifier.verification import solve_spec

    agent, _, span = steps.partition("=")
    low, dots, high = span.partition("..")
    if not dots or not low.strip().isdigit() or not high.strip().isdigit() or not 1 <= int(low) <= int(high):
        raise click.BadParameter(f"'{steps}' is not AGENT=LO..HI with 1 <= LO <= HI (e.g. --steps planner=1..10)",
                                 param_hint="--steps")
    agents = [a.name for a in spec.agents]
    if agent.strip() not in agents:
        raise click.BadParameter(f"'{agent.strip()}' is not an agent of the spec" +
                                 (f"; its agents are {', '.join(agents)}" if agents else "; it declares none"),
                                 param_hint="--steps")
    name = agent.strip()
    if int(high) - int(low) >= _MAX_HORIZONS:
        raise click.BadParameter(f"at most {_MAX_HORIZONS} horizons at once", param_hint="--steps")
    if not any(c.under == name for c in spec.checks):
        raise click.BadParameter(f"no check is declared under '{name}'; write `check NAME under {name} : ...`",
                                 param_hint="--steps")
    model = _compile(spec_path, defines, max_states)
    model, solution = solve_spec(spec, model, None, False)
    rows = horizon_sweep(spec, model, solution, name, range(int(low), int(high) + 1), samples=samples, seed=seed)
    checks = [result.name for result in rows[0][1]]
    if output_format == "json":
        click.echo(json.dumps({"schema_version": 1, "spec": spec.name, "path": _shown(spec_path), "agent": name,
                               "horizons": [{"steps": H, "verdicts": {r.name: str(r.verdict) for r in results}}
                                            for H, results in rows]}, indent=2, sort_keys=True))
    else:
        click.echo(f"{_shown(spec_path)}: the checks under agent '{name}' at every planning horizon from {low} to {high}")
        width = max(len(c) for c in checks)
        click.echo(("steps  " + "  ".join(f"{c:<{max(width, 12)}}" for c in checks)).rstrip())
        for H, results in rows:
            click.echo((f"{H:>5}  " + "  ".join(f"{str(r.verdict):<{max(width, 12)}}" for r in results)).rstrip())
        safe = [H for H, results in rows if all(r.verdict is Verdict.HOLDS for r in results)]
        click.echo(f"every check holds at {len(safe)} of {len(rows)} horizons" +
                   (f": {_runs(safe)}" if safe and len(safe) < len(rows) else ""))
    holds = all(r.verdict is Verdict.HOLDS for _, results in rows for r in results)
    sys.exit(EXIT_OK if holds else EXIT_FAILED)


_MAX_HORIZONS = 1000  # horizons one `corrigo sweep --steps` runs


def _runs(values: list[int]) -> str:
    """``1, 3..5, 9`` for ``[1, 3, 4, 5, 9]``."""
    parts, start = [], 0
    for i in range(1, len(values) + 1):
        if i == len(values) or values[i] != values[i - 1] + 1:
            parts.append(str(values[start]) if i - 1 == start else f"{values[start]}..{values[i - 1]}")
            start = i
    return ", ".join(parts)


@main.command("power")
@click.argument("spec_path", metavar="SPEC", type=click.Path())
@define_option
@max_states_option
@click.option("--samples", type=click.IntRange(min=2), default=1000, show_default=True,
              help="Reward functions sampled (R(s) IID from --distribution).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the sampled rewards.")
@click.option("--top", type=click.IntRange(min=1), default=10, show_default=True, metavar="K",
              help="Show the K states with the most and the K with the least POWER.")
@click.option("--all", "show_all", is_flag=True, help="Show every state, by decreasing POWER.")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None, metavar="OUT.png",
              callback=_plot_path,
              help="Also draw POWER: a heatmap over the first two integer variables, else a bar chart.")
@click.option("--at", "at", multiple=True, metavar="VAR=VALUE,...",
              help="Also show the optimality probability of every action at the states that match "
                   "(e.g. --at 'x=2, pressed=true'; repeatable; at most 5 states each).")
@click.option("--distribution", default=None, metavar="LAW", callback=_distribution_option,
              help="IID reward distribution: uniform (the default), bernoulli(p) or beta(a, b).")
@click.option("--discount", "discount", type=click.FloatRange(0, 1), default=None, metavar="GAMMA",
              help="POWER at this discount instead of the spec's; 0 and 1 are the limits gamma -> 0 and gamma -> 1.")
@click.option("--rewards", "rewards_path", type=click.Path(exists=True, dir_okay=False), default=None,
              metavar="FILE",
              help="Your own reward functions instead of sampled ones: a .npy or .csv file, one row per "
                   "sample, one column per state in model order (the 'index' of --all --format json).")
@parallel_options
@_reports_errors
@_timed("computing the POWER of")
def power_command(spec_path: str, defines: tuple[str, ...], max_states: int | None, samples: int, seed: int,
                  top: int, show_all: bool, output_format: str, plot_path: str | None, at: tuple[str, ...],
                  distribution: Any, discount: float | None, rewards_path: str | None, workers: int | None,
                  scheduler: str | None) -> None:
    """POWER (Turner et al.) of the states of SPEC: how many options each keeps open, with standard errors."""

    import numpy as np

    from mdp.graph import option_graph
    from mdp.power import optimality_probabilities, power, reward_distribution
    from verifier.parallel import executor

    context = click.get_current_context()
    if rewards_path is not None:
        for name in ("distribution", "samples", "seed"):
            if context.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE:
                raise click.UsageError(f"--rewards gives the reward functions; it excludes --{name}")
    law = distribution or reward_distribution("uniform")
    spec, model = _load_and_compile(spec_path, defines, max_states)
    if spec.horizon is not None:
        from mdp.power import PowerUndefinedError

        raise PowerUndefinedError(Diagnostic(
            f"POWER is defined for the discounted infinite horizon (Turner et al.); the model '{spec.name}' has "
            f"episodes of {spec.horizon} steps", spec.horizon_span,
            hint="drop `horizon` (and use a discount below 1) to see POWER"), spec.source)
    if discount == 1.0 and at and law.name == "bernoulli" and rewards_path is None:
        raise click.UsageError("--at with --discount 1 needs a continuous reward law (uniform or beta): under "
                               "bernoulli(p) actions tie often and the limit needs more terms than corrigo compares")
    rewards = None if rewards_path is None else _load_rewards(rewards_path, model)
    if rewards is not None:
        samples = rewards.shape[0]
    with _Progress("POWER: reward samples") as progress, executor(workers, scheduler) as pool:
        estimate = power(model, samples=samples, seed=seed, distribution=law, progress=progress, rewards=rewards,
                         executor=pool, discount=discount)
    plotted = None
    if plot_path is not None:
        from verifier.reports.power_plot import plot_power

        plotted = plot_power(estimate, plot_path)
    order = np.lexsort((np.arange(model.n_states), -estimate.power))  # most POWER first, ties by index
    n = model.n_states
    if show_all or 2 * top >= n:
        shown, gap = list(order), None
    else:
        shown, gap = list(order[:top]) + list(order[-top:]), top
    chosen = list(dict.fromkeys(s for pattern in at for s in _matching_states(model, pattern)[:5]))
    shares = (optimality_probabilities(model, chosen, samples=samples, seed=seed, distribution=law, rewards=rewards,
                                       discount=discount) if chosen else {})
    optimality: list[dict[str, Any]] = [{"index": s, "state": model.describe(s), "actions": shares[s]} for s in chosen]
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(1, n + 1)
    starts = set(model.start_states.tolist())
    options = option_graph(model).n_options_all()
    rows: list[dict[str, Any]] = [{"rank": int(rank[s]), "index": int(s), "state": model.describe(int(s)),
             "power": float(estimate.power[s]), "stderr": float(estimate.stderr[s]), "options": int(options[s]),
             "initial": int(s) in starts, "terminal": bool(model.terminal[s])} for s in shown]
    if output_format == "json":
        click.echo(json.dumps({
            "schema_version": 1, "model": model.name, "path": _shown(spec_path), "n_states": n,
            "discount": estimate.discount, "samples": samples, "seed": seed,
            "distribution": estimate.distribution, "tol": estimate.tol, "all": gap is None, "states": rows,
            "optimality": optimality,
        }, indent=2, sort_keys=True))
        return
    shown_discount = {0.0: "0 (the limit gamma -> 0)", 1.0: "1 (the limit gamma -> 1)"}.get(
        estimate.discount, float_text(estimate.discount)) if discount is not None else float_text(model.discount)
    click.echo(f"{_shown(spec_path)}: model '{model.name}', {n:,} states, discount {shown_discount}")
    drawn = (f"given in {rewards_path}" if rewards is not None else
             f"R(s) IID uniform on [0, 1], seed {seed}" if law.name == "uniform" else f"R(s) IID {law}, seed {seed}")
    click.echo(f"POWER (Turner et al.) from {samples} reward function{'s' if samples != 1 else ''}, {drawn}; "
               f"± is one standard error; options: reachable cycles (bottom strongly connected components, "
               f"terminal states among them)")
    width = max([len(r["state"]) for r in rows] + [5])
    click.echo(f"{'rank':>6}  {'state':<{width}}  {'POWER':>8}  {'± se':>8}  {'options':>7}")
    for i, r in enumerate(rows):
        if gap is not None and i == gap:
            click.echo(f"{'...':>6}  ({n - 2 * top:,} states not shown; --all shows every state)")
        marks = " (initial)" if r["initial"] else ""
        marks += " (terminal)" if r["terminal"] else ""
        click.echo(f"{r['rank']:>6}  {r['state']:<{width}}  {r['power']:>8.4f}  {r['stderr']:>8.4f}  "
                   f"{r['options']:>7}{marks}")
    for entry in optimality:
        listed = ", ".join(f"{a} {p:.1%}" for a, p in entry["actions"].items())
        click.echo(f"optimal for the share of rewards at ({entry['state']}): {listed}")
    if plotted is not None:
        click.echo(f"wrote {plot_path} ({plotted})")


def _matching_states(model: TabularMDP, pattern: str) -> list[int]:
    """States whose description has every ``var=value`` of ``pattern`` (comma separated), by index."""
    wanted = set()
    for part in pattern.split(","):
        name, sep, value = part.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise click.BadParameter(f"'{pattern}' is not VAR=VALUE, ... (e.g. --at 'x=2, y=1')", param_hint="--at")
        wanted.add(f"{name.strip()}={value.strip()}")
    names = {v.name for v in model.variables}
    unknown = sorted(w.split("=")[0] for w in wanted if w.split("=")[0] not in names)
    if unknown:
        raise click.BadParameter(f"no variable {', '.join(repr(u) for u in unknown)}; the variables are "
                                 f"{', '.join(sorted(names))}", param_hint="--at")
    found = [s for s in range(model.n_states)
             if wanted <= {item.strip() for item in model.describe(s).split(",")}]
    if not found:
        raise click.BadParameter(f"no reachable state matches '{pattern}'", param_hint="--at")
    return found


if __name__ == "__main__":  # pragma: no cover
    main()
