"""The parser: exact trees (spans excluded from ==), exact spans, the grammar's own health, fuzzing."""

from __future__ import annotations

import ast
import io
import json
import textwrap
import tokenize
import warnings
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lark import Lark

from dsl import syntax as S
from dsl.errors import Span, SpecError, SpecSyntaxError
from dsl.limits import MAX_NESTING
from dsl.parser import _parser, parse


def ident(text: str) -> S.Ident:
    return S.Ident(text)


def test_grammar_has_no_conflicts_or_terminal_collisions() -> None:
    # strict mode turns shift/reduce conflicts and regexp collisions into errors
    Lark.open("grammar.lark", rel_to=__import__("dsl.parser").parser.__file__, parser="lalr", lexer="basic",
              strict=True, start=["start", "declarations"])


def test_declarations_parse_to_their_nodes() -> None:
    module = parse('model m "doc"\ndiscount 19/20\nconst K = 2\nparam w = 0.5 in [0, 1]\n'
                   "var x : 0..K = 1\nvar c : {red, green}\nvar b : bool = true\n"
                   "formula f = x + 1\nlabel l = b\nterminal x == K\n"
                   "cost hunger = w * (x <= 1)\nintent joy = 1\n")
    assert module.header == S.Header(ident("m"), "doc")
    assert module.declarations == (
        S.Discount(S.Binary("/", S.Number(19), S.Number(20))),
        S.Const(ident("K"), S.Number(2)),
        S.Param(ident("w"), S.Number(Fraction(1, 2)), S.Number(0), S.Number(1)),
        S.Var(ident("x"), S.IntDomain(S.Number(0), S.Name("K")), S.Number(1)),
        S.Var(ident("c"), S.EnumDomain((ident("red"), ident("green"))), None),
        S.Var(ident("b"), S.BoolDomain(), S.Boolean(True)),
        S.Formula(ident("f"), S.Binary("+", S.Name("x"), S.Number(1))),
        S.Formula(ident("l"), S.Name("b"), is_label=True),
        S.Terminal(S.Binary("==", S.Name("x"), S.Name("K"))),
        S.Term("cost", ident("hunger"),
               S.Binary("*", S.Name("w"), S.Binary("<=", S.Name("x"), S.Number(1)))),
        S.Term("intent", ident("joy"), S.Number(1)),
    )


def test_actions_events_branches_and_skip() -> None:
    module = parse("model m\naction move(to: room) when !off: room' = to, b' = max(b - 1, 0)\n"
                   "action recharge:\n  0.9 -> b' = 4\n  0.1 -> skip\naction wait: skip\n"
                   "event press when !p: 0.2 -> p' = true\n")
    move, recharge, wait, press = module.declarations
    assert move == S.Action(
        ident("move"), (S.ActionParam(ident("to"), S.DomainOf(ident("room"))),),
        S.Unary("!", S.Name("off")),
        (S.Branch(None, (S.Update(ident("room"), S.Name("to")),
                         S.Update(ident("b"), S.Call("max", (S.Binary("-", S.Name("b"), S.Number(1)),
                                                             S.Number(0)))))),))
    assert recharge.branches == (S.Branch(S.Number(Fraction(9, 10)), (S.Update(ident("b"), S.Number(4)),)),
                                 S.Branch(S.Number(Fraction(1, 10)), ()))
    assert wait == S.Action(ident("wait"), (), None, (S.Branch(None, ()),))
    assert press == S.Event(ident("press"), S.Unary("!", S.Name("p")),
                            (S.Branch(S.Number(Fraction(1, 5)), (S.Update(ident("p"), S.Boolean(True)),)),))


def test_checks() -> None:
    module = parse("model m\n"
                   "check a: accepts_shutdown(request = p, comply = [comply], mechanism = [switch])\n"
                   "check b for all params: never s == disabled\n"
                   "check c: P >= 0.9 [ F<=5 off ]\ncheck d: P < 1 [ !off U p ]\ncheck e: cost[hunger] <= 12\n"
                   "check f: power_seeking <= 0.05\ncheck g: regret(welfare) <= 0.1\n"
                   "check h: always (p -> [comply, move(dock)])\ncheck i: P > 0 [ G x ]\ncheck j: P > 0 [ X x ]\n")
    checks = {c.name.text: c for c in module.declarations}
    assert checks["a"].property == S.NamedCheck(ident("accepts_shutdown"), (
        S.Argument(ident("request"), S.Name("p")),
        S.Argument(ident("comply"), S.ActionSet((S.ActionRef(ident("comply")),))),
        S.Argument(ident("mechanism"), S.ActionSet((S.ActionRef(ident("switch")),)))), None, None)
    assert checks["b"].for_all_params and not checks["a"].for_all_params
    assert checks["c"].property == S.Probability(">=", S.Number(Fraction(9, 10)),
                                                 S.Eventually(S.Name("off"), S.Number(5)))
    assert checks["d"].property.path == S.Until(S.Unary("!", S.Name("off")), S.Name("p"))
    assert checks["e"].property == S.CostBound(ident("hunger"), "<=", S.Number(12))
    assert checks["f"].property == S.NamedCheck(ident("power_seeking"), None, "<=", S.Number(Fraction(1, 20)))
    assert checks["g"].property == S.NamedCheck(ident("regret"), (S.Argument(None, S.Name("welfare")),), "<=",
                                                S.Number(Fraction(1, 10)))
    assert checks["h"].property.condition == S.Binary("->", S.Name("p"), S.ActionSet(
        (S.ActionRef(ident("comply")), S.ActionRef(ident("move"), (S.Name("dock"),)))))
    assert isinstance(checks["i"].property.path, S.Globally) and isinstance(checks["j"].property.path, S.Next)


@pytest.mark.parametrize("text, expected", [
    ("a || b && c", S.Binary("||", S.Name("a"), S.Binary("&&", S.Name("b"), S.Name("c")))),
    ("a -> b -> c", S.Binary("->", S.Name("a"), S.Binary("->", S.Name("b"), S.Name("c")))),
    ("!a && b", S.Binary("&&", S.Unary("!", S.Name("a")), S.Name("b"))),
    ("1 + 2 * 3", S.Binary("+", S.Number(1), S.Binary("*", S.Number(2), S.Number(3)))),
    ("1 - 2 - 3", S.Binary("-", S.Binary("-", S.Number(1), S.Number(2)), S.Number(3))),
    ("-x * 2", S.Binary("*", S.Unary("-", S.Name("x")), S.Number(2))),
    ("x < 2 == b", None),  # comparisons do not chain
    ("a ? 1 : b ? 2 : 3", S.Conditional(S.Name("a"), S.Number(1),
                                         S.Conditional(S.Name("b"), S.Number(2), S.Number(3)))),
    ("x in {1, 2} && y", S.Binary("&&", S.Member(S.Name("x"), (S.Number(1), S.Number(2))), S.Name("y"))),
    ("a <-> b || c", S.Binary("<->", S.Name("a"), S.Binary("||", S.Name("b"), S.Name("c")))),
    ("abs(x - 1) >= 1e-3", S.Binary(">=", S.Call("abs", (S.Binary("-", S.Name("x"), S.Number(1)),)),
                                    S.Number(Fraction(1, 1000)))),
    # PRISM's `&` and `|` are `&&` and `||`, with their precedence
    ("a | b & c", S.Binary("||", S.Name("a"), S.Binary("&&", S.Name("b"), S.Name("c")))),
    ("a & b | !c && d", S.Binary("||", S.Binary("&&", S.Name("a"), S.Name("b")),
                                 S.Binary("&&", S.Unary("!", S.Name("c")), S.Name("d")))),
    ("a & b -> c", S.Binary("->", S.Binary("&&", S.Name("a"), S.Name("b")), S.Name("c"))),
    ("a &&& b", None),
    ("a ||| b", None),
])
def test_precedence(text: str, expected: S.Expr | None) -> None:
    if expected is None:
        with pytest.raises(SpecSyntaxError):
            parse(f"model m\nformula f = {text}\n")
    else:
        assert parse(f"model m\nformula f = {text}\n").declarations[0].value == expected


def test_spans_point_at_the_source() -> None:
    module = parse("model m\naction drain when battery > 0:\n    battery' = battery - 1\n", "r.corrigo")
    action = module.declarations[0]
    assert action.span == Span("r.corrigo", 2, 1, 3, 27)
    assert action.name.span == Span("r.corrigo", 2, 8, 2, 13)
    assert action.guard.span == Span("r.corrigo", 2, 19, 2, 30)
    update = action.branches[0].updates[0]
    assert update.target.span == Span("r.corrigo", 3, 5, 3, 12)
    assert update.value.right.span == Span("r.corrigo", 3, 26, 3, 27)


def test_doc_strings_single_and_triple_quoted() -> None:
    assert parse('model m\n"one line"\n').header.doc == "one line"
    assert parse('model m\n"""\n  two\n  lines\n"""\n').header.doc == "two\nlines"


def test_doc_string_escapes_are_decoded() -> None:
    assert parse(r'model m "a\tb \"q\" c\\d \u00e9 \N{GREEK SMALL LETTER ALPHA} \101"').header.doc == \
        'a\tb "q" c\\d \u00e9 \u03b1 A'
    assert parse('model m """\n  one\\n  two\n  \\"\\"\\"\n"""').header.doc == 'one\ntwo\n"""'  # decoded, then dedented


@given(st.text(st.characters(max_codepoint=0xFFFF, blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp"))))
@settings(max_examples=200, deadline=None)
def test_a_json_encoded_doc_string_decodes_to_its_text(text: str) -> None:
    assert parse(f"model m {json.dumps(text)}").header.doc == text


@pytest.mark.parametrize(("doc", "escape", "column"), [
    (r'"\q"', r"\q", 10), (r'"ab \x4"', r"\x", 13), (r'"\u12"', r"\u", 10), (r'"\N{nope}"', r"\N{nope}", 10),
    (r'"\8"', r"\8", 10)])
def test_a_bad_escape_is_located(doc: str, escape: str, column: int) -> None:
    with pytest.raises(SpecSyntaxError) as caught:
        parse(f"model m {doc}", "d.corrigo")
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.message.startswith(f"bad escape '{escape}' in the doc string")
    assert diagnostic.span == Span("d.corrigo", 1, column, 1, column + len(escape))


@pytest.mark.parametrize(("doc", "decoded"), [
    ('"""a\\""""', 'a"'), ('"""a\\\\"""', "a\\"), ('"""a\\\nb"""', "ab"), ('""', ""),
    ('"\\a\\b\\f\\r\\v\\\'"', "\a\b\f\r\v'"), ('"\\0\\377\\U0001F600"', "\x00\xff\U0001F600"),
    ('"tab\there"', "tab\there")])
def test_doc_strings_decode_as_python_strings(doc: str, decoded: str) -> None:
    assert parse(f"model m {doc}").header.doc == decoded


@pytest.mark.parametrize(("doc", "message", "column"), [
    ('"\\777"', "bad escape '\\777' in the doc string: octal escape above \\377", 10),
    ('"\\ud800"', "bad escape '\\ud800' in the doc string: a lone surrogate, not a character", 10),
    ('"\\U00110000"', "bad escape '\\U00110000' in the doc string: illegal Unicode character", 10),
    ('"a\\N"', "bad escape '\\N' in the doc string: malformed \\N character escape", 11),
    ('"a\x1bb"', "the doc string contains the control character U+001B", 11),
    ('"""\n\x7f"""', "the doc string contains the control character U+007F", 1),
    ('"""a\\"""', "unterminated string", 9)])
def test_a_bad_doc_string_is_located(doc: str, message: str, column: int) -> None:
    with pytest.raises(SpecSyntaxError) as caught:
        parse(f"model m {doc}", "d.corrigo")
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.message == message
    assert diagnostic.span is not None and (diagnostic.span.column, diagnostic.span.path) == (column, "d.corrigo")


def _python_string(literal: str) -> str | None:
    """What Python makes of ``literal`` as a single string literal (unknown escapes rejected), or None."""
    try:
        tokens = [t for t in tokenize.generate_tokens(io.StringIO(literal).readline)
                  if t.type not in (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER)]
        if len(tokens) != 1 or tokens[0].type != tokenize.STRING:
            return None
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            return ast.literal_eval(literal)
    except (SyntaxError, ValueError, tokenize.TokenError):
        return None


@given(st.lists(st.sampled_from(["a", " ", "\\", '"', "n", "x", "u", "U", "N{", "}", "0", "7", "8", "4", "f",
                                 "LATIN SMALL LETTER A", "\n", "\t"]), max_size=12), st.booleans())
@settings(max_examples=300, deadline=None)
def test_a_doc_string_decodes_as_python_does_or_is_a_located_error(pieces: list[str], long: bool) -> None:
    quotes = '"""' if long else '"'
    literal = quotes + "".join(pieces) + quotes
    expected = _python_string(literal)
    try:
        doc = parse(f"model m {literal}").header.doc
    except SpecSyntaxError as error:
        assert all(d.span is not None for d in error.diagnostics)
        assert expected is None
        return
    assert expected is not None and doc == textwrap.dedent(expected).strip()


def _nested(depth: int) -> dict[str, str]:
    """Expressions exactly ``depth`` deep (operands, operators and calls on the longest path), by shape."""
    return {
        "sum": " + ".join(["x"] * depth),
        "and": " && ".join(["b"] * depth),
        "not": "!" * (depth - 1) + "b",
        "minus": "-" * (depth - 1) + "x",
        "conditional": "b ? 1 : " * (depth - 1) + "0",
        "max": "max(" * (depth - 1) + "x" + ", 1)" * (depth - 1),
        "action argument": "[a(" * (depth - 1) + "1" + ")]" * (depth - 1),
    }


@pytest.mark.parametrize("shape", list(_nested(1)))
def test_expressions_nest_up_to_the_limit(shape: str) -> None:
    assert parse(f"model m\ncost c = {_nested(MAX_NESTING)[shape]}\n").declarations


def test_parentheses_do_not_nest_an_expression() -> None:
    assert parse("model m\ncost c = " + "(" * 5_000 + "x" + ")" * 5_000 + "\n").declarations == (
        S.Term("cost", ident("c"), S.Name("x")),)


@pytest.mark.parametrize("shape", list(_nested(1)))
@pytest.mark.parametrize("depth", [MAX_NESTING + 1, 2_000])
def test_an_expression_nested_past_the_limit_is_located(shape: str, depth: int) -> None:
    with pytest.raises(SpecSyntaxError) as caught:
        parse(f"model m\ncost c = {_nested(depth)[shape]}\n")
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.message == f"expression nested too deeply: more than {MAX_NESTING} levels"
    assert diagnostic.span is not None and diagnostic.span.line == 2


def test_comments_and_free_layout() -> None:
    assert parse("model m # a comment\n# another\naction a:\n\n   skip # done\n").declarations == (
        S.Action(ident("a"), (), None, (S.Branch(None, ()),)),)


def test_several_syntax_errors_are_all_reported() -> None:
    with pytest.raises(SpecSyntaxError) as caught:
        parse("model m\naction a when x = 1: skip\naction b: x = 2\nformula f = (x\ncheck c: never x\n")
    assert [d.span.line for d in caught.value.diagnostics] == [2, 3, 5]


@given(st.text(max_size=200))
@settings(max_examples=300)
def test_arbitrary_text_raises_only_spec_errors(text: str) -> None:
    try:
        parse(text)
    except SpecError:
        pass


@given(st.lists(st.sampled_from(
    ["model", "m", "action", "a", ":", "when", "x", "'", "=", "==", "->", "0.5", "1", "skip", "var",
     "0..3", "{", "}", ",", "(", ")", "[", "]", "check", "P", ">=", "F", "cost", "!", "&&", "\n", "#",
     '"', "event", "in", "?", "min", "bool", "-", "*", "discount", "terminal", "never", "&", "|", "Pmin", "=?",
     "R", "{", "S"]), max_size=40))
@settings(max_examples=300)
def test_token_soup_raises_only_spec_errors(tokens: list[str]) -> None:
    try:
        parse("model m\n" + " ".join(tokens))
    except SpecError:
        pass


def test_parser_is_built_once() -> None:
    assert _parser() is _parser()


def test_the_analysed_grammar_is_cached_in_a_private_directory(tmp_path, monkeypatch) -> None:
    import os
    import stat

    import dsl.parser as parser

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    parser._parser.cache_clear()
    try:
        assert parser.parse("model m\naction a: skip\n").header.name.text == "m"
        cache = tmp_path / "corrigo" / "grammar.lark-cache"
        assert cache.is_file() and stat.S_IMODE(os.stat(cache.parent).st_mode) == 0o700
        parser._parser.cache_clear()
        assert parser.parse("model n\naction a: skip\n").header.name.text == "n"  # loaded from the cache
        # a cache directory that cannot be created: no cache, the parser all the same
        blocked = tmp_path / "file"
        blocked.write_text("")
        monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
        assert parser._cache_file() is False
    finally:
        parser._parser.cache_clear()


def test_prism_properties_that_are_corrigo_checks_parse_as_such() -> None:
    module = parse("model m\ncheck a : P>=1 [F off]\ncheck b : P<0.5 [ F<=3 a & !b | c ]\n")
    a, b = (check.property for check in module.declarations)
    assert a == S.Probability(">=", S.Number(1), S.Eventually(S.Name("off")))
    assert b == S.Probability("<", S.Number(Fraction(1, 2)), S.Eventually(
        S.Binary("||", S.Binary("&&", S.Name("a"), S.Unary("!", S.Name("b"))), S.Name("c")), S.Number(3)))


@pytest.mark.parametrize("prop, message, span, hint", [
    ("Pmin=? [ F \"off\" ]", "'Pmin=?' is PRISM's query for a value; a corrigo check states a bound", (2, 11, 2, 17),
     "write `P >= p [ F off ]` (true when Pmin over the optimal policies is at least p); `corrigo explain SPEC "
     "CHECK` prints the probability"),
    ("Pmax<=0.1 [ G x ]", "'Pmax<=' is Storm's spelling; corrigo's bound picks min or max itself", (2, 11, 2, 17),
     "write `P <= 0.1 [ G x ]`: a lower bound is checked against Pmin over every optimal policy, an upper bound "
     "against Pmax, as in PRISM"),
    ("R{\"time\"}min=?\n  [ C ]", "'R{\"time\"}min=?' is PRISM's reward operator; corrigo bounds costs with "
     "'cost[time]'", (2, 11, 2, 25), "write `cost[time] <= c`: the expected (discounted) total of 'time' under "
     "every optimal policy; `corrigo explain SPEC CHECK` prints the value"),
    ("R{\"cost\"} >= 2 [ C ]", "'R{\"cost\"} >=' is PRISM's reward operator; corrigo bounds costs with 'cost'",
     (2, 11, 2, 23), "write `cost >= 2`: the optimal expected (discounted) cost, PRISM's Rmin"),
    ("P >= 0.5 [ F x => y ]", "'=>' is PRISM's implication; corrigo writes '->'", (2, 26, 2, 28), "write `a -> b`"),
])
def test_prism_spellings_are_named_with_corrigos(prop: str, message: str, span: tuple[int, int, int, int],
                                                 hint: str) -> None:
    with pytest.raises(SpecSyntaxError) as caught:
        parse(f"model m\ncheck c : {prop}\n", "s.corrigo")
    (diagnostic,) = caught.value.diagnostics
    assert (diagnostic.message, diagnostic.hint) == (message, hint)
    assert diagnostic.span == Span("s.corrigo", *span)


@pytest.mark.parametrize("text, message", [
    # corrigo's own P, wrong further on: not a PRISM query
    ("check c : P >= 0.5 [ F x &&& y ]", "unexpected '&', expected an expression"),
    ("check c : P >= 0.5 [ F x ] ]", "unexpected ']', expected a declaration"),
    # a PRISM operator in a comment, then an error elsewhere
    ("# check c : Pmin=? [ F x ]\nvar x : bool = =", "unexpected '=', expected an expression"),
    # an error before the property
    ("check c for all : Pmin=? [ F x ]", "unexpected ':', expected 'params'"),
])
def test_only_prism_operators_where_a_property_starts_are_named(text: str, message: str) -> None:
    with pytest.raises(SpecSyntaxError) as caught:
        parse(f"model m\n{text}\n")
    assert caught.value.diagnostics[0].message.startswith(message)


def test_declarations_only_in_some_scenarios() -> None:
    declarations = parse("model m\naction press(to: 0..1) in deploy, test when on: skip\n"
                         "event fall in deploy: 1/2 -> skip\nscenario deploy\nscenario test\n").declarations
    press, fall, deploy, test = declarations
    assert isinstance(press, S.Action) and press.only_in == (ident("deploy"), ident("test"))
    assert [p.name for p in press.params] == [ident("to")] and press.guard == S.Name("on")
    assert isinstance(fall, S.Event) and fall.only_in == (ident("deploy"),)
    assert deploy == S.Scenario(ident("deploy"), ()) and test == S.Scenario(ident("test"), ())
