"""Text to :class:`syntax.Module`: the lark parser, a transformer into the AST, and readable syntax errors.

Syntax errors never show lark's internals: terminal names become the text they stand for, a truncated
file is reported at its end, the common slips get a named explanation, and after an error the parser
resumes at the next declaration so every independent mistake in a file is reported at once.
"""

from __future__ import annotations

import os
import re
import sys
import unicodedata
from functools import lru_cache

from lark import Lark, Token, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken, VisitError
from lark.lexer import PatternStr
from lark.tree import Meta
from lark.visitors import Transformer_NonRecursive

from . import syntax as S
from .errors import Diagnostic, Source, Span, SpecError, SpecSyntaxError
from .limits import MAX_NESTING
from .numbers import NumberError, read_number, shorten

__all__ = ["parse", "DECLARATION_KEYWORDS"]

DECLARATION_KEYWORDS = ("model", "import", "discount", "horizon", "const", "param", "var", "init", "map", "table",
                        "formula",
                        "label", "action", "event", "terminal", "cost", "intent", "policy", "critic", "agent", "scenario",
                        "check")
_MAX_SYNTAX_ERRORS = 20


@lru_cache(maxsize=None)
def _parser() -> Lark:
    """The LALR parser, its analysed grammar cached between runs (building it takes 0.2 s, loading 7 ms)."""
    return Lark.open("grammar.lark", rel_to=__file__, parser="lalr", propagate_positions=True,
                     start=["start", "declarations"], maybe_placeholders=True, lexer="basic", cache=_cache_file())


def _cache_file() -> str | bool:
    """Where lark keeps the analysed grammar: a private directory of the user's cache (lark checks the hash of
    the grammar, the options and its own version stored in the file, and rebuilds on any change); ``False``
    (no cache) where that directory cannot be written. Not the shared temp directory lark would choose: the
    cache is a pickle."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    directory = os.path.join(base, "corrigo")
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
    except OSError:
        return False
    owner = getattr(os, "getuid", None)  # (not on Windows, where the user's profile is private anyway)
    if not os.access(directory, os.W_OK) or (owner is not None and os.stat(directory).st_uid != owner()):
        return False
    return os.path.join(directory, "grammar.lark-cache")


def parse(text: str, path: str = "<string>") -> S.Module:
    """Parse spec ``text`` (read from ``path``) into its syntax tree.

    Raises
    ------
    SpecSyntaxError
        With one diagnostic per independent syntax error.
    """
    source = Source(path, text)  # line breaks become "\n", as lark counts them
    try:
        tree = _parser().parse(source.text, start="start")
    except UnexpectedInput as first:
        raise SpecSyntaxError(_all_syntax_errors(source, first), source) from None
    to_ast = _ToAst(path)
    try:
        module: S.Module = to_ast.transform(tree)
    except VisitError as error:  # errors raised inside the transformer surface unchanged
        if isinstance(error.orig_exc, SpecError):
            raise error.orig_exc.with_source(source) from None
        raise
    diagnostics = to_ast.diagnostics + _too_deep(module)
    if diagnostics:
        raise SpecSyntaxError(sorted(diagnostics, key=_position), source)
    return module


def _position(diagnostic: Diagnostic) -> tuple[int, int]:
    return (diagnostic.span.line, diagnostic.span.column) if diagnostic.span is not None else (0, 0)


def _too_deep(module: S.Module) -> list[Diagnostic]:
    """One error for each expression nested more than ``MAX_NESTING`` deep, at its deepest part that is.

    Measured here, without recursion, so that the checker and the compiler, which recurse once per
    level, only ever see expressions they can walk.
    """
    below_first: list[S.Node] = list(S.walk(module))[::-1]  # every node after the nodes it is made of
    depths: dict[int, int] = {}
    too_deep: set[int] = set()  # reported, or made of a reported node: its ancestors stay silent
    diagnostics = []
    for node in below_first:
        parts = S.parts(node)
        if any(id(part) in too_deep for part in parts):
            too_deep.add(id(node))
            continue
        depth = max((depths[id(part)] for part in parts), default=0) + isinstance(node, S.Expr)
        if depth > MAX_NESTING:
            too_deep.add(id(node))
            diagnostics.append(Diagnostic(
                f"expression nested too deeply: more than {MAX_NESTING} levels", node.span,
                hint="group a long sum or chain in parentheses (`(a + b) + (c + d)` nests less deeply than "
                     "`a + b + c + d`), or split it into several terms or formulas"))
        depths[id(node)] = depth
    return diagnostics


# --- syntax errors -----------------------------------------------------------------------------


def _all_syntax_errors(source: Source, first: UnexpectedInput) -> list[Diagnostic]:
    """The first error, then one per later declaration that also fails to parse."""
    diagnostics = [_diagnose(source, first)]
    resume = _next_declaration(source.text, _error_offset(source.text, first))
    while resume is not None and len(diagnostics) < _MAX_SYNTAX_ERRORS:
        # blank out what came before (keeping line breaks) so positions stay those of the file
        masked = re.sub(r"[^\n]", " ", source.text[:resume]) + source.text[resume:]
        try:
            _parser().parse(masked, start="declarations")
            break
        except UnexpectedInput as error:
            diagnostics.append(_diagnose(source, error))
            offset = _error_offset(source.text, error)
            resume = _next_declaration(source.text, max(offset, resume + 1))
    return diagnostics


def _error_offset(text: str, error: UnexpectedInput) -> int:
    if isinstance(error, UnexpectedToken) and error.token.type != "$END":
        return error.token.start_pos or 0
    if isinstance(error, UnexpectedCharacters):
        # lark declares `pos_in_stream = None` on UnexpectedInput; UnexpectedCharacters always sets an int
        return error.pos_in_stream  # type: ignore[return-value]
    return len(text)


_DECLARATION_START = re.compile(r"^[ \t]*(?:%s)\b" % "|".join(DECLARATION_KEYWORDS), re.MULTILINE)


def _next_declaration(text: str, offset: int) -> int | None:
    """The offset of the first line at or after ``offset`` that starts a declaration."""
    line_start = text.rfind("\n", 0, offset) + 1
    match = _DECLARATION_START.search(text, line_start)
    while match is not None and match.end() <= offset:
        match = _DECLARATION_START.search(text, match.end())
    return match.start() if match else None


# Common slips, recognised by the parser state they leave it in (lark's match_examples).
_SLIPS = {
    ("missing ':' before the body", "write ':' after the name and guard, then the outcome: "
     "`action wait when !off: skip`"): [
        "model m\naction a when x skip", "model m\naction a skip", "model m\naction a(p: r) skip",
        "model m\nevent e when x 0.5 -> skip", "model m\naction a when x\n x' = 1",
    ],
    ("'=' is not a comparison", "compare with '==': `room == dock`; '=' only assigns in declarations "
     "and `x' = value` updates"): [
        "model m\naction a when x = 1: skip", "model m\nformula f = x = 1",
        "model m\ncheck c: never x = 1", "model m\nterminal x = 1", "model m\naction a when x && y = 1: skip",
    ],
    ("an update needs a prime", "write the variable with a prime on the left: `battery' = battery - 1`"): [
        "model m\naction a: x = 1", "model m\naction a: 0.5 -> x = 1", "model m\naction a: x' = 1, y = 2",
    ],
    ("a branch needs '->' between its probability and its outcome", "write `0.9 -> battery' = FULL`"): [
        "model m\naction a: 0.5 x' = 1", "model m\naction a: 0.5 skip",
    ],
    ("a branch probability cannot start with '-'", "probabilities lie in [0, 1]; a leading '-' is read as "
     "subtraction from the update on the line before"): [
        "model m\naction a:\n 0.5 -> x' = 1\n -0.5 -> skip", "model m\naction a:\n 0.5 -> x' = 1\n -0.5 -> x' = 2",
    ],
    ("a name is not a function", "a map's cell is `NAME@(row, column)`; the functions are min, max and abs"): [
        "model m\naction a when level(1, 2) == 1: skip", "model m\nformula f = level(r, c)",
        "model m\ncheck c: never level(1, 2) == 1",
    ],
    ("missing ':' after the check's name", "write `check NAME : property`"): [
        "model m\ncheck c never x", "model m\ncheck c P >= 1 [F x]",
    ],
}


def _diagnose(source: Source, error: UnexpectedInput) -> Diagnostic:
    text = source.text
    if isinstance(error, UnexpectedCharacters):
        char = text[_error_offset(text, error)]
        span = Span(source.path, error.line, error.column, error.line, error.column + 1)
        if char == '"':
            quotes = '"""' if text.startswith('"""', _error_offset(text, error)) else '"'
            return Diagnostic("unterminated string", span,
                              hint=f"close the doc string with '{quotes}'; a quote after a backslash (\\\") does not "
                                   "close it")
        return Diagnostic(f"unexpected character {char!r}", span,
                          hint=_expected_hint(error.allowed) if error.allowed else None)
    assert isinstance(error, UnexpectedToken)
    token = error.token
    if token.type == "$END":
        span = _end_span(source)
        if error.expected == {"MODEL"}:  # nothing but blanks and comments
            return Diagnostic("the spec is empty", Span(source.path, 1, 1, 1, 1),
                              hint="a spec starts with `model NAME`, then declares its variables and actions")
        return Diagnostic(f"unexpected end of file, expected {_expected_words(error.expected)}", span,
                          hint="the file seems truncated: finish the last declaration")
    span = Span(source.path, token.line, token.column, token.end_line or token.line,
                token.end_column or token.column + len(token))
    habit = _prism_habit(source, error)
    if habit is not None:
        return habit
    label = _match_slip(error)
    found = _describe_token(token)
    if label is not None:
        message, hint = label
        return Diagnostic(f"{message}: found {found}", span, hint=hint)
    if set(error.expected) == {"NAME"} and _is_keyword(token):  # where only a new name can stand
        return Diagnostic(f"'{token}' is a reserved word and cannot be used as a name", span,
                          hint=f"choose another name, e.g. '{str(token).lower()}_'")
    if "MODEL" in error.expected and len(error.expected) == 1:
        return Diagnostic(f"a spec starts with `model NAME`, found {found}", span,
                          hint="put `model my_agent` on the first line")
    return Diagnostic(f"unexpected {found}, expected {_expected_words(error.expected)}", span,
                      hint=_keyword_hint(token, error.expected))


# --- PRISM and Storm habits: their spelling named in the message, corrigo's in the hint ----------------

# a PRISM or Storm operator where a check's property starts: `Pmin=? [ F off ]`, `P=? [...]`,
# `Pmax<=0.1 [...]`, `R{"hunger"}min=? [ C ]`, `R<=5 [...]`, `Rmin=? [ F done ]`, `S=? [ up ]`
_PRISM_OPERATOR = re.compile(r"""
    (?P<operator>[PRS]) (?P<structure>\{[^}\n]*\})? (?P<optimum>min|max)?
    \s* (?P<relation>=\s*\?|<=|>=|<|>|=)
    (?: (?P<bound>[^\[\]:;\n]*?) \s* \[ (?P<path>[^\]]*) \]? )?
    """, re.VERBOSE)
_CHECK_HEAD = re.compile(r"\bcheck\b[^:]*:\s*")


def _prism_habit(source: Source, error: UnexpectedToken) -> Diagnostic | None:
    """PRISM's spelling where corrigo has another: a query or reward as a check, `=>` and `<=>`."""
    text, offset = source.text, _error_offset(source.text, error)
    if text.startswith("=>", offset) or (text.startswith(">", offset) and text.endswith("<=", 0, offset)):
        start = offset if text.startswith("=>", offset) else offset - 2
        prism, ours, meaning = ("=>", "->", "implication") if start == offset else ("<=>", "<->", "equivalence")
        return Diagnostic(f"'{prism}' is PRISM's {meaning}; corrigo writes '{ours}'",
                          _offset_span(source, start, start + len(prism)), hint=f"write `a {ours} b`")
    head = None
    for head in _CHECK_HEAD.finditer(text, 0, offset):  # the last check that starts before the error
        pass
    if head is None:
        return None
    found = _PRISM_OPERATOR.match(text, head.end())
    if found is None or not found.start() <= offset <= found.end():
        return None
    operator, optimum, relation = found["operator"], found["optimum"], re.sub(r"\s", "", found["relation"])
    if operator == "P" and found["structure"] is None and optimum is None and relation != "=" and relation != "=?":
        return None  # corrigo's own `P >= p [ ... ]`, wrong further on
    written = text[found.start():found.end("relation")]
    span = _offset_span(source, found.start(), found.end("relation"))
    written = " ".join(written.split())
    path = " ".join(re.sub(r'"([A-Za-z_][A-Za-z0-9_]*)"', r"\1", found["path"] or "PATH").split()) or "PATH"
    bound = " ".join((found["bound"] or "").split())
    if operator == "S":
        return Diagnostic(f"'{written}' is PRISM's steady-state operator; corrigo has no long-run check", span,
                          hint=f"bound what every optimal policy reaches or keeps instead: `P >= p [ F {path} ]`, "
                               f"`P >= p [ G {path} ]`, or `always {path}`")
    if operator == "R":
        return _prism_reward(written, found["structure"], relation, bound, path, span)
    if relation == "=?":
        lower_bound = f"`P >= p [ {path} ]` (true when Pmin over the optimal policies is at least p)"
        upper_bound = f"`P <= p [ {path} ]` (when Pmax is at most p)"
        advice = {None: f"{lower_bound} or {upper_bound}", "min": lower_bound,
                  "max": upper_bound.replace("(when Pmax", "(true when Pmax over the optimal policies")}[optimum]
        return Diagnostic(f"'{written}' is PRISM's query for a value; a corrigo check states a bound", span,
                          hint=f"write {advice}; `corrigo explain SPEC CHECK` prints the probability")
    if relation == "=":
        bounds = {"0": f"`P <= 0 [ {path} ]`", "1": f"`P >= 1 [ {path} ]`"}.get(
            bound, f"`P >= {bound or 'p'} [ {path} ]`, and `P <= {bound or 'p'} [ {path} ]` as a second check")
        return Diagnostic(f"'{written}' is not a bound: a check compares with <, <=, > or >=", span,
                          hint=f"write {bounds}")
    lower = relation in (">", ">=")
    if (optimum == "min") == lower:  # Storm's Pmin>=p, Pmax<=p: what corrigo's P>=p, P<=p already mean
        return Diagnostic(f"'{written}' is Storm's spelling; corrigo's bound picks min or max itself", span,
                          hint=f"write `P {relation} {bound or 'p'} [ {path} ]`: a lower bound is checked against "
                               "Pmin over every optimal policy, an upper bound against Pmax, as in PRISM")
    return Diagnostic(f"'{written}' bounds what some policy can do; a corrigo check holds for every optimal "
                      "policy", span,
                      hint=f"write `P {relation} {bound or 'p'} [ {path} ]` to ask it of every optimal policy "
                           f"(against P{'min' if lower else 'max'}); a bound only some policy meets has no check")


def _prism_reward(written: str, structure: str | None, relation: str, bound: str, path: str, span: Span
                  ) -> Diagnostic:
    """``R{"hunger"}min=? [ C ]`` and kin: corrigo bounds the cost, or one cost term, of every optimal policy."""
    term = (structure or "{}")[1:-1].strip().strip('"')
    cost = f"cost[{term}]" if term.isidentifier() and term != "cost" else "cost"
    value = "c" if relation in ("=?", "=") or not bound else bound
    comparison = "<=" if relation in ("=?", "=") else relation
    hint = (f"write `{cost} {comparison} {value}`: "
            + ("the optimal expected (discounted) cost, PRISM's Rmin" if cost == "cost" else
               f"the expected (discounted) total of '{term}' under every optimal policy"))
    if path.startswith("F ") or path.startswith("F<"):
        hint += (f"; costs add up until a terminal state: `terminal {path[1:].lstrip('<=0123456789 ')}` makes it the "
                 "cost of getting there")
    elif not re.fullmatch(r"C(discount=.*)?", path):
        hint += "; costs add up over the whole run (PRISM's `C`); `horizon k` makes episodes of k steps"
    return Diagnostic(f"'{written}' is PRISM's reward operator; corrigo bounds costs with '{cost}'", span,
                      hint=hint + ("; `corrigo explain SPEC CHECK` prints the value" if relation == "=?" else ""))


def _offset_span(source: Source, start: int, end: int) -> Span:
    """The span of the characters ``start:end`` of the source text."""

    def position(offset: int) -> tuple[int, int]:
        return source.text.count("\n", 0, offset) + 1, offset - source.text.rfind("\n", 0, offset)

    return Span(source.path, *position(start), *position(end))


def _match_slip(error: UnexpectedToken) -> tuple[str, str] | None:
    """The named slip whose examples fail in the same parser state on the same kind of token."""
    return _slip_states().get((error.state.position, error.token.type))


@lru_cache(maxsize=None)
def _slip_states() -> dict[tuple[int, str], tuple[str, str]]:
    # lark's own match_examples crashes in a debug message when two examples share a state, so the
    # same idea is done here: remember where each example fails
    states: dict[tuple[int, str], tuple[str, str]] = {}
    for label, examples in _SLIPS.items():
        for example in examples:
            try:
                _parser().parse(example, start="start")
            except UnexpectedToken as error:
                states.setdefault((error.state.position, error.token.type), label)
    return states


def _end_span(source: Source) -> Span:
    """Just after the last non-blank character: where a truncated file stops."""
    body = source.text.rstrip()
    line = body.count("\n") + 1
    column = len(body) - (body.rfind("\n") + 1) + 1
    return Span(source.path, line, column, line, column + 1)


_TERMINAL_WORDS = {"NAME": "a name", "NUMBER": "a number", "STRING": "a string", "$END": "end of file"}


def _word(terminal: str) -> str:
    if terminal in _TERMINAL_WORDS:
        return _TERMINAL_WORDS[terminal]
    try:
        pattern = _parser().get_terminal(terminal).pattern
    except KeyError:
        return terminal.lower()
    return f"'{pattern.value}'" if isinstance(pattern, PatternStr) else terminal.lower()


def _expected_words(expected: set[str] | frozenset[str]) -> str:
    names = set(expected)
    declarations = {t for t in names if _word(t).strip("'") in DECLARATION_KEYWORDS}
    if len(declarations) >= 6:
        return "a declaration (" + ", ".join(sorted(_word(t).strip("'") for t in declarations)) + ")"
    if {"NAME", "NUMBER", "LPAR"} <= names:
        return "an expression"
    words = sorted({_word(t) for t in names}, key=lambda w: (w.startswith("a"), w))
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " or " + words[-1]


def _expected_hint(expected: set[str] | frozenset[str]) -> str:
    return f"expected {_expected_words(expected)} here"


def _is_keyword(token: Token) -> bool:
    """A keyword of the language (lexed as its own terminal, though it looks like a name)."""
    return _word(token.type) == f"'{token}'" and str(token).isidentifier()


def _describe_token(token: Token) -> str:
    if token.type == "NAME":
        return f"'{token}'"
    if token.type == "NUMBER":
        return f"number {token}"
    return f"'{token}'"


def _keyword_hint(token: Token, expected: set[str] | frozenset[str]) -> str | None:
    """Did you mean a keyword? (``acton`` for ``action``)."""
    if token.type != "NAME":
        return None
    from difflib import get_close_matches

    keywords = [_word(t).strip("'") for t in expected if _word(t).startswith("'")]
    close = get_close_matches(str(token), keywords, n=1, cutoff=0.7)
    return f"did you mean '{close[0]}'?" if close else None


# --- tree to AST -------------------------------------------------------------------------------


@v_args(meta=True, inline=True)
class _ToAst(Transformer_NonRecursive):  # without recursion: a sum of 10,000 terms is a deep tree
    """One method per grammar rule (or alias), each returning one AST node."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path
        self.diagnostics: list[Diagnostic] = []  # numbers too large to build

    def _span(self, meta: Meta) -> Span | None:
        if getattr(meta, "empty", True):
            return None
        return Span(self.path, meta.line, meta.column, meta.end_line, meta.end_column)

    def _ident(self, token: Token) -> S.Ident:
        return S.Ident(str(token), span=_token_span(token, self.path))

    # module and declarations
    def start(self, meta, header, *declarations):
        return S.Module(header, tuple(declarations), span=self._span(meta))

    def declarations(self, meta, *declarations):
        return tuple(declarations)

    def header(self, meta, name, doc):
        text = _decode_string(doc, self.path) if doc is not None else ""
        return S.Header(self._ident(name), _dedent(text), span=self._span(meta))

    def discount(self, meta, value):
        return S.Discount(value, span=self._span(meta))

    def horizon(self, meta, value):
        return S.Horizon(value, span=self._span(meta))

    def const(self, meta, name, value):
        return S.Const(self._ident(name), value, span=self._span(meta))

    def param(self, meta, name, value, lo, hi):
        return S.Param(self._ident(name), value, lo, hi, span=self._span(meta))

    def var(self, meta, name, domain, initial):
        return S.Var(self._ident(name), domain, initial, span=self._span(meta))

    def int_domain(self, meta, lo, hi):
        return S.IntDomain(lo, hi, span=self._span(meta))

    def enum_domain(self, meta, *values):
        return S.EnumDomain(tuple(self._ident(v) for v in values), span=self._span(meta))

    def bool_domain(self, meta):
        return S.BoolDomain(span=self._span(meta))

    def formula(self, meta, name, value):
        return S.Formula(self._ident(name), value, span=self._span(meta))

    def label(self, meta, name, value):
        return S.Formula(self._ident(name), value, is_label=True, span=self._span(meta))

    def action(self, meta, name, params, only_in, guard, branches):
        return S.Action(self._ident(name), params or (), guard, branches, only_in or (), span=self._span(meta))

    def action_params(self, meta, *params):
        return tuple(params)

    def action_param(self, meta, name, domain):
        if isinstance(domain, Token):
            domain = S.DomainOf(self._ident(domain), span=self._ident(domain).span)
        return S.ActionParam(self._ident(name), domain, span=self._span(meta))

    def init(self, meta, branches):
        return S.Init(branches, span=self._span(meta))

    def event(self, meta, name, only_in, guard, branches):
        return S.Event(self._ident(name), guard, branches, only_in or (), span=self._span(meta))

    def only_in(self, meta, *names):
        return tuple(self._ident(name) for name in names)

    def certain(self, meta, updates):
        return (S.Branch(None, updates, span=self._span(meta)),)

    def branches(self, meta, *branches):
        return tuple(branches)

    def branch(self, meta, probability, updates):
        return S.Branch(probability, updates, span=self._span(meta))

    def skip(self, meta):
        return ()

    def updates(self, meta, *updates):
        return tuple(updates)

    def update(self, meta, target, value):
        return S.Update(self._ident(target), value, span=self._span(meta))

    def terminal(self, meta, condition):
        return S.Terminal(condition, span=self._span(meta))

    def cost(self, meta, name, value):
        return S.Term("cost", self._ident(name), value, span=self._span(meta))

    def intent(self, meta, name, value):
        return S.Term("intent", self._ident(name), value, span=self._span(meta))

    # checks
    def policy(self, meta, name, *rules):
        return S.Policy(self._ident(name), tuple(rules), span=self._span(meta))

    def policy_rule(self, meta, action, condition):
        return S.PolicyRule(action, condition, span=self._span(meta))

    def check(self, meta, name, for_all, under, world, prop):
        scenario, transfer, otherwise = world if world is not None else (None, None, None)
        return S.Check(self._ident(name), prop, for_all is not None, under, scenario, transfer, otherwise,
                       span=self._span(meta))

    def scenario(self, meta, name, *pairs):
        return S.Scenario(self._ident(name), tuple((self._ident(pairs[i]), pairs[i + 1])
                                                   for i in range(0, len(pairs), 2)), span=self._span(meta))

    def in_world(self, meta, scenario, with_word, from_word, source, otherwise_word, action):
        for word, expected in ((with_word, "with"), (from_word, "from"), (otherwise_word, "otherwise")):
            if word is not None and str(word) != expected:
                self.diagnostics.append(Diagnostic(
                    f"unexpected '{word}', expected '{expected}'", _token_span(word, self.path),
                    hint="write `check NAME in SCENARIO with policy from SCENARIO otherwise ACTION : ...`"))
        return (self._ident(scenario), self._ident(source) if source is not None else None, action)

    def critic(self, meta, name, expr):
        return S.Critic(self._ident(name), expr, span=self._span(meta))

    def training_world(self, meta, word, *pairs):
        if str(word) != "where":
            self.diagnostics.append(Diagnostic(f"unexpected '{word}', expected 'where' or 'by'",
                                               _token_span(word, self.path),
                                               hint="write `trained on optimal where NAME = VALUE, ...`"))
        return tuple((self._ident(pairs[i]), pairs[i + 1]) for i in range(0, len(pairs), 2))

    def fitted_critic(self, meta, name, form, *rest):
        *features, trained, on, policy, world, by, method = rest
        expected = [(form, ("linear",)), (trained, ("trained",)), (on, ("on",)), (policy, ("optimal", "uniform")),
                    (by, ("by",)), (method, ("lsq", "td"))]
        for word, allowed in expected:
            if word is not None and str(word) not in allowed:
                self.diagnostics.append(Diagnostic(
                    f"unexpected '{word}', expected {' or '.join(repr(a) for a in allowed)}",
                    _token_span(word, self.path),
                    hint="write `critic NAME = linear(FEATURE, ...) trained on optimal` (or `on uniform`, "
                         "and `by td` for TD(0))"))
        return S.Critic(self._ident(name), None, tuple(features), str(policy), str(method or "lsq"),
                        training_world=world or (), span=self._span(meta))

    def file_critic(self, meta, name, from_word, path, default_word, default, by_word, metric):
        for word, expected in ((from_word, "from"), (default_word, "default"), (by_word, "by")):
            if word is not None and str(word) != expected:
                self.diagnostics.append(Diagnostic(
                    f"unexpected '{word}', expected '{expected}'", _token_span(word, self.path),
                    hint='write `critic NAME from "critic.csv"`, and `default 0` (or `default error`, or `default '
                         "nearest by l1`) for the states the file does not list"))
        return S.Critic(self._ident(name), None, path=_decode_string(path, self.path),
                        path_span=_token_span(path, self.path), default=default,
                        metric=self._ident(metric) if metric is not None else None, span=self._span(meta))

    def nearest_metric(self, meta, word):
        return word

    def agent(self, meta, name, plans, steps, steps_word, with_word, critic):
        for word, expected in ((plans, "plans"), (steps_word, "steps"), (with_word, "with")):
            if word is not None and str(word) not in (expected, "step" if expected == "steps" else expected):
                self.diagnostics.append(Diagnostic(
                    f"unexpected '{word}', expected '{expected}'", _token_span(word, self.path),
                    hint="write `agent NAME plans 3 steps with critic CRITIC`"))
        return S.Agent(self._ident(name), steps, self._ident(critic) if critic is not None else None,
                       span=self._span(meta))

    def under(self, meta, word, name):
        if str(word) != "under":
            self.diagnostics.append(Diagnostic(f"unexpected '{word}', expected 'under' or ':'",
                                               _token_span(word, self.path),
                                               hint="write `check NAME under POLICY : ...` to check a declared policy"))
        return self._ident(name)

    def for_all_params(self, meta):
        return True

    def never(self, meta, condition):
        return S.Never(condition, span=self._span(meta))

    def always(self, meta, condition):
        return S.Always(condition, span=self._span(meta))

    def probability(self, meta, op, bound, path):
        return S.Probability(op, bound, path, span=self._span(meta))

    def cost_bound(self, meta, term, op, bound):
        return S.CostBound(self._ident(term) if term is not None else None, op, bound, span=self._span(meta))

    def named_check(self, meta, name, args, op, bound):
        return S.NamedCheck(self._ident(name), args, op, bound, span=self._span(meta))

    def quantity(self, meta, name, args):
        return S.NamedCheck(self._ident(name), args, None, None, span=self._span(meta))

    def arguments(self, meta, *args):
        return tuple(args)

    def text(self, meta, token):
        return S.Text(_decode_string(token, self.path), span=_token_span(token, self.path))

    def map_cell(self, meta, name, row, col):
        return S.MapCellRef(self._ident(name), row, col, span=self._span(meta))

    def map(self, meta, name, art):
        return S.Map(self._ident(name), _decode_string(art, self.path), _token_span(art, self.path),
                     span=self._span(meta))

    def import_(self, meta, path):
        return S.Import(_decode_string(path, self.path), _token_span(path, self.path), span=self._span(meta))

    def table(self, meta, name, text):
        return S.Table(self._ident(name), _table_entries(text, self.path), _token_span(text, self.path),
                       span=self._span(meta))

    def discount_argument(self, meta, value):
        """``discount = ...`` of ``power(...)``: ``discount`` is a keyword, so it has a rule of its own."""
        span = self._span(meta)
        assert span is not None  # the rule matched text
        name_span = Span(span.path, span.line, span.column, span.line, span.column + len("discount"))
        return S.Argument(S.Ident("discount", span=name_span), value, span=span)

    def argument(self, meta, name, value):
        return S.Argument(self._ident(name) if name is not None else None, value, span=self._span(meta))

    def bound_op(self, meta, token):
        return str(token)

    def eventually(self, meta, target):
        return S.Eventually(target, span=self._span(meta))

    def bounded_eventually(self, meta, steps, target):
        return S.Eventually(target, steps, span=self._span(meta))

    def globally(self, meta, target):
        return S.Globally(target, span=self._span(meta))

    def next(self, meta, target):
        return S.Next(target, span=self._span(meta))

    def until(self, meta, hold, target):
        return S.Until(hold, target, span=self._span(meta))

    # expressions
    def conditional(self, meta, test, then, otherwise):
        return S.Conditional(test, then, otherwise, span=self._span(meta))

    def _binary(self, meta, op, left, right):
        return S.Binary(op, left, right, span=self._span(meta))

    def implies(self, meta, left, right):
        return self._binary(meta, "->", left, right)

    def iff(self, meta, left, right):
        return self._binary(meta, "<->", left, right)

    def or_(self, meta, left, right):
        return self._binary(meta, "||", left, right)

    def and_(self, meta, left, right):
        return self._binary(meta, "&&", left, right)

    def compare(self, meta, left, op, right):
        return self._binary(meta, op, left, right)

    def arithmetic(self, meta, left, op, right):
        return self._binary(meta, op, left, right)

    def compare_op(self, meta, token):
        return str(token)

    add_op = mul_op = compare_op

    def member(self, meta, operand, *values):
        return S.Member(operand, tuple(values), span=self._span(meta))

    def negate(self, meta, operand):
        return S.Unary("-", operand, span=self._span(meta))

    def not_(self, meta, operand):
        return S.Unary("!", operand, span=self._span(meta))

    def number(self, meta, token):
        span = _token_span(token, self.path)
        try:  # a number the model cannot hold is reported by the checker, one too large to build here
            return S.Number(read_number(str(token)), span=span)
        except NumberError as error:  # reported with the others after the whole file is read
            self.diagnostics.append(Diagnostic(f"'{shorten(str(token))}' {error.what}", span, hint=error.hint))
            return S.Number(0, span=span)

    def true(self, meta):
        return S.Boolean(True, span=self._span(meta))

    def false(self, meta):
        return S.Boolean(False, span=self._span(meta))

    def name(self, meta, token):
        return S.Name(str(token), span=_token_span(token, self.path))

    def next_name(self, meta, token):
        return S.NextName(str(token), span=self._span(meta))

    def min_(self, meta, *args):
        return S.Call("min", tuple(args), span=self._span(meta))

    def max_(self, meta, *args):
        return S.Call("max", tuple(args), span=self._span(meta))

    def abs_(self, meta, arg):
        return S.Call("abs", (arg,), span=self._span(meta))

    def aup(self, meta, args):
        return S.AupCall(args, span=self._span(meta))

    def action_set(self, meta, *refs):
        return S.ActionSet(tuple(refs), span=self._span(meta))

    def action_ref(self, meta, name, *args):
        given = None if args == (None,) else tuple(args)
        return S.ActionRef(self._ident(name), given, span=self._span(meta))


_ESCAPE = re.compile(r"\\(?:N\{[^}\n]*\}|x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{1,3}|.)", re.S)
_SIMPLE_ESCAPES = {"\n": "", "\\": "\\", "'": "'", '"': '"', "a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r",
                   "t": "\t", "v": "\v"}
_TRUNCATED = {"x": "truncated \\xXX escape", "u": "truncated \\uXXXX escape", "U": "truncated \\UXXXXXXXX escape",
              "N": "malformed \\N character escape"}
# raw characters a doc string may not hold: the invisible controls, other than tab and line break
_FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _token_span(token: Token, path: str) -> Span:
    """Where a token of our lexer stands (lark types its position optional, for tokens made by hand)."""
    line, column, end_line, end_column = token.line, token.column, token.end_line, token.end_column
    assert line is not None and column is not None and end_line is not None and end_column is not None
    return Span(path, line, column, end_line, end_column)


def _decode_string(token: Token, path: str) -> str:
    """The text of a STRING token with Python's escapes decoded; a bad escape or character is a located error.

    Decoded here, not by Python's parser, so that every string the grammar accepts either decodes or
    gets an error at the offending escape or character, whatever the Python version.
    """
    text = str(token)
    quotes = 3 if text.startswith('"""') else 1
    body = text[quotes:-quotes]

    def raw(start: int, end: int) -> str:
        bad = _FORBIDDEN.search(body, start, end)
        if bad is not None:
            raise SpecSyntaxError(Diagnostic(
                f"the doc string contains the control character U+{ord(bad.group()):04X}",
                _span_in(token, quotes + bad.start(), 1, path),
                hint=r"remove it; write an escape such as \t or \x1b if you mean it"))
        return body[start:end]

    parts: list[str] = []
    position = 0
    for match in _ESCAPE.finditer(body):
        parts.append(raw(position, match.start()))
        try:
            parts.append(_escape_value(match.group()))
        except ValueError as error:
            raise SpecSyntaxError(Diagnostic(
                f"bad escape '{match.group()}' in the doc string: {error}",
                _span_in(token, quotes + match.start(), len(match.group()), path),
                hint=r'write \\ for a backslash; escapes are \n \t \" \\ \xHH \uHHHH \N{NAME}')) from None
        position = match.end()
    parts.append(raw(position, len(body)))
    return "".join(parts)


def _table_entries(token: Token, path: str) -> tuple[tuple[tuple[str, Span], ...], ...]:
    """The entries of a table's text, row by row (blank lines dropped), each with where it stands."""
    _decode_string(token, path)  # the same errors as any string (control characters, bad escapes)
    text = str(token)
    quotes = 3 if text.startswith('"""') else 1
    rows = []
    for match in re.finditer(r"[^\n]+", text[quotes:len(text) - quotes]):
        rows.append(tuple((entry.group(), _span_in(token, quotes + match.start() + entry.start(),
                                                    len(entry.group()), path))
                          for entry in re.finditer(r"\S+", match.group())))
    return tuple(row for row in rows if row)


def _escape_value(escape: str) -> str:
    """What a backslash escape stands for in a Python string; ``ValueError`` saying why it stands for nothing."""
    kind, digits = escape[1], escape[2:]
    if kind in _SIMPLE_ESCAPES and not digits:
        return _SIMPLE_ESCAPES[kind]
    if kind in "01234567":
        if int(escape[1:], 8) > 0o377:
            raise ValueError("octal escape above \\377")
        return chr(int(escape[1:], 8))
    if kind in _TRUNCATED and not digits:
        raise ValueError(_TRUNCATED[kind])
    if kind == "N":
        try:
            return unicodedata.lookup(digits[1:-1])
        except KeyError:
            raise ValueError("unknown Unicode character name") from None
    if kind in "xuU":
        code = int(digits, 16)
        if code > sys.maxunicode:
            raise ValueError("illegal Unicode character")
        if 0xD800 <= code <= 0xDFFF:
            raise ValueError("a lone surrogate, not a character")
        return chr(code)
    raise ValueError("not an escape")


def _span_in(token: Token, offset: int, length: int, path: str) -> Span:
    """The span of ``length`` characters at ``offset`` in a token's text (which may hold line breaks)."""
    start = _token_span(token, path)
    before = str(token)[:offset]
    line = start.line + before.count("\n")
    column = offset - before.rfind("\n") if "\n" in before else start.column + offset
    return Span(path, line, column, line, column + length)


def _dedent(doc: str) -> str:
    from textwrap import dedent

    return dedent(doc).strip()
