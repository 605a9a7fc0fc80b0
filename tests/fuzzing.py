"""Fuzzing corrigo (issue 11): spec text from the grammar and from mutated examples, and the property every
run must have.

Four sources of text, each a hypothesis strategy:

- :func:`grammar_specs`: whole specs from corrigo's own grammar (``hypothesis.extra.lark.from_lark`` over
  :func:`bounded_grammar`), with names, numbers and layout drawn from small sets so that the text is not
  pure noise; they parse, and almost never type-check;
- :func:`skeleton_specs`: a small world that loads (``SKELETON``), followed by declarations and checks from
  the grammar over the world's names; a few percent load;
- :func:`world_specs`: the same world with typed declarations and checks of every kind (random
  expressions of the right type, extreme numbers); most load, so they exercise the compiler, the solver
  and the checks;
- :func:`mutated_specs`: the shipped examples and the reliability cases (``tests/data/fuzz/``), mutated by
  line, character and token: extreme numbers, other operators, control characters, other line breaks,
  deep nesting, long names.

:func:`overrides` draws ``-D`` values for the world's ``const`` and ``param``.

:func:`run_pipeline` loads and verifies one text and says how it ended: a verdict, or the name of the
:class:`~dsl.errors.CorrigoError` it raised. Anything else raises :class:`Crash`: an exception that is not
a ``CorrigoError`` (what the CLI reports as an internal error), a spec error from ``dsl.load`` without a
location, a report that does not render, or a run past its time limit. :func:`run_cli` does the same
through ``corrigo lint`` and ``corrigo verify``. ``tests/verifier/test_fuzz.py`` runs them as properties;
``benchmarks/fuzz.py`` runs them for longer.
"""

from __future__ import annotations

import json
import re
import tempfile
import traceback
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import ContextManager
from pathlib import Path

import networkx as nx
from click.testing import CliRunner
from hypothesis import strategies as st
from hypothesis.extra.lark import from_lark
from lark import Lark
from lark.grammar import NonTerminal
from lark.lexer import PatternStr

import dsl
import mdp
import verifier
from dsl.errors import CorrigoError, SpecError
import dsl.parser
from verifier.cli import alarm
from verifier.results import Report

__all__ = ["Crash", "KNOWN_CRASHES", "SEEDS", "bounded_grammar", "grammar_specs", "mutated_specs", "overrides", "run_cli",
           "run_pipeline", "skeleton_specs", "world_specs"]

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.corrigo"))
CASES = sorted((ROOT / "tests" / "data" / "fuzz").glob("*.corrigo"))  # from the reliability audit
SEEDS = EXAMPLES + CASES
PACKAGES = tuple(Path(str(package.__file__)).resolve().parent for package in (dsl, mdp, verifier))


# --- the property ------------------------------------------------------------------------------


class Crash(AssertionError):
    """A run that did not end in a verdict or a :class:`CorrigoError`; ``signature`` groups equal crashes."""

    def __init__(self, stage: str, problem: str, text: str, error: BaseException | None = None) -> None:
        self.stage = stage
        self.problem = problem
        self.text = text
        self.error = error
        where = f" in {_innermost(error)}" if error is not None else ""
        # numbers (array shapes, sizes) vary between inputs that crash the same way
        self.signature = re.sub(r"\d+", "N", f"{stage}: {problem}") + where
        self.trace = "".join(traceback.format_exception(error)) if error is not None else ""
        super().__init__(f"{stage}: {problem}{where}\n--- spec ---\n{text!r}\n{self.trace}")

    @property
    def known(self) -> str | None:
        """The regression test of the known bug this crash is (``KNOWN_CRASHES``), if it is one."""
        return next((test for test, fragments in KNOWN_CRASHES.items()
                     if all(fragment in self.trace for fragment in fragments)), None)


# Bugs the fuzzer found that are not fixed yet, by what their tracebacks show, each with its strict-xfail
# regression test in tests/verifier/test_fuzz.py (FOUND). The properties skip these, so that a known bug
# does not fail the suite at random; once one is fixed, its test says so: then drop it here too.
KNOWN_CRASHES: dict[str, tuple[str, ...]] = {}


class _Timeout(BaseException):
    """The time limit went off (a BaseException, so that no ``except Exception`` in corrigo swallows it)."""


def time_limit(seconds: float | None) -> ContextManager[None]:
    """Raise :class:`_Timeout` inside the ``with`` block once it has run ``seconds`` (the CLI's alarm)."""
    return alarm(seconds, lambda frame: _Timeout())


def _innermost(error: BaseException) -> str:
    """``module.function`` of the innermost frame of corrigo's packages in ``error``'s traceback."""
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        path = Path(frame.filename).resolve()
        for package in PACKAGES:
            if path.is_relative_to(package):
                module = ".".join(path.relative_to(package.parent).with_suffix("").parts)
                return f"{module.removesuffix('.__init__')}.{frame.name}"
    return "?"


def is_located(error: SpecError) -> bool:
    """Whether every diagnostic of ``error`` has a place and its rendering shows it (``path:line:col``).

    An override of a name the spec does not declare (``-D nope=1``) has no place in the spec: its message,
    which starts with ``-D``, is enough.
    """
    return bool(error.diagnostics) and all(d.span is not None or d.message.startswith("-D ")
                                           for d in error.diagnostics) \
        and re.search(r":\d+:\d+: error: |^<string>: error: -D ", error.render()) is not None


def run_pipeline(text: str, overrides: Mapping[str, str] | None = None, *, max_states: int = 2000,
                 samples: int = 50, exact: bool = False, tol: float | None = None,
                 seconds: float | None = 60.0) -> str:
    """How corrigo ends on ``text``: ``"verified"`` or ``"load: ErrorName"``/``"verify: ErrorName"``.

    ``dsl.load`` must succeed or raise a located :class:`SpecError`; ``verifier.verify`` must return a
    report that every renderer renders (well-formed JSON and XML), or raise a :class:`CorrigoError`. A spec
    error from ``verify`` (a model error) without a location is an outcome of its own, ``(no location)``.

    Raises
    ------
    Crash
        For anything else, and when the whole run takes longer than ``seconds``.
    """
    from verifier import verification

    if "\n" not in text:
        text += "\n"  # dsl.load reads a one-line string that names an existing file as that file
    stage = "dsl.load"
    try:
        with time_limit(seconds):
            try:
                spec = dsl.load(text, overrides)
            except SpecError as error:
                if not is_located(error):
                    raise Crash(stage, f"{type(error).__name__} without a location: {error.render()[:200]!r}",
                                text) from error
                return f"load: {type(error).__name__}"
            stage = "verifier.verify"
            try:
                report = verification.verify(spec, max_states=max_states, samples=samples, exact=exact, tol=tol)
            except SpecError as error:
                return f"verify: {type(error).__name__}" + ("" if is_located(error) else " (no location)")
            except CorrigoError as error:
                return f"verify: {type(error).__name__}"
            except MemoryError:  # the CLI reports it as a resource limit
                return "verify: MemoryError"
            stage = "reports"
            _render_all(report)
    except Crash:
        raise
    except _Timeout as error:
        raise Crash(stage, f"no answer within {seconds:g} s", text, error) from None
    except Exception as error:  # noqa: BLE001 - what the CLI would report as an internal error
        raise Crash(stage, f"{type(error).__name__}: {str(error)[:200]}", text, error) from error
    return "verified"


def _render_all(report: Report) -> None:
    """Every report format of ``report``; JSON and SARIF must be strict JSON, JUnit well-formed XML."""
    from verifier.reports import render_html, render_markdown, render_text, to_json, to_junit, to_sarif

    render_text(report)
    render_markdown(report)
    render_html(report)
    json.dumps(to_json(report), allow_nan=False)
    json.dumps(to_sarif([report], []), allow_nan=False)
    ET.fromstring(to_junit([report], []))


# What corrigo says when it stops with exit code 3 without a bug: a resource limit, --timeout, the solver.
EXIT_3_MESSAGES = ("--max-states", "--timeout", "out of memory", "did not converge", "did not settle",
                   "did not finish", "--exact")


def run_cli(text: str, overrides: Mapping[str, str] | None = None, output_format: str = "json", *,
            max_states: int = 2000, samples: int = 50, seconds: float = 30.0, exact: bool = False,
            tol: float | None = None) -> tuple[int, int]:
    """The exit codes of ``corrigo lint`` and ``corrigo verify --format FORMAT`` on ``text`` in a file.

    Each must be 0 to 3 and print no internal error; 3 only with a resource limit, ``--timeout`` or
    solver message; a report printed on stdout (exit 0 or 1) must be strict JSON, SARIF or well-formed XML.

    Raises
    ------
    Crash
        When one of those does not hold.
    """
    from verifier.cli import main

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "spec.corrigo"
        path.write_bytes(text.encode("utf-8", "surrogatepass"))
        defines = [f"-D{name}={value}" for name, value in (overrides or {}).items()]
        runs = {  # the names are the crashes' stages (the format is the caller's to report)
            "corrigo lint": ["lint", *defines, str(path)],
            "corrigo verify": [
                "verify", *defines, "--format", output_format, "--max-states", str(max_states), "--samples",
                str(samples), "--timeout", str(seconds), *(["--exact"] if exact else []),
                *(["--tol", repr(tol)] if tol is not None else []), str(path)],
        }
        codes = []
        for name, arguments in runs.items():
            result = CliRunner().invoke(main, arguments)
            output = (result.stdout + result.stderr).replace(str(path), "spec.corrigo")  # no temporary name
            code = result.exit_code
            if result.exception is not None and not isinstance(result.exception, SystemExit):
                raise Crash(name, f"uncaught {type(result.exception).__name__}: {result.exception}", text,
                            result.exception)
            if code not in (0, 1, 2, 3):
                raise Crash(name, f"exit code {code}", text)
            if "internal error" in output or "this is a bug in corrigo" in output:
                cause = _pipeline_error(text, overrides, max_states, samples, exact, tol)  # for its traceback
                raise Crash(name, "internal error: " + _internal_error_line(output), text, cause)
            if code == 3 and not any(message in output for message in EXIT_3_MESSAGES):
                raise Crash(name, f"exit 3 without a resource-limit message: {output[-300:]!r}", text)
            if name != "corrigo lint" and code in (0, 1):
                _check_report_output(name, output_format, result.stdout, text)
            codes.append(code)
    return codes[0], codes[1]


def _pipeline_error(text: str, overrides: Mapping[str, str] | None, max_states: int, samples: int, exact: bool,
                    tol: float | None) -> BaseException | None:
    """The exception behind an internal error of the CLI, from the same run through the API (if it fails)."""
    try:
        run_pipeline(text, overrides, max_states=max_states, samples=samples, exact=exact, tol=tol)
    except Crash as crash:
        return crash.error
    return None


def _internal_error_line(output: str) -> str:
    """``ErrorType: message`` of the first internal error in ``output`` (text, or quoted in JSON or XML)."""
    found = re.search(r"internal error: ([^\n\"\\<]*)", output)
    return found[1] if found else output[-200:]


def _check_report_output(name: str, output_format: str, stdout: str, text: str) -> None:
    try:
        if output_format in ("json", "sarif"):
            json.loads(stdout, parse_constant=_no_constant)
        elif output_format == "junit":
            ET.fromstring(stdout)
    except (ValueError, ET.ParseError) as error:
        raise Crash(name, f"malformed {output_format} output: {error}", text, error) from None


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


# --- text from the grammar ---------------------------------------------------------------------


@lru_cache(maxsize=None)
def bounded_grammar(depth: int) -> Lark:
    """corrigo's grammar with recursion cut off after ``depth`` levels, for ``from_lark``.

    ``from_lark`` on the grammar itself overruns hypothesis's buffer (an expression is more often
    recursive than not), so every rule is copied once per level ``rule_0 .. rule_{depth}``: a reference
    that closes a cycle of rules (found depth-first, within one strongly connected group) goes one level
    down, and alternatives that would go below ``depth`` are dropped. Each group of mutually recursive
    rules (expressions, lists, bodies) has its own budget. Everything generated is in the language.
    """
    starts = ["start", "declaration", "check", "expr"]
    # a parser built here, not dsl's: that one may come from lark's cache, which keeps no grammar
    parser = Lark.open("grammar.lark", rel_to=dsl.parser.__file__, parser="lalr", lexer="basic",
                       start=["start", "declarations"], maybe_placeholders=True)
    terminals, rules, ignore = parser.grammar.compile(starts, ())
    expansions: dict[str, list[list[tuple[str, bool]]]] = {}
    for rule in rules:
        expansions.setdefault(rule.origin.name, []).append(
            [(symbol.name, isinstance(symbol, NonTerminal)) for symbol in rule.expansion])
    graph: nx.DiGraph[str] = nx.DiGraph()
    graph.add_nodes_from(expansions)
    graph.add_edges_from((a, b) for a, alternatives in expansions.items() for alternative in alternatives
                         for b, is_rule in alternative if is_rule)
    group = {rule: k for k, members in enumerate(nx.strongly_connected_components(graph)) for rule in members}
    # every cycle has a back edge of a depth-first search; cross and forward edges inside a group count too
    closing = {(a, b) for a, b, kind in nx.dfs_labeled_edges(graph) if kind == "nontree" and group[a] == group[b]}
    table: dict[tuple[str, int], list[list[str | tuple[str, int]]]] = {}
    for a, alternatives in expansions.items():
        for level in range(depth + 1):
            kept = []
            for alternative in alternatives:
                symbols: list[str | tuple[str, int]] = []
                for b, is_rule in alternative:
                    if not is_rule:
                        symbols.append(b)
                        continue
                    below = level + 1 if (a, b) in closing else level if group[a] == group[b] else 0
                    if below > depth:
                        break
                    symbols.append((b, below))
                else:
                    kept.append(symbols)
            table[(a, level)] = kept
    changed = True
    while changed:  # drop alternatives that use a rule left without any
        changed = False
        for key, copies in table.items():
            usable = [alt for alt in copies if all(isinstance(s, str) or table[s] for s in alt)]
            if len(usable) != len(copies):
                table[key], changed = usable, True
    terminal_names = {t.name: t.name if re.fullmatch("[A-Z][_A-Z0-9]*", t.name) else f"ANON{k}"
                      for k, t in enumerate(terminals)}

    def name(symbol: str | tuple[str, int]) -> str:
        if isinstance(symbol, str):
            return terminal_names[symbol]
        return f"{symbol[0].strip('_')}_{symbol[1]}"

    lines = [f"{name(key)}: " + " | ".join(" ".join(map(name, alt)) for alt in copies)
             for key, copies in table.items() if copies]
    for terminal in terminals:
        if isinstance(terminal.pattern, PatternStr):
            lines.append(f"{terminal_names[terminal.name]}: {json.dumps(terminal.pattern.value)}")
        else:
            pattern = terminal.pattern.value.replace("\n", "\\n").replace("/", "\\/")
            lines.append(f"{terminal_names[terminal.name]}: /{pattern}/")
    lines += [f"%ignore {terminal_names[n]}" for n in ignore]
    return Lark("\n".join(lines), parser="earley", lexer="basic", start=[f"{s}_0" for s in starts])


# Names of the skeleton's world, the named checks and their arguments, and a few fresh ones.
NAMES = ("x", "x", "b", "b", "r", "K", "w", "a", "go", "c", "joy", "f", "l", "dock", "lab", "k", "n", "m",
         "accepts_shutdown", "power_seeking", "regret", "optimality_probability", "request", "comply",
         "mechanism", "reference", "random", "at", "actions")
SMALL_NUMBERS = ("0", "1", "1", "2", "3", "0.5", "0.9", "0.25", "1", "0", "10")
EXTREME_NUMBERS = ("1e308", "1e-320", "5e-324", "0.1", "9223372036854775807", "9223372036854775808",
                   "0.9999999999999999", "0.99999999999999999", "1e400", "1e-400", "4294967296", "1e18",
                   "100000", "1" + "0" * 40, "0." + "0" * 30 + "1")


def _spaced(strategy: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return strategy.map(lambda text: f" {text} ")


@lru_cache(maxsize=None)
def _terminals(start: str, depth: int) -> dict[str, st.SearchStrategy[str]]:
    """A strategy for each terminal that ``start`` uses: keywords and punctuation as written, with a space
    either side (the lexer needs one between keywords and names); names, numbers and strings from small
    sets; layout as spaces, line breaks and comments that end at their line."""
    grammar = bounded_grammar(depth)
    terminals, _, ignore = grammar.grammar.compile([start], ())
    used = {t.name for t in terminals} | set(ignore)
    explicit = {t.name: st.just(f" {t.pattern.value} ") for t in terminals if isinstance(t.pattern, PatternStr)}
    explicit |= {
        "NAME": _spaced(st.sampled_from(NAMES)),
        "NUMBER": _spaced(st.one_of(st.sampled_from(SMALL_NUMBERS), st.sampled_from(SMALL_NUMBERS),
                                    st.sampled_from(EXTREME_NUMBERS))),
        "STRING": _spaced(st.sampled_from(['"doc"', '""', '"""two\n  lines"""', '"\\n\\t\\x41"', '"a\\"b"'])),
        "WS": st.sampled_from([" ", "\n", "\t", "\n\n  "]),
        "COMMENT": st.sampled_from(["# note\n", "#\n", "# ' \" ( [\n"]),
    }
    return {name: strategy for name, strategy in explicit.items() if name in used}


def grammar_rule(rule: str, depth: int = 2) -> st.SearchStrategy[str]:
    """Text of one rule of the grammar (``start``, ``declaration``, ``check`` or ``expr``), its recursion cut
    off at ``depth`` (see :func:`bounded_grammar`)."""
    start = f"{rule}_0"
    return from_lark(bounded_grammar(depth), start=start, explicit=_terminals(start, depth))


def grammar_specs() -> st.SearchStrategy[str]:
    """Whole specs from the grammar: they parse, and seldom check (no ``discount``, unknown names)."""
    return grammar_rule("start")


SKELETON = ("model m\n", "discount 0.9\n", "const K = 2\n", "param w = 1 in [0, 2]\n", "var x : 0..3\n",
            "var b : bool\n", "var r : {dock, lab}\n", "action a: x' = min(x + 1, 3)\n",
            "action go when !b: b' = true, r' = lab\n", "cost c = x\n", "intent joy = 1 * b\n")


@st.composite
def skeleton_specs(draw: st.DrawFn) -> str:
    """A small world that checks (``SKELETON``; a few of its lines may be left out), followed by 1-3
    declarations and checks from the grammar over the world's names."""
    lines = [line for k, line in enumerate(SKELETON) if k == 0 or draw(st.integers(0, 9)) < 9]
    if draw(st.booleans()):
        lines[1:2] = [f"discount {draw(st.sampled_from(['0.5', '1', '0.99', '0.9999999999999999', '1e-3']))}\n"]
    parts = draw(st.lists(st.one_of(grammar_rule("declaration", 1), grammar_rule("check", 1)), min_size=1,
                          max_size=3))
    # what a declaration declares gets a fresh name: the grammar's names would mostly be taken
    parts = [_DECLARED.sub(lambda m: f"{m[1]} n{k}", part, count=1) for k, part in enumerate(parts)]
    return "".join(lines) + "\n".join(parts) + "\n"


_DECLARED = re.compile(r"^\s*(const|param|var|formula|label|action|event|cost|intent|check)\s+[A-Za-z_]\w*")


def _expressions(leaves: tuple[str, ...], operators: tuple[str, ...], wraps: tuple[str, ...],
                 max_leaves: int = 6) -> st.SearchStrategy[str]:
    """Expressions of one type: ``leaves`` combined by binary ``operators`` and one-operand ``wraps``
    (``{}`` marks the operand)."""
    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        binary = st.tuples(inner, st.sampled_from(operators), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})")
        return st.one_of(binary, st.tuples(st.sampled_from(wraps), inner).map(lambda t: t[0].format(t[1])))
    return st.recursive(st.sampled_from(leaves), extend, max_leaves=max_leaves)


INTEGERS = _expressions(("x", "x", "K", "0", "1", "2", "3", "9223372036854775807"), ("+", "-", "*"),
                        ("-{}", "min({}, 3)", "max({}, 0)", "abs({})", "(b ? {} : 1)", "max({})"))
CONDITIONS = _expressions(("b", "!b", "r == dock", "r != lab", "x < 2", "x == K", "true", "false", "x in {1, 3}",
                           "(b <-> r == lab)"), ("&&", "||", "->"),
                          ("!{}", "({} ? b : false)", "(x + 1 >= 3 || {})"))
NUMBERS = _expressions(("x", "K", "1", "0.5", "2", "0.1", "1e308", "1e-320", "0.9999999999999999", "1/3", "1e18",
                        "1 * b", "1 * (r == lab)"), ("+", "-", "*", "/"),
                       ("-{}", "min({}, 1)", "max({}, 0, x)", "abs({})", "(b ? {} : 0.5)", "{} * (x < 2)"))
BOUNDS = _expressions(("K", "1", "0", "0.5", "-10", "1e308", "0.1", "1e-320", "1/3", "1e18"), ("+", "-", "*", "/"),
                      ("-{}", "min({}, 1)", "abs({})"), max_leaves=3)
PROBABILITIES = st.sampled_from(["0", "1", "0.5", "0.25", "0.1", "1/3", "0.9999999999999999", "1e-320", "5e-324"])
STATE_PROBABILITIES = _expressions(("x / 3", "1 / x", "0.5", "1/3", "x / (x + 1)", "1 * b", "1e-320",
                                    "0.9999999999999999", "1 / (x - 1)", "K / 4"), ("+", "-", "*", "/"),
                                   ("min({}, 1)", "max({}, 0)", "(b ? {} : 0.5)", "abs({})"), max_leaves=3)
ACTIONS = st.sampled_from(["[a]", "[go]", "[a, go]", "[n0]", "[n1]"])


@st.composite
def _world_declaration(draw: st.DrawFn, k: int) -> str:
    """One declaration or check of the skeleton's world, typed: it often checks, so verify runs on it."""
    name = f"n{k}"
    number, condition, integer, bound = draw(NUMBERS), draw(CONDITIONS), draw(INTEGERS), draw(BOUNDS)
    p, q = draw(PROBABILITIES), draw(STATE_PROBABILITIES)
    declarations = [
        f"cost {name} = {number}", f"cost {name} = w * ({condition})", f"intent {name} = {number} * {draw(ACTIONS)}",
        f"cost {name} = {condition} && {draw(ACTIONS)}", f"cost {name} = w * ({number})",
        f"param {name} = {draw(BOUNDS)} in [{draw(BOUNDS)}, {draw(BOUNDS)}]\ncost {name}_term = {name} * ({number})",
        f"action {name} when {condition}: x' = {integer}",
        f"action {name} when {condition}: {p} -> x' = min(x + 1, 3)\n    1 - {p} -> r' = lab",
        f"action {name}(v: 0..{draw(st.sampled_from(['1', '3', 'K']))}) when x != v: x' = v",
        f"action {name}(v: r) when r != v: r' = v\ncost {name}_term = 1 * [{name}(lab)]",
        f"event {name} when {condition}: {p} -> b' = {draw(CONDITIONS)}",
        f"action {name} when {condition}: ({q}) -> x' = min(x + 1, 3)\n    1 - ({q}) -> skip",
        f"event {name}: ({q}) -> r' = dock",
        f"terminal {condition}",
        f"formula {name} = {number}", f"label {name} = {condition}",
        f"const {name} = {bound}",
    ]
    properties = [
        f"never {condition}", f"always ({condition} -> {draw(ACTIONS)})", f"P >= {p} [ F {condition} ]",
        f"P < {p} [ F<={draw(st.sampled_from(['0', '1', '5', 'K', '1000000', '9223372036854775807']))} {condition} ]",
        f"P > {p} [ G {condition} ]", f"P <= {p} [ X {condition} ]", f"P >= {p} [ {condition} U {draw(CONDITIONS)} ]",
        f"cost <= {bound}", f"cost[c] > {bound}",
        f"accepts_shutdown(request = {condition}, comply = {draw(ACTIONS)}, mechanism = [x])",
        f"power_seeking <= {bound}", f"power_seeking(reference = joy) < {bound}", f"regret(joy) <= {bound}",
        f"optimality_probability(at = {condition}, actions = {draw(ACTIONS)}) <= {p}",
    ]
    if draw(st.integers(0, 2)) > 0:
        return draw(st.sampled_from(declarations))
    return f"check {name}{' for all params' if draw(st.integers(0, 3)) == 3 else ''} : {draw(st.sampled_from(properties))}"


@st.composite
def world_specs(draw: st.DrawFn) -> str:
    """The skeleton's world (a few of its lines may be left out) with 1-4 typed declarations and checks:
    most of these check, so they exercise the compiler, the solver and every kind of check."""
    lines = [line for k, line in enumerate(SKELETON) if k == 0 or draw(st.integers(0, 39)) < 39]
    if draw(st.booleans()):
        lines[1:2] = [f"discount {draw(st.sampled_from(['0.5', '1', '0.99', '0.9999999999999999', '1e-3']))}\n"]
    if draw(st.booleans()):
        lines.append("terminal x == 3 && b\n")  # every state can get there: discount 1 makes sense
    n = draw(st.integers(1, 4))
    return "".join(lines) + "\n".join(draw(_world_declaration(k)) for k in range(n)) + "\n"


OVERRIDE_VALUES = ("0", "1", "3", "-1", "0.5", "1/3", "2.0", "1e308", "9223372036854775807", "true", "false",
                   "1e99999999", "1e-400", "-0", "+2", "1/0", "0x10", "nan", "inf", "1_000", "½", "1e-320")


def overrides() -> st.SearchStrategy[dict[str, str]]:
    """``-D`` values for the skeleton's world: its const ``K`` (an int) and param ``w`` (in [0, 2]), a
    declaration of the fuzzer's (``n0``) and a variable (an error)."""
    return st.dictionaries(st.sampled_from(["K", "w", "K", "w", "n0", "x"]), st.sampled_from(OVERRIDE_VALUES),
                           max_size=2)


# --- mutated examples --------------------------------------------------------------------------


_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|<->|->|\.\.|==|!=|<=|>=|&&|\|\||\S")
_NUMBER = re.compile(r"(?<![A-Za-z_0-9.])\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
OPERATORS = ("+", "-", "*", "/", "==", "!=", "<", "<=", ">", ">=", "&&", "||", "->", "<->", "!", "?", ":", "..",
             "=", "'", ",", "(", ")", "[", "]", "{", "}")
OPERATOR_KINDS = (("+", "-", "*", "/"), ("==", "!=", "<", "<=", ">", ">="), ("&&", "||", "->", "<->"))
_DECLARATION = re.compile(r"^[ \t]*(?:discount|const|param|var|formula|label|action|event|terminal|cost|intent|check)\b",
                          re.MULTILINE)
KEYWORDS = ("model", "discount", "const", "param", "var", "formula", "label", "action", "event", "terminal",
            "cost", "intent", "check", "when", "skip", "never", "always", "P", "F", "G", "X", "U", "in", "bool",
            "true", "false", "min", "max", "abs", "for all params")
REPLACEMENT_NUMBERS = (*EXTREME_NUMBERS, "1/3", "(0 - 1)", "0", "1", "2", "1.5", "-1", "3/0", "0.0")
LINE_BREAKS = ("\r", "\r\n", "\u2028", "\u2029", "\x85", "\x0c", "\x0b", "\n\n", "")
CHARACTERS = ("\x00", "\x1b", "\x07", "\x7f", "\t", "\ufeff", "\u200b", "\u202e", "\xa0", "é", "\U0001f600", "#",
              '"', "'", "\\", "`", "$", "@", ";", "%")
NESTING = (2, 50, 150, 199, 200, 201, 400, 2000)
_WRAPS: tuple[Callable[[str, int], str], ...] = (
    lambda t, n: "(" * n + t + ")" * n,
    lambda t, n: "- " * n + t,
    lambda t, n: "! " * n + t,
    lambda t, n: "1 + " * n + t,
    lambda t, n: t + " * 1" * n,
    lambda t, n: "max(" * n + t + ", 0)" * n,
    lambda t, n: "abs(" * n + t + ")" * n,
    lambda t, n: "(true ? " * n + t + " : 0)" * n,
    lambda t, n: "(" + " && ".join([t] * n) + ")",
)


@lru_cache(maxsize=None)
def _texts(paths: tuple[Path, ...]) -> tuple[str, ...]:
    return tuple(path.read_text(encoding="utf-8") for path in paths)


def _pick(draw: st.DrawFn, matches: list[re.Match[str]]) -> re.Match[str] | None:
    return matches[draw(st.integers(0, len(matches) - 1))] if matches else None


def _lines(draw: st.DrawFn, text: str) -> str:
    lines = text.split("\n")
    i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
    kind = draw(st.sampled_from(["delete", "duplicate", "swap", "move"]))
    if kind == "delete":
        del lines[i]
    elif kind == "duplicate":
        lines.insert(i, lines[i])
    elif kind == "swap":
        lines[i], lines[j] = lines[j], lines[i]
    else:
        lines.insert(j, lines.pop(i))
    return "\n".join(lines)


def _number(draw: st.DrawFn, text: str) -> str:
    match = _pick(draw, list(_NUMBER.finditer(text)))
    if match is None:
        return text
    return text[:match.start()] + draw(st.sampled_from(REPLACEMENT_NUMBERS)) + text[match.end():]


def _operator(draw: st.DrawFn, text: str) -> str:
    """Another operator: of the same kind (the text still parses), or any."""
    match = _pick(draw, [m for m in _TOKEN.finditer(text) if m.group() in OPERATORS])
    if match is None:
        return text
    kind = next((kind for kind in OPERATOR_KINDS if match.group() in kind), OPERATORS)
    new = draw(st.sampled_from(kind if draw(st.booleans()) else OPERATORS))
    return text[:match.start()] + new + text[match.end():]


def _name(draw: st.DrawFn, text: str) -> str:
    """One use of a name replaced by another name of the same text: it parses, and may still check."""
    names = [m for m in _NAME.finditer(text) if m.group() not in KEYWORDS]
    match = _pick(draw, names)
    if match is None:
        return text
    other = draw(st.sampled_from(sorted({m.group() for m in names})))
    return text[:match.start()] + other + text[match.end():]


def _declaration(draw: st.DrawFn, text: str) -> str:
    """A whole declaration deleted, duplicated or moved to the end."""
    starts = [m.start() for m in _DECLARATION.finditer(text)]
    if not starts:
        return text
    k = draw(st.integers(0, len(starts) - 1))
    start, end = starts[k], starts[k + 1] if k + 1 < len(starts) else len(text)
    declaration = text[start:end]
    kind = draw(st.sampled_from(["delete", "duplicate", "move"]))
    if kind == "delete":
        return text[:start] + text[end:]
    if kind == "duplicate":
        return text[:end] + declaration + text[end:]
    return text[:start] + text[end:] + "\n" + declaration


def _character(draw: st.DrawFn, text: str) -> str:
    at = draw(st.integers(0, len(text)))
    return text[:at] + draw(st.sampled_from(CHARACTERS)) + text[at:]


def _line_break(draw: st.DrawFn, text: str) -> str:
    new = draw(st.sampled_from(LINE_BREAKS))
    if draw(st.booleans()):
        return text.replace("\n", new or "\r")  # every line break: a CR-only or U+2028 file
    breaks = [m.start() for m in re.finditer("\n", text)]
    if not breaks:
        return text
    at = breaks[draw(st.integers(0, len(breaks) - 1))]
    return text[:at] + new + text[at + 1:]


def _nest(draw: st.DrawFn, text: str) -> str:
    match = _pick(draw, [m for m in _TOKEN.finditer(text) if m.group()[0].isalnum() and m.group() not in KEYWORDS])
    if match is None:
        return text
    wrapped = draw(st.sampled_from(_WRAPS))(match.group(), draw(st.sampled_from(NESTING)))
    return text[:match.start()] + wrapped + text[match.end():]


def _long_name(draw: st.DrawFn, text: str) -> str:
    match = _pick(draw, [m for m in _NAME.finditer(text) if m.group() not in KEYWORDS])
    if match is None:
        return text
    name = match.group()
    longer = draw(st.sampled_from([name * 200, name + "_" * 5000, name + "x" * 100_000, "_" + name]))
    if draw(st.booleans()):  # every use: the same spec with a longer name
        return re.sub(rf"\b{re.escape(name)}\b", lambda _: longer, text)
    return text[:match.start()] + longer + text[match.end():]


def _token(draw: st.DrawFn, text: str) -> str:
    tokens = list(_TOKEN.finditer(text))
    if not tokens:
        return text
    match = _pick(draw, tokens)
    assert match is not None
    kind = draw(st.sampled_from(["insert", "delete", "replace", "duplicate"]))
    new = draw(st.sampled_from(KEYWORDS + OPERATORS + ("x", "1", "0.5")))
    if kind == "insert":
        return text[:match.start()] + new + " " + text[match.start():]
    if kind == "delete":
        return text[:match.start()] + text[match.end():]
    if kind == "replace":
        return text[:match.start()] + new + text[match.end():]
    return text[:match.end()] + " " + match.group() + text[match.end():]


def _discount(draw: st.DrawFn, text: str) -> str:
    """The discount replaced: 1 (total cost), the largest float below 1, tiny, or an expression."""
    new = draw(st.sampled_from(["1", "0.9999999999999999", "0.999999", "1e-320", "0.5", "1/3", "1 - 1e-17", "K"]))
    return re.sub(r"(?m)^(\s*discount)\s+\S+", lambda m: f"{m[1]} {new}", text, count=1)


def _characters(draw: st.DrawFn, text: str) -> str:
    """Byte-level: delete, duplicate or truncate a stretch of characters."""
    if not text:
        return text
    at = draw(st.integers(0, len(text) - 1))
    size = draw(st.integers(1, 12))
    kind = draw(st.sampled_from(["delete", "duplicate", "truncate"]))
    if kind == "delete":
        return text[:at] + text[at + size:]
    if kind == "duplicate":
        return text[:at + size] + text[at:at + size] + text[at + size:]
    return text[:at]


MUTATIONS: dict[str, Callable[[st.DrawFn, str], str]] = {
    "lines": _lines, "number": _number, "operator": _operator, "character": _character,
    "line_break": _line_break, "nest": _nest, "long_name": _long_name, "token": _token,
    "characters": _characters, "name": _name, "declaration": _declaration, "discount": _discount,
}


@st.composite
def mutated_specs(draw: st.DrawFn, mutations: tuple[str, ...] = tuple(MUTATIONS)) -> str:
    """A shipped example or a reliability case (as often) with one to three mutations."""
    text = draw(st.one_of(st.sampled_from(_texts(tuple(EXAMPLES))), st.sampled_from(_texts(tuple(CASES)))))
    for _ in range(draw(st.integers(1, 3))):
        text = MUTATIONS[draw(st.sampled_from(mutations))](draw, text)
    return text
