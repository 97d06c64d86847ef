"""Target rules: a small, safe expression language for per-step binary targets.

rnnviz trains an LSTM on sequences ``x`` of shape ``(n, T, F)`` and a per-step target
``y[:, t]`` defined by a *rule* such as ``x1 * x2 < 0.25``. The rule also gives the
*ground truth* of the experiment: the set of ``(feature, lag)`` pairs that ``y_t`` really
depends on, which the sensitivity analysis should rediscover.

Language (typed into a web form, so it is parsed by hand, never by ``eval``):

* ``x1`` .. ``xF`` is feature 1..F at the current step; ``x1[t-2]`` is two steps back.
  Future steps (``x1[t+1]``) are refused because the network is causal.
* numbers (``0.25``, ``3``, ``.5``, ``1e-3``), ``+ - * /``, unary minus, parentheses;
* comparisons ``< <= > >= == !=`` (not chained) and ``and``, ``or``, ``not``;
* ``abs(e)``, elementwise ``min(a, b)`` / ``max(a, b)``, and windowed ``mean(e, k)``,
  ``wmin(e, k)``, ``wmax(e, k)`` over the last ``k`` steps (``t-k+1 .. t``).

The whole rule must be a condition. Text length, nesting depth, lags, window lengths and
number literals are bounded, and every problem is reported as a :class:`RuleError` that
points at the offending character.

Start of a sequence (a deliberate decision): when a lag or window reaches before ``t = 0``
the target ``y_t`` is undefined. Rather than inventing values (zero padding would bias the
labels and leak a "start of sequence" signal into the ground truth), such steps are
*masked*: ``valid[:, t] = t >= rule.max_lag`` where ``max_lag`` is the furthest step back
the rule reads, and ``y`` is 0 there. Callers should drop masked steps from the loss and
from the evaluation.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

__all__ = [
    "MAX_DEPTH",
    "MAX_LAG",
    "MAX_RULE_LENGTH",
    "MAX_WINDOW",
    "RULE_PRESETS",
    "Preset",
    "Rule",
    "RuleError",
    "get_rule",
    "parse_rule",
]

MAX_RULE_LENGTH = 200
MAX_DEPTH = 20
MAX_LAG = 50
MAX_WINDOW = 50
MAX_NUMBER_LENGTH = 20

WINDOW_FUNCTIONS = ("mean", "wmin", "wmax")
FUNCTIONS = ("abs", "min", "max", *WINDOW_FUNCTIONS)
KEYWORDS = ("and", "or", "not")
EXAMPLE = "`x1 > 0.5`"


# --------------------------------------------------------------------------- errors


class RuleError(ValueError):
    """A rule could not be parsed or does not fit the data; points at the culprit."""

    def __init__(self, message: str, position: int | None = None, text: str = "") -> None:
        super().__init__(message, position, text)
        self.message = message
        self.position = position
        self.text = text

    def __str__(self) -> str:
        if self.position is None or not self.text or len(self.text) > MAX_RULE_LENGTH:
            return self.message
        # Keep one character per character so the caret stays aligned.
        shown = "".join(c if c.isprintable() and c.isascii() else " " for c in self.text)
        caret = min(max(self.position, 0), len(self.text))
        return f"{self.message}\n  {shown}\n  {' ' * caret}^"


def _features_hint(n_features: int | None) -> str:
    if n_features is None:
        return "x1, x2, ..."
    if n_features == 1:
        return "x1"
    return f"x1..x{n_features}"


# --------------------------------------------------------------------------- tokens


@dataclass(frozen=True)
class _Token:
    kind: str  # num ref func kw t op ( ) [ ] , eof
    text: str
    pos: int
    value: float = 0.0  # number value, or 0-based feature index for "ref"


_NUMBER_RE = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INT_RE = re.compile(r"[0-9]+")
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FEATURE_RE = re.compile(r"x([0-9]+)")
_WHITESPACE = " \t\r\n"
_COMPARE_OPS = ("<=", ">=", "==", "!=", "<", ">")
_REFUSED = {
    "**": "'**' (power) is not supported: write x1 * x1 instead",
    "^": "'^' (power) is not supported: write x1 * x1 instead",
    "&&": "'&&' is not supported: use 'and'",
    "||": "'||' is not supported: use 'or'",
    "&": "'&' is not supported: use 'and'",
    "|": "'|' is not supported: use 'or'",
    "=": "'=' is not a comparison: use '==' to test equality",
    "!": "'!' is not supported: use 'not' or '!='",
    "%": "'%' (remainder) is not supported",
}


def _is_digit(c: str) -> bool:
    return len(c) == 1 and c in "0123456789"


def _tokenize(text: str, n_features: int | None) -> list[_Token]:
    """Split text into tokens with positions, rejecting anything outside the grammar."""
    tokens: list[_Token] = []
    i, end = 0, len(text)
    while i < end:
        c = text[i]
        if c in _WHITESPACE:
            i += 1
            continue
        if _is_digit(c) or (c == "." and i + 1 < end and _is_digit(text[i + 1])):
            tokens.append(_number(text, i))
            i += len(tokens[-1].text)
            continue
        m = _NAME_RE.match(text, i)
        if m:
            tokens.append(_name(text, m.group(), i, n_features))
            i = m.end()
            continue
        two = text[i : i + 2]
        if two in _REFUSED:
            raise RuleError(_REFUSED[two], i, text)
        if two in _COMPARE_OPS:
            tokens.append(_Token("op", two, i))
            i += 2
            continue
        if c in _REFUSED:
            raise RuleError(_REFUSED[c], i, text)
        if c in "+-*/<>":
            tokens.append(_Token("op", c, i))
        elif c in "()[],":
            tokens.append(_Token(c, c, i))
        elif c == ".":
            raise RuleError("unexpected character '.' (attribute access is not allowed)", i, text)
        else:
            raise RuleError(f"unexpected character {c!r}", i, text)
        i += 1
    tokens.append(_Token("eof", "", end))
    return tokens


def _number(text: str, start: int) -> _Token:
    m = _NUMBER_RE.match(text, start)
    if m is None:  # unreachable: the caller saw a digit or ".digit"
        raise RuleError("malformed number", start, text)
    raw, stop = m.group(), m.end()
    if stop < len(text) and (text[stop].isalnum() or text[stop] in "_."):
        while stop < len(text) and (text[stop].isalnum() or text[stop] in "_."):
            stop += 1
        raise RuleError(f"malformed number '{text[start:stop]}'", start, text)
    if len(raw) > MAX_NUMBER_LENGTH:
        raise RuleError(
            f"number is too long ({len(raw)} characters; at most {MAX_NUMBER_LENGTH})", start, text
        )
    value = float(raw)
    if not math.isfinite(value):
        raise RuleError(f"number {raw} is too large", start, text)
    return _Token("num", raw, start, value)


def _name(text: str, word: str, start: int, n_features: int | None) -> _Token:
    if word in KEYWORDS:
        return _Token("kw", word, start)
    if word in FUNCTIONS:
        return _Token("func", word, start)
    if word == "t":
        return _Token("t", word, start)
    m = _FEATURE_RE.fullmatch(word)
    if m:
        digits = m.group(1)
        if int(digits) == 0:
            raise RuleError(
                f"features are numbered from 1: '{word}' does not exist (x1 is the first)",
                start,
                text,
            )
        if digits.startswith("0"):
            raise RuleError(f"write x{int(digits)} without leading zeros", start, text)
        number = int(digits)
        if n_features is not None and number > n_features:
            there = "is 1 feature" if n_features == 1 else f"are {n_features} features"
            raise RuleError(
                f"{word} does not exist: there {there} ({_features_hint(n_features)})",
                start,
                text,
            )
        return _Token("ref", word, start, float(number - 1))
    rest = text[start + len(word) :].lstrip(_WHITESPACE)
    if rest.startswith("("):
        raise RuleError(
            f"unknown function '{word}' (allowed functions: {', '.join(FUNCTIONS)})", start, text
        )
    allowed = ", ".join((_features_hint(n_features), *FUNCTIONS, *KEYWORDS))
    raise RuleError(f"unknown name '{word}' (allowed: {allowed})", start, text)


# --------------------------------------------------------------------------- tree


def _shift(a: np.ndarray, s: int) -> np.ndarray:
    """Value at step t becomes the value at t - s; steps before 0 repeat step 0.

    Repeating step 0 (instead of zeros) keeps constant sub-expressions exact; every other
    filled position is masked by ``valid`` anyway.
    """
    if s == 0:
        return a
    out = np.empty_like(a)
    steps = a.shape[1]
    if s < steps:
        out[:, s:] = a[:, : steps - s]
        out[:, :s] = a[:, :1]
    else:
        out[:] = a[:, :1]
    return out


class Node:
    """Base of the expression tree. Arrays are evaluated over (n, T) at shift 0."""

    is_bool: ClassVar[bool] = False
    pos: int

    def precedence(self) -> int:
        return 8

    def children(self) -> tuple[Node, ...]:
        return ()

    def evaluate(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def source(self) -> str:
        raise NotImplementedError

    def truth(self) -> frozenset[tuple[int, int]]:
        """(feature, lag) pairs read by this node."""
        out: frozenset[tuple[int, int]] = frozenset()
        for child in self.children():
            out |= child.truth()
        return out

    def deepest(self) -> tuple[int, int] | None:
        """(furthest lag, position of the node responsible), or None if no feature is read."""
        found = [d for c in self.children() if (d := c.deepest()) is not None]
        return max(found, key=lambda d: d[0]) if found else None

    def _wrap(self, child: Node, min_prec: int) -> str:
        text = child.source()
        return f"({text})" if child.precedence() < min_prec else text


@dataclass(frozen=True)
class Num(Node):
    value: float
    raw: str
    pos: int = field(default=0, compare=False)

    def evaluate(self, x: np.ndarray) -> np.ndarray:
        return np.full(x.shape[:2], self.value, dtype=np.float64)

    def source(self) -> str:
        return self.raw


@dataclass(frozen=True)
class Ref(Node):
    feature: int  # 0-based
    lag: int
    pos: int = field(default=0, compare=False)

    def evaluate(self, x: np.ndarray) -> np.ndarray:
        return _shift(x[:, :, self.feature], self.lag)

    def source(self) -> str:
        name = f"x{self.feature + 1}"
        return f"{name}[t-{self.lag}]" if self.lag else name

    def truth(self) -> frozenset[tuple[int, int]]:
        return frozenset({(self.feature, self.lag)})

    def deepest(self) -> tuple[int, int] | None:
        return (self.lag, self.pos)


@dataclass(frozen=True)
class _Prefix(Node):
    """An operator before one operand: its SYMBOL, PRECEDENCE and elementwise UFUNC."""

    operand: Node
    pos: int = field(default=0, compare=False)
    SYMBOL: ClassVar[str]
    PRECEDENCE: ClassVar[int]
    UFUNC: ClassVar[np.ufunc]

    def precedence(self) -> int:
        return self.PRECEDENCE

    def children(self) -> tuple[Node, ...]:
        return (self.operand,)

    def evaluate(self, x: np.ndarray) -> np.ndarray:
        return self.UFUNC(self.operand.evaluate(x))

    def source(self) -> str:
        return self.SYMBOL + self._wrap(self.operand, self.PRECEDENCE)


@dataclass(frozen=True)
class Neg(_Prefix):
    SYMBOL: ClassVar[str] = "-"
    PRECEDENCE: ClassVar[int] = 7
    UFUNC: ClassVar[np.ufunc] = np.negative


_ARITH = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide}
_COMPARE = {
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
    "==": np.equal,
    "!=": np.not_equal,
}
_BOOL = {"and": np.logical_and, "or": np.logical_or}


@dataclass(frozen=True)
class _Infix(Node):
    op: str
    left: Node
    right: Node
    pos: int = field(default=0, compare=False)
    OPS: ClassVar[dict[str, np.ufunc]]  # op -> elementwise function

    def children(self) -> tuple[Node, ...]:
        return (self.left, self.right)

    def evaluate(self, x: np.ndarray) -> np.ndarray:
        return self.OPS[self.op](self.left.evaluate(x), self.right.evaluate(x))

    def source(self) -> str:
        p = self.precedence()
        return f"{self._wrap(self.left, p)} {self.op} {self._wrap(self.right, p + 1)}"


@dataclass(frozen=True)
class Binary(_Infix):
    OPS: ClassVar[dict[str, np.ufunc]] = _ARITH

    def precedence(self) -> int:
        return 5 if self.op in "+-" else 6


@dataclass(frozen=True)
class Compare(_Infix):
    OPS: ClassVar[dict[str, np.ufunc]] = _COMPARE
    is_bool: ClassVar[bool] = True

    def precedence(self) -> int:
        return 4


@dataclass(frozen=True)
class BoolOp(_Infix):
    OPS: ClassVar[dict[str, np.ufunc]] = _BOOL
    is_bool: ClassVar[bool] = True

    def precedence(self) -> int:
        return 2 if self.op == "and" else 1


@dataclass(frozen=True)
class Not(_Prefix):
    is_bool: ClassVar[bool] = True
    SYMBOL: ClassVar[str] = "not "
    PRECEDENCE: ClassVar[int] = 3
    UFUNC: ClassVar[np.ufunc] = np.logical_not


@dataclass(frozen=True)
class Call(Node):
    """Elementwise function: abs(e), min(a, b), max(a, b)."""

    func: str
    args: tuple[Node, ...]
    pos: int = field(default=0, compare=False)

    def children(self) -> tuple[Node, ...]:
        return self.args

    def evaluate(self, x: np.ndarray) -> np.ndarray:
        values = [a.evaluate(x) for a in self.args]
        if self.func == "abs":
            return np.abs(values[0])
        return (np.minimum if self.func == "min" else np.maximum)(values[0], values[1])

    def source(self) -> str:
        return f"{self.func}({', '.join(a.source() for a in self.args)})"


@dataclass(frozen=True)
class Window(Node):
    """mean / wmin / wmax of ``operand`` over steps t-k+1 .. t."""

    func: str
    operand: Node
    k: int
    pos: int = field(default=0, compare=False)

    def children(self) -> tuple[Node, ...]:
        return (self.operand,)

    def evaluate(self, x: np.ndarray) -> np.ndarray:
        # The child is evaluated once and shifted by 0..k-1, which equals evaluating it at
        # extra shifts 0..k-1 on every unmasked step, at linear (not exponential) cost.
        child = self.operand.evaluate(x)
        acc = np.array(child, dtype=np.float64, copy=True)
        for s in range(1, self.k):
            shifted = _shift(child, s)
            if self.func == "mean":
                acc += shifted
            elif self.func == "wmin":
                np.minimum(acc, shifted, out=acc)
            else:
                np.maximum(acc, shifted, out=acc)
        if self.func == "mean":
            acc /= self.k
        return acc

    def source(self) -> str:
        return f"{self.func}({self.operand.source()}, {self.k})"

    def truth(self) -> frozenset[tuple[int, int]]:
        return frozenset((f, lag + s) for f, lag in self.operand.truth() for s in range(self.k))

    def deepest(self) -> tuple[int, int] | None:
        inner = self.operand.deepest()
        return None if inner is None else (inner[0] + self.k - 1, self.pos)


# --------------------------------------------------------------------------- parser


def _describe(tok: _Token) -> str:
    return "the end of the rule" if tok.kind == "eof" else f"'{tok.text}'"


_Check = Callable[[Node, str], None]  # need_number or need_condition: (node, what)


class _Parser:
    """Recursive descent; ``depth`` bounds parentheses and calls so recursion stays small.

    or_expr  := and_expr ('or' and_expr)*
    and_expr := not_expr ('and' not_expr)*
    not_expr := 'not'* comparison
    comparison := arith (CMP arith)?
    arith    := term (('+' | '-') term)*
    term     := unary (('*' | '/') unary)*
    unary    := '-'* primary
    primary  := NUMBER | ref | FUNC '(' args ')' | '(' or_expr ')'
    ref      := 'x' N ('[' 't' ('-' INT)? ']')?
    """

    def __init__(self, text: str, tokens: list[_Token]) -> None:
        self.text = text
        self.tokens = tokens
        self.i = 0
        self.depth = 0

    # helpers
    def peek(self) -> _Token:
        return self.tokens[self.i]

    def advance(self) -> _Token:
        tok = self.tokens[self.i]
        if tok.kind != "eof":
            self.i += 1
        return tok

    def error(self, message: str, pos: int | None) -> RuleError:
        return RuleError(message, pos, self.text)

    def enter(self, tok: _Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(
                f"the rule is nested too deeply (at most {MAX_DEPTH} levels of parentheses "
                "and function calls)",
                tok.pos,
            )

    def need_number(self, node: Node, what: str) -> None:
        if node.is_bool:
            raise self.error(f"{what} needs a number, but got a condition (true/false)", node.pos)

    def need_condition(self, node: Node, what: str) -> None:
        if not node.is_bool:
            raise self.error(
                f"{what} needs a condition such as {EXAMPLE}, but got a number", node.pos
            )

    # grammar
    def parse(self) -> Node:
        node = self.or_expr()
        tok = self.peek()
        if tok.kind == ")":
            raise self.error("unmatched ')'", tok.pos)
        if tok.kind != "eof":
            raise self.error(
                f"unexpected {_describe(tok)}: expected an operator such as +, >, and, or",
                tok.pos,
            )
        if not node.is_bool:
            raise self.error(f"a rule must be a condition such as {EXAMPLE}", None)
        return node

    def _infix(
        self,
        operand: Callable[[], Node],
        kind: str,
        ops: tuple[str, ...],
        check: _Check,
        build: Callable[..., Node],
    ) -> Node:
        """``operand (op operand)*``, left-associative; ``check`` vets both sides of each op."""
        left = operand()
        while self.peek().kind == kind and self.peek().text in ops:
            op = self.advance().text
            right = operand()
            check(left, f"'{op}'")
            check(right, f"'{op}'")
            left = build(op, left, right, left.pos)
        return left

    def _prefix(
        self,
        operand: Callable[[], Node],
        kind: str,
        op: str,
        check: _Check,
        build: Callable[..., Node],
    ) -> Node:
        """``op* operand``: each ``op`` wraps what follows it, the innermost first."""
        positions: list[int] = []
        while self.peek().kind == kind and self.peek().text == op:
            positions.append(self.advance().pos)
        node = operand()
        for pos in reversed(positions):
            check(node, f"'{op}'")
            node = build(node, pos)
        return node

    def or_expr(self) -> Node:
        return self._infix(self.and_expr, "kw", ("or",), self.need_condition, BoolOp)

    def and_expr(self) -> Node:
        return self._infix(self.not_expr, "kw", ("and",), self.need_condition, BoolOp)

    def not_expr(self) -> Node:
        return self._prefix(self.comparison, "kw", "not", self.need_condition, Not)

    def comparison(self) -> Node:
        left = self.arith()
        tok = self.peek()
        if tok.kind != "op" or tok.text not in _COMPARE:
            return left
        self.advance()
        right = self.arith()
        self.need_number(left, f"'{tok.text}'")
        self.need_number(right, f"'{tok.text}'")
        nxt = self.peek()
        if nxt.kind == "op" and nxt.text in _COMPARE:
            raise self.error(
                "chained comparisons like a < b < c are not supported: write a < b and b < c",
                nxt.pos,
            )
        return Compare(tok.text, left, right, left.pos)

    def arith(self) -> Node:
        return self._infix(self.term, "op", ("+", "-"), self.need_number, Binary)

    def term(self) -> Node:
        return self._infix(self.unary, "op", ("*", "/"), self.need_number, Binary)

    def unary(self) -> Node:
        return self._prefix(self.primary, "op", "-", self.need_number, Neg)

    def primary(self) -> Node:
        tok = self.advance()
        if tok.kind == "num":
            return Num(tok.value, tok.text, tok.pos)
        if tok.kind == "ref":
            return self.ref(tok)
        if tok.kind == "(":
            self.enter(tok)
            node = self.or_expr()
            close = self.advance()
            if close.kind != ")":
                if close.kind == "eof":
                    raise self.error("'(' is never closed", tok.pos)
                raise self.error(f"expected ')' but found {_describe(close)}", close.pos)
            self.depth -= 1
            return node
        if tok.kind == "func":
            return self.call(tok)
        if tok.kind == "t":
            raise self.error(
                "'t' can only be used inside brackets after a feature, e.g. x1[t-2]", tok.pos
            )
        if tok.kind == "eof":
            raise self.error(
                "the rule ends too early: expected a number, a feature such as x1, "
                "a function or '('",
                tok.pos,
            )
        if tok.kind == ")" and self.depth == 0:
            raise self.error("unmatched ')'", tok.pos)
        raise self.error(
            f"unexpected {_describe(tok)}: expected a number, a feature such as x1, "
            "a function or '('",
            tok.pos,
        )

    def ref(self, tok: _Token) -> Ref:
        feature = int(tok.value)
        if self.peek().kind != "[":
            return Ref(feature, 0, tok.pos)
        self.advance()
        t = self.advance()
        if t.kind != "t":
            raise self.error(
                f"expected 't' inside the brackets, e.g. {tok.text}[t-2], but found {_describe(t)}",
                t.pos,
            )
        lag = 0
        nxt = self.peek()
        if nxt.kind == "op" and nxt.text == "+":
            raise self.error(
                "future steps are not allowed (the network is causal): "
                f"use a past step such as {tok.text}[t-1]",
                nxt.pos,
            )
        if nxt.kind == "op" and nxt.text == "-":
            self.advance()
            num = self.advance()
            if num.kind != "num" or not _INT_RE.fullmatch(num.text):
                raise self.error(f"the lag must be a whole number, e.g. {tok.text}[t-2]", num.pos)
            lag = int(num.text)
            if lag > MAX_LAG:
                raise self.error(f"lag {lag} is too large (at most {MAX_LAG})", num.pos)
        close = self.advance()
        if close.kind != "]":
            raise self.error(
                f"expected ']' but found {_describe(close)} (write e.g. {tok.text}[t-2])",
                close.pos,
            )
        return Ref(feature, lag, tok.pos)

    def call(self, tok: _Token) -> Node:
        name = tok.text
        if self.peek().kind != "(":
            raise self.error(f"'{name}' is a function: write {name}(...)", tok.pos)
        self.enter(tok)
        self.advance()
        args: list[Node] = []
        if self.peek().kind != ")":
            args.append(self.or_expr())
            while self.peek().kind == ",":
                self.advance()
                args.append(self.or_expr())
        close = self.advance()
        if close.kind != ")":
            if close.kind == "eof":
                raise self.error(f"'{name}(' is never closed", tok.pos)
            raise self.error(
                f"expected ',' or ')' in {name}(...) but found {_describe(close)}", close.pos
            )
        self.depth -= 1

        if name == "abs":
            if len(args) != 1:
                raise self.error(f"abs() takes exactly 1 argument; got {len(args)}", tok.pos)
            self.need_number(args[0], "abs()")
            return Call(name, tuple(args), tok.pos)
        if name in ("min", "max"):
            if len(args) != 2:
                raise self.error(
                    f"{name}() takes exactly 2 arguments ({name}(a, b)); got {len(args)}",
                    tok.pos,
                )
            for a in args:
                self.need_number(a, f"{name}()")
            return Call(name, tuple(args), tok.pos)
        # windowed functions
        if len(args) != 2:
            raise self.error(
                f"{name}() takes exactly 2 arguments ({name}(expression, k)); got {len(args)}",
                tok.pos,
            )
        operand, k_node = args
        self.need_number(operand, f"{name}()")
        if not isinstance(k_node, Num) or not _INT_RE.fullmatch(k_node.raw):
            raise self.error(
                f"the window length of {name}() must be a whole number such as 3", k_node.pos
            )
        k = int(k_node.raw)
        if not 1 <= k <= MAX_WINDOW:
            raise self.error(
                f"the window length must be between 1 and {MAX_WINDOW}; got {k}", k_node.pos
            )
        return Window(name, operand, k, tok.pos)


# --------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class Preset:
    """A named, ready-made rule with a one-line teaching description."""

    name: str
    expression: str
    description: str


RULE_PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "reference",
            "x1 * x2 < 0.25",
            "The Cross Validated example: y_t depends on x1 and x2 at the same step only; "
            "any other feature is noise.",
        ),
        Preset(
            "threshold",
            "x1 > 0.5",
            "The simplest case: one feature, current step, no memory needed.",
        ),
        Preset(
            "compare",
            "x1 > x2",
            "Two features interact at the same step; neither alone decides y_t.",
        ),
        Preset(
            "lagged",
            "x1[t-2] > 0.5",
            "Memory matters: y_t depends on x1 two steps back, not on the current input.",
        ),
        Preset(
            "windowed",
            "mean(x2, 3) > 0.5",
            "Memory spread over a window: y_t depends on x2 at the last three steps.",
        ),
        Preset(
            "lagged_product",
            "x1[t-1] * x3 > 0.25",
            "Past and present combine: x1 one step back times the current x3.",
        ),
    )
}


@dataclass(frozen=True)
class Rule:
    """A parsed target rule: labels for sequences, plus the ground truth it depends on."""

    name: str
    expression: str
    description: str
    ground_truth: frozenset[tuple[int, int]]
    features: frozenset[int]
    max_lag: int
    n_features_used: int
    tree: Node = field(repr=False, compare=False)

    def labels(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return (y float32 (n, T) of 0/1, valid bool (n, T)); y is 0 where not valid.

        Steps with t < max_lag are invalid because the rule would read before t = 0.
        """
        x = np.asarray(x)
        if x.ndim != 3:
            raise ValueError(f"x must have shape (n, T, F); got shape {x.shape}")
        n, steps, n_feat = x.shape
        if n_feat < self.n_features_used:
            raise ValueError(
                f"the rule uses x{self.n_features_used} but x has only {n_feat} feature(s)"
            )
        valid = np.broadcast_to(np.arange(steps) >= self.max_lag, (n, steps)).copy()
        if n == 0 or steps == 0:
            return np.zeros((n, steps), dtype=np.float32), valid
        with np.errstate(all="ignore"):
            result = self.tree.evaluate(x.astype(np.float64, copy=False))
        y = np.where(valid, result, False).astype(np.float32)
        return y, valid

    def describe_truth(self) -> str:
        """Human-readable ground truth, e.g. 'x1 at lag 2; x2 at lags 0–2'."""
        parts = []
        for f in sorted(self.features):
            lags = sorted(lag for g, lag in self.ground_truth if g == f)
            runs: list[str] = []
            start = prev = lags[0]
            for lag in [*lags[1:], None]:
                if lag is not None and lag == prev + 1:
                    prev = lag
                    continue
                runs.append(str(start) if start == prev else f"{start}–{prev}")
                if lag is not None:
                    start = prev = lag
            word = "lag" if len(lags) == 1 else "lags"
            parts.append(f"x{f + 1} at {word} {', '.join(runs)}")
        return "; ".join(parts)


def _check_limit(value: int | None, what: str) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError(f"{what} must be a positive integer; got {value!r}")


def _build_rule(
    text: str,
    name: str,
    description: str | None,
    n_features: int | None,
    seq_len: int | None,
) -> Rule:
    _check_limit(n_features, "n_features")
    _check_limit(seq_len, "seq_len")
    if not isinstance(text, str):
        raise RuleError(f"a rule must be text; got {type(text).__name__}")
    # Length first: a huge string is rejected before any work is done on it.
    if len(text) > MAX_RULE_LENGTH:
        raise RuleError(
            f"the rule is too long ({len(text)} characters; at most {MAX_RULE_LENGTH})",
            None,
            text,
        )
    if not text.strip():
        raise RuleError(f"the rule is empty: write a condition such as {EXAMPLE}", None, text)
    tree = _Parser(text, _tokenize(text, n_features)).parse()
    truth = tree.truth()
    if not truth:
        raise RuleError(
            f"the rule does not read any feature: use at least one of {_features_hint(n_features)}",
            None,
            text,
        )
    max_lag = max(lag for _, lag in truth)
    if seq_len is not None and max_lag >= seq_len:
        deepest = tree.deepest()
        raise RuleError(
            f"the rule reaches {max_lag} steps back but sequences have {seq_len} steps "
            f"(it needs at least {max_lag + 1})",
            deepest[1] if deepest else None,
            text,
        )
    expression = tree.source()
    if len(expression) > MAX_RULE_LENGTH:  # keep the expression re-parseable
        expression = text.strip()
    features = frozenset(f for f, _ in truth)
    return Rule(
        name=name,
        expression=expression,
        description=description or f"Custom rule: y_t = 1 when {expression}.",
        ground_truth=truth,
        features=features,
        max_lag=max_lag,
        n_features_used=max(features) + 1,
        tree=tree,
    )


def parse_rule(text: str, *, n_features: int | None = None, seq_len: int | None = None) -> Rule:
    """Parse a user expression into a Rule named "custom"; raises RuleError if invalid.

    ``n_features`` rejects references beyond the data; ``seq_len`` rejects rules that
    reach back as far as (or further than) the sequence length.
    """
    return _build_rule(text, "custom", None, n_features, seq_len)


def get_rule(spec: str, *, n_features: int | None = None, seq_len: int | None = None) -> Rule:
    """A preset by exact name (keeping its name and description), else a custom expression."""
    preset = RULE_PRESETS.get(spec) if isinstance(spec, str) else None
    if preset is not None:
        return _build_rule(preset.expression, preset.name, preset.description, n_features, seq_len)
    return parse_rule(spec, n_features=n_features, seq_len=seq_len)
